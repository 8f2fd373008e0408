"""Manager preferences: which manager emails an address gets, and when (issue 13, item 3).

An address of a venue's manager_emails without a stored preference is `standard` (the engine's
behaviour before preferences): critical alerts at once, the daily and weekly reports as the
venue's switches say, escalations at once. A stored preference picks a mode:

- `immediate`: critical and high alerts (and escalations) at once; the daily and weekly reports.
- `digest`: one daily digest at `digest_hour` (venue-local) covering the 24 hours before it;
  critical alerts still at once (food poisoning can't wait for tomorrow); no high-alert or
  escalation emails (the digest lists them); the weekly report; no daily report (the digest
  replaces it).
- `weekly`: only the weekly report.
- `none`: nothing (what one-click unsubscribe sets).

Quiet hours ([start, end) venue-local hours, may wrap midnight, both or neither) defer every email
except a critical alert to the end of the quiet hours. The venue's own report switches
(daily_report_enabled / weekly_report_enabled) are applied before this, by the caller.

`delivery_time` is the whole decision, a pure function of the preference, what is sent and now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from encore_backend.domain.stats_windows import zone_of


class Mode(StrEnum):
    STANDARD = "standard"  # no stored row
    IMMEDIATE = "immediate"
    DIGEST = "digest"
    WEEKLY = "weekly"
    NONE = "none"


STORED_MODES = (Mode.IMMEDIATE, Mode.DIGEST, Mode.WEEKLY, Mode.NONE)
HOURS = range(24)
# What is sent (EmailKind values; a report names its period in `level`: daily | weekly).
ALERT, ESCALATION, REPORT, DIGEST = "alert", "escalation", "report", "digest"
CRITICAL, HIGH = "critical", "high"
DAILY, WEEKLY = "daily", "weekly"


@dataclass(frozen=True)
class Pref:
    """One address's stored preference (hours venue-local, 0-23)."""

    mode: str
    digest_hour: int | None = None
    quiet_start_hour: int | None = None
    quiet_end_hour: int | None = None

    @property
    def quiet(self) -> tuple[int, int] | None:
        """(start, end) when the address has quiet hours (start == end: none)."""
        start, end = self.quiet_start_hour, self.quiet_end_hour
        if start is None or end is None or start == end:
            return None
        return start, end


def wanted(mode: str, *, kind: str, level: str | None) -> bool:
    """Whether an address in `mode` gets this email at all (timing aside)."""
    if kind == ALERT and (level or CRITICAL) == CRITICAL:
        return mode not in (Mode.WEEKLY, Mode.NONE)
    if kind in (ALERT, ESCALATION):
        high = kind == ESCALATION or level == HIGH
        return high and (mode == Mode.IMMEDIATE or (mode == Mode.STANDARD and kind == ESCALATION))
    if kind == REPORT:
        if level == WEEKLY:
            return mode in (Mode.STANDARD, Mode.IMMEDIATE, Mode.DIGEST, Mode.WEEKLY)
        return mode in (Mode.STANDARD, Mode.IMMEDIATE)
    if kind == DIGEST:
        return mode == Mode.DIGEST
    return False


def delivery_time(
    pref: Pref | None, *, kind: str, level: str | None, now: datetime, tz: str | None
) -> datetime | None:
    """When to send this email to this address (UTC), or None for not at all.

    kind: alert | escalation | report | digest; level: the alert's level (None on an alert means
    critical, what callers before preferences mailed), or the report's period (daily | weekly).
    """
    mode = pref.mode if pref is not None else Mode.STANDARD
    if not wanted(mode, kind=kind, level=level):
        return None
    if kind == ALERT and (level or CRITICAL) == CRITICAL:
        return now
    quiet = pref.quiet if pref is not None else None
    return quiet_end(quiet, now=now, tz=tz) if quiet else now


def in_quiet(hour: int, quiet: tuple[int, int]) -> bool:
    """Whether a local hour falls in [start, end), wrapping midnight when start > end."""
    start, end = quiet
    return start <= hour < end if start < end else hour >= start or hour < end


def quiet_end(quiet: tuple[int, int], *, now: datetime, tz: str | None) -> datetime:
    """`now` if outside the quiet hours, else the end of them in UTC (DST-safe: an end hour the
    clocks skip maps to the jump, a repeated one to its first occurrence)."""
    zone = zone_of(tz)
    local = now.astimezone(zone)
    if not in_quiet(local.hour, quiet):
        return now
    start, end = quiet
    day: date = local.date()
    if start > end and local.hour >= start:  # wrapped: ends tomorrow morning
        day += timedelta(days=1)
    ends = datetime.combine(day, time(end), tzinfo=zone).astimezone(UTC)
    return max(ends, now)
