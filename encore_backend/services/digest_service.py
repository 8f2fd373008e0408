"""Daily digests: one email per manager address in mode `digest`, at its `digest_hour` in the
venue's timezone, covering the 24 hours before that hour.

The hourly `daily_report` job calls `queue_digests`. An address is due when the latest local
`digest_hour`:00 at or before `now` is at most CATCH_UP ago (the job's catch-up window), so a run
after downtime still queues today's digest and a run at another hour queues nothing. Each item
has notice_key `digest:<venue_id>:<local date>`; the unique (notice_key, recipient) key makes a
rerun, a catch-up and a racing process add it once. The content is computed when queued and kept
as the item's payload: alerts of the 24 hours by level (critical and high listed), bad feedback
still unanswered, and counts of feedback received and answered.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from encore_backend.clock import as_utc, iso_z
from encore_backend.domain.enums import ALERT_LEVEL_ORDER, AlertLevel
from encore_backend.domain.excerpts import excerpt
from encore_backend.domain.manager_prefs import Mode, Pref
from encore_backend.domain.stats_windows import zone_of
from encore_backend.services import sla_service
from encore_backend.services.manager_mail import DIGEST, manager_items, recipients

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

WINDOW = timedelta(hours=24)
CATCH_UP = timedelta(hours=6)  # daily_report's catch-up window (scheduler/registry.py)
ALERTS_READ = 500  # newest alerts read per venue (a day's worth, with room to spare)
LISTED_LEVELS = (AlertLevel.CRITICAL, AlertLevel.HIGH)
QUOTE_CHARS = 200
UNANSWERED_LISTED = 20


def digest_slot(hour: int, *, now: datetime, tz: str | None) -> datetime:
    """The latest instant at or before `now` that is `hour`:00 venue-local, in UTC (a day whose
    clocks skip that hour has its slot at the jump)."""
    zone = zone_of(tz)
    day = now.astimezone(zone).date()
    for back in (0, 1, 2):
        slot = datetime.combine(day - timedelta(days=back), time(hour), tzinfo=zone).astimezone(UTC)
        if slot <= now:
            return slot
    raise AssertionError("unreachable: a slot two days back is always past")


def notice_key(venue_id: str, slot: datetime, tz: str | None) -> str:
    return f"digest:{venue_id}:{slot.astimezone(zone_of(tz)).date().isoformat()}"


def due_slots(
    venue: Mapping[str, Any], prefs: Mapping[str, Pref], *, now: datetime
) -> dict[datetime, list[str]]:
    """slot → the venue's manager addresses whose digest is due at it now."""
    due: dict[datetime, list[str]] = defaultdict(list)
    for address in recipients(venue.get("manager_emails")):
        pref = prefs.get(address.lower())
        if pref is None or pref.mode != Mode.DIGEST or pref.digest_hour is None:
            continue
        slot = digest_slot(pref.digest_hour, now=now, tz=venue.get("timezone"))
        if now - slot <= CATCH_UP:
            due[slot].append(address)
    return due


def queue_digests(ctx: Container, *, now: datetime, dry_run: bool = False) -> int:
    """Queue every digest due at `now` that is not queued yet; how many were added (a dry run:
    how many are due)."""
    now = as_utc(now)
    subscribers = ctx.manager_prefs.digest_subscribers()
    if not subscribers:
        return 0
    items: list[dict[str, Any]] = []
    settings = ctx.venues.list_settings()  # the deadline rule of the unanswered list needs them
    for venue in ctx.venues.list(sorted(subscribers)):
        venue = {**settings.get(venue["venue_id"], {}), **venue}
        prefs = subscribers[venue["venue_id"]]
        for slot, addresses in due_slots(venue, prefs, now=now).items():
            payload = digest_content(ctx, venue, slot=slot)
            items += manager_items(
                ctx.settings,
                kind=DIGEST,
                venue_id=venue["venue_id"],
                manager_emails=addresses,
                now=now,
                prefs=prefs,
                timezone=venue.get("timezone"),
                notice_key=notice_key(venue["venue_id"], slot, venue.get("timezone")),
                payload=payload,
            )
    if dry_run:
        return len(items)
    return ctx.email_queue.add_notices(items)


def digest_content(ctx: Container, venue: Mapping[str, Any], *, slot: datetime) -> dict[str, Any]:
    """What the digest of the 24 hours before `slot` shows (JSON-ready); its unanswered bad
    feedback is the response deadline's rule (sla_service.still_unanswered), as in the daily
    report. `venue` carries its settings."""
    since = slot - WINDOW
    tz = venue.get("timezone") or "UTC"
    alerts = [
        a
        for a in ctx.alerts.list_for_venue(venue["venue_id"], limit=ALERTS_READ)
        if since <= as_utc(a["detected_at"]) < slot
    ]
    counts = Counter(str(a["level"]) for a in alerts)
    facts = ctx.digests.feedback_facts(venue["venue_id"], since=since, until=slot)
    unanswered = sla_service.still_unanswered(ctx, venue, until=slot, now=slot)
    return {
        "period": {
            "timezone": tz,
            "start": iso_z(since),
            "end": iso_z(slot),
            "date": slot.astimezone(zone_of(tz)).date().isoformat(),
        },
        "alert_counts": {level.value: counts.get(level.value, 0) for level in ALERT_LEVEL_ORDER},
        "alerts": [
            {
                "alert_id": a["alert_id"],
                "level": a["level"],
                "title": a["title"],
                "feedback_id": int(a["feedback_id"]),
                "detected_at": iso_z(a["detected_at"]),
            }
            for a in sorted(alerts, key=_most_severe_first)
            if a["level"] in LISTED_LEVELS
        ],
        "feedback": facts["feedback"],
        "replies": facts["replies"],
        "unanswered_count": len(unanswered),
        "unanswered": [
            {
                "feedback_id": int(f["feedback_id"]),
                "rating": f["rating"],
                "customer_name": f["customer_name"],
                "comment": excerpt(f["comment"], QUOTE_CHARS),
                "created_at": iso_z(f["created_at"]),
                "escalated": f.get("escalated_at") is not None,
            }
            for f in unanswered[:UNANSWERED_LISTED]
        ],
    }


def _most_severe_first(alert: Mapping[str, Any]) -> tuple[int, datetime]:
    return -AlertLevel(alert["level"]).rank, as_utc(alert["detected_at"])
