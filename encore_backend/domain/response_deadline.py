"""The response deadline of bad feedback: which feedback has one, and when it falls.

The deadline is `response_sla_hours` of the venue's wall clock after the feedback arrived: a
review left at 20:00 with a 24-hour deadline is due at 20:00 the next local day, so across a
DST change the elapsed time is 23 or 25 hours. A wall time the change skips (02:30 on a
spring-forward night) resolves with the offset before the change, i.e. one hour later on the
new clock; a wall time it repeats resolves to its first occurrence.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from encore_backend.clock import as_utc
from encore_backend.domain.enums import AlertLevel
from encore_backend.domain.stats_windows import zone_of

DEFAULT_SLA_HOURS = 24
BAD_RATING = 2  # rated this or lower: the feedback has a deadline whatever its alert
ESCALATING_LEVELS = (AlertLevel.CRITICAL, AlertLevel.HIGH)
# Feedback whose deadline passed longer ago than this is imported history or left over from a
# long outage: nobody can still answer it in time, so it is neither escalated nor mailed.
MAX_OVERDUE = timedelta(days=7)
# A deadline is at most this far from created_at + sla_hours in elapsed time (DST moves clocks
# by one hour, a few zones historically by two): it widens the UTC range the database is asked
# for, and the exact deadline is then computed per row.
DST_SLACK = timedelta(hours=2)


def due_at(created_at: datetime, timezone: str | None, sla_hours: int | None) -> datetime:
    """When the feedback's reply is due (UTC): `sla_hours` of local clock time later."""
    zone = zone_of(timezone)
    local = as_utc(created_at).astimezone(zone)
    wall = local.replace(tzinfo=None, fold=0) + timedelta(hours=hours_of(sla_hours))
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def hours_of(sla_hours: int | None) -> int:
    """The venue's setting, or the default when it has no settings row."""
    return int(sla_hours) if sla_hours else DEFAULT_SLA_HOURS


def needs_reply(rating: int, alert_level: str | None) -> bool:
    """Bad feedback: rated 2 or lower, or that raised a high or critical alert."""
    return int(rating) <= BAD_RATING or alert_level in ESCALATING_LEVELS


def escalation_level(alert_level: str | None) -> AlertLevel:
    """How loud the escalation is: the alert's level when high or critical, else high."""
    if alert_level in ESCALATING_LEVELS:
        return AlertLevel(alert_level)
    return AlertLevel.HIGH


def created_range(now: datetime, sla_hours: int | None) -> tuple[datetime, datetime]:
    """[earliest, latest] created_at of feedback that may be due at `now` and not more than
    MAX_OVERDUE past due: a superset the database returns, exact deadlines decide."""
    span = timedelta(hours=hours_of(sla_hours))
    now = as_utc(now)
    return now - MAX_OVERDUE - span - DST_SLACK, now - span + DST_SLACK
