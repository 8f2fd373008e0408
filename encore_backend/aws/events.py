"""The EventBridge Scheduler event of a job tick: `{"job_id": …, "scheduled_time": …}`."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from encore_backend.clock import as_utc

FIELDS = ("job_id", "scheduled_time")
EXAMPLE = '{"job_id": "stats_aggregator", "scheduled_time": "2026-03-10T12:05:00Z"}'
MAX_CLOCK_SKEW = timedelta(minutes=5)  # a tick from further ahead than this is refused


class BadEvent(ValueError):
    """An event that names no runnable tick; `field` says which part is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Tick:
    job_id: str
    fire_time: datetime


def parse_tick(event: Any, *, job_ids: Collection[str], now: datetime) -> Tick:
    """The tick an event asks for, or BadEvent naming the first wrong field."""
    if not isinstance(event, dict):
        raise BadEvent("event", f"expected a JSON object like {EXAMPLE}")
    extra = sorted(str(key) for key in event if key not in FIELDS)
    if extra:
        raise BadEvent(extra[0], f"unexpected field; the event has only {', '.join(FIELDS)}")
    return Tick(_job_id(event.get("job_id"), job_ids), _fire_time(event.get("scheduled_time"), now))


def _job_id(value: Any, job_ids: Collection[str]) -> str:
    if value is None:
        raise BadEvent("job_id", "is required")
    if not isinstance(value, str) or value not in job_ids:
        raise BadEvent("job_id", f"unknown job id {value!r}; expected one of {', '.join(job_ids)}")
    return value


def _fire_time(value: Any, now: datetime) -> datetime:
    if value is None:
        raise BadEvent(
            "scheduled_time", "is required (the schedule's <aws.scheduler.scheduled-time>)"
        )
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise BadEvent(
            "scheduled_time",
            f"expected an ISO-8601 time with its zone, like 2026-03-10T12:05:00Z; got {value!r}",
        )
    if parsed > now + MAX_CLOCK_SKEW:
        raise BadEvent("scheduled_time", f"{value} is in the future; a tick runs once it is due")
    return as_utc(parsed)
