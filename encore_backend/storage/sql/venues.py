"""Venues and their settings: one row each, written together."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from encore_backend.storage.errors import VenueExistsError
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.engine import read_only

SETTINGS_KEYS = tuple(c.name for c in m.venue_settings.c if c.name not in ("venue_id",))


@raises_port_errors
class SqlVenueStore:
    """The `venues` and `venue_settings` tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, venue_id: str) -> dict[str, Any] | None:
        """The venue row (with its webhook_secret, for internal use), or None."""
        with read_only(self.engine) as conn:
            row = conn.execute(select(m.venues).where(m.venues.c.venue_id == venue_id)).first()
        return dict(row._mapping) if row else None

    def exists(self, venue_id: str) -> bool:
        return self.get(venue_id) is not None

    def list(self, venue_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """All venues ordered by id, or only those in `venue_ids`."""
        query = select(m.venues).order_by(m.venues.c.venue_id)
        if venue_ids is not None:
            query = query.where(m.venues.c.venue_id.in_(list(venue_ids)))
        with read_only(self.engine) as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def timezones(self) -> dict[str, str]:
        v = m.venues.c
        with read_only(self.engine) as conn:
            return dict(conn.execute(select(v.venue_id, v.timezone)).tuples().all())

    def count(self) -> int:
        with read_only(self.engine) as conn:
            return int(conn.execute(select(func.count()).select_from(m.venues)).scalar_one())

    def ids_with_prefix(self, prefix: str) -> set[str]:
        """Existing ids starting with `prefix` (to make a generated id unique)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = select(m.venues.c.venue_id).where(
            m.venues.c.venue_id.like(f"{escaped}%", escape="\\")
        )
        with read_only(self.engine) as conn:
            return set(conn.execute(query).scalars())

    def create(
        self, *, venue: Mapping[str, Any], settings: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        """Insert venue and settings in one transaction; VenueExistsError on a taken id."""
        row = {**venue, "created_at": now}
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(m.venues).values(**row))
                conn.execute(
                    insert(m.venue_settings).values(
                        venue_id=row["venue_id"], updated_at=now, **settings
                    )
                )
        except IntegrityError as exc:
            raise VenueExistsError(row["venue_id"]) from exc
        return row

    def get_settings(self, venue_id: str) -> dict[str, Any] | None:
        """The venue's settings row, or None."""
        query = select(m.venue_settings).where(m.venue_settings.c.venue_id == venue_id)
        with read_only(self.engine) as conn:
            row = conn.execute(query).first()
        return dict(row._mapping) if row else None

    def list_settings(self) -> dict[str, dict[str, Any]]:
        """Every venue's settings, keyed by venue id (jobs read them once per run)."""
        with read_only(self.engine) as conn:
            rows = conn.execute(select(m.venue_settings)).all()
        return {r.venue_id: dict(r._mapping) for r in rows}

    def update_settings(
        self, venue_id: str, changes: Mapping[str, Any], *, now: datetime
    ) -> dict[str, Any] | None:
        """Apply a partial update and return the new settings (None if the venue is gone)."""
        s = m.venue_settings
        with self.engine.begin() as conn:
            result = conn.execute(
                update(s).where(s.c.venue_id == venue_id).values(**changes, updated_at=now)
            )
            if result.rowcount == 0:
                return None
            row = conn.execute(select(s).where(s.c.venue_id == venue_id)).one()
        return dict(row._mapping)
