"""Rate limits that hold across processes: a fixed set of slot rows per limit, claimed in SQL.

A limit of N per window is N rows `(name, slot)`. A use takes a slot whose last use is at least
one window ago, with an update conditional on the slot's version (`uses`), so two processes can
never take the same slot. Every slot's uses are therefore a window apart, and no window
`[t, t + 60 s)` holds more than N uses, whichever processes made them. Times come from the caller.

`acquire_many` takes several slots in one transaction (one commit instead of one per use) for a
caller that uses them within a second or so of `now`: as with `acquire`, the window rule holds
for the takes, and a use trails its take by that little (a single permit already trailed its take
by one send).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from encore_backend.storage.ports.operations import Acquired, AcquiredMany, Permit
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.boundary import raises_port_errors

WINDOW = timedelta(seconds=60)
NEVER_USED = datetime(2000, 1, 1, tzinfo=UTC)
CANDIDATES = 8  # free slots read per try; one is picked at random to spread concurrent takers
MAX_TRIES = 20
S = m.rate_limit_slots.c


@raises_port_errors
class SqlRateLimitStore:
    """The `rate_limit_slots` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._ready: set[tuple[str, int]] = set()  # slot sets known to exist

    def acquire(
        self, name: str, *, limit: int, now: datetime, window: timedelta = WINDOW
    ) -> Acquired:
        """Take one use of `name` at `now`, or say how long until a slot frees up."""
        self._ensure_slots(name, limit)
        for _ in range(MAX_TRIES):
            rows = self._oldest(name, limit)
            free = [r for r in rows if r.used_at <= now - window]
            if not free:
                oldest = min(r.used_at for r in rows)
                return Acquired(None, max((oldest + window - now).total_seconds(), 0.001))
            row = random.choice(free)
            if self._take(name, row.slot, row.uses, now):
                return Acquired(Permit(name, row.slot, row.uses + 1, row.used_at))
        return Acquired(None, 0.01)  # heavy contention: let the caller come back at once

    def acquire_many(
        self,
        name: str,
        *,
        count: int,
        limit: int,
        now: datetime,
        window: timedelta = WINDOW,
    ) -> AcquiredMany:
        """Up to `count` uses of `name` at `now` (at least one, or how long until a slot frees
        up), taken in one transaction."""
        self._ensure_slots(name, limit)
        for _ in range(MAX_TRIES):
            rows = self._oldest(name, limit, candidates=max(count * 2, CANDIDATES))
            free = [r for r in rows if r.used_at <= now - window]
            if not free:
                oldest = min(r.used_at for r in rows)
                return AcquiredMany([], max((oldest + window - now).total_seconds(), 0.001))
            picked = sorted(random.sample(free, min(count, len(free))), key=lambda r: r.slot)
            with self.engine.begin() as conn:  # slot order: two takers never deadlock
                taken = [r for r in picked if _take_in(conn, name, r.slot, r.uses, now)]
            if taken:
                permits = [Permit(name, r.slot, r.uses + 1, r.used_at) for r in taken]
                return AcquiredMany(permits, 0.0)
        return AcquiredMany([], 0.01)

    def release_many(self, permits: list[Permit]) -> int:
        """`release` for several permits in one transaction; how many were restored."""
        with self.engine.begin() as conn:
            return sum(_restore(conn, permit) for permit in permits)

    def release(self, permit: Permit) -> bool:
        """Undo an unused permit (restore the slot's previous use) unless it was taken since."""
        with self.engine.begin() as conn:
            return _restore(conn, permit)

    def uses_since(self, name: str, since: datetime) -> list[datetime]:
        """Last-use times at or after `since` (tests and metrics)."""
        query = select(S.used_at).where(S.name == name, S.used_at >= since).order_by(S.used_at)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def _ensure_slots(self, name: str, limit: int) -> None:
        if (name, limit) in self._ready:
            return
        with self.engine.connect() as conn:
            count = _slot_count(conn, name, limit)
        if count < limit:
            self._create_slots(name, limit)  # a concurrent creator may leave gaps: next call
            return
        self._ready.add((name, limit))

    def _create_slots(self, name: str, limit: int) -> None:
        try:
            with self.engine.begin() as conn:
                have = set(
                    conn.execute(select(S.slot).where(S.name == name, S.slot < limit)).scalars()
                )
                rows = [
                    {"name": name, "slot": i, "used_at": NEVER_USED, "uses": 0}
                    for i in range(limit)
                    if i not in have
                ]
                if rows:
                    conn.execute(insert(m.rate_limit_slots), rows)
        except IntegrityError:
            pass  # another process created them at the same moment

    def _oldest(self, name: str, limit: int, candidates: int = CANDIDATES) -> list[Any]:
        """The least recently used slots, walking ix_rate_limit_slots_used in order and stopping
        early. `slot + 0` keeps SQLite from range-scanning the primary key on `slot < limit`
        and sorting every slot (2.2 ms instead of ~0.05 ms at 20,000 slots)."""
        query = (
            select(S.slot, S.used_at, S.uses)
            .where(S.name == name, (S.slot + 0) < limit)
            .order_by(S.used_at)
            .limit(candidates)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def _take(self, name: str, slot: int, uses: int, now: datetime) -> bool:
        with self.engine.begin() as conn:
            return _take_in(conn, name, slot, uses, now)


def _take_in(conn: Connection, name: str, slot: int, uses: int, stamp: datetime) -> bool:
    """Take the slot if nobody has since its `uses` were read."""
    result = conn.execute(
        update(m.rate_limit_slots)
        .where(S.name == name, S.slot == slot, S.uses == uses)
        .values(used_at=stamp, uses=uses + 1)
    )
    return result.rowcount == 1


def _restore(conn: Connection, permit: Permit) -> bool:
    result = conn.execute(
        update(m.rate_limit_slots)
        .where(S.name == permit.name, S.slot == permit.slot, S.uses == permit.uses)
        .values(used_at=permit.previous_used_at, uses=S.uses + 1)
    )
    return result.rowcount == 1


def _slot_count(conn: Connection, name: str, limit: int) -> int:
    query = select(func.count()).select_from(m.rate_limit_slots)
    return int(conn.execute(query.where(S.name == name, S.slot < limit)).scalar_one())
