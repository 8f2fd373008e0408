"""Checks every draft passes before it is stored, and the reasons a reply must wait for approval."""

from __future__ import annotations

import re
from collections.abc import Sequence

from encore_backend.domain.text_match import normalise
from encore_backend.providers.ai.base import Draft
from encore_backend.providers.errors import PermanentProviderError

MAX_BODY_CHARS = 1500
MAX_SUBJECT_CHARS = 200

PLACEHOLDERS = (
    re.compile(r"\[[A-Za-z][\w .'/-]{0,40}\]"),  # [Name], [Your Name], [Manager/Owner]
    re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S),  # {{ name }}, {% if %}
    re.compile(r"\{[A-Za-z_]\w{0,30}\}"),  # {first_name}
    re.compile(r"<[A-Za-z_][\w -]{0,30}>"),  # <customer>, <venue name>
    re.compile(r"\bINSERT\b|\bX{3,}\b|\bTBD\b"),  # upper case only: "insert" is a word
    re.compile(r"\blorem ipsum\b", re.I),
)

# Whole words with their inflections; "free" is not "feel free" nor "gluten-free".
COMPENSATION_TERMS = {
    "refund": r"refund(?:s|ed|ing|able)?",
    "voucher": r"vouchers?",
    "discount": r"discount(?:s|ed|ing)?",
    "free": r"(?<!feel )(?<!-)free(?!-\w)",
    "comp": r"comp(?:s|ed|ing)?",
    "complimentary": r"complimentary",
    "credit": r"credit(?:s|ed|ing)?",
    "reimburse": r"reimburs(?:e|es|ed|ing|ement|ements)",
    "compensate": r"compensat(?:e|es|ed|ing|ion|ions|ory)",
    "money back": r"money\s+back",
    "on the house": r"on\s+the\s+house",
    "on us": r"(?:is|are|'s|be)\s+on\s+us",
    "gift card": r"gift\s+(?:cards?|certificates?)",
    "coupon": r"coupons?",
    "no charge": r"(?:no|without)\s+charge|free\s+of\s+charge",
    "waive": r"waiv(?:e|es|ed|ing)",
    "percent off": r"\d+\s*(?:%|percent)\s+off",
}
_COMPENSATION = re.compile(
    "|".join(rf"(?P<t{i}>\b{p}\b)" for i, p in enumerate(COMPENSATION_TERMS.values())), re.I
)
_TERM_NAMES = list(COMPENSATION_TERMS)
# Words for the banned-phrase match: letters and digits, apostrophes inside ("we're" is one).
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


class DraftRejected(PermanentProviderError):
    """A draft failed a check (empty, too long, placeholder left in): never store or send it."""


def check_draft(draft: Draft, *, max_chars: int = MAX_BODY_CHARS) -> Draft:
    """Return the draft with trimmed text, or raise DraftRejected naming the problem."""
    body, subject = draft.body.strip(), " ".join(draft.subject.split())
    if not body:
        raise DraftRejected("empty reply")
    if len(body) > max_chars:
        raise DraftRejected(f"reply too long: {len(body)} characters (limit {max_chars})")
    if not subject:
        raise DraftRejected("empty subject")
    if len(subject) > MAX_SUBJECT_CHARS:
        raise DraftRejected(f"subject too long: {len(subject)} characters")
    for where, text in (("subject", subject), ("reply", body)):
        found = find_placeholder(text)
        if found:
            raise DraftRejected(f"placeholder left in {where}: {found!r}")
    return Draft(subject=subject, body=body, provider=draft.provider, model=draft.model)


def find_placeholder(text: str) -> str | None:
    """The first leftover template placeholder in the text, if any."""
    for pattern in PLACEHOLDERS:
        match = pattern.search(text)
        if match:
            return match.group(0)
    return None


def compensation_terms(text: str) -> list[str]:
    """The compensation offers a text makes (refund, voucher, free …), each named once."""
    found: list[str] = []
    for match in _COMPENSATION.finditer(text):
        name = _TERM_NAMES[int(match.lastgroup[1:])]  # type: ignore[index]
        if name not in found:
            found.append(name)
    return found


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(normalise(text))]


def banned_phrases_in(text: str, phrases: Sequence[str]) -> list[str]:
    """The venue's banned phrases the text uses, as the venue wrote them, each once.

    A phrase matches as whole words in sequence, whatever the letter case, spacing, line breaks
    or punctuation between them ("No  worries!" and "no-worries" both use "no worries"; "also"
    does not use "so"). A phrase without any letter or digit (":-)") matches as written,
    whitespace-normalised and case-insensitively. No negation rule: a banned phrase is banned
    even after "not"."""
    words = _words(text)
    flat = " ".join(normalise(text).casefold().split())
    found: list[str] = []
    for phrase in phrases:
        wanted = _words(phrase)
        if wanted:
            n = len(wanted)
            hit = any(words[i : i + n] == wanted for i in range(len(words) - n + 1))
        else:
            hit = " ".join(normalise(phrase).casefold().split()) in flat
        if hit and phrase not in found:
            found.append(phrase)
    return found


def banned_reason(phrases: Sequence[str]) -> str:
    """The hold reason naming the banned phrases a draft uses."""
    quoted = ", ".join(f'"{p}"' for p in phrases)
    return f"contains banned phrase{'s' if len(phrases) > 1 else ''}: {quoted}"


def needs_approval(
    draft_body: str, alert_level: str | None, *, banned_phrases: Sequence[str] = ()
) -> list[str]:
    """Why this reply must wait for a manager whatever the settings (SPEC §4); empty if none.

    `banned_phrases` are the venue's: a draft using one waits, whichever provider wrote it.
    Pass the text to check without the venue's own signature (voice.unsigned)."""
    reasons = []
    terms = compensation_terms(draft_body)
    if terms:
        reasons.append(f"offers compensation ({', '.join(terms)})")
    if alert_level and str(alert_level).lower() == "critical":
        reasons.append("answers feedback that raised a critical alert")
    banned = banned_phrases_in(draft_body, banned_phrases)
    if banned:
        reasons.append(banned_reason(banned))
    return reasons
