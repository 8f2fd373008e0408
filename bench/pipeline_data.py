"""The pipeline benchmark's feedback: deterministic, realistic enough to exercise every branch.

Ratings skew positive; comments name the topics the template provider picks up; 2 % carry a
critical keyword (their replies must wait for approval); most customers give an email address
(so replies are sent), some only a name and some nothing (their queue items are cancelled).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bench.stats_data import BENCH_NOW, ZONES

COMMENTS = {
    "positive": (
        "Lovely dinner, the pasta was delicious and the staff were friendly.",
        "Great service and a cosy atmosphere, we will be back.",
        "The cocktails were excellent and the bartender knew his craft.",
        "Quick table, tasty burger, fair price. Recommended.",
    ),
    "neutral": (
        "Food was fine but the wait for a table was long.",
        "Decent meal, a bit pricey for the portion size.",
        "Nice room, although the music was loud and service slow.",
    ),
    "negative": (
        "The waiter was rude and our burger arrived cold.",
        "Dirty toilets and a long wait, not impressed.",
        "Overpriced drinks and the steak was overcooked.",
        "We waited an hour for our booking and nobody apologised.",
    ),
    "critical": (
        "I got food poisoning after the seafood dinner.",
        "My partner ended up in hospital with an allergic reaction to the dessert.",
    ),
}
RATING_WEIGHTS = {5: 45, 4: 25, 3: 12, 2: 9, 1: 9}
CRITICAL_SHARE = 0.02
EMAIL_SHARE, NAME_ONLY_SHARE = 0.80, 0.08  # the rest: anonymous feedback


@dataclass(frozen=True)
class Planned:
    """One feedback to ingest, with what the pipeline should do with it."""

    args: dict[str, Any]  # keyword arguments of feedback_service.ingest_feedback
    has_email: bool
    critical: bool


def venue_plan(count: int) -> list[dict[str, Any]]:
    """create_venue arguments for `count` venues across the bench time zones."""
    return [
        {
            "venue_id": f"bench-p{i:03d}",
            "name": f"Pipeline venue {i}",
            "timezone": ZONES[i % len(ZONES)],
            "manager_emails": [f"manager{i}@venue.example"],
        }
        for i in range(count)
    ]


def _band(rating: int) -> str:
    return "positive" if rating >= 4 else "neutral" if rating == 3 else "negative"


def _customer(rng: random.Random, customers: int) -> dict[str, Any] | None:
    draw = rng.random()
    if draw < EMAIL_SHARE:
        k = rng.randrange(customers)
        tier = "gold" if k % 40 == 0 else None
        return {"email": f"guest{k}@example.com", "name": f"Guest{k} Example", "tier": tier}
    if draw < EMAIL_SHARE + NAME_ONLY_SHARE:
        return {"name": "Walk-in Guest"}
    return None


def feedback_plan(
    count: int, *, venues: list[str], customers: int, seed: int = 7, now: datetime = BENCH_NOW
) -> list[Planned]:
    """`count` feedback over the last hours before `now`, oldest first."""
    rng = random.Random(seed)
    ratings, weights = list(RATING_WEIGHTS), list(RATING_WEIGHTS.values())
    plan = []
    for i in range(count):
        critical = rng.random() < CRITICAL_SHARE
        rating = 1 if critical else rng.choices(ratings, weights)[0]
        customer = _customer(rng, customers)
        args = {
            "venue_id": venues[i % len(venues)],
            "rating": rating,
            "comment": rng.choice(COMMENTS["critical" if critical else _band(rating)]),
            "customer": customer,
            "created_at": now - timedelta(seconds=2 * (count - i)),
            "external_id": f"bench-{i}",
        }
        plan.append(
            Planned(args, has_email=bool(customer and customer.get("email")), critical=critical)
        )
    return plan
