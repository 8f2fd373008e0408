"""Brand voice end to end: the venue's settings (written through the settings API) reach the
model (a real local chat-completions server) and the hold decision; a draft using a banned phrase
waits for approval whatever the settings, with a reason the dashboard shows; replies and the
queue in SQL or DynamoDB.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from api_support import ADMIN
from fastapi.testclient import TestClient
from reply_support import use_provider
from support.chat_server import ChatScript, ScriptedReply, chat_server
from support.queue_setup import feedback, venue

from encore_backend.api.app import create_app
from encore_backend.bootstrap import Container
from encore_backend.providers.ai.openai_compat import OpenAICompatReplyProvider
from encore_backend.providers.ai.prompt import BANNED_TAG
from encore_backend.scheduler.jobs import ai_generator
from encore_backend.services import approval_service

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SIGNATURE = "Maria Rossi\nBistro Nord"
CLEAN = "Hi Sam,\n\nThank you for your visit. We hope to see you again soon."
BANNED = "Hi Sam,\n\nThank you for your visit.  NO\n  Worries, we will do better!"
VOICE = {
    "reply_tone": "playful",
    "reply_signature": SIGNATURE,
    "banned_phrases": ["no worries", "No  Worries", "to be honest"],
    "auto_send_enabled": True,
    "auto_send_delay_minutes": 0,
}


@pytest.fixture(scope="module")
def chat() -> Iterator[tuple[ChatScript, str]]:
    script = ChatScript()
    with chat_server(script) as url:
        yield script, url


@pytest.fixture
def web(store_ctx: Container) -> Iterator[TestClient]:
    with TestClient(create_app(store_ctx, start_scheduler=False)) as client:
        yield client


@pytest.fixture
def model(store_ctx: Container, chat: tuple[ChatScript, str]) -> Iterator[ChatScript]:
    """The real openai-compatible provider on the local server, answering CLEAN by default."""
    script, url = chat
    script.requests.clear()
    script.script(ScriptedReply(content=CLEAN))
    provider = OpenAICompatReplyProvider(base_url=url, model="llama3.1")
    use_provider(store_ctx, provider)
    yield script
    provider.close()


def voiced_venue(ctx: Container, web: TestClient, **settings: Any) -> None:
    """A venue whose voice is set through PATCH /api/venues/v1/settings."""
    venue(ctx)
    response = web.patch("/api/venues/v1/settings", json={**VOICE, **settings}, headers=ADMIN)
    assert response.status_code == 200, response.text
    if "banned_phrases" not in settings:  # stored once each, case-insensitively
        assert response.json()["banned_phrases"] == ["no worries", "to be honest"]


def reply_of(ctx: Container, feedback_id: int) -> dict[str, Any]:
    found = ctx.replies.for_feedback(feedback_id)
    assert found is not None
    return found


def test_a_banned_phrase_holds_the_draft_whatever_the_settings(
    store_ctx: Container, web: TestClient, model: ChatScript
) -> None:
    ctx = store_ctx
    voiced_venue(ctx, web)
    model.script(ScriptedReply(content=BANNED))
    fid = feedback(ctx, rating=4)

    assert ai_generator.run(ctx, ctx.clock.now()).items_processed == 1

    reply = reply_of(ctx, fid)
    assert reply["status"] == "pending_approval"
    assert reply["hold_reason"] == 'contains banned phrase: "no worries"'
    assert reply["body"].endswith("\n\n" + SIGNATURE)
    assert ctx.email_queue.for_response(reply["response_id"]) is None
    [sent] = model.requests
    system = sent["json"]["messages"][0]["content"]
    assert "Tone: playful" in system
    assert f'<{BANNED_TAG}>\n"no worries"\n"to be honest"\n</{BANNED_TAG}>' in system


def test_a_draft_without_banned_phrases_still_auto_sends(
    store_ctx: Container, web: TestClient, model: ChatScript
) -> None:
    ctx = store_ctx
    voiced_venue(ctx, web)
    fid = feedback(ctx, rating=4)

    ai_generator.run(ctx, ctx.clock.now())

    reply = reply_of(ctx, fid)
    assert reply["status"] == "auto_approved" and reply["hold_reason"] is None
    assert reply["body"] == f"{CLEAN}\n\n{SIGNATURE}"
    item = ctx.email_queue.for_response(reply["response_id"])
    assert item is not None and item["status"] == "pending"


def test_the_venue_signature_itself_never_holds_a_draft(
    store_ctx: Container, web: TestClient, model: ChatScript
) -> None:
    ctx = store_ctx
    voiced_venue(ctx, web, reply_signature="No worries,\nMaria")
    fid = feedback(ctx, rating=5)

    ai_generator.run(ctx, ctx.clock.now())

    reply = reply_of(ctx, fid)
    assert reply["status"] == "auto_approved" and reply["body"].endswith("No worries,\nMaria")


def test_the_hold_reason_is_shown_and_an_edited_approval_is_the_managers_call(
    store_ctx: Container, web: TestClient, model: ChatScript
) -> None:
    ctx = store_ctx
    voiced_venue(ctx, web)
    model.script(ScriptedReply(content=BANNED))
    fid = feedback(ctx, rating=4)
    ai_generator.run(ctx, ctx.clock.now())
    reply = reply_of(ctx, fid)

    form = CSRF.search(web.get("/signin").text)
    assert form is not None
    signin = {"csrf_token": form.group(1), "token": "test-admin-token"}
    assert web.post("/signin", data=signin, follow_redirects=False).status_code == 303
    page = html.unescape(web.get("/venues/v1").text)
    assert 'Waiting for approval: contains banned phrase: "no worries"' in page

    # The manager's own edit is not checked again: it may keep the phrase, and it is queued.
    edited = "Hi Sam,\n\nNo worries at all, and thank you!\n\nMaria"
    approved = approval_service.approve(
        ctx, response_id=reply["response_id"], by="maria", body=edited
    )
    assert approved["status"] == "approved" and approved["hold_reason"] is None
    assert approved["body"] == edited
    assert ctx.email_queue.for_response(reply["response_id"]) is not None


def test_the_template_provider_speaks_in_the_venue_voice(
    store_ctx: Container, web: TestClient
) -> None:
    ctx = store_ctx
    voiced_venue(ctx, web, reply_tone="formal", banned_phrases=["Dear Sam"])
    fid = feedback(ctx, rating=4)

    ai_generator.run(ctx, ctx.clock.now())  # the real template provider

    reply = reply_of(ctx, fid)
    assert reply["provider"] == "template" and reply["status"] == "auto_approved"
    assert reply["body"].endswith("\n\n" + SIGNATURE)
    assert "Dear Sam" not in reply["body"] and "'" not in reply["body"]
