"""Ports of the source of truth, SQL in every profile: venues, feedback and customers, API
tokens, webhook deliveries, and the reads and rollups made from feedback."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from encore_backend.domain.enums import DeliveryStatus
from encore_backend.domain.manager_prefs import Pref


class VenueStore(Protocol):
    """Venues and their settings, written together; ids are unique (VenueExistsError)."""

    def get(self, venue_id: str) -> dict[str, Any] | None:
        """The venue (with its webhook_secret, for internal use), or None."""

    def exists(self, venue_id: str) -> bool: ...

    def list(self, venue_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """All venues ordered by id, or only those in `venue_ids`."""

    def count(self) -> int: ...

    def timezones(self) -> dict[str, str]:
        """Every venue's time zone by id (the admin console's 1,000 rows, without the rest)."""

    def ids_with_prefix(self, prefix: str) -> set[str]:
        """Existing ids starting with `prefix` (to make a generated id unique)."""

    def create(
        self, *, venue: Mapping[str, Any], settings: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        """Venue and settings at once; VenueExistsError on a taken id."""

    def get_settings(self, venue_id: str) -> dict[str, Any] | None: ...

    def list_settings(self) -> dict[str, dict[str, Any]]:
        """Every venue's settings, keyed by venue id (jobs read them once per run)."""

    def update_settings(
        self, venue_id: str, changes: Mapping[str, Any], *, now: datetime
    ) -> dict[str, Any] | None:
        """Apply a partial update; the new settings, or None if the venue is gone."""


class FeedbackStore(Protocol):
    """Feedback and the customers who left it."""

    def get(self, feedback_id: int) -> dict[str, Any] | None:
        """One feedback with its customer's email, name, lifetime_value and tier, or None."""

    def ingest(
        self,
        *,
        feedback: Mapping[str, Any],
        customer: Mapping[str, Any] | None,
        now: datetime,
    ) -> tuple[dict[str, Any], bool]:
        """Insert feedback (+ customer upsert) atomically; (row, created). An existing
        (venue_id, external_id) gives (the first row, False)."""

    def ingest_many(
        self,
        items: Sequence[tuple[Mapping[str, Any], Mapping[str, Any] | None]],
        *,
        now: datetime,
    ) -> list[tuple[int, bool]]:
        """`ingest` of many (feedback, customer) pairs in one transaction: (feedback_id,
        created) per item, in order. A (venue_id, external_id) stored already or earlier in the
        batch gives the first feedback's id and False (its customer is left alone)."""

    def list_for_venue(
        self,
        venue_id: str,
        *,
        limit: int = 50,
        before_id: int | None = None,
        rating: int | None = None,
        status: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first (by id), `limit` rows older than `before_id`, optionally filtered."""

    def defer_draft(self, feedback_id: int, *, retry_at: datetime | None, error: str) -> bool:
        """Count a transiently failed draft and wait until `retry_at`; False when the feedback
        got a reply meanwhile."""

    def hold_drafts(
        self, feedback_ids: Sequence[int], *, until: datetime, now: datetime
    ) -> list[int]:
        """Keep these unanswered feedback out of `candidates` until `until` (a fleet batch
        drafts them meanwhile); returns the ids held (not those held or deferred already)."""

    def bulk_insert_customers(
        self, rows: Sequence[Mapping[str, Any]], *, now: datetime
    ) -> dict[str, int]:
        """Insert customers not yet known (by lower-case email); email -> id of all."""

    def bulk_insert_feedback(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Insert many feedback rows at once (demo data, imports); the count."""


class TokenStore(Protocol):
    """API tokens, stored only as SHA-256 digests."""

    def create(
        self,
        *,
        token_id: str,
        name: str,
        role: str,
        venue_id: str | None,
        token_hash: str,
        now: datetime,
    ) -> dict[str, Any]:
        """Store a new token by its digest; the row without the digest."""

    def find_active_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        """The unrevoked token with this digest: token_id, name, role, venue_id."""


class WebhookStore(Protocol):
    """Webhook deliveries (the outbox of alerts and channel messages) and every HTTP try."""

    def due(
        self, *, now: datetime, limit: int = 50, delivery_ids: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Pending deliveries whose next attempt is due, with the venue's current secret and
        `channel_type` (None: the venue's own webhook_url); a disabled channel's are skipped."""

    def claim(self, delivery_id: str, *, now: datetime, lease_until: datetime) -> bool:
        """Take a due delivery for one attempt until `lease_until`; False when taken."""

    def record_attempt(
        self,
        delivery_id: str,
        *,
        now: datetime,
        status: DeliveryStatus,
        status_code: int | None,
        error: str | None,
        duration_ms: int,
        next_attempt_at: datetime | None,
    ) -> None:
        """Log the pass's last try and move the delivery on (delivered, retry, failed)."""

    def log_try(
        self,
        delivery_id: str,
        *,
        now: datetime,
        status_code: int | None,
        error: str | None,
        duration_ms: int,
    ) -> None:
        """Log a failed try that the same pass retries."""

    def count_by_status(self) -> dict[str, int]: ...


class ChannelStore(Protocol):
    """A venue's notification channels and the health of their deliveries."""

    def list_for_venue(self, venue_id: str) -> list[dict[str, Any]]: ...

    def active_for_venues(self, venue_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """The channels not disabled of these venues, by venue."""

    def failing(self, *, limit: int = 50) -> list[dict[str, Any]]:
        """Channels failing or disabled, with `venue_name`."""

    def get(self, channel_id: str) -> dict[str, Any] | None: ...

    def create(self, values: dict[str, Any]) -> dict[str, Any]: ...

    def delete(self, channel_id: str) -> bool:
        """Remove the channel and its deliveries; False when there was none."""

    def record_success(self, channel_id: str, *, now: datetime) -> None:
        """Healthy again: failures reset, re-enabled, last_delivered_at = now."""

    def record_failure(
        self,
        channel_id: str,
        *,
        now: datetime,
        error: str,
        max_failures: int,
        max_failing: timedelta,
    ) -> bool:
        """Count a failed pass; True when this disabled the channel."""


class TrendStore(Protocol):
    """Small per-venue feedback reads for the dashboard charts, and the hourly counts they read."""

    def hourly_feedback(
        self, venue_id: str, *, since: datetime, until: datetime
    ) -> list[tuple[datetime, int, int]]:
        """(UTC hour start, feedback count, rating sum) of the stored hours that overlap
        [since, until), as of the last refresh_hourly."""

    def refresh_hourly(self, *, now: datetime) -> int:
        """Recount the stored hours of feedback ingested since the last refresh; how many."""

    def recent_feedback(self, venue_id: str, *, limit: int) -> list[dict[str, Any]]:
        """The venue's newest feedback by creation time."""


class MonthlyStatsStore(Protocol):
    """Monthly rollups (`encore_monthly_stats`) and the reads they are made from."""

    def sources(self) -> list[dict[str, Any]]:
        """Every venue with its timezone and first feedback time (None without feedback)."""

    def stored_months(self) -> set[tuple[str, str]]: ...

    def counts(
        self, venue_ids: Sequence[str], *, start: datetime, end: datetime
    ) -> dict[str, dict[str, int]]:
        """The rollup counts per venue over [start, end)."""

    def save(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Replace the rollups of these (venue, month) keys; how many."""

    def list_for_venue(self, venue_id: str, *, limit: int) -> list[dict[str, Any]]:
        """The venue's newest `limit` months, oldest first."""


class ManagerPrefStore(Protocol):
    """Manager preferences (`manager_preferences`): no row = the standard emails."""

    def for_venues(self, venue_ids: Iterable[str]) -> dict[str, dict[str, Pref]]:
        """venue_id → {lower-cased address → Pref}, in one query."""

    def for_venue(self, venue_id: str) -> dict[str, Pref]: ...

    def digest_subscribers(self) -> dict[str, dict[str, Pref]]:
        """Every stored `digest` preference, by venue."""

    def put(self, venue_id: str, email: str, pref: Pref | None, *, now: datetime) -> None:
        """Store (upsert) the address's preference; None deletes it."""


class DigestSource(Protocol):
    """The SQL facts of a manager's daily digest (feedback and its replies)."""

    def feedback_facts(self, venue_id: str, *, since: datetime, until: datetime) -> dict[str, int]:
        """{feedback: count created in [since, until), replies: count answered in it}."""
