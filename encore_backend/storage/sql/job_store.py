"""APScheduler's job store on our database: the `encore_scheduler_jobs` table (SPEC §6)."""

from __future__ import annotations

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy import Engine

JOBSTORE_TABLE = "encore_scheduler_jobs"


class SqlJobStore(SQLAlchemyJobStore):
    """The SQLAlchemy job store on the container's engine, which it must not dispose."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine=engine, tablename=JOBSTORE_TABLE)

    def shutdown(self) -> None:
        pass
