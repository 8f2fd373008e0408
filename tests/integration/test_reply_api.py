"""Approval API and unsubscribe link (SPEC §4, §8): approve → queued now and sent; reject →
pending item cancelled; cancel/requeue; roles; one-click unsubscribe stops the email.

The routers are mounted on the test's app here (api/app.py includes them once the lead wires it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import ADMIN, token_for
from fastapi.testclient import TestClient
from reply_support import ScriptedProvider, all_rows, feedback, use_provider, venue

from encore_backend.api.app import create_app
from encore_backend.api.routes import replies, unsubscribe
from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.domain.enums import Role
from encore_backend.providers.email import make_unsubscribe_token
from encore_backend.providers.errors import PermanentProviderError
from encore_backend.scheduler.jobs import ai_generator, email_sender
from encore_backend.services.email_service import unsubscribe_secret
from encore_backend.storage.sql import models as m


@pytest.fixture
def client(ctx: Container) -> Iterator[TestClient]:
    app = create_app(ctx, start_scheduler=False)
    app.include_router(replies.router)
    app.include_router(unsubscribe.router)
    with TestClient(app) as test_client:
        yield test_client


def outbox(ctx: Container) -> list[Path]:
    return sorted(Path(ctx.settings.encore_outbox_dir).glob("*.eml"))


def held_reply(ctx: Container, clock: ManualClock) -> dict:
    venue(ctx, auto_send_enabled=True, auto_send_delay_minutes=30)
    use_provider(ctx, ScriptedProvider(clock, ["We'd love to offer you a free dessert next time."]))
    fid = feedback(ctx, rating=2)
    ai_generator.run(ctx, clock.now())
    reply = ctx.replies.for_feedback(fid)
    assert reply is not None and reply["status"] == "pending_approval"
    return reply


def test_approving_with_an_edited_body_queues_it_now_and_sends_that_body(
    ctx: Container, clock: ManualClock, client: TestClient
) -> None:
    reply = held_reply(ctx, clock)
    listed = client.get("/api/venues/v1/responses?status=pending_approval", headers=ADMIN)
    assert [r["response_id"] for r in listed.json()["responses"]] == [reply["response_id"]]

    edited = "Thank you, we are sorry and have spoken to the team."
    response = client.post(
        f"/api/responses/{reply['response_id']}/approve", json={"body": edited}, headers=ADMIN
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "approved" and response.json()["approved_by"] == "admin"
    [item] = all_rows(ctx, m.email_queue)
    assert item["status"] == "pending" and item["scheduled_send_time"] == clock.now()
    email_sender.run(ctx, clock.now())
    [eml] = outbox(ctx)
    assert "spoken to the team" in eml.read_text() and "dessert" not in eml.read_text()
    assert ctx.replies.get(reply["response_id"])["status"] == "sent"  # type: ignore[index]
    again = client.post(f"/api/responses/{reply['response_id']}/approve", headers=ADMIN)
    assert again.status_code == 409


def test_rejecting_an_auto_approved_reply_cancels_its_pending_item(
    ctx: Container, clock: ManualClock, client: TestClient
) -> None:
    venue(ctx, auto_send_enabled=True, auto_send_delay_minutes=30)
    fid = feedback(ctx)
    ai_generator.run(ctx, clock.now())
    reply = ctx.replies.for_feedback(fid)
    assert reply is not None and reply["status"] == "auto_approved"

    response = client.post(
        f"/api/responses/{reply['response_id']}/reject", json={"reason": "tone"}, headers=ADMIN
    )

    assert response.status_code == 200 and response.json()["status"] == "rejected"
    [item] = all_rows(ctx, m.email_queue)
    assert item["status"] == "cancelled" and item["error"] == "reply rejected"
    clock.advance(hours=1)
    email_sender.run(ctx, clock.now())
    assert outbox(ctx) == []


def test_an_empty_edited_body_is_a_422_and_changes_nothing(
    ctx: Container, clock: ManualClock, client: TestClient
) -> None:
    reply = held_reply(ctx, clock)
    response = client.post(
        f"/api/responses/{reply['response_id']}/approve", json={"body": "  "}, headers=ADMIN
    )
    assert response.status_code == 422 and "body" in response.text
    assert ctx.replies.get(reply["response_id"])["status"] == "pending_approval"  # type: ignore[index]
    assert all_rows(ctx, m.email_queue) == []


def test_another_venues_manager_gets_404_and_ingest_403(
    ctx: Container, clock: ManualClock, client: TestClient
) -> None:
    reply = held_reply(ctx, clock)
    venue(ctx, "v2")
    other = token_for(ctx, Role.VENUE_MANAGER, "v2")
    own = token_for(ctx, Role.VENUE_MANAGER, "v1")
    url = f"/api/responses/{reply['response_id']}/approve"

    assert client.post(url, headers=other).status_code == 404
    assert client.get("/api/venues/v1/responses", headers=other).status_code == 404
    assert client.post(url, headers=token_for(ctx, Role.INGEST)).status_code == 403
    assert client.post(url).status_code == 401
    assert client.post(url, headers=own).status_code == 200


def test_manual_draft_then_cancel_and_admin_requeue(
    ctx: Container, clock: ManualClock, client: TestClient
) -> None:
    venue(ctx, ai_generation_enabled=False)
    fid = feedback(ctx)

    drafted = client.post(f"/api/feedback/{fid}/responses", headers=ADMIN)
    assert drafted.status_code == 201 and drafted.json()["status"] == "generated"
    assert client.post(f"/api/feedback/{fid}/responses", headers=ADMIN).status_code == 409
    client.post(f"/api/responses/{drafted.json()['response_id']}/approve", headers=ADMIN)
    [item] = client.get("/api/venues/v1/email-queue", headers=ADMIN).json()["items"]
    manager = token_for(ctx, Role.VENUE_MANAGER, "v1")

    cancelled = client.post(f"/api/email-queue/{item['queue_id']}/cancel", headers=manager)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    requeue = f"/api/email-queue/{item['queue_id']}/requeue"
    assert client.post(requeue, headers=manager).status_code == 403
    assert client.post(requeue, headers=ADMIN).json()["status"] == "pending"
    email_sender.run(ctx, clock.now())
    assert len(outbox(ctx)) == 1


def test_one_click_unsubscribe_stops_a_queued_email(
    ctx: Container, clock: ManualClock, client: TestClient
) -> None:
    venue(ctx, auto_send_enabled=True, auto_send_delay_minutes=30)
    fid = feedback(ctx)
    ai_generator.run(ctx, clock.now())
    [item] = all_rows(ctx, m.email_queue)
    customer_id = ctx.feedback.get(fid)["customer_id"]  # type: ignore[index]
    secret = unsubscribe_secret(ctx.settings)
    token = make_unsubscribe_token(
        customer_id=customer_id, email=item["customer_email"], secret=secret
    )

    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and "<form method='post'" in page.text
    assert client.post(f"/unsubscribe/{token}").status_code == 200
    assert client.post(f"/unsubscribe/{token}x").status_code == 404

    clock.advance(hours=1)
    email_sender.run(ctx, clock.now())
    assert outbox(ctx) == []
    assert ctx.email_queue.get(item["queue_id"])["error"] == "customer unsubscribed"  # type: ignore[index]


def test_a_reply_whose_generation_failed_can_be_drafted_again_by_hand(
    ctx: Container, clock: ManualClock, client: TestClient
) -> None:
    venue(ctx)
    use_provider(ctx, ScriptedProvider(clock, [PermanentProviderError("model refused")]))
    fid = feedback(ctx)
    ai_generator.run(ctx, clock.now())
    failed = ctx.replies.for_feedback(fid)
    assert failed is not None and failed["status"] == "failed"

    drafted = client.post(f"/api/feedback/{fid}/responses", headers=ADMIN)

    assert drafted.status_code == 201, drafted.text
    assert drafted.json()["status"] == "generated"
    assert drafted.json()["response_id"] != failed["response_id"]
    assert [r["status"] for r in all_rows(ctx, m.ai_responses)] == ["generated"]
    assert client.post(f"/api/feedback/{fid}/responses", headers=ADMIN).status_code == 409
