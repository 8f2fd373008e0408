"""Ports of the derived documents (SPEC §6): computed stats, alerts, the email queue, replies and
reports. ENCORE_DERIVED_STORE chooses their adapters; rows go in and out as plain dicts with the
SPEC's field names, times as aware UTC datetimes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from encore_backend.domain.enums import ReplyStatus
from encore_backend.domain.stats_windows import StatsWindows

SPAN_VENUES = 500  # venues per span at most: one short venue list per read


@dataclass
class SavedScan:
    """What one batch write of the alert detector did: rows it marked scanned, the alerts and
    webhook deliveries it inserted."""

    marked: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    delivery_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Span:
    """Venues whose report facts are read over the same UTC range [start, end)."""

    venue_ids: tuple[str, ...]
    start: datetime
    end: datetime


def spans_for(windows: Iterable[tuple[str, datetime, datetime]]) -> list[Span]:
    """(venue_id, start, end) windows as few spans: one covering range per venue, grouped."""
    cover: dict[str, tuple[datetime, datetime]] = {}
    for venue_id, start, end in windows:
        lo, hi = cover.get(venue_id, (start, end))
        cover[venue_id] = (min(lo, start), max(hi, end))
    grouped: dict[tuple[datetime, datetime], list[str]] = {}
    for venue_id, bounds in sorted(cover.items()):
        grouped.setdefault(bounds, []).append(venue_id)
    return [
        Span(tuple(ids[i : i + SPAN_VENUES]), start, end)
        for (start, end), ids in grouped.items()
        for i in range(0, len(ids), SPAN_VENUES)
    ]


class StatsStore(Protocol):
    """The stats aggregate and the `encore_computed_stats` snapshots."""

    def venue_timezones(self) -> dict[str, str]:
        """Every venue's id and timezone name."""

    def aggregate(self, windows: Mapping[str, StatsWindows]) -> dict[str, dict[str, int]]:
        """Raw counts per venue for the given windows, in a fixed number of reads."""

    def save_snapshots(
        self, *, computed_at: datetime, stats: Mapping[str, Mapping[str, Any]]
    ) -> int:
        """One snapshot per venue at `computed_at`; a rerun at the same instant replaces."""

    def thin(self, *, now: datetime, lookback: timedelta | None = ...) -> int:
        """Thin old snapshots, bounded by `lookback` (None: a full pass); how many went."""

    def latest(self, venue_id: str) -> dict[str, Any] | None:
        """The venue's newest snapshot, or None before the first run."""

    def history(self, venue_id: str, *, since: datetime | None, limit: int) -> list[dict[str, Any]]:
        """Snapshots oldest first: from `since` on, or else the newest `limit` ones."""

    def latest_all(self) -> list[dict[str, Any]]:
        """Every venue (id, name) with its newest snapshot (None before its first)."""


class AlertStore(Protocol):
    """`encore_venue_alerts`: the detector's scan and writes, reads and acknowledgement."""

    def get(self, alert_id: str) -> dict[str, Any] | None: ...

    def list_for_venue(
        self,
        venue_id: str,
        *,
        is_read: bool | None = None,
        level: str | None = None,
        include_archived: bool = False,
        limit: int = 100,
        after: Sequence[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The venue's alerts, newest first; after the (detected_at, feedback_id) `after`."""

    def list_since(
        self, venue_id: str, *, since: datetime, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Alerts detected at or after `since`, oldest first (the live stream polls this)."""

    def mark_read(self, alert_id: str) -> dict[str, Any] | None: ...

    def acknowledge(self, alert_id: str, by: str, now: datetime) -> dict[str, Any] | None:
        """Mark read and acknowledged; the first acknowledgement is kept."""

    def count_by_level(self, *, include_archived: bool = False) -> dict[str, int]: ...

    def unscanned(
        self, *, limit: int, after_id: int = 0, feedback_ids: Sequence[int] | None = None
    ) -> list[dict[str, Any]]:
        """Not-yet-scanned feedback with what the rules need, in id order."""

    def low_ratings(
        self, *, customer_ids: Sequence[int], since: datetime, until: datetime
    ) -> list[dict[str, Any]]:
        """Ratings ≤ 2 of these customers created in [since, until]."""

    def save_scan(
        self,
        *,
        feedback_ids: Sequence[int],
        alerts: Sequence[Mapping[str, Any]],
        deliveries: Mapping[str, Sequence[Mapping[str, Any]]],
        now: datetime,
        emails: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    ) -> SavedScan:
        """Mark the batch scanned and insert its alerts (one per feedback: a duplicate is
        skipped), and for the alerts inserted their webhook deliveries and manager emails
        (queue items by alert id), atomically."""

    # --- the response deadline (response_sla) -------------------------------------------

    def unanswered(
        self,
        venue_id: str,
        *,
        escalated: bool | None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """The venue's feedback without a sent reply, oldest first: escalated (True), not yet
        (False) or both (None)."""

    def count_overdue(self, venue_id: str) -> int:
        """The venue's escalated feedback still without a sent reply."""

    def for_feedbacks(self, feedback_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The alert of each of these feedback that raised one, by feedback id."""

    def mark_escalated(self, alert_ids: Sequence[str], now: datetime) -> int:
        """Set escalated_at on these alerts (the first one is kept); how many changed."""

    def escalate(
        self,
        *,
        feedback_ids: Sequence[int],
        alerts: Mapping[int, Mapping[str, Any]],
        emails: Mapping[int, Sequence[Mapping[str, Any]]],
        deliveries: Mapping[int, Sequence[Mapping[str, Any]]],
        now: datetime,
    ) -> list[int]:
        """Escalate each feedback still unanswered and unescalated exactly once: its
        escalated_at, its alert's, its manager emails (queue items by notice_key) and webhook
        deliveries, all or nothing; the feedback ids this call escalated."""


class EmailQueueStore(Protocol):
    """`encore_email_queue` and the log of every attempt: one claim per item, outcomes
    written only by the claim that holds it."""

    def queue_reply(self, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """Queue a reply (a new item, or its unsent item reset); None when it is being sent or
        was sent."""

    def add_notices(self, items: Sequence[Mapping[str, Any]]) -> int:
        """Queue manager notices (notice_key set), each once per (notice_key, recipient); how
        many were new."""

    def cancel(self, queue_id: str, *, now: datetime, reason: str) -> bool:
        """pending → cancelled (the reply too); False in any other status."""

    def requeue(self, queue_id: str, *, now: datetime) -> bool:
        """failed/cancelled → pending now with fresh attempts, the reply back to `approved`."""

    def unsubscribe(self, *, customer_id: int, email: str, now: datetime) -> bool:
        """Mark the customer (id and address must match) unsubscribed; idempotent."""

    def get(self, queue_id: str) -> dict[str, Any] | None: ...

    def for_response(self, response_id: str) -> dict[str, Any] | None: ...

    def list_for_venue(
        self,
        venue_id: str,
        *,
        status: str | None = None,
        limit: int = 100,
        after: Sequence[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Newest scheduled first; after the (scheduled_send_time, queue_id) `after`."""

    def count_by_status(self) -> dict[str, int]: ...

    def count_by_kind_and_status(self) -> dict[tuple[str, str], int]: ...

    def has_due(self, *, now: datetime) -> bool: ...

    def claim_next(
        self, *, now: datetime, claim: str, lease_until: datetime
    ) -> dict[str, Any] | None:
        """Take one due item (pending → sending) under `claim`, with its send context."""

    def mark_sent(
        self,
        item: Mapping[str, Any],
        *,
        claim: str,
        now: datetime,
        backend: str,
        provider_message_id: str | None,
    ) -> bool:
        """Sent (a reply's feedback responded too); False if the claim had been taken away."""

    def mark_retry(
        self,
        item: Mapping[str, Any],
        *,
        claim: str,
        now: datetime,
        error: str,
        next_attempt_at: datetime,
        backend: str,
    ) -> bool:
        """A transient failure: back to pending until `next_attempt_at`."""

    def mark_failed(
        self, item: Mapping[str, Any], *, claim: str, now: datetime, error: str, backend: str
    ) -> bool:
        """A permanent failure (or the last attempt): item and reply `failed`."""

    def mark_outcome_unknown(
        self, item: Mapping[str, Any], *, claim: str, now: datetime, detail: str, backend: str
    ) -> bool:
        """Handed over without an answer: `failed` "outcome unknown", never resent itself."""

    def note_retry(
        self, item: Mapping[str, Any], *, claim: str, now: datetime, error: str, backend: str
    ) -> None:
        """Log a failed try retried within the same claim."""

    def release(self, item: Mapping[str, Any], *, claim: str) -> bool:
        """Give a claimed item back untried (pending, attempts not counted)."""

    def due_items(self, *, now: datetime, limit: int = 100) -> tuple[int, list[dict[str, Any]]]:
        """How many items are due, and the first `limit` of them (a dry run's preview)."""

    def stale_leases(self, *, now: datetime) -> list[str]:
        """Ids of items left `sending` past their lease."""

    def mark_cancelled(
        self, item: Mapping[str, Any], *, claim: str, now: datetime, reason: str
    ) -> bool:
        """Never sent (no address, unsubscribed): item and reply `cancelled`."""

    def expire_leases(self, *, now: datetime) -> list[str]:
        """Items left `sending` past their lease → failed "outcome unknown"; their ids."""


class ReplyStore(Protocol):
    """`encore_ai_responses`: one reply per feedback, drafted, approved and sent."""

    def get(self, response_id: str) -> dict[str, Any] | None: ...

    def for_feedback(self, feedback_id: int) -> dict[str, Any] | None: ...

    def list_for_venue(
        self,
        venue_id: str,
        *,
        status: str | None = None,
        limit: int = 100,
        after: Sequence[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first; after the (created_at, response_id) `after`."""

    def candidates(
        self,
        *,
        now: datetime,
        after_id: int = 0,
        limit: int = 50,
        created_since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Scanned new feedback without a reply at venues that generate, oldest first (only
        feedback created at or after `created_since`, when given)."""

    def draft_source(self, feedback_id: int) -> dict[str, Any] | None:
        """What drafting one feedback needs (as `candidates` rows), whatever its status."""

    def unanswered_before(self, venue_id: str, before: datetime) -> list[dict[str, Any]]:
        """The venue's feedback created before `before` with no reply (demo history)."""

    def import_history(
        self, replies: Sequence[Mapping[str, Any]], feedback: Sequence[Mapping[str, Any]]
    ) -> None:
        """Store past replies and their feedback's outcome together (bulk)."""

    def delete_failed(self, response_id: str) -> bool:
        """Delete a `failed` reply that has no queue item; False if it changed meanwhile."""

    def save(
        self,
        *,
        reply: Mapping[str, Any],
        queue_item: Mapping[str, Any] | None = None,
    ) -> bool:
        """Store a reply (+ its queue item); False when the feedback already has a reply."""

    def save_many(
        self, items: Sequence[tuple[Mapping[str, Any], Mapping[str, Any] | None]]
    ) -> list[bool]:
        """`save` for each (reply, queue item), together where the store can; one flag each."""

    def update_status(
        self,
        response_id: str,
        *,
        status: ReplyStatus,
        from_statuses: tuple[ReplyStatus, ...],
        **values: Any,
    ) -> bool:
        """Move a reply to `status` if it is still in one of `from_statuses`."""


class ReportStore(Protocol):
    """`encore_reports` (one per venue, kind and period) and the facts a report run reads."""

    def venues(self) -> list[dict[str, Any]]:
        """Every venue with what scheduling and delivery of its reports need."""

    def existing(self, *, kind: str, since: datetime) -> set[tuple[str, datetime]]:
        """(venue_id, period_start) of the reports of `kind` starting at or after `since`."""

    def feedback_in(self, spans: Sequence[Span]) -> list[dict[str, Any]]:
        """Feedback created in the spans."""

    def replies_sent_in(self, spans: Sequence[Span]) -> list[dict[str, Any]]:
        """Replies sent in the spans, with their feedback's created_at."""

    def critical_alerts_in(self, spans: Sequence[Span]) -> list[dict[str, Any]]:
        """Critical alerts on feedback created in the spans (archived ones too)."""

    def insert(
        self,
        rows: Sequence[Mapping[str, Any]],
        *,
        emails: Callable[[list[dict[str, Any]]], Sequence[Mapping[str, Any]]] | None = None,
    ) -> list[dict[str, Any]]:
        """Insert reports, skipping any whose (venue, kind, period) exists; the ones inserted,
        with `emails(inserted)` queued atomically with them."""

    def get(self, report_id: str) -> dict[str, Any] | None: ...

    def list_for_venue(
        self,
        venue_id: str,
        *,
        kind: str | None = None,
        limit: int = 100,
        after: Sequence[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Newest period first; after the (period_start, kind) `after`."""
