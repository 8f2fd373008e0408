"""Helpers for the HTTP tests of venues, tokens, feedback and roles (not a test module)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, Table, func, select

from encore_backend.api.app import create_app
from encore_backend.bootstrap import Container
from encore_backend.domain.enums import Role
from encore_backend.services import token_service

ADMIN = {"Authorization": "Bearer test-admin-token"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def count_rows(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def token_for(ctx: Container, role: Role, venue_id: str | None = None) -> dict[str, str]:
    """Headers carrying a freshly issued token."""
    created = token_service.create_token(ctx, role=role, name=f"{role} test", venue_id=venue_id)
    return bearer(created["token"])


def field_names(response: Any) -> set[str]:
    """Every name that appears in the loc of a 422 body."""
    return {str(part) for err in response.json()["detail"] for part in err["loc"]}


@pytest.fixture
def client(ctx: Container) -> Iterator[TestClient]:
    """The app on the test's container, without the scheduler."""
    with TestClient(create_app(ctx, start_scheduler=False)) as test_client:
        yield test_client
