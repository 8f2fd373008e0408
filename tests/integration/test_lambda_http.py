"""The HTTP function: API Gateway (HTTP API) events through Mangum into the FastAPI app."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.lambda_context import FakeLambdaContext, http_api_event, on_lambda_thread

from encore_backend.aws.http import HttpFunction
from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock

ADMIN = "test-admin-token"  # the settings fixture's ENCORE_ADMIN_TOKEN


@pytest.fixture
def function(ctx: Container) -> HttpFunction:
    return HttpFunction(ctx)


def call(function: HttpFunction, event: dict[str, Any], request_id: str = "req") -> dict[str, Any]:
    context = FakeLambdaContext(
        function.ctx.clock, function_name="encore-http", request_id=request_id
    )
    return on_lambda_thread(function, event, context)  # type: ignore[no-any-return]


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def test_ingest_through_api_gateway_creates_the_alert_before_returning(
    function: HttpFunction, ctx: Container, clock: ManualClock
) -> None:
    venue = {
        "venue_id": "anchor",
        "name": "The Anchor",
        "timezone": "Europe/London",
        "manager_emails": ["boss@anchor.example"],
    }
    created = call(function, http_api_event("POST", "/api/venues", body=venue, token=ADMIN))
    assert created["statusCode"] == 201, created["body"]

    feedback = {
        "venue_id": "anchor",
        "rating": 1,
        "comment": "Two of us got food poisoning after the mussels.",
        "customer": {"email": "sam@example.com", "name": "Sam Lee"},
        "external_id": "pos-1001",
    }
    event = http_api_event("POST", "/api/feedback", body=feedback, token=ADMIN)
    answer = call(function, event, request_id="ingest-1")

    assert answer["statusCode"] == 201, answer["body"]
    assert answer["headers"]["content-type"] == "application/json"
    feedback_id = body(answer)["feedback_id"]
    # The event-driven detector ran inside the invocation, owned by it.
    alerts = ctx.alerts.list_for_venue("anchor", include_archived=True, limit=10)
    assert [(a["feedback_id"], a["level"]) for a in alerts] == [(feedback_id, "critical")]
    run = ctx.job_runs.latest(job_id="alert_detector")
    assert run is not None and run["trigger"] == "event" and run["status"] == "success"
    assert run["owner"] == "encore-http:ingest-1"

    listed = call(function, http_api_event("GET", "/api/venues/anchor/alerts", token=ADMIN))
    assert [a["feedback_id"] for a in body(listed)["alerts"]] == [feedback_id]


def test_the_live_alert_stream_is_declined_with_204(function: HttpFunction) -> None:
    """API Gateway buffers whole responses: the stream would hold the invocation open."""
    event = http_api_event(
        "GET", "/api/venues/anchor/alerts/stream", token=ADMIN, query="max_seconds=2"
    )
    answer = call(function, event)
    assert answer["statusCode"] == 204 and answer["body"] == ""


def test_health_and_unauthorised_requests_answer_as_in_every_profile(
    function: HttpFunction,
) -> None:
    assert body(call(function, http_api_event("GET", "/health"))) == {"status": "ok"}
    refused = call(function, http_api_event("GET", "/api/venues"))
    assert refused["statusCode"] == 401
