"""Job run records, and the claim that makes each tick run once across processes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from encore_backend.clock import Clock
from encore_backend.domain.enums import RunStatus, RunTrigger
from encore_backend.storage.ports.operations import Claim
from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.engine import read_only
from encore_backend.storage.sql.job_controls import ensure_row, lock_job
from encore_backend.storage.sql.keyset import after as keyset_after
from encore_backend.storage.sql.keyset import ordered
from encore_backend.storage.sql.models import job_runs
from encore_backend.storage.sql.retries import retry_deadlocks, retry_through_outage

# Runs that hold a job exclusively; event runs are idempotent and may overlap anything.
EXCLUSIVE_TRIGGERS = (RunTrigger.SCHEDULE.value, RunTrigger.MANUAL.value)
LEASE_EXPIRED = "lease expired: worker died"
RUN_ORDER = ((job_runs.c.started_at, True), (job_runs.c.run_id, True))  # newest first


@raises_port_errors
class SqlJobRunStore:
    """job_runs: one row per run; UNIQUE (job_id, tick_key) is the cross-process claim."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @retry_deadlocks
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
        """Insert a `running` row; an exclusive claim first yields to a live holder.

        Exclusive claims of one job serialise on its control row, so the holder check and the
        insert are atomic on every database (two claims can't both see "nobody runs it"). The
        start time is read once the job is seen free: run records then never overlap in time.
        """
        if exclusive:
            ensure_row(self.engine, job_id, clock.now())
        try:
            with self.engine.begin() as conn:
                if exclusive:
                    lock_job(conn, job_id)
                holder = _live_holder(conn, job_id, clock.now()) if exclusive else None
                if holder is not None:
                    return Claim(holder=holder)
                # Read after seeing the previous run's committed finish: never before its end.
                now = clock.now()
                lease_expires_at = now + lease
                values = _row(job_id, tick_key, trigger, fire_time, owner, now, RunStatus.RUNNING)
                values.update(heartbeat_at=now, lease_expires_at=lease_expires_at, dry_run=dry_run)
                run_id = _insert(conn, values)
                return Claim(run=_get(conn, run_id))
        except IntegrityError:
            return Claim()

    @retry_deadlocks
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
        values = _row(job_id, tick_key, trigger, fire_time, owner, now, status)
        values.update(finished_at=now, duration_ms=0, error=error, details=details)
        try:
            with self.engine.begin() as conn:
                run_id = _insert(conn, values)
                return _get(conn, run_id)
        except IntegrityError:
            return None

    @retry_deadlocks
    def heartbeat(self, *, run_id: int, now: datetime, lease_expires_at: datetime) -> bool:
        """Extend a running lease; False when the run is no longer `running`."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(job_runs)
                .where(job_runs.c.run_id == run_id, job_runs.c.status == RunStatus.RUNNING)
                .values(heartbeat_at=now, lease_expires_at=lease_expires_at)
            )
            return result.rowcount > 0

    @retry_through_outage
    @retry_deadlocks
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
        """Record the outcome (even over a lease-expiry verdict: the real outcome is better)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(job_runs)
                .where(job_runs.c.run_id == run_id)
                .values(
                    status=status,
                    finished_at=now,
                    duration_ms=duration_ms,
                    items_processed=items_processed,
                    details=details,
                    error=error,
                    lease_expires_at=None,
                )
            )
            row = _get(conn, run_id)
        assert row is not None
        return row

    @retry_deadlocks
    def expire_leases(self, *, now: datetime, job_id: str | None = None) -> int:
        """Mark `running` rows whose lease ran out (their worker died) failed."""
        query = update(job_runs).where(
            job_runs.c.status == RunStatus.RUNNING, job_runs.c.lease_expires_at < now
        )
        if job_id is not None:
            query = query.where(job_runs.c.job_id == job_id)
        with self.engine.begin() as conn:
            values = {"status": RunStatus.FAILED, "finished_at": now, "error": LEASE_EXPIRED}
            return conn.execute(query.values(**values)).rowcount

    @retry_deadlocks
    def fail_running(self, *, run_id: int, now: datetime, error: str) -> bool:
        """Fail one `running` row (its worker is known to be gone)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(job_runs)
                .where(job_runs.c.run_id == run_id, job_runs.c.status == RunStatus.RUNNING)
                .values(status=RunStatus.FAILED, finished_at=now, error=error)
            )
            return result.rowcount > 0

    def running(self) -> list[dict[str, Any]]:
        """Every `running` row, oldest first."""
        query = select(job_runs).where(job_runs.c.status == RunStatus.RUNNING)
        with read_only(self.engine) as conn:
            rows = conn.execute(query.order_by(job_runs.c.run_id)).all()
        return [dict(row._mapping) for row in rows]

    def get(self, run_id: int) -> dict[str, Any] | None:
        with read_only(self.engine) as conn:
            return _get(conn, run_id)

    def list_runs(
        self, *, job_id: str, limit: int = 50, after: Sequence[Any] | None = None
    ) -> list[dict[str, Any]]:
        """The job's runs, newest first; `after` is the (started_at, run_id) of the last row
        of the previous page (keyset paging)."""
        query = select(job_runs).where(job_runs.c.job_id == job_id)
        if after is not None:
            query = query.where(keyset_after(RUN_ORDER, after))
        query = query.order_by(*ordered(RUN_ORDER)).limit(limit)
        with read_only(self.engine) as conn:
            return [dict(row._mapping) for row in conn.execute(query).all()]

    def latest(self, *, job_id: str) -> dict[str, Any] | None:
        runs = self.list_runs(job_id=job_id, limit=1)
        return runs[0] if runs else None

    def latest_success(self, *, job_id: str) -> dict[str, Any] | None:
        """The newest `success` row that was not a dry run (a preview refreshes nothing)."""
        query = select(job_runs).where(
            job_runs.c.job_id == job_id,
            job_runs.c.status == RunStatus.SUCCESS,
            job_runs.c.dry_run.is_(False),
        )
        with read_only(self.engine) as conn:
            row = conn.execute(query.order_by(*ordered(RUN_ORDER)).limit(1)).first()
        return dict(row._mapping) if row else None


def _row(
    job_id: str,
    tick_key: str,
    trigger: str,
    fire_time: datetime | None,
    owner: str,
    now: datetime,
    status: str,
) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "tick_key": tick_key,
        "trigger": str(trigger),
        "fire_time": fire_time,
        "status": str(status),
        "owner": owner[:128],
        "started_at": now,
        "items_processed": 0,
    }


def _insert(conn: Connection, values: dict[str, Any]) -> int:
    key = conn.execute(insert(job_runs).values(**values)).inserted_primary_key
    assert key is not None
    return int(key[0])


def _live_holder(conn: Connection, job_id: str, now: datetime) -> dict[str, Any] | None:
    query = (
        select(job_runs)
        .where(
            job_runs.c.job_id == job_id,
            job_runs.c.status == RunStatus.RUNNING,
            job_runs.c.trigger.in_(EXCLUSIVE_TRIGGERS),
            job_runs.c.lease_expires_at >= now,
        )
        .order_by(job_runs.c.run_id.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def _get(conn: Connection, run_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(job_runs).where(job_runs.c.run_id == run_id)).first()
    return dict(row._mapping) if row else None
