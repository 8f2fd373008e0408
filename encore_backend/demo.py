"""Demo data: venues in several time zones and weeks of realistic feedback that trips every rule.

Feedback is written straight into the table with `alert_scanned_at` NULL (as another system
would), so the detector's first scan finds it and the dashboards fill within one interval.
Feedback older than a few days already has its reply (demo_history): the jobs draft only the
recent rows, and the stats show a venue that has been answering its guests.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import accumulate, islice
from typing import Any
from zoneinfo import ZoneInfo

from tqdm import tqdm

from encore_backend.bootstrap import Container
from encore_backend.clock import as_utc
from encore_backend.demo_history import answer_history
from encore_backend.demo_text import (
    ALERT_COMMENTS,
    COMMENTS,
    FIRST_NAMES,
    LAST_NAMES,
    NEGATED_COMMENTS,
    SHOWCASE,
)
from encore_backend.domain.enums import Role
from encore_backend.services import token_service, venue_service

VENUES = (
    ("Harbour Lights Bistro", "America/New_York"),
    ("The Crown & Anchor", "Europe/London"),
    ("Bondi Social", "Australia/Sydney"),
    ("Spice Route Kitchen", "Asia/Kolkata"),
    ("Sunset Taqueria", "America/Los_Angeles"),
)
# Extra keywords per venue, so the custom-keyword rule has something to find.
DEMO_KEYWORDS = {"critical": ["salmonella"], "medium": ["overcharged"]}
RATING_WEIGHTS = {5: 45, 4: 28, 3: 12, 2: 8, 1: 7}
# (first local hour, last local hour, weight): breakfast, lunch, dinner, late.
MEALS = ((8, 10, 12), (12, 14, 33), (18, 21, 48), (22, 23, 7))
VIP_TIERS = ("gold", "platinum", "vip")
BATCH = 1000


@dataclass(frozen=True)
class DemoVenue:
    """A venue the demo created, with the manager token printed for it."""

    venue_id: str
    name: str
    timezone: str
    token: str


def load_demo(
    ctx: Container,
    *,
    venues: int = 5,
    feedback: int = 3000,
    days: int = 60,
    seed: int | None = None,
    progress: bool = True,
) -> list[DemoVenue]:
    """Create `venues` venues and `feedback` feedback rows in total over the last `days` days."""
    rng = random.Random(seed)
    now = ctx.clock.now()
    created = [_create_venue(ctx, i) for i in range(venues)]
    customers = _store_customers(ctx, rng, max(20, feedback // 3), now)
    per_venue = [feedback // venues + (1 if i < feedback % venues else 0) for i in range(venues)]
    with tqdm(total=feedback, unit="feedback", disable=not progress, desc="demo data") as bar:
        for venue, count in zip(created, per_venue, strict=True):
            rows = _venue_feedback(rng, venue, count, customers, now=now, days=days)
            for batch in _batches(rows, BATCH):
                bar.update(ctx.feedback.bulk_insert_feedback(batch))
            answer_history(ctx, rng, venue.venue_id, venue.name)
    return created


def _create_venue(ctx: Container, index: int) -> DemoVenue:
    name, timezone = VENUES[index % len(VENUES)]
    if index >= len(VENUES):
        name = f"{name} {index // len(VENUES) + 1}"
    row = venue_service.create_venue(
        ctx, name=name, timezone=timezone, manager_emails=[f"manager{index + 1}@encore.example"]
    )
    venue_service.update_settings(
        ctx, venue_id=row["venue_id"], changes={"alert_keywords": DEMO_KEYWORDS}
    )
    token = token_service.create_token(
        ctx, role=Role.VENUE_MANAGER, name=f"demo manager of {name}", venue_id=row["venue_id"]
    )
    return DemoVenue(row["venue_id"], name, timezone, token["token"])


def _store_customers(
    ctx: Container, rng: random.Random, count: int, now: datetime
) -> list[dict[str, Any]]:
    """Customers, the first 5% VIPs; returned with ids, most frequent visitors first."""
    rows = [_customer(rng, i, vip=i < max(2, count // 20)) for i in range(count)]
    ids = ctx.feedback.bulk_insert_customers(rows, now=now)
    return [{**row, "customer_id": ids[row["email"]]} for row in rows]


def _customer(rng: random.Random, index: int, *, vip: bool) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    spend = rng.uniform(1500, 20000) if vip else rng.uniform(0, 800)
    tier = rng.choice(VIP_TIERS) if vip else rng.choice((None, None, "silver", "bronze"))
    return {
        "email": f"{first}.{last}.{index}@guests.example".lower(),
        "name": f"{first} {last}",
        "lifetime_value": Decimal(f"{spend:.2f}"),
        "tier": tier,
    }


def _venue_feedback(
    rng: random.Random,
    venue: DemoVenue,
    count: int,
    customers: Sequence[dict[str, Any]],
    *,
    now: datetime,
    days: int,
) -> Iterator[dict[str, Any]]:
    """The showcase rows (every rule, recent), then random feedback spread over `days`."""
    showcase = list(islice(_showcase(rng, venue, customers, now), count))
    yield from showcase
    tz = ZoneInfo(venue.timezone)
    weights = list(accumulate(1 / (i + 1) ** 0.7 for i in range(len(customers))))
    for i in range(len(showcase), count):
        created_at = _meal_time(rng, tz, now, days)
        rating = rng.choices(list(RATING_WEIGHTS), weights=list(RATING_WEIGHTS.values()))[0]
        customer = None if rng.random() < 0.1 else rng.choices(customers, cum_weights=weights)[0]
        yield _row(venue, i, rating, _comment(rng, rating), created_at, customer)


def _showcase(
    rng: random.Random, venue: DemoVenue, customers: Sequence[dict[str, Any]], now: datetime
) -> Iterator[dict[str, Any]]:
    """One comment per rule, a VIP's poor visit and a repeated complaint, all in the last week."""
    regular = customers[len(customers) - 1 - rng.randrange(len(customers) // 2)]
    vip = customers[0]
    for i, (rating, comment, who) in enumerate(SHOWCASE):
        customer = {"vip": vip, "repeat": regular}.get(who or "")
        created_at = now - timedelta(days=6 - i * 6 / len(SHOWCASE), minutes=rng.randrange(60))
        yield _row(venue, i, rating, comment, created_at, customer)


def _meal_time(rng: random.Random, tz: ZoneInfo, now: datetime, days: int) -> datetime:
    """A local time around a meal on one of the last `days` days, in UTC, never in the future."""
    first, last, _ = rng.choices(MEALS, weights=[m[2] for m in MEALS])[0]
    day: date = (now.astimezone(tz) - timedelta(days=rng.randrange(days))).date()
    local = datetime.combine(day, time(rng.randint(first, last), rng.randrange(60)), tzinfo=tz)
    created = as_utc(local)
    return created if created <= now else created - timedelta(days=1)


def _comment(rng: random.Random, rating: int) -> str:
    if rating <= 2 and rng.random() < 0.35:
        return rng.choice(ALERT_COMMENTS)
    if rating >= 4 and rng.random() < 0.06:
        return rng.choice(NEGATED_COMMENTS)
    return rng.choice(COMMENTS[rating])


def _row(
    venue: DemoVenue,
    index: int,
    rating: int,
    comment: str,
    created_at: datetime,
    customer: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "venue_id": venue.venue_id,
        "customer_id": customer["customer_id"] if customer else None,
        "rating": rating,
        "comment": comment,
        "status": "new",
        "external_id": f"demo-{index:06d}",
        "created_at": created_at,
        "ingested_at": created_at,
        "alert_scanned_at": None,
    }


def _batches(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while batch := list(islice(rows, size)):
        yield batch
