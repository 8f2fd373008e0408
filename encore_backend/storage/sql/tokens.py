"""API tokens: stored only as SHA-256 digests, looked up by digest on every request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.boundary import raises_port_errors
from encore_backend.storage.sql.engine import read_only


@raises_port_errors
class SqlTokenStore:
    """The `api_tokens` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

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
        """Store a new token by its digest; the raw token never reaches the database."""
        row = {
            "token_id": token_id,
            "name": name,
            "role": role,
            "venue_id": venue_id,
            "token_hash": token_hash,
            "created_at": now,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(m.api_tokens).values(**row))
        return {k: v for k, v in row.items() if k != "token_hash"}

    def find_active_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        """The unrevoked token with this digest: token_id, name, role, venue_id."""
        t = m.api_tokens
        query = select(t.c.token_id, t.c.name, t.c.role, t.c.venue_id).where(
            t.c.token_hash == token_hash, t.c.revoked_at.is_(None)
        )
        with read_only(self.engine) as conn:
            row = conn.execute(query).first()
        return dict(row._mapping) if row else None
