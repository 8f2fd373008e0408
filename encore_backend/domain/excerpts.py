"""Customer words shown somewhere short (an email list, a chat message, a dashboard row)."""

from __future__ import annotations


def excerpt(text: str | None, limit: int) -> str:
    """`text` on one line (whitespace collapsed), cut to `limit` characters ending in "…"."""
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
