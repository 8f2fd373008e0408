"""The offline provider: a considerate reply without a model, varied but deterministic."""

from __future__ import annotations

import hashlib
import random
import re

from encore_backend.providers.ai.base import Draft, ReplyRequest, first_name_from, rating_band
from encore_backend.providers.ai.checks import check_draft

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

OPENINGS = {
    "negative": (
        "Thank you for taking the time to tell us about your visit to {venue}, and I'm sorry it "
        "wasn't what you hoped for.",
        "Thank you for letting us know about your visit to {venue}; I'm sorry it didn't go as it "
        "should have.",
        "Thank you for your feedback on your visit to {venue}. I'm sorry we let you down.",
    ),
    "mixed": (
        "Thank you for your feedback on your visit to {venue}.",
        "Thanks for taking the time to tell us about your time at {venue}.",
        "Thank you for sharing your thoughts on your visit to {venue}.",
    ),
    "positive": (
        "Thank you so much for your lovely feedback about {venue}!",
        "Thank you for visiting {venue} — what a pleasure to read your feedback!",
        "Thank you for taking the time to share such kind words about {venue}.",
    ),
}
TOPIC_LINES = {
    "negative": (
        "I'm sorry to hear about {topics}; that is not the experience we want anyone to have.",
        "I'm truly sorry that {topics} fell short of what you expected.",
        "Your comments about {topics} have gone straight to the team so we can put things right.",
    ),
    "mixed": (
        "Your comments about {topics} help us see what to do better.",
        "Your notes on {topics} are really useful, and I've passed them on to the team.",
        "We're taking your points about {topics} on board.",
    ),
    "positive": (
        "It's lovely to hear your thoughts on {topics}; I'll make sure the team sees them.",
        "Your kind words about {topics} have made the team's day.",
        "Thank you for mentioning {topics}; it means a lot to everyone here.",
    ),
}
GENERAL_LINES = {
    "negative": (
        "Your comments have gone straight to the team so we can learn from them.",
        "We take feedback like yours seriously and will look into what went wrong.",
    ),
    "mixed": (
        "We're glad parts of your visit went well, and we'd love to get everything right.",
        "We're always working to improve, and feedback like yours helps.",
    ),
    "positive": (
        "We're delighted you enjoyed your visit.",
        "It's wonderful to know you had a good time with us.",
    ),
}
CLOSINGS = {
    "negative": (
        "If you're willing, please reply to this email and tell us more; a manager will read it "
        "personally.",
        "We would really value the chance to welcome you back and show you a better visit.",
    ),
    "mixed": ("We hope to see you again at {venue} soon.", "We'd love to welcome you back soon."),
    "positive": (
        "We look forward to welcoming you back to {venue} soon.",
        "We can't wait to see you again!",
    ),
}
GREETINGS = ("Hi {name},", "Dear {name},", "Hello {name},")
ANONYMOUS_GREETINGS = ("Hello,", "Dear guest,", "Hi there,")
SIGN_OFFS = (
    "Warm regards,\nThe {venue} team",
    "Best wishes,\nEveryone at {venue}",
    "Kind regards,\nThe team at {venue}",
)
SUBJECTS = {
    "negative": ("About your visit to {venue}", "We're sorry about your visit to {venue}"),
    "mixed": ("Your feedback about {venue}", "Thank you for your feedback, from {venue}"),
    "positive": ("Thank you from {venue}", "Thank you for visiting {venue}"),
}


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
    """Drafts from phrase pools: tone by rating band, the comment's topics, name and venue."""

    name = "template"
    model = "template-v1"

    def draft(self, request: ReplyRequest) -> Draft:
        rng = random.Random(_seed(request))
        band = rating_band(request.rating)
        venue = " ".join(request.venue_name.split())
        first = first_name_from(request.customer_first_name)
        topics = [
            t for t in (request.topics or detect_topics(request.comment)) if t in TOPIC_PHRASES
        ]
        if first:
            formal = "formal" in (request.brand_voice or "").lower()
            greeting = (GREETINGS[1] if formal else rng.choice(GREETINGS)).format(name=first)
        else:
            greeting = rng.choice(ANONYMOUS_GREETINGS)
        if topics:
            phrases = join_phrases([TOPIC_PHRASES[t] for t in topics[:MAX_TOPICS]])
            middle = rng.choice(TOPIC_LINES[band]).format(topics=phrases)
        else:
            middle = rng.choice(GENERAL_LINES[band])
        opening = rng.choice(OPENINGS[band]).format(venue=venue)
        closing = rng.choice(CLOSINGS[band]).format(venue=venue)
        sign_off = rng.choice(SIGN_OFFS).format(venue=venue)
        body = f"{greeting}\n\n{opening} {middle}\n\n{closing}\n\n{sign_off}"
        subject = rng.choice(SUBJECTS[band]).format(venue=venue)
        return check_draft(Draft(subject=subject, body=body, provider=self.name, model=self.model))


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
