"""Schemathesis against the app's own /openapi.json: no 5xx, every answer as documented (SPEC §8).

Each operation gets schemathesis' coverage cases (boundary values, wrong types, missing
fields) and EXAMPLES random cases, positive and negative, once as the admin and once as the
venue's manager, half of the positive ones on real objects. Runs on SQLite only: the contract
is the app's, not the database's. Not fuzzed: the alert stream (a server-sent event stream
stays open up to `max_seconds`, so every case would hang) and the admin job controls (run,
pause, resume: they run real jobs and rewrite the schedule; tested in test_admin_jobs_api.py).
Checks: all of schemathesis' defaults except positive_data_acceptance, since schema-valid
input may still name a venue that does not exist (422 naming the field, SPEC §8).
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from api_support import ADMIN, token_for
from factories import make_feedback, make_venue
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)
from schemathesis.specs.openapi.checks import positive_data_acceptance

from encore_backend.api.app import create_app
from encore_backend.bootstrap import Container
from encore_backend.domain.enums import Role, RunTrigger
from encore_backend.scheduler.runner import run_job
from encore_backend.services import approval_service, channel_service

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
def real_ids(ctx: Container) -> dict[str, str]:
    """Venue "fuzz" with a feedback, its alert, its approved reply and queue item, and stats:
    half the positive cases use these ids, so answers with bodies are checked too."""
    now = ctx.clock.now()
    make_venue(ctx.engine, VENUE, now=now)
    make_feedback(ctx.engine, VENUE, created_at=now - timedelta(hours=2), rating=1)
    feedback_id = make_feedback(
        ctx.engine, VENUE, created_at=now - timedelta(hours=1), rating=1, comment="dirty"
    )
    for job_id in ("alert_detector", "stats_aggregator"):
        run_job(ctx, job_id, trigger=RunTrigger.MANUAL)
    reply = approval_service.draft_now(ctx, feedback_id=feedback_id)
    approval_service.approve(ctx, response_id=reply["response_id"], by="fuzz", body=None)
    alert = next(a for a in ctx.alerts.list_for_venue(VENUE) if a["feedback_id"] == feedback_id)
    [item] = ctx.email_queue.list_for_venue(VENUE)
    channel = channel_service.create_channel(  # its receiver refuses: a test answers ok=false
        ctx, venue_id=VENUE, channel_type="slack", url="http://127.0.0.1:9/x", levels=["critical"]
    )
    return {
        "venue_id": VENUE,
        "feedback_id": str(feedback_id),
        "alert_id": alert["alert_id"],
        "response_id": reply["response_id"],
        "queue_id": item["queue_id"],
        "job_id": "stats_aggregator",
        "channel_id": channel["channel_id"],
        "email": f"manager@{VENUE}.example",  # the venue's manager address (factories)
    }


@pytest.fixture
def callers(ctx: Container, real_ids: dict[str, str]) -> dict[str, dict[str, str]]:
    """The admin's and venue "fuzz"'s manager's bearer headers."""
    return {"admin": ADMIN, "manager": token_for(ctx, Role.VENUE_MANAGER, VENUE)}


def is_positive(case: Any) -> bool:
    return case.meta is None or case.meta.generation.mode == GenerationMode.POSITIVE


def negative_in(case: Any, location: ParameterLocation) -> bool:
    component = case.meta.components.get(location) if case.meta else None
    return component is not None and component.mode == GenerationMode.NEGATIVE


def fuzz_operation(
    schema: Any, operation: Any, headers: dict[str, str], real: dict[str, str]
) -> None:
    """Schemathesis' coverage cases (boundaries: huge numbers, empty and long strings, wrong
    types) and EXAMPLES random ones, positive and negative; every other case on the real
    objects (else nearly every case would stop at a 404)."""
    sent = itertools.count()

    def check(case: Any) -> None:
        if is_positive(case) and next(sent) % 2:
            for name in set(case.path_parameters or {}) & set(real):
                case.path_parameters[name] = real[name]
        # A case made invalid by a missing Authorization header is sent without one.
        sent_headers = {} if negative_in(case, ParameterLocation.HEADER) else headers
        # /health/scheduler answers 503 by design (declared) when no scheduler runs here.
        excluded = [positive_data_acceptance]
        if operation.path == "/health/scheduler":
            excluded.append(not_a_server_error)
        case.call_and_validate(headers=sent_headers, excluded_checks=excluded)

    # The builder schemathesis' own pytest plugin uses (its from_fixture subtests do not run
    # under this pytest): it adds the coverage phase, which the CLI found the 500 with.
    modes = [HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING]
    config = HypothesisTestConfig(project=schema.config, modes=modes, settings=FUZZ)
    create_test(operation=operation, test_func=check, config=config)()


def load_schema(ctx: Container) -> Any:
    app = create_app(ctx, start_scheduler=False)
    return (
        schemathesis.openapi.from_asgi("/openapi.json", app)
        .exclude(path_regex=r"/alerts/stream$")
        .exclude(path_regex=r"^/api/admin/jobs/\{job_id\}/(run|pause|resume)$")
    )


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_the_api_keeps_its_contract(
    ctx: Container,
    db_url: str,
    callers: dict[str, dict[str, str]],
    real_ids: dict[str, str],
    role: str,
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the API contract is fuzzed on SQLite only")
    failures = []
    schema = load_schema(ctx)
    found = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(found) > 20
    for operation in found:
        try:
            fuzz_operation(schema, operation, callers[role], real_ids)
        except (Exception, BaseExceptionGroup) as exc:  # every finding, then one failure
            failures.append(f"{operation.label}: {exc}")
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
        assert len(client.get(before, headers=ADMIN).json()["feedback"]) == 2


def test_every_route_declares_its_auth_answers(ctx: Container) -> None:
    document = create_app(ctx, start_scheduler=False).openapi()
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            codes = set(operation["responses"])
            assert "413" in codes, (method, path)
            if path.startswith("/api/"):
                assert "401" in codes, (method, path)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/feedback", {"venue_id": VENUE, "rating": 5, "created_at": 0}),
        ("POST", "/api/feedback", {"venue_id": VENUE, "rating": "5"}),
        ("POST", "/api/feedback", {"venue_id": VENUE, "rating": True}),
        ("PATCH", f"/api/venues/{VENUE}/settings", {"weekly_report_enabled": 0}),
        ("PATCH", f"/api/venues/{VENUE}/settings", {"auto_send_enabled": "yes"}),
        ("PATCH", f"/api/venues/{VENUE}/settings", {"auto_send_delay_minutes": "30"}),
        ("GET", f"/api/venues/{VENUE}/stats/history?since=0.5", None),
    ],
)
def test_values_of_another_json_type_are_422(
    ctx: Container, real_ids: dict[str, str], method: str, path: str, body: Any
) -> None:
    """What the coverage phase found accepted: epoch numbers for times, "5" for 5, 0 for false."""
    with TestClient(create_app(ctx, start_scheduler=False)) as client:
        response = client.request(method, path, json=body, headers=ADMIN)
        assert response.status_code == 422, response.text


def test_a_405_allows_every_method_of_the_path(ctx: Container) -> None:
    with TestClient(create_app(ctx, start_scheduler=False)) as client:
        response = client.delete("/api/venues", headers=ADMIN)
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, POST"
        settings = client.options(f"/api/venues/{VENUE}/settings", headers=ADMIN)
        assert settings.headers["allow"] == "GET, PATCH"
