"""Named leases in the database: one holder at a time, taken over only once expired.

The scheduler leader holds `scheduler`. Acquire and renew are one conditional UPDATE (after an
insert that only the first process wins), so two processes can never both believe they hold a
live lease. Times come from the caller's clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.engine import read_only
from encore_backend.storage.sql.models import scheduler_leases

L = scheduler_leases.c


@raises_port_errors
class SqlLeaseStore:
    """The `scheduler_leases` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def acquire(self, *, name: str, holder: str, now: datetime, expires_at: datetime) -> bool:
        """Take or renew `name` for `holder`; True when `holder` now holds it until expires_at."""
        if self._create(name=name, holder=holder, now=now, expires_at=expires_at):
            return True
        mine_or_expired = or_(L.holder == holder, L.expires_at <= now)
        renewed = {"holder": holder, "renewed_at": now, "expires_at": expires_at}
        with self.engine.begin() as conn:
            current = conn.execute(select(L.holder).where(L.name == name)).scalar_one_or_none()
            values = renewed if current == holder else {**renewed, "acquired_at": now}
            query = update(scheduler_leases).where(L.name == name, mine_or_expired)
            return conn.execute(query.values(**values)).rowcount == 1

    def release(self, *, name: str, holder: str, now: datetime) -> bool:
        """Give `name` up at once (a clean shutdown), so a standby need not wait for expiry."""
        query = update(scheduler_leases).where(L.name == name, L.holder == holder)
        with self.engine.begin() as conn:
            return conn.execute(query.values(expires_at=now)).rowcount == 1

    def current(self, *, name: str) -> dict[str, Any] | None:
        """The lease row (holder, acquired_at, renewed_at, expires_at), or None."""
        with read_only(self.engine) as conn:
            row = conn.execute(select(scheduler_leases).where(L.name == name)).first()
        return dict(row._mapping) if row else None

    def _create(self, *, name: str, holder: str, now: datetime, expires_at: datetime) -> bool:
        values = {"name": name, "holder": holder, "acquired_at": now, "renewed_at": now}
        try:
            with self.engine.begin() as conn:
                if conn.execute(select(L.name).where(L.name == name)).first() is not None:
                    return False
                conn.execute(insert(scheduler_leases).values(**values, expires_at=expires_at))
                return True
        except IntegrityError:
            return False
