"""email_sender's promises (SPEC §3, §4) against real servers in the test process.

- A message handed over without an answer (SMTP: no reply after the final `.`; SES: no answer
  to the request) is parked `failed` "outcome unknown", exactly one copy reached the server, and
  no later run resends it.
- A provider that refuses our configuration (SMTP AUTH, an unverified SES sender) stops the run
  at the first item, leaves every item exactly as it was, records the run failed with the
  provider's message; once fixed, the next run sends the backlog.
- A dry run lists what is due and claims, sends and writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from reply_support import all_rows, feedback, use_manual_sleep, venue
from support.moto_server import FAKE_CREDENTIALS, moto_server, sent_raw_messages
from support.raw_smtp_server import DROP, STALL, RawSmtpServer
from support.scripted_http_server import STALL as HTTP_STALL
from support.scripted_http_server import ScriptedHttpServer
from support.smtp_server import RecordingHandler, password_authenticator, smtp_server

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.providers.email.ses import SesEmailSender
from encore_backend.providers.email.smtp import SmtpEmailSender
from encore_backend.scheduler.jobs import ai_generator, email_sender
from encore_backend.scheduler.runner import RunTrigger, run_job
from encore_backend.services.email_service import SENDER_KEY
from encore_backend.storage.sql import models as m

NO_RETRIES = Config(retries={"total_max_attempts": 1}, connect_timeout=2)


def queue_replies(ctx: Container, n: int) -> list[dict[str, Any]]:
    """n replies drafted and queued by the real generator, due now; their queue items."""
    venue(ctx, auto_send_enabled=True, auto_send_delay_minutes=0)
    for _ in range(n):
        feedback(ctx)
    ai_generator.run(ctx, ctx.clock.now())
    items = queue_rows(ctx)
    assert len(items) == n and {i["status"] for i in items} == {"pending"}
    return items


def queue_rows(ctx: Container) -> list[dict[str, Any]]:
    return sorted(all_rows(ctx, m.email_queue), key=lambda row: str(row["queue_id"]))


def outcomes(ctx: Container, queue_id: str) -> list[str]:
    return [h["outcome"] for h in ctx.email_queue.history(queue_id)]


@pytest.fixture
def raw(ctx: Container, clock: ManualClock) -> Iterator[RawSmtpServer]:
    """A raw SMTP server the sender talks to, with a short client timeout."""
    with RawSmtpServer() as server:
        ctx.extras[SENDER_KEY] = SmtpEmailSender(host="127.0.0.1", port=server.port, timeout=0.5)
        use_manual_sleep(ctx, clock)
        yield server


# --- handed over, outcome unknown: parked, never resent ---


@pytest.mark.parametrize(("action", "copy"), [(DROP, "dropped"), (STALL, "stalled")])
def test_no_reply_after_the_final_dot_parks_the_item_and_no_run_resends_it(
    ctx: Container, clock: ManualClock, raw: RawSmtpServer, action: str, copy: str
) -> None:
    [item] = queue_replies(ctx, 1)
    raw.fail("DOT", action)

    first = email_sender.run(ctx, clock.now())
    clock.advance(hours=3)
    later = email_sender.run(ctx, clock.now())

    assert raw.copies(item["message_id"]) == [copy]  # one delivery attempt reached the server
    assert raw.commands.count("MAIL") == 1
    assert (first.details["outcome_unknown"], first.details["retried"]) == (1, 0)
    assert later.items_processed == 0
    parked = ctx.email_queue.get(item["queue_id"])
    assert parked is not None and parked["status"] == "failed" and parked["attempts"] == 1
    assert parked["error"] == "outcome unknown" and parked["claimed_by"] is None
    reply = ctx.replies.get(item["response_id"])
    assert reply is not None and (reply["status"], reply["error"]) == ("failed", "outcome unknown")
    [history] = ctx.email_queue.history(item["queue_id"])
    assert history["outcome"] == "outcome_unknown" and "handed over" in history["error"]


def test_an_operator_requeue_of_an_unknown_outcome_sends_it_once_more(
    ctx: Container, clock: ManualClock, raw: RawSmtpServer
) -> None:
    [item] = queue_replies(ctx, 1)
    raw.fail("DOT", DROP)
    email_sender.run(ctx, clock.now())

    assert ctx.email_queue.requeue(item["queue_id"], now=clock.advance(minutes=5))
    email_sender.run(ctx, clock.now())

    assert raw.copies(item["message_id"]) == ["dropped", "accepted"]
    assert ctx.email_queue.get(item["queue_id"])["status"] == "sent"  # type: ignore[index]


@pytest.mark.parametrize(
    ("step", "action", "copies"),
    [
        ("MAIL", "451 4.3.0 Try again later", ["accepted"]),
        ("RCPT", DROP, ["accepted"]),
        ("DATA", "451 4.3.0 Not now", ["accepted"]),
        ("DATA", STALL, ["accepted"]),
        ("DOT", "452 4.3.1 Queue full", ["refused", "accepted"]),
    ],
)
def test_a_failure_before_the_hand_over_is_retried_and_delivered_once(
    ctx: Container, clock: ManualClock, raw: RawSmtpServer, step: str, action: str, copies: list
) -> None:
    [item] = queue_replies(ctx, 1)
    raw.fail(step, action)

    result = email_sender.run(ctx, clock.now())

    assert (result.details["sent"], result.details["retried"]) == (1, 1)
    assert raw.copies(item["message_id"]) == copies
    assert outcomes(ctx, item["queue_id"]) == ["retry", "sent"]


def test_an_ses_read_timeout_parks_the_item_and_no_run_resends_it(
    ctx: Container, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    [item] = queue_replies(ctx, 1)
    with ScriptedHttpServer(script=[HTTP_STALL]) as endpoint:
        sender = SesEmailSender(endpoint_url=endpoint.url, read_timeout=0.5, connect_timeout=1)
        ctx.extras[SENDER_KEY] = sender
        first = email_sender.run(ctx, clock.now())
        clock.advance(hours=3)
        email_sender.run(ctx, clock.now())
        assert len(endpoint.requests) == 1

    assert first.details["outcome_unknown"] == 1
    parked = ctx.email_queue.get(item["queue_id"])
    assert parked is not None and parked["status"] == "failed"
    assert parked["error"] == "outcome unknown"
    assert outcomes(ctx, item["queue_id"]) == ["outcome_unknown"]


# --- the provider refuses our configuration: stop, mark nothing, send once fixed ---


@pytest.fixture
def auth_smtp() -> Iterator[tuple[RecordingHandler, int, list[tuple[int, str]]]]:
    """aiosmtpd requiring AUTH as encore/right; the (client port, password) tried are listed."""
    handler, tried = RecordingHandler(), []
    check = password_authenticator("encore", "right")

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        tried.append((session.peer[1], data.password.decode()))
        return check(server, session, envelope, mechanism, data)

    options = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": False}
    with smtp_server(handler, **options) as port:
        yield handler, port, tried


def use_smtp(ctx: Container, port: int, password: str) -> None:
    ctx.settings = ctx.settings.model_copy(
        update={
            "email_backend": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_username": "encore",
            "smtp_password": password,
        }
    )


def assert_stopped_untouched(
    ctx: Container, record: dict[str, Any] | None, before: list[dict[str, Any]], text: str
) -> None:
    """The run failed naming the provider; every item is exactly as before, no attempt logged."""
    assert record is not None and record["status"] == "failed"
    assert record["error"].startswith("email provider: ") and text in record["error"]
    assert record["details"] == {"provider_error": "email provider"}
    assert queue_rows(ctx) == before
    assert all_rows(ctx, m.email_history) == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_auth_refused_stops_the_run_and_the_backlog_goes_once_fixed(
    ctx: Container,
    clock: ManualClock,
    auth_smtp: tuple[RecordingHandler, int, list[tuple[int, str]]],
) -> None:
    handler, port, tried = auth_smtp
    before = queue_replies(ctx, 3)
    use_smtp(ctx, port, "wrong")

    refused = run_job(ctx, "email_sender", trigger=RunTrigger.MANUAL)

    assert_stopped_untouched(ctx, refused, before, "535")
    assert len({port for port, _ in tried}) == 1  # one connection: stopped at the first item
    assert {password for _, password in tried} == {"wrong"} and handler.messages == []
    assert "wrong" not in refused["error"]  # type: ignore[index]
    use_smtp(ctx, port, "right")
    fixed = run_job(ctx, "email_sender", trigger=RunTrigger.MANUAL)

    assert fixed is not None and fixed["status"] == "success" and fixed["details"]["sent"] == 3
    assert {i["status"] for i in queue_rows(ctx)} == {"sent"}
    assert sorted(str(msg["Message-ID"]) for msg in handler.messages) == sorted(
        i["message_id"] for i in before
    )


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


def test_an_unverified_ses_sender_stops_the_run_and_the_backlog_goes_once_verified(
    ctx: Container, clock: ManualClock, moto_url: str
) -> None:
    address = f"no-reply-{uuid.uuid4().hex[:8]}@encore.example"
    ctx.settings = ctx.settings.model_copy(update={"email_from": f"Encore <{address}>"})
    client = boto3.client("sesv2", endpoint_url=moto_url, config=NO_RETRIES, **FAKE_CREDENTIALS)
    ctx.extras[SENDER_KEY] = SesEmailSender(client=client)
    before = queue_replies(ctx, 3)
    already = len(sent_raw_messages(moto_url))

    refused = run_job(ctx, "email_sender", trigger=RunTrigger.MANUAL)

    assert_stopped_untouched(ctx, refused, before, "MessageRejected")
    client.create_email_identity(EmailIdentity=address)
    fixed = run_job(ctx, "email_sender", trigger=RunTrigger.MANUAL)

    assert fixed is not None and fixed["status"] == "success" and fixed["details"]["sent"] == 3
    assert len(sent_raw_messages(moto_url)) == already + 3


# --- dry run ---


def test_a_dry_run_lists_what_is_due_and_changes_nothing(
    ctx: Container, clock: ManualClock, handler: RecordingHandler
) -> None:
    items = queue_replies(ctx, 3)
    now = clock.now()  # a worker claimed one and died: its lease has run out
    stuck = ctx.email_queue.claim_next(now=now, claim="dead:1:x", lease_until=now)
    assert stuck is not None
    clock.advance(minutes=1)
    before = queue_rows(ctx)
    limits = all_rows(ctx, m.rate_limit_slots)

    record = run_job(ctx, "email_sender", trigger=RunTrigger.MANUAL, params={"dry_run": True})

    assert record is not None and record["status"] == "success" and record["dry_run"] is True
    details = record["details"]
    assert details["dry_run"] is True and details["due"] == 2
    listed = {i["queue_id"]: i for i in details["items"]}
    assert set(listed) == {i["queue_id"] for i in items if i["queue_id"] != stuck["queue_id"]}
    for item in items:
        if item["queue_id"] == stuck["queue_id"]:
            continue
        shown = listed[item["queue_id"]]
        assert shown["kind"] == "reply" and shown["to"].startswith(item["customer_email"][0])
        assert shown["to"].endswith("@example.com") and item["customer_email"] != shown["to"]
    assert details["leases_expired"] == [stuck["queue_id"]]
    assert handler.messages == [] and queue_rows(ctx) == before
    assert all_rows(ctx, m.email_history) == [] and all_rows(ctx, m.rate_limit_slots) == limits

    email_sender.run(ctx, clock.now())  # the real run then does what the dry run listed
    assert len(handler.messages) == 2
