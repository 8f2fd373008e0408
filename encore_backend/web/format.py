"""Display formatting for the pages: relative times, local times, ratings, shares, durations."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

DASH = "—"


def ago(then: datetime | None, now: datetime) -> str:
    """'just now', '1 minute ago', '17 minutes ago', '3 hours ago', '2 days ago'."""
    if then is None:
        return "never"
    seconds = (now - then).total_seconds()
    if seconds < 0:
        return "in " + _span(-seconds)
    if seconds < 60:
        return "just now"
    return _span(seconds) + " ago"


def next_run(when: datetime | None, now: datetime) -> str:
    """A job's next fire time: 'in 3 minutes', 'now', or 'overdue by 2 hours' when no scheduler
    has fired it (an operator's first clue that none is running)."""
    if when is None:
        return "—"
    late = (now - when).total_seconds()
    if late <= 0:
        return ago(when, now)
    return "now" if late < 60 else f"overdue by {_span(late)}"


def overdue(due: datetime, now: datetime) -> str:
    """How long past a deadline: 'overdue by 3 hours' ('due now' within the minute)."""
    late = (now - due).total_seconds()
    return "due now" if late < 60 else f"overdue by {_span(late)}"


def _span(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 90:
        return _plural(max(minutes, 1), "minute")
    hours = int(minutes // 60)
    if hours < 48:
        return _plural(hours, "hour")
    return _plural(hours // 24, "day")


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def local_time(value: datetime | None, timezone: str = "UTC") -> str:
    """'Tue 10 Mar 14:05' in the given zone (UTC when it is unknown)."""
    if value is None:
        return DASH
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return value.astimezone(zone).strftime("%a %d %b %H:%M")


def rating(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}"


def percent(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.0f}%"


def hours(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f} h"


def count(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"


def duration_ms(value: int | None) -> str:
    """'35 ms', '2.4 s', '3 min 5 s'."""
    if value is None:
        return DASH
    if value < 1000:
        return f"{value} ms"
    if value < 60_000:
        return f"{value / 1000:.1f} s"
    minutes, seconds = divmod(value // 1000, 60)
    return f"{minutes} min {seconds} s"
