"""Notification channels end to end: Slack and Teams bodies POSTed by the real delivery path to a
local receiver and checked against each format's required fields, level filtering, a failing
channel marked then disabled (and shown on the console) until a test message succeeds, and the
channel API's roles and field errors."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import pytest
from api_support import ADMIN, field_names, token_for
from factories import make_customer, make_feedback, make_venue
from fastapi.testclient import TestClient
from reply_support import use_manual_sleep
from sqlalchemy import Engine, select
from support.webhook_receiver import Received, WebhookReceiver

from encore_backend.api.app import create_app
from encore_backend.api.deps import SESSION_COOKIE
from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.domain.enums import Role
from encore_backend.notify import channels as formats
from encore_backend.notify.webhook import CHANNEL_MAX_FAILURES, deliver_due, verify_signature
from encore_backend.scheduler.jobs import alert_detector, response_sla
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.channels import DISABLED_ERROR

SECRET = "whsec-channels"
SLACK_BLOCK_TYPES = {"header", "section", "context", "actions", "divider"}
TEXT_TYPES = {"mrkdwn", "plain_text"}


@pytest.fixture
def client(ctx: Container) -> Iterator[TestClient]:
    with TestClient(create_app(ctx, start_scheduler=False)) as test_client:
        yield test_client


@pytest.fixture
def receiver(ctx: Container, clock: ManualClock) -> Iterator[WebhookReceiver]:
    use_manual_sleep(ctx, clock)
    rx = WebhookReceiver().start()
    yield rx
    rx.stop()


def add_channel(client: TestClient, venue_id: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/venues/{venue_id}/channels", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return dict(response.json())


def by_path(received: list[Received]) -> dict[str, Received]:
    return {r.path: r for r in received}


def deliveries(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(m.webhook_deliveries))]


# --- the formats' required fields -----------------------------------------------------------


def check_slack(body: Mapping[str, Any], link: str) -> None:
    """Slack incoming webhook: `text` (notification fallback) and Block Kit blocks in limits."""
    assert isinstance(body["text"], str) and body["text"]
    blocks = body["blocks"]
    assert isinstance(blocks, list) and blocks
    buttons = []
    for block in blocks:
        assert isinstance(block, dict) and block["type"] in SLACK_BLOCK_TYPES
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert 0 < len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert block["text"]["type"] in TEXT_TYPES
            assert 0 < len(block["text"]["text"]) <= 3000
        if block["type"] == "context":
            assert all(e["type"] in TEXT_TYPES | {"image"} for e in block["elements"])
        if block["type"] == "actions":
            buttons += [e for e in block["elements"] if e["type"] == "button"]
    assert buttons, "a button to the dashboard"
    for button in buttons:
        assert button["text"]["type"] == "plain_text" and len(button["text"]["text"]) <= 75
        assert button["url"] == link


def check_teams(body: Mapping[str, Any], link: str) -> None:
    """Teams incoming webhook / Workflows: a message carrying one Adaptive Card."""
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert isinstance(card["body"], list) and card["body"]
    assert all(isinstance(e, dict) and e["type"] for e in card["body"])
    assert any(e["type"] == "TextBlock" and e["text"] for e in card["body"])
    [action] = card["actions"]
    assert action["type"] == "Action.OpenUrl" and action["url"] == link and action["title"]


# --- delivery through the real path ---------------------------------------------------------


def test_slack_teams_and_webhook_channels_get_their_formats(
    ctx: Container,
    engine: Engine,
    clock: ManualClock,
    client: TestClient,
    receiver: WebhookReceiver,
) -> None:
    now = clock.now()
    make_venue(engine, "v1", now=now, webhook_url=receiver.url, webhook_secret=SECRET)
    base = f"http://127.0.0.1:{receiver.port}"
    add_channel(client, "v1", type="slack", url=f"{base}/slack", name="Ops")
    add_channel(client, "v1", type="teams", url=f"{base}/teams", levels=["critical"])
    add_channel(client, "v1", type="webhook", url=f"{base}/hook2")
    comment = "I got food poisoning <script> & " + "x" * 5000
    fid = make_feedback(engine, "v1", created_at=now, rating=1, comment=comment)

    result = alert_detector.run(ctx, now)

    assert result.details["webhooks_delivered"] == 4
    got = by_path(receiver.requests)
    assert set(got) == {"/hooks/encore", "/slack", "/teams", "/hook2"}
    link = f"{ctx.settings.encore_public_url.rstrip('/')}/venues/v1"
    slack = json.loads(got["/slack"].body)
    check_slack(slack, link)
    section = next(b for b in slack["blocks"] if b["type"] == "section")["text"]["text"]
    assert "CRITICAL" in section and "Venue v1" in section and "1/5" in section
    assert "&lt;script&gt; &amp;" in section and "<script>" not in section
    check_teams(json.loads(got["/teams"].body), link)
    for path in ("/slack", "/teams"):
        assert "x-encore-signature" not in got[path].headers
        assert got[path].headers["content-type"] == "application/json"
        assert got[path].headers["user-agent"]
    for path in ("/hooks/encore", "/hook2"):  # the venue's webhook and a webhook channel
        req = got[path]
        assert verify_signature(SECRET, req.body, req.headers["x-encore-signature"])
        assert req.headers["x-encore-event"] == "alert.created"
        body = json.loads(req.body)
        assert body["event"] == "alert.created" and body["alert"]["feedback_id"] == fid
    rows = deliveries(engine)
    assert {r["status"] for r in rows} == {"delivered"}
    assert {r["event"] for r in rows} == {"alert.created"}
    assert all(r["feedback_id"] == fid for r in rows)
    listed = client.get("/api/venues/v1/channels", headers=ADMIN).json()["channels"]
    assert all(c["status"] == "active" and c["last_delivered_at"] for c in listed)


def test_an_overdue_escalation_reaches_the_channels_in_their_formats(
    ctx: Container,
    engine: Engine,
    clock: ManualClock,
    client: TestClient,
    receiver: WebhookReceiver,
) -> None:
    """response_sla posts `feedback.escalated` through the same channels: Slack and Teams get
    their formats, a channel that wants only critical gets nothing for a high escalation."""
    created = clock.now()
    make_venue(engine, "v1", now=created, webhook_url=receiver.url, webhook_secret=SECRET)
    base = f"http://127.0.0.1:{receiver.port}"
    add_channel(client, "v1", type="slack", url=f"{base}/slack")
    add_channel(client, "v1", type="teams", url=f"{base}/teams")
    add_channel(client, "v1", type="webhook", url=f"{base}/critical-only", levels=["critical"])
    guest = make_customer(engine, now=created)
    fid = make_feedback(
        engine, "v1", created_at=created, rating=2, comment="Cold and slow", customer_id=guest
    )
    alert_detector.run(ctx, created)  # a medium alert: no channel wants it
    receiver.requests.clear()

    response_sla.run(ctx, clock.advance(hours=24, minutes=1))

    got = by_path(receiver.requests)
    assert set(got) == {"/hooks/encore", "/slack", "/teams"}
    link = f"{ctx.settings.encore_public_url.rstrip('/')}/venues/v1"
    check_slack(json.loads(got["/slack"].body), link)
    check_teams(json.loads(got["/teams"].body), link)
    signed = got["/hooks/encore"]
    assert signed.headers["x-encore-event"] == "feedback.escalated"
    assert verify_signature(SECRET, signed.body, signed.headers["x-encore-signature"])
    assert json.loads(signed.body)["feedback"]["feedback_id"] == fid
    escalations = [r for r in deliveries(engine) if r["event"] == "feedback.escalated"]
    assert len(escalations) == 3 and {r["status"] for r in escalations} == {"delivered"}
    response_sla.run(ctx, clock.advance(minutes=15))
    assert len([r for r in deliveries(engine) if r["event"] == "feedback.escalated"]) == 3


def test_a_channel_gets_only_the_levels_it_asked_for(
    ctx: Container,
    engine: Engine,
    clock: ManualClock,
    client: TestClient,
    receiver: WebhookReceiver,
) -> None:
    now = clock.now()
    make_venue(engine, "v1", now=now)
    base = f"http://127.0.0.1:{receiver.port}"
    add_channel(client, "v1", type="slack", url=f"{base}/critical-only", levels=["critical"])
    add_channel(client, "v1", type="teams", url=f"{base}/high-too")  # default: critical, high
    make_feedback(engine, "v1", created_at=now, rating=1, comment="cockroach")  # high

    alert_detector.run(ctx, now)

    assert [r.path for r in receiver.requests] == ["/high-too"]


def test_escalation_and_test_documents_format_for_every_type(ctx: Container) -> None:
    venue = {"venue_id": "v9", "name": "Harbour", "webhook_url": None}
    link = f"{ctx.settings.encore_public_url.rstrip('/')}/venues/v9"
    document = {
        "event": "feedback.escalated",
        "feedback": {
            "feedback_id": 7, "venue_id": "v9", "rating": 2, "comment": "cold food",
            "created_at": "2026-03-10T10:00:00Z", "due_at": "2026-03-11T10:00:00Z",
            "escalated_at": "2026-03-11T10:05:00Z",
        },
        "alert": None,
    }  # fmt: skip
    channels = [
        {"channel_id": f"c-{t}", "type": t, "url": f"https://x.test/{t}", "levels": ["high"]}
        for t in formats.CHANNEL_TYPES
    ]
    rows = formats.deliveries_for(
        venue, channels, event="feedback.escalated", level="high", document=document,
        alert_id=None, feedback_id=7, now=ctx.clock.now(), settings=ctx.settings,
    )  # fmt: skip
    bodies = {r["channel_id"]: json.loads(r["payload"]) for r in rows}
    check_slack(bodies["c-slack"], link)
    assert "cold food" in json.dumps(bodies["c-slack"])
    check_teams(bodies["c-teams"], link)
    assert bodies["c-webhook"] == document
    assert {r["event"] for r in rows} == {"feedback.escalated"}
    assert len({r["delivery_id"] for r in rows}) == 3
    again = formats.deliveries_for(
        venue, channels, event="feedback.escalated", level="high", document=document,
        alert_id=None, feedback_id=7, now=ctx.clock.now(), settings=ctx.settings,
    )  # fmt: skip
    assert [r["delivery_id"] for r in again] == [r["delivery_id"] for r in rows]  # stable ids
    doc = formats.ping_document("v9", "c-slack", ctx.clock.now())
    for kind, check in (("slack", check_slack), ("teams", check_teams)):
        body = formats.payload_for(
            kind, venue, event="test", level="info", document=doc, settings=ctx.settings
        )
        check(json.loads(body), link)


# --- failing channels ----------------------------------------------------------------------


def test_a_failing_channel_is_marked_then_disabled_and_a_test_re_enables_it(
    ctx: Container,
    engine: Engine,
    clock: ManualClock,
    client: TestClient,
    receiver: WebhookReceiver,
) -> None:
    now = clock.now()
    make_venue(engine, "v1", now=now)
    receiver.default = 500
    channel = add_channel(
        client, "v1", type="slack", url=f"{receiver.url}-slack", name="Night shift"
    )
    for _ in range(4):
        make_feedback(engine, "v1", created_at=now, rating=1, comment="food poisoning")
    alert_detector.run(ctx, now)

    [listed] = client.get("/api/venues/v1/channels", headers=ADMIN).json()["channels"]
    assert listed["status"] == "failing"
    assert listed["consecutive_failures"] == 4 and "HTTP 500" in listed["last_error"]
    passes = 4
    while passes < CHANNEL_MAX_FAILURES:
        passes += deliver_due(ctx, now=clock.advance(hours=1)).failed
    [listed] = client.get("/api/venues/v1/channels", headers=ADMIN).json()["channels"]
    assert listed["status"] == "disabled" and listed["disabled_at"]
    rows = deliveries(engine)
    assert {r["status"] for r in rows} == {"failed"}
    assert DISABLED_ERROR in {r["last_error"] for r in rows}
    tried = len(receiver.requests)
    assert deliver_due(ctx, now=clock.advance(hours=1)).failed == 0
    make_feedback(engine, "v1", created_at=clock.now(), rating=1, comment="food poisoning")
    alert_detector.run(ctx, clock.now())
    assert len(deliveries(engine)) == 4 and len(receiver.requests) == tried  # none new

    client.cookies.set(SESSION_COOKIE, "test-admin-token")
    console = client.get("/admin")
    client.cookies.clear()
    assert console.status_code == 200
    assert "Failing channels" in console.text and "Night shift" in console.text
    assert f'id="failing-{channel["channel_id"]}"' in console.text and "HTTP 500" in console.text

    receiver.default = 200
    url = f"/api/venues/v1/channels/{channel['channel_id']}/test"
    tested = client.post(url, headers=ADMIN)
    assert tested.status_code == 200
    assert tested.json()["ok"] is True and tested.json()["status_code"] == 200
    assert tested.json()["channel"]["status"] == "active"
    check_slack(json.loads(receiver.requests[-1].body), "http://127.0.0.1:8000/venues/v1")
    assert ctx.channels.failing() == []


def test_a_failed_test_message_reports_the_error(
    ctx: Container, engine: Engine, client: TestClient, receiver: WebhookReceiver
) -> None:
    make_venue(engine, "v1", now=ctx.clock.now(), webhook_secret=SECRET)
    receiver.default = 404
    channel = add_channel(client, "v1", type="webhook", url=receiver.url)

    tested = client.post(f"/api/venues/v1/channels/{channel['channel_id']}/test", headers=ADMIN)

    assert tested.status_code == 200
    assert tested.json()["ok"] is False and tested.json()["status_code"] == 404
    assert "HTTP 404" in tested.json()["error"]
    [req] = receiver.requests
    assert req.headers["x-encore-event"] == "test"
    assert verify_signature(SECRET, req.body, req.headers["x-encore-signature"])
    assert json.loads(req.body)["event"] == "test"


# --- the API ------------------------------------------------------------------------------


def test_channels_api_roles_and_other_venues(
    ctx: Container, engine: Engine, client: TestClient
) -> None:
    now = ctx.clock.now()
    make_venue(engine, "v1", now=now)
    make_venue(engine, "v2", now=now)
    own, other = token_for(ctx, Role.VENUE_MANAGER, "v1"), token_for(ctx, Role.VENUE_MANAGER, "v2")
    body = {"type": "teams", "url": "https://example.test/hook"}

    made = client.post("/api/venues/v1/channels", json=body, headers=own)
    assert made.status_code == 201
    channel = made.json()
    assert channel["levels"] == ["critical", "high"] and channel["status"] == "active"
    assert channel["name"] is None and channel["last_error"] is None
    cid = channel["channel_id"]
    assert client.post("/api/venues/v1/channels", json=body, headers=other).status_code == 404
    assert client.get("/api/venues/v1/channels", headers=other).status_code == 404
    assert client.post(f"/api/venues/v1/channels/{cid}/test", headers=other).status_code == 404
    assert client.delete(f"/api/venues/v1/channels/{cid}", headers=other).status_code == 404
    assert client.delete(f"/api/venues/v2/channels/{cid}", headers=ADMIN).status_code == 404
    ingest = token_for(ctx, Role.INGEST)
    assert client.get("/api/venues/v1/channels", headers=ingest).status_code == 403
    assert client.get("/api/venues/v1/channels").status_code == 401
    listed = client.get("/api/venues/v1/channels", headers=own).json()["channels"]
    assert [c["channel_id"] for c in listed] == [cid]
    assert client.delete(f"/api/venues/v1/channels/{cid}", headers=own).status_code == 204
    assert client.delete(f"/api/venues/v1/channels/{cid}", headers=own).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "email", "url": "https://example.test/h"}, "type"),
        ({"url": "https://example.test/h"}, "type"),
        ({"type": "slack", "url": "ftp://example.test/h"}, "url"),
        ({"type": "slack", "url": "not a url"}, "url"),
        ({"type": "slack"}, "url"),
        ({"type": "slack", "url": "https://example.test/h", "levels": []}, "levels"),
        ({"type": "slack", "url": "https://example.test/h", "levels": ["urgent"]}, "levels"),
        ({"type": "slack", "url": "https://example.test/h", "levels": "critical"}, "levels"),
        ({"type": "slack", "url": "https://example.test/h", "name": ""}, "name"),
        ({"type": "slack", "url": "https://example.test/h", "colour": "red"}, "colour"),
    ],
)
def test_bad_channel_fields_are_422_naming_the_field(
    ctx: Container, engine: Engine, client: TestClient, body: dict[str, Any], field: str
) -> None:
    make_venue(engine, "v1", now=ctx.clock.now())
    response = client.post("/api/venues/v1/channels", json=body, headers=ADMIN)
    assert response.status_code == 422
    assert field in field_names(response)
    assert client.get("/api/venues/v1/channels", headers=ADMIN).json()["channels"] == []


def test_deleting_a_channel_drops_its_pending_deliveries(
    ctx: Container, engine: Engine, clock: ManualClock, client: TestClient
) -> None:
    now = clock.now()
    make_venue(engine, "v1", now=now, webhook_url="http://127.0.0.1:9/venue-hook")
    channel = add_channel(client, "v1", type="slack", url="http://127.0.0.1:9/slack")
    make_feedback(engine, "v1", created_at=now, rating=1, comment="food poisoning")
    use_manual_sleep(ctx, clock)  # the detector's own pass tries port 9 (refused) 3 times
    alert_detector.run(ctx, now)
    assert {r["channel_id"] for r in deliveries(engine)} == {None, channel["channel_id"]}

    deleted = client.delete(f"/api/venues/v1/channels/{channel['channel_id']}", headers=ADMIN)

    assert deleted.status_code == 204
    assert [r["channel_id"] for r in deliveries(engine)] == [None]  # the venue's webhook stays


def test_a_channel_failing_for_a_day_is_disabled_before_the_count(ctx: Container) -> None:
    now = ctx.clock.now()
    make_venue(ctx.engine, "v1", now=now)
    ctx.channels.create(
        {"channel_id": "c1", "venue_id": "v1", "type": "teams", "url": "https://x.test/t",
         "levels": ["critical"], "created_at": now}
    )  # fmt: skip
    limits = {"error": "HTTP 500", "max_failures": 10, "max_failing": timedelta(hours=24)}

    assert not ctx.channels.record_failure("c1", now=now, **limits)
    assert not ctx.channels.record_failure("c1", now=now + timedelta(hours=23), **limits)
    assert ctx.channels.record_failure("c1", now=now + timedelta(hours=24), **limits)

    channel = ctx.channels.get("c1")
    assert channel is not None and channel["consecutive_failures"] == 3
    assert channel["failing_since"] == now and channel["disabled_at"] == now + timedelta(hours=24)
    assert ctx.channels.active_for_venues(["v1"]) == {}
