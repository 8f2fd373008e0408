"""Ports of the engine's own bookkeeping, SQL in every profile: run records and the claim that
makes a tick run once, job controls, leases, the job store's schedule, rate-limit slots,
housekeeping and operational counts. Times always come from the caller."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from encore_backend.clock import Clock


@dataclass(frozen=True)
class Claim:
    """The outcome of a run claim: our new `running` record, or the run holding the job, or
    neither (another process claimed this tick first)."""

    run: dict[str, Any] | None = None
    holder: dict[str, Any] | None = None

    @property
    def lost(self) -> bool:
        """Another process recorded this (job_id, tick_key) first."""
        return self.run is None and self.holder is None


@dataclass(frozen=True)
class Permit:
    """One granted use of a rate limit; `release` gives it back if the work never happened."""

    name: str
    slot: int
    uses: int
    previous_used_at: datetime


@dataclass(frozen=True)
class Acquired:
    """A permit, or how many seconds to wait before one can be free."""

    permit: Permit | None
    wait_seconds: float = 0.0


@dataclass(frozen=True)
class AcquiredMany:
    """Permits (at least one), or none and how many seconds to wait before one can be free."""

    permits: list[Permit]
    wait_seconds: float = 0.0


@dataclass(frozen=True)
class CleanupRule:
    """One housekeeping step of weekly_cleanup: its name (the run record's key), the cut-off
    it deletes or archives before and the time it stamps, where the step has them."""

    name: str
    before: datetime | None = None
    now: datetime | None = None


def archive_alerts(*, before: datetime, now: datetime) -> CleanupRule:
    """Alerts detected before `before`, not archived yet, get archived_at = now."""
    return CleanupRule("alerts_archived", before=before, now=now)


def purge_failed_emails(*, before: datetime) -> CleanupRule:
    """Failed queue items created before `before` go (their attempt history with them)."""
    return CleanupRule("failed_emails_deleted", before=before)


def trim_job_runs(*, before: datetime) -> CleanupRule:
    """Finished runs started before `before` go, but each job's latest run stays."""
    return CleanupRule("job_runs_deleted", before=before)


def orphan_rules() -> list[CleanupRule]:
    """Queue items, replies and alerts whose feedback, reply, report or venue is gone."""
    return [CleanupRule(n) for n in ("orphan_queue_items", "orphan_replies", "orphan_alerts")]


class JobRunStore(Protocol):
    """Job run records; one record per (job_id, tick_key) is the cross-process claim."""

    def claim(
        self,
        *,
        job_id: str,
        tick_key: str,
        trigger: str,
        fire_time: datetime | None,
        owner: str,
        clock: Clock,
        lease: timedelta,
        exclusive: bool,
        dry_run: bool = False,
    ) -> Claim:
        """Record a `running` run; an exclusive claim first yields to a live holder (the
        check and the insert are one atomic step)."""

    def record(
        self,
        *,
        job_id: str,
        tick_key: str,
        trigger: str,
        fire_time: datetime | None,
        owner: str,
        now: datetime,
        status: str,
        error: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """A finished record without a run (skipped, missed); None when the tick was claimed."""

    def heartbeat(self, *, run_id: int, now: datetime, lease_expires_at: datetime) -> bool:
        """Extend a running lease; False when the run is no longer `running`."""

    def finish(
        self,
        *,
        run_id: int,
        now: datetime,
        status: str,
        duration_ms: int,
        items_processed: int = 0,
        details: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> dict[str, Any]:
        """Record the outcome; retried until the store answers (a restart must not lose it)."""

    def expire_leases(self, *, now: datetime, job_id: str | None = None) -> int:
        """Fail `running` records whose lease ran out (their worker died); how many."""

    def fail_running(self, *, run_id: int, now: datetime, error: str) -> bool:
        """Fail one `running` record (its worker is known to be gone)."""

    def running(self) -> list[dict[str, Any]]:
        """Every `running` record, oldest first."""

    def get(self, run_id: int) -> dict[str, Any] | None: ...

    def list_runs(
        self, *, job_id: str, limit: int = 50, after: Sequence[Any] | None = None
    ) -> list[dict[str, Any]]:
        """The job's runs, newest first; after the (started_at, run_id) `after`."""

    def latest(self, *, job_id: str) -> dict[str, Any] | None: ...

    def latest_success(self, *, job_id: str) -> dict[str, Any] | None:
        """The job's newest successful run that did its work (dry runs aside), or None."""


class JobControlStore(Protocol):
    """Per-job pause switches shared by every process."""

    def set_paused(self, *, job_id: str, paused: bool, now: datetime, by: str) -> None:
        """Record an operator's choice; the last press wins."""

    def paused_ids(self) -> set[str]: ...

    def is_paused(self, job_id: str) -> bool: ...


class LeaseStore(Protocol):
    """Named leases: one holder at a time, taken over only once expired."""

    def acquire(self, *, name: str, holder: str, now: datetime, expires_at: datetime) -> bool:
        """Take or renew `name`; True when `holder` now holds it until `expires_at`."""

    def release(self, *, name: str, holder: str, now: datetime) -> bool:
        """Give `name` up at once (a clean shutdown)."""

    def current(self, *, name: str) -> dict[str, Any] | None:
        """The lease (holder, acquired_at, renewed_at, expires_at), or None."""


class ScheduledJobsView(Protocol):
    """What the scheduler's job store holds, read without starting a scheduler."""

    def next_run_times(self) -> dict[str, datetime | None]:
        """Every stored job id and its next fire time (None while paused in the store)."""


class RateLimitStore(Protocol):
    """Rate limits that hold across processes (N uses per window)."""

    def acquire(self, name: str, *, limit: int, now: datetime, window: timedelta = ...) -> Acquired:
        """Take one use of `name` at `now`, or say how long until one frees up."""

    def acquire_many(
        self,
        name: str,
        *,
        count: int,
        limit: int,
        now: datetime,
        window: timedelta = ...,
    ) -> AcquiredMany:
        """Up to `count` uses at `now` in one go (at least one, or how long to wait)."""

    def release(self, permit: Permit) -> bool:
        """Undo an unused permit unless its slot was taken since."""

    def release_many(self, permits: list[Permit]) -> int:
        """Undo several unused permits at once; how many were restored."""


class CleanupStore(Protocol):
    """Applies weekly_cleanup's rules in short batches; counting one changes nothing."""

    def count(self, rule: CleanupRule) -> int:
        """How many rows the rule would act on now."""

    def apply(self, rule: CleanupRule, *, batch: int = ...) -> int:
        """Act on every row the rule picks, `batch` per transaction; rows changed."""

    def thin_stats(self, *, now: datetime, dry_run: bool = False) -> int:
        """A full thinning pass over old stats snapshots (a dry run only counts)."""


class OpsCountStore(Protocol):
    """Operational counts no other store offers (metrics, the admin console)."""

    def replies_by_status(self) -> dict[str, int]: ...

    def failed_emails(self, *, limit: int = 10) -> list[dict[str, Any]]:
        """The newest failed queue items of every venue."""
