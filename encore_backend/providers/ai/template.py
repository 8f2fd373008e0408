"""The offline provider: a considerate reply without a model, varied but deterministic."""

from __future__ import annotations

import hashlib
import random
import re

from encore_backend.providers.ai.base import Draft, ReplyRequest, first_name_from, rating_band
from encore_backend.providers.ai.checks import banned_phrases_in, check_draft
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

# Phrase pools by tone, then by rating band. Formal never uses contractions or "!";
# playful greets and signs off with a lift but stays sincere about a complaint.
OPENINGS = {
    "warm": {
        "negative": (
            "Thank you for taking the time to tell us about your visit to {venue}, and I'm sorry "
            "it wasn't what you hoped for.",
            "Thank you for letting us know about your visit to {venue}; I'm sorry it didn't go "
            "as it should have.",
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
    },
    "formal": {
        "negative": (
            "Thank you for taking the time to write to us about your visit to {venue}. We are "
            "sorry that it did not meet your expectations.",
            "Thank you for informing us of your experience at {venue}. Please accept our "
            "apologies that your visit fell short of the standard we expect.",
            "Thank you for your feedback regarding your recent visit to {venue}. We sincerely "
            "regret that it was not satisfactory.",
        ),
        "mixed": (
            "Thank you for your feedback regarding your visit to {venue}.",
            "Thank you for taking the time to share your views on {venue}.",
            "We thank you for your comments on your recent visit to {venue}.",
        ),
        "positive": (
            "Thank you for your kind feedback regarding {venue}.",
            "Thank you for visiting {venue} and for your generous comments.",
            "Thank you for the kind words about your visit to {venue}; they are much appreciated.",
        ),
    },
    "playful": {
        "negative": (
            "Thanks for telling us about your visit to {venue}. Oh no, we're really sorry it "
            "wasn't the good time you came for.",
            "Thank you for being honest with us about your visit to {venue}; we're really sorry "
            "we dropped the ball.",
            "Thanks a lot for letting us know about your time at {venue}. We're sorry, that's "
            "not the visit we want anyone to have.",
        ),
        "mixed": (
            "Thanks for the feedback on your visit to {venue}!",
            "Thanks a bunch for telling us about your time at {venue}!",
            "Thank you for sharing the good and the not-so-good from your visit to {venue}!",
        ),
        "positive": (
            "Wow, thank you for the lovely feedback about {venue}!",
            "Thank you for visiting {venue}; your feedback made our day!",
            "Thanks a million for the kind words about {venue}!",
        ),
    },
}
TOPIC_LINES = {
    "warm": {
        "negative": (
            "I'm sorry to hear about {topics}; that is not the experience we want anyone to have.",
            "I'm truly sorry that {topics} fell short of what you expected.",
            "Your comments about {topics} have gone straight to the team so we can put things "
            "right.",
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
    },
    "formal": {
        "negative": (
            "We regret that {topics} did not meet our standards.",
            "Your remarks concerning {topics} have been passed to the management team for review.",
            "We are sorry that {topics} fell short of what you expected.",
        ),
        "mixed": (
            "Your observations regarding {topics} are appreciated and have been shared with the "
            "team.",
            "We have noted your remarks concerning {topics} and will consider them carefully.",
            "Your comments on {topics} will help us to improve.",
        ),
        "positive": (
            "We are pleased to learn that {topics} met with your approval; your remarks have "
            "been shared with the team.",
            "Your kind comments regarding {topics} are much appreciated by the whole team.",
            "Your remarks about {topics} are greatly valued by everyone here.",
        ),
    },
    "playful": {
        "negative": (
            "We're sorry {topics} let you down; the team is already on it.",
            "Sorry that {topics} didn't hit the spot; your notes have gone straight to the team.",
            "We're sorry about {topics}, and we're rolling up our sleeves to fix it.",
        ),
        "mixed": (
            "Your thoughts on {topics} are gold dust, and the team has them already.",
            "We're all ears on {topics} and already working on it.",
            "Your notes on {topics} have been passed around the whole team!",
        ),
        "positive": (
            "The team did a happy dance reading what you said about {topics}!",
            "Your shout-out for {topics} is going straight on the staff-room wall!",
            "We're grinning from ear to ear about your words on {topics}!",
        ),
    },
}
GENERAL_LINES = {
    "warm": {
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
    },
    "formal": {
        "negative": (
            "Your comments have been passed to the management team for careful review.",
            "We take such feedback seriously and will investigate the matter.",
        ),
        "mixed": (
            "We are pleased that parts of your visit were satisfactory, and we aim to improve "
            "on the rest.",
            "We are continually working to improve, and your feedback assists us in doing so.",
        ),
        "positive": (
            "We are delighted that you enjoyed your visit.",
            "It is a pleasure to know that your visit was an enjoyable one.",
        ),
    },
    "playful": {
        "negative": (
            "Your notes have gone straight to the team, and we're rolling up our sleeves.",
            "We're taking this to heart and working out what went wrong.",
        ),
        "mixed": (
            "Glad some of it hit the spot; we're on a mission to nail the rest.",
            "Every bit of feedback helps us up our game, so thank you!",
        ),
        "positive": (
            "So glad you had a great time with us!",
            "Sounds like a cracking visit, and that makes us very happy!",
        ),
    },
}
CLOSINGS = {
    "warm": {
        "negative": (
            "If you're willing, please reply to this email and tell us more; a manager will read "
            "it personally.",
            "We would really value the chance to welcome you back and show you a better visit.",
        ),
        "mixed": (
            "We hope to see you again at {venue} soon.",
            "We'd love to welcome you back soon.",
        ),
        "positive": (
            "We look forward to welcoming you back to {venue} soon.",
            "We can't wait to see you again!",
        ),
    },
    "formal": {
        "negative": (
            "Should you wish to share further details, please reply to this email; a manager "
            "will respond personally.",
            "We would welcome the opportunity to receive you again and to provide the service "
            "you deserve.",
        ),
        "mixed": (
            "We look forward to welcoming you to {venue} again.",
            "We hope to have the pleasure of receiving you again.",
        ),
        "positive": (
            "We look forward to welcoming you to {venue} again.",
            "We hope to have the pleasure of your company again soon.",
        ),
    },
    "playful": {
        "negative": (
            "If you fancy telling us more, just hit reply; a manager will read every word.",
            "We'd love another shot at giving you a great visit.",
        ),
        "mixed": (
            "Come back soon and see how we're doing at {venue}!",
            "We can't wait to have you back!",
        ),
        "positive": (
            "Come back soon, we'll keep a seat warm for you at {venue}!",
            "We can't wait to see you again!",
        ),
    },
}
GREETINGS = {
    "warm": ("Hi {name},", "Dear {name},", "Hello {name},"),
    "formal": ("Dear {name},",),
    "playful": ("Hey {name}!", "Hi {name}!", "Hello there, {name}!"),
}
ANONYMOUS_GREETINGS = {
    "warm": ("Hello,", "Dear guest,", "Hi there,"),
    "formal": ("Dear guest,", "Dear customer,"),
    "playful": ("Hey there!", "Hi friend!", "Hello there!"),
}
SIGN_OFFS = {
    "warm": (
        "Warm regards,\nThe {venue} team",
        "Best wishes,\nEveryone at {venue}",
        "With warm wishes,\nThe team at {venue}",
    ),
    "formal": (
        "Yours sincerely,\nThe management of {venue}",
        "Kind regards,\nThe team at {venue}",
        "With kind regards,\n{venue}",
    ),
    "playful": (
        "Cheers,\nThe {venue} crew",
        "High fives,\nEveryone at {venue}",
        "Big smiles,\nThe {venue} gang",
    ),
}
SUBJECTS = {
    "negative": ("About your visit to {venue}", "Your recent visit to {venue}"),
    "mixed": ("Your feedback about {venue}", "Thank you for your feedback, from {venue}"),
    "positive": ("Thank you from {venue}", "Thank you for visiting {venue}"),
}
FALLBACK_SUBJECT = "Your feedback"


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
