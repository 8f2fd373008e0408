"""The reply-drafting port: what a provider is given and what it hands back."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

# How ProviderConfigError names this side to operators ("AI provider: openai HTTP 401: …").
AI_SIDE = "AI provider"


@dataclass(frozen=True)
class ReplyRequest:
    """Everything a provider may use to draft one reply; the comment is customer data."""

    venue_name: str
    brand_voice: str | None
    customer_first_name: str | None
    rating: int
    comment: str
    alert_level: str | None = None
    topics: tuple[str, ...] | None = None
    # The venue's voice settings (reply_tone, reply_signature, banned_phrases): venue-written
    # text, normalised by voice.py before it reaches a prompt or a body.
    tone: str = "warm"
    signature: str | None = None
    banned_phrases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Draft:
    """A checked reply ready to store (SPEC §6 reply: subject, body, provider, model)."""

    subject: str
    body: str
    provider: str
    model: str


class ReplyProvider(Protocol):
    """Drafts a reply; raises TransientProviderError, PermanentProviderError or DraftRejected,
    and ProviderConfigError when the key, credentials or model are refused (every draft would
    fail alike)."""

    name: str

    def draft(self, request: ReplyRequest) -> Draft: ...


def rating_band(rating: int) -> str:
    """1-2 negative, 3 mixed, 4-5 positive: the tone a reply takes."""
    if rating <= 2:
        return "negative"
    return "mixed" if rating == 3 else "positive"


_NAME = re.compile(r"^[^\W\d_](?:[^\W\d_]|['\u2019-](?=[^\W\d_])){0,39}$")


def first_name_from(name: str | None) -> str | None:
    """A safe first name from a customer's full name ("anna smith" → "Anna"); None if unusable."""
    if not name or not name.strip():
        return None
    first = name.strip().split()[0].strip(".,;:!")
    if not _NAME.match(first):
        return None
    if not first.islower():
        return first
    return "-".join(part[:1].upper() + part[1:] for part in first.split("-"))
