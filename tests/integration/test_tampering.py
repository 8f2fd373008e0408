"""Signed things refuse any change: every one-character change of an unsubscribe link, and
every one-byte change of a webhook body or its signature, is refused."""

from __future__ import annotations

import string
from collections.abc import Iterator

import pytest
from api_support import client
from factories import make_customer, make_feedback, make_venue
from fastapi.testclient import TestClient
from sqlalchemy import select
from support.webhook_receiver import WebhookReceiver

from encore_backend.bootstrap import Container
from encore_backend.notify.webhook import verify_signature
from encore_backend.providers.email import make_unsubscribe_token
from encore_backend.scheduler.jobs import alert_detector
from encore_backend.services.email_service import unsubscribe_secret
from encore_backend.storage.sql import models as m

__all__ = ["client"]

B64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
SECRET = "whsec-tamper-test"


def one_char_changes(token: str) -> Iterator[str]:
    """The token with each position replaced by its neighbour in the base64url alphabet (the
    smallest change: one low bit of that character), and with each position's '.' moved."""
    for i, char in enumerate(token):
        if char == ".":
            yield token[:i] + "A" + token[i + 1 :]
            continue
        swapped = B64URL[(B64URL.index(char) + 1) % 64]
        yield token[:i] + swapped + token[i + 1 :]


def unsubscribed(ctx: Container, customer_id: int) -> bool:
    query = select(m.customers.c.unsubscribed_at).where(m.customers.c.customer_id == customer_id)
    with ctx.engine.connect() as conn:
        return conn.execute(query).scalar_one() is not None


def test_an_unsubscribe_link_changed_anywhere_is_refused(
    client: TestClient, ctx: Container
) -> None:
    email = "guest@example.com"
    customer_id = make_customer(ctx.engine, now=ctx.clock.now(), email=email)
    token = make_unsubscribe_token(
        customer_id=customer_id, email=email, secret=unsubscribe_secret(ctx.settings)
    )
    for forged in one_char_changes(token):
        assert client.get(f"/unsubscribe/{forged}").status_code == 404, forged
        assert client.post(f"/unsubscribe/{forged}").status_code == 404, forged
    assert not unsubscribed(ctx, customer_id)
    assert client.get(f"/unsubscribe/{token}").status_code == 200
    assert not unsubscribed(ctx, customer_id)  # a GET never unsubscribes
    assert client.post(f"/unsubscribe/{token}").status_code == 200
    assert unsubscribed(ctx, customer_id)


def test_a_link_signed_with_another_secret_is_refused(client: TestClient, ctx: Container) -> None:
    customer_id = make_customer(ctx.engine, now=ctx.clock.now(), email="g@example.com")
    token = make_unsubscribe_token(customer_id=customer_id, email="g@example.com", secret="guess")
    assert client.post(f"/unsubscribe/{token}").status_code == 404
    assert not unsubscribed(ctx, customer_id)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    rx = WebhookReceiver().start()
    yield rx
    rx.stop()


def test_a_webhook_changed_in_any_byte_fails_its_signature(
    ctx: Container, receiver: WebhookReceiver
) -> None:
    now = ctx.clock.now()
    make_venue(ctx.engine, "v1", now=now, webhook_url=receiver.url, webhook_secret=SECRET)
    make_feedback(ctx.engine, "v1", created_at=now, rating=1, comment="food poisoning")
    alert_detector.run(ctx, now)
    [delivery] = receiver.requests
    body, signature = delivery.body, delivery.headers["x-encore-signature"]
    assert verify_signature(SECRET, body, signature)
    for i in range(len(body)):
        forged = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1 :]
        assert not verify_signature(SECRET, forged, signature), i
    for i in range(len(signature)):
        flipped = chr(ord(signature[i]) ^ 0x01)
        assert not verify_signature(SECRET, body, signature[:i] + flipped + signature[i + 1 :])
    assert not verify_signature(SECRET + "x", body, signature)
    assert not verify_signature(SECRET, body + b" ", signature)
