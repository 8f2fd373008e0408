"""Per-job controls shared by every process: the pause switch, and the row an exclusive run
claim locks so "is this job running?" and "start it" are one atomic step (see job_runs)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.engine import read_only
from encore_backend.storage.sql.models import job_controls

C = job_controls.c


@raises_port_errors
class SqlJobControlStore:
    """The `job_controls` table: any process writes it; the scheduler leader applies it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def set_paused(self, *, job_id: str, paused: bool, now: datetime, by: str) -> None:
        """Record the operator's choice; the last press wins, whichever process took it."""
        ensure_row(self.engine, job_id, now)
        values = {"paused": paused, "changed_at": now, "changed_by": by[:128]}
        with self.engine.begin() as conn:
            conn.execute(update(job_controls).where(C.job_id == job_id).values(**values))

    def paused_ids(self) -> set[str]:
        """Every job an operator paused."""
        with read_only(self.engine) as conn:
            return set(conn.execute(select(C.job_id).where(C.paused.is_(True))).scalars())

    def is_paused(self, job_id: str) -> bool:
        with read_only(self.engine) as conn:
            paused = conn.execute(select(C.paused).where(C.job_id == job_id)).scalar()
        return bool(paused)


def ensure_row(engine: Engine, job_id: str, now: datetime) -> None:
    """Create the job's control row once (a race with another process is harmless)."""
    with read_only(engine) as conn:
        if conn.execute(select(C.job_id).where(C.job_id == job_id)).first() is not None:
            return
    try:
        with engine.begin() as conn:
            conn.execute(insert(job_controls).values(job_id=job_id, paused=False, changed_at=now))
    except IntegrityError:
        pass


def lock_job(conn: Connection, job_id: str) -> None:
    """Lock the job's control row for this transaction: exclusive claims queue up here.

    SQLite has no row locks; its write transactions (BEGIN IMMEDIATE) are already serial.
    """
    conn.execute(select(C.job_id).where(C.job_id == job_id).with_for_update())
