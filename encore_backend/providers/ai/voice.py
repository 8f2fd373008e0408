"""A venue's reply voice (settings reply_tone, reply_signature, banned_phrases), made safe.

The settings are written by the venue, not the customer, but they still reach prompts and
bodies: each is normalised here (one line per phrase, capped lengths, a known tone) so no value
can reshape a prompt or a reply. The signature is appended by code, never left to a model, so it
is always exactly what the venue wrote, once, at the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from encore_backend.domain.enums import ReplyTone

MAX_SIGNATURE_CHARS = 500
MAX_SIGNATURE_LINES = 6
MAX_PHRASES = 50
MIN_PHRASE_CHARS, MAX_PHRASE_CHARS = 2, 100

# One fixed instruction per tone: the setting picks one, it never writes prompt text itself.
TONE_INSTRUCTIONS = {
    ReplyTone.WARM: (
        "Tone: warm and personal. Friendly, caring, plain words, like a host who remembers "
        "the guest; contractions are fine."
    ),
    ReplyTone.FORMAL: (
        "Tone: formal and courteous. Complete sentences, no contractions, no exclamation "
        "marks, no slang and no emoji."
    ),
    ReplyTone.PLAYFUL: (
        "Tone: playful and upbeat. Light, cheerful wording with a touch of humour when the "
        "customer is happy; stay sincere and never joke about a complaint."
    ),
}


def tone_of(value: object) -> ReplyTone:
    """The venue's tone; anything unknown (a row written by another system) is warm."""
    try:
        return ReplyTone(str(value).strip().lower())
    except ValueError:
        return ReplyTone.WARM


def clean_signature(text: str | None) -> str | None:
    """The signature with each line's whitespace collapsed, blank lines dropped, at most
    MAX_SIGNATURE_LINES lines and MAX_SIGNATURE_CHARS characters; None when nothing is left."""
    if not text:
        return None
    lines = [" ".join(line.split()) for line in text.splitlines()]
    kept = "\n".join([line for line in lines if line][:MAX_SIGNATURE_LINES])
    return kept[:MAX_SIGNATURE_CHARS].strip() or None


def clean_phrases(phrases: Iterable[object] | None) -> tuple[str, ...]:
    """Banned phrases on one line each, 2 to 100 characters, each once (case-insensitively, as
    first written), at most MAX_PHRASES; anything else (a non-string, a blank) is left out."""
    seen: dict[str, str] = {}
    for phrase in phrases or ():
        if not isinstance(phrase, str):
            continue
        written = " ".join(phrase.split())
        if MIN_PHRASE_CHARS <= len(written) <= MAX_PHRASE_CHARS:
            seen.setdefault(written.casefold(), written)
    return tuple(seen.values())[:MAX_PHRASES]


def voice_fields(settings: Mapping[str, Any]) -> dict[str, Any]:
    """ReplyRequest's tone, signature and banned_phrases from a venue-settings row."""
    return {
        "tone": tone_of(settings.get("reply_tone")).value,
        "signature": clean_signature(settings.get("reply_signature")),
        "banned_phrases": clean_phrases(settings.get("banned_phrases")),
    }


def _trailing(signature: str) -> re.Pattern[str]:
    """The signature at the very end of a text, starting a line, any spacing or letter case."""
    words = r"\s+".join(re.escape(word) for word in signature.split())
    return re.compile(rf"(?:^|\n)[ \t]*{words}[\s.]*\Z", re.I)


def sign(body: str, signature: str | None) -> str:
    """The body ending with the signature exactly once: a copy the model already put at the
    end is replaced by the exact text, otherwise the signature is appended. A body that is empty
    or only the signature comes back empty (the draft check refuses it: a signature is no reply)."""
    text = body.rstrip()
    if not signature or not text:
        return text
    found = _trailing(signature).search(text)
    if found:
        text = text[: found.start()].rstrip()
    return f"{text}\n\n{signature}" if text else ""


def unsigned(body: str, signature: str | None) -> str:
    """The body without its trailing signature (the venue's own words are not checked)."""
    if not signature:
        return body
    found = _trailing(signature).search(body.rstrip())
    return body[: found.start()] if found else body
