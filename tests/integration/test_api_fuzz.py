"""Schemathesis against the app's own /openapi.json: no 5xx, every answer as documented (SPEC §8).

Runs on SQLite only (the contract is the app's, not the database's) with a bounded number of
examples per operation, once as the admin and once as a venue manager. Not fuzzed: the alert
stream (a server-sent event stream stays open up to `max_seconds`, so every case would hang)
and the admin job controls (run, pause, resume: they run real jobs and rewrite the schedule;
their contract is tested in test_admin_jobs_api.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from api_support import ADMIN, token_for
from factories import make_feedback, make_venue
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from encore_backend.api.app import create_app
from encore_backend.bootstrap import Container
from encore_backend.domain.enums import Role

EXAMPLES = 15
VENUE = "fuzz"
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


@pytest.fixture
def callers(ctx: Container) -> dict[str, dict[str, str]]:
    """Venue "fuzz" with one feedback; the admin's and its manager's bearer headers."""
    make_venue(ctx.engine, VENUE, now=ctx.clock.now())
    make_feedback(ctx.engine, VENUE, created_at=ctx.clock.now() - timedelta(hours=1), rating=1)
    return {"admin": ADMIN, "manager": token_for(ctx, Role.VENUE_MANAGER, VENUE)}


def fuzz_operation(operation: Any, mode: Any, headers: dict[str, str]) -> None:
    """EXAMPLES generated cases of one operation, each sent and checked against the schema."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @FUZZ
    def check(case: Any) -> None:
        # /health/scheduler answers 503 by design (declared) when no scheduler runs here.
        excluded = [positive_data_acceptance]
        if operation.path == "/health/scheduler":
            excluded.append(not_a_server_error)
        case.call_and_validate(headers=headers, excluded_checks=excluded)

    check()


def operations(ctx: Container) -> list[Any]:
    app = create_app(ctx, start_scheduler=False)
    schema = (
        schemathesis.openapi.from_asgi("/openapi.json", app)
        .exclude(path_regex=r"/alerts/stream$")
        .exclude(path_regex=r"^/api/admin/jobs/\{job_id\}/(run|pause|resume)$")
    )
    return [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_the_api_keeps_its_contract(
    ctx: Container, db_url: str, callers: dict[str, dict[str, str]], role: str
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the API contract is fuzzed on SQLite only")
    failures = []
    found = operations(ctx)
    assert len(found) > 20
    for operation in found:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz_operation(operation, mode, callers[role])
            except Unsatisfiable:
                continue  # nothing to make invalid (no parameters, or free-form ones)
            except (Exception, BaseExceptionGroup) as exc:  # every finding, then one failure
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize(
    "path",
    [
        "/api/venues/fuzz/feedback?before_id=123456789012345678901",  # the fuzzer's 500
        "/api/venues/fuzz/feedback?before_id=9223372036854775808",
        "/api/venues/fuzz/feedback?limit=201",
        "/api/feedback/123456789012345678901",
        "/api/venues/fuzz/alerts?limit=0",
        "/api/venues/fuzz/alerts?cursor=" + "A" * 600,
    ],
)
def test_out_of_range_numbers_are_422_not_500(
    ctx: Container, callers: dict[str, dict[str, str]], path: str
) -> None:
    with TestClient(create_app(ctx, start_scheduler=False)) as client:
        assert client.get(path, headers=ADMIN).status_code == 422


def test_the_largest_id_is_still_a_404(ctx: Container, callers: dict[str, dict[str, str]]) -> None:
    with TestClient(create_app(ctx, start_scheduler=False)) as client:
        assert client.get("/api/feedback/9223372036854775807", headers=ADMIN).status_code == 404
        before = "/api/venues/fuzz/feedback?before_id=9223372036854775807"
        assert len(client.get(before, headers=ADMIN).json()["feedback"]) == 1


def test_every_route_declares_its_auth_answers(ctx: Container) -> None:
    document = create_app(ctx, start_scheduler=False).openapi()
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            codes = set(operation["responses"])
            assert "413" in codes, (method, path)
            if path.startswith("/api/"):
                assert "401" in codes, (method, path)
