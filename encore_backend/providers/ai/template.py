"""The offline provider: a considerate reply without a model, varied but deterministic."""

from __future__ import annotations

import hashlib
import random
import re

from encore_backend.providers.ai.base import Draft, ReplyRequest, first_name_from, rating_band
from encore_backend.providers.ai.checks import banned_phrases_in, check_draft
from encore_backend.providers.ai.template_phrases import (
    ANONYMOUS_GREETINGS,
    CLOSINGS,
    FALLBACK_SUBJECT,
    GENERAL_LINES,
    GREETINGS,
    OPENINGS,
    SIGN_OFFS,
    SUBJECTS,
    TOPIC_LINES,
)
from encore_backend.providers.ai.voice import clean_phrases, clean_signature, tone_of

# Topic → words that raise it (matched whole, with s/es/d/ed/ing endings).
# fmt: off
TOPIC_WORDS: dict[str, tuple[str, ...]] = {
    "food": ("food", "meal", "dish", "dinner", "lunch", "breakfast", "brunch", "menu", "taste",
             "tasty", "flavour", "flavor", "steak", "burger", "pizza", "pasta", "dessert",
             "starter", "portion", "undercook", "overcook", "delicious", "bland", "chef"),
    "service": ("service", "staff", "waiter", "waitress", "server", "rude", "friendly",
                "attentive", "host", "hostess", "bartender", "manager"),
    "cleanliness": ("clean", "dirty", "filthy", "hygiene", "toilet", "bathroom", "restroom",
                    "sticky", "mess", "messy", "smell", "smelly", "grimy", "cockroach", "roach"),
    "wait": ("wait", "slow", "delay", "queue", "forever", "ages"),
    "price": ("price", "pricey", "expensive", "overpriced", "cheap", "value", "cost", "bill",
              "afford", "affordable"),
    "ambience": ("ambience", "ambiance", "atmosphere", "music", "noise", "noisy", "loud", "decor",
                 "vibe", "cosy", "cozy", "lighting", "romantic"),
    "drinks": ("drink", "cocktail", "beer", "wine", "coffee", "tea", "juice", "pint", "bar"),
    "booking": ("booking", "book", "reservation", "reserve"),
}
# fmt: on
TOPIC_PHRASES = {
    "food": "the food",
    "service": "the service",
    "cleanliness": "the cleanliness",
    "wait": "the wait",
    "price": "our prices",
    "ambience": "the atmosphere",
    "drinks": "the drinks",
    "booking": "your booking",
}
_TOPIC_RES = {
    topic: re.compile(r"\b(?:" + "|".join(words) + r")(?:s|es|d|ed|ing)?\b", re.I)
    for topic, words in TOPIC_WORDS.items()
}
MAX_TOPICS = 3


def detect_topics(comment: str) -> tuple[str, ...]:
    """The topics a comment raises, in the order it first raises them."""
    first_seen = {}
    for topic, pattern in _TOPIC_RES.items():
        match = pattern.search(comment)
        if match:
            first_seen[topic] = match.start()
    return tuple(sorted(first_seen, key=first_seen.__getitem__))


def join_phrases(phrases: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return phrases[0] if len(phrases) == 1 else f"{', '.join(phrases[:-1])} and {phrases[-1]}"


class TemplateReplyProvider:
    """Drafts from phrase pools: the venue's tone, the rating band, the comment's topics, name
    and venue; ends with the venue's signature when set, and never uses a banned phrase (a
    sentence that would is swapped for another variant, or left out when every variant has one).
    """

    name = "template"
    model = "template-v1"

    def draft(self, request: ReplyRequest) -> Draft:
        rng = random.Random(_seed(request))
        band, tone = rating_band(request.rating), tone_of(request.tone).value
        banned = clean_phrases(request.banned_phrases)
        first = first_name_from(request.customer_first_name)
        topics = [
            t for t in (request.topics or detect_topics(request.comment)) if t in TOPIC_PHRASES
        ]
        fields = {
            "venue": " ".join(request.venue_name.split()),
            "name": first or "",
            "topics": join_phrases([TOPIC_PHRASES[t] for t in topics[:MAX_TOPICS]])
            if topics
            else "",
        }

        def pick(pool: tuple[str, ...]) -> str | None:
            return _pick(rng, pool, banned, fields)

        greeting = pick(_greetings(request, tone, first))
        middle = pick(TOPIC_LINES[tone][band] if topics else GENERAL_LINES[tone][band])
        opening = pick(OPENINGS[tone][band])
        closing = pick(CLOSINGS[tone][band])
        sign_off = pick(SIGN_OFFS[tone])
        signature = clean_signature(request.signature)
        paragraphs = [
            greeting,
            " ".join(s for s in (opening, middle) if s),
            closing,
            signature or sign_off,
        ]
        body = "\n\n".join(p for p in paragraphs if p)
        subject = pick(SUBJECTS[band]) or FALLBACK_SUBJECT
        return check_draft(Draft(subject=subject, body=body, provider=self.name, model=self.model))


def _greetings(request: ReplyRequest, tone: str, first: str | None) -> tuple[str, ...]:
    """The greeting pool; a brand voice that asks to be formal greets "Dear <name>" (as before
    tones existed)."""
    if not first:
        return ANONYMOUS_GREETINGS[tone]
    if tone == "warm" and "formal" in (request.brand_voice or "").lower():
        return GREETINGS["formal"]
    return GREETINGS[tone]


def _pick(
    rng: random.Random, pool: tuple[str, ...], banned: tuple[str, ...], fields: dict[str, str]
) -> str | None:
    """A random variant of the pool that uses no banned phrase; None when every variant does.
    One draw per pick whatever the outcome, so the same feedback keeps the same wording."""
    options = [variant.format(**fields) for variant in pool]
    first = rng.choice(options)
    return next((o for o in (first, *options) if not banned_phrases_in(o, banned)), None)


def _seed(request: ReplyRequest) -> int:
    """Same feedback → same wording (stable tests); different feedback → different phrasing."""
    key = "\x1f".join(
        (
            request.venue_name,
            request.customer_first_name or "",
            str(request.rating),
            request.comment,
        )
    )
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
