"""Manager preferences (`manager_preferences`): one row per (venue, lower-cased address) that
chose something other than the standard emails; no row = standard."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from encore_backend.domain.manager_prefs import Pref
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.engine import read_only

P = m.manager_preferences.c


def _pref(row: Any) -> Pref:
    return Pref(
        mode=str(row.mode),
        digest_hour=row.digest_hour,
        quiet_start_hour=row.quiet_start_hour,
        quiet_end_hour=row.quiet_end_hour,
    )


@raises_port_errors
class SqlManagerPrefStore:
    """The `manager_preferences` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def for_venues(self, venue_ids: Iterable[str]) -> dict[str, dict[str, Pref]]:
        """venue_id → {lower-cased address → Pref}, in one query (venues without rows absent)."""
        wanted = sorted({str(v) for v in venue_ids})
        if not wanted:
            return {}
        query = select(m.manager_preferences).where(P.venue_id.in_(wanted))
        found: dict[str, dict[str, Pref]] = {}
        with read_only(self.engine) as conn:
            for row in conn.execute(query):
                found.setdefault(row.venue_id, {})[row.email] = _pref(row)
        return found

    def for_venue(self, venue_id: str) -> dict[str, Pref]:
        return self.for_venues([venue_id]).get(str(venue_id), {})

    def digest_subscribers(self) -> dict[str, dict[str, Pref]]:
        """Every stored `digest` preference, by venue (the daily_report job's one read)."""
        query = select(m.manager_preferences).where(P.mode == "digest")
        found: dict[str, dict[str, Pref]] = {}
        with read_only(self.engine) as conn:
            for row in conn.execute(query):
                found.setdefault(row.venue_id, {})[row.email] = _pref(row)
        return found

    def put(self, venue_id: str, email: str, pref: Pref | None, *, now: datetime) -> None:
        """Store the address's preference (upsert); None deletes it (back to standard)."""
        key = (P.venue_id == str(venue_id), P.email == email.strip().lower())
        values: dict[str, Any] = {
            "mode": pref.mode if pref else None,
            "digest_hour": pref.digest_hour if pref else None,
            "quiet_start_hour": pref.quiet_start_hour if pref else None,
            "quiet_end_hour": pref.quiet_end_hour if pref else None,
            "updated_at": now,
        }
        for attempt in range(2):
            try:
                with self.engine.begin() as conn:
                    if pref is None:
                        conn.execute(delete(m.manager_preferences).where(*key))
                    else:
                        self._upsert(conn, venue_id, email, key, values)
                return
            except IntegrityError:  # a racing first insert: the update wins the second time
                if attempt:
                    raise

    @staticmethod
    def _upsert(
        conn: Connection,
        venue_id: str,
        email: str,
        key: tuple[Any, ...],
        values: dict[str, Any],
    ) -> None:
        done = conn.execute(update(m.manager_preferences).where(*key).values(**values))
        if done.rowcount == 0:
            row = {"venue_id": str(venue_id), "email": email.strip().lower(), **values}
            conn.execute(insert(m.manager_preferences).values(**row))
