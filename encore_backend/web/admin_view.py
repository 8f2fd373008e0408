"""What the admin console shows: venues with their latest snapshot, jobs, queue health."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from encore_backend.clock import as_utc
from encore_backend.scheduler.control import SchedulerControl
from encore_backend.scheduler.provider_status import provider_errors
from encore_backend.scheduler.scheduler import EngineScheduler
from encore_backend.services.channel_service import status_of
from encore_backend.services.stats_service import totals

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

QUEUE_STATUSES = ("pending", "sending", "sent", "failed", "cancelled")


def parse_time(value: str | None) -> datetime | None:
    """The API's ISO-Z strings back to datetimes for display."""
    return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00"))) if value else None


def job_rows(scheduler: SchedulerControl) -> list[dict[str, Any]]:
    """Every job as the API describes it, with times parsed for display."""
    rows = []
    for job in scheduler.jobs():
        last = job["last_run"]
        rows.append(
            {
                **job,
                "next_run_at": parse_time(job["next_run_time"]),
                "last_started_at": parse_time(last["started_at"]) if last else None,
            }
        )
    return rows


def queue_health(ctx: Container) -> dict[str, Any]:
    counts = ctx.email_queue.count_by_status()
    return {
        "counts": {status: counts.get(status, 0) for status in QUEUE_STATUSES},
        "failed": ctx.ops_counts.failed_emails(limit=10),
    }


def venue_rows(ctx: Container) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every venue with its newest snapshot (None before the first), and the totals."""
    rows = ctx.stats.latest_all()
    zones = ctx.venues.timezones()
    venues = [{**r, "timezone": zones.get(r["venue_id"], "UTC")} for r in rows]
    return venues, totals(r["stats"] for r in rows)


def failing_channels(ctx: Container) -> list[dict[str, Any]]:
    """Channels whose last pass failed, or disabled after repeated failures."""
    return [{**c, "status": status_of(c)} for c in ctx.channels.failing()]


def admin_console(ctx: Container, scheduler: SchedulerControl, *, now: datetime) -> dict[str, Any]:
    venues, all_venues = venue_rows(ctx)
    jobs = job_rows(scheduler)
    return {
        "now": now,
        "venues": venues,
        "totals": all_venues,
        "jobs": jobs,
        "scheduler_running": scheduler.running,
        "scheduler_leading": scheduler.leading,
        "leader": scheduler.leader(),
        "provider_errors": [
            {**problem, "since_at": parse_time(problem["since"])}
            for problem in provider_errors(ctx, jobs)
        ],
        "executor": ctx.settings.encore_executor,
        "queue": queue_health(ctx),
        "failing_channels": failing_channels(ctx),
        "fleet": fleet_panel(scheduler),
    }


def fleet_panel(scheduler: SchedulerControl) -> dict[str, Any] | None:
    """The Celery fleet's live workers and queue depths (None in the embedded profile)."""
    if isinstance(scheduler, EngineScheduler):
        return None
    return scheduler.panel()
