"""A read-only view of APScheduler's job store table: each job's next fire time.

Job listings and health checks need only that, and reading the column spares every process
(standbys included) from starting a scheduler and unpickling jobs to answer a request.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select

from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.engine import read_only
from encore_backend.storage.sql.models import scheduler_jobs

J = scheduler_jobs.c


@raises_port_errors
class SqlScheduledJobsView:
    """`encore_scheduler_jobs`, as APScheduler's SQLAlchemyJobStore writes it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def next_run_times(self) -> dict[str, datetime | None]:
        """Every stored job id and its next fire time (None while paused in the store)."""
        with read_only(self.engine) as conn:
            rows = conn.execute(select(J.id, J.next_run_time)).all()
        return {job_id: _from_timestamp(stamp) for job_id, stamp in rows}


def _from_timestamp(stamp: float | None) -> datetime | None:
    """APScheduler stores UTC epoch seconds; round to the microsecond it started from."""
    if stamp is None:
        return None
    return datetime.fromtimestamp(round(stamp, 6), UTC)
