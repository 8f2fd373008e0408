"""The backlog survives provider faults (issue 8): a refused key, credentials or model stops the
run and marks nothing; transient failures wait with backoff across runs and fail only after
MAX_DRAFT_RUNS; a dry run calls no provider and writes nothing.

Given feedback waiting for a reply and a real local endpoint (chat-completions or Bedrock
Converse), when ai_generator runs on a stepped manual clock, expect the replies and feedback
rows below.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from reply_support import all_rows, feedback, feedback_row, use_manual_sleep, use_provider, venue
from sqlalchemy import text
from support.bedrock_server import (
    DENIED_KEY,
    GOOD_KEY,
    MODEL_ID,
    BedrockScript,
    bedrock_client,
    bedrock_server,
)
from support.chat_server import ChatScript, ScriptedReply, chat_server

from encore_backend.api.app import create_app
from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.domain.enums import RunTrigger
from encore_backend.providers.ai.bedrock import BedrockReplyProvider
from encore_backend.providers.errors import ProviderConfigError, TransientProviderError
from encore_backend.scheduler.jobs import ai_generator
from encore_backend.scheduler.runner import run_job
from encore_backend.services import approval_service
from encore_backend.services.reply_service import MAX_ATTEMPTS, MAX_DRAFT_RUNS
from encore_backend.storage.sql import models as m
from encore_backend.storage.sql.replies import candidates_query

GOOD_KEY_OPENAI = "sk-live-good-4f9c2e"
WRONG_KEY = "sk-live-wrong-7d1a0b3e9c"
UNAVAILABLE = ScriptedReply(status=503)
GOOD = ScriptedReply(content="Hi Anna,\n\nThank you for your visit.\n\nThe team")


@pytest.fixture
def chat() -> Iterator[tuple[ChatScript, str]]:
    script = ChatScript(api_key=GOOD_KEY_OPENAI)
    script.script(GOOD)
    with chat_server(script) as url:
        yield script, url


def use_openai(ctx: Container, url: str, key: str) -> None:
    """AI_PROVIDER=openai on the local server, built by the real factory."""
    ctx.settings = ctx.settings.model_copy(
        update={"ai_provider": "openai", "openai_base_url": url, "openai_api_key": key}
    )


def untouched(ctx: Container, ids: list[int]) -> bool:
    """No reply exists and no feedback row carries a draft attempt."""
    rows = [feedback_row(ctx, fid) for fid in ids]
    marks = [
        (r["status"], r["draft_attempts"], r["draft_retry_at"], r["draft_error"]) for r in rows
    ]
    return all_rows(ctx, m.ai_responses) == [] and marks == [("new", 0, None, None)] * len(ids)


def statuses(ctx: Container) -> list[str]:
    return sorted(r["status"] for r in all_rows(ctx, m.ai_responses))


def assert_stopped_by_config(record: dict[str, Any] | None, *needles: str) -> None:
    assert record is not None and record["status"] == "failed"
    assert record["error"].startswith("AI provider: ")
    assert record["details"] == {"provider_error": "AI provider"}
    for needle in needles:
        assert needle in record["error"]


# --- a refused key, credentials or model: stop, mark nothing, draft all after the fix ---


def test_a_refused_key_marks_nothing_and_the_backlog_is_drafted_once_fixed(
    ctx: Container, clock: ManualClock, chat: tuple[ChatScript, str], caplog: Any
) -> None:
    script, url = chat
    venue(ctx)
    ids = [feedback(ctx) for _ in range(3)]
    use_openai(ctx, url, WRONG_KEY)

    record = run_job(ctx, "ai_generator", trigger=RunTrigger.MANUAL)

    assert_stopped_by_config(record, "openai HTTP 401", "Incorrect API key provided")
    assert WRONG_KEY not in json.dumps(record, default=str)  # the server echoed it: blanked
    assert WRONG_KEY not in caplog.text
    assert len(script.requests) == 1  # stopped at the first refusal
    assert untouched(ctx, ids)

    use_openai(ctx, url, GOOD_KEY_OPENAI)  # the operator fixes the key
    clock.advance(minutes=10)
    fixed = run_job(ctx, "ai_generator", trigger=RunTrigger.MANUAL)

    assert fixed is not None and fixed["status"] == "success" and fixed["items_processed"] == 3
    assert statuses(ctx) == ["generated"] * 3


def test_an_endpoint_refusing_for_a_while_then_answering_drafts_everything(
    ctx: Container, clock: ManualClock, chat: tuple[ChatScript, str]
) -> None:
    script, url = chat
    script.api_key = None
    script.script(ScriptedReply(status=401), ScriptedReply(status=403), GOOD)
    venue(ctx)
    ids = [feedback(ctx) for _ in range(4)]
    use_openai(ctx, url, GOOD_KEY_OPENAI)

    runs = []
    for _ in range(3):
        runs.append(run_job(ctx, "ai_generator", trigger=RunTrigger.MANUAL))
        clock.advance(minutes=10)

    assert [r["status"] for r in runs if r] == ["failed", "failed", "success"]
    assert "HTTP 401" in runs[0]["error"] and "HTTP 403" in runs[1]["error"]  # type: ignore[index]
    assert statuses(ctx) == ["generated"] * 4
    assert all(feedback_row(ctx, fid)["status"] == "pending" for fid in ids)


def test_an_unknown_openai_model_is_a_configuration_error(
    ctx: Container, chat: tuple[ChatScript, str]
) -> None:
    script, url = chat
    script.api_key = None
    script.script(ScriptedReply(status=404, raw=b'{"error": "model \'llama9\' not found"}'))
    venue(ctx)
    ids = [feedback(ctx) for _ in range(2)]
    use_openai(ctx, url, GOOD_KEY_OPENAI)

    record = run_job(ctx, "ai_generator", trigger=RunTrigger.MANUAL)

    assert_stopped_by_config(record, "HTTP 404", "not found")
    assert untouched(ctx, ids)


BEDROCK_REFUSALS = {
    "denied": (DENIED_KEY, MODEL_ID, None, "AccessDeniedException"),
    "unknown_key": ("AKIANOBODY", MODEL_ID, None, "UnrecognizedClientException"),
    "unknown_model": (GOOD_KEY, "anthropic.claude-9", None, "ValidationException"),
    "not_found": (
        GOOD_KEY,
        MODEL_ID,
        (404, "ResourceNotFoundException", "Model not found"),
        "ResourceNotFoundException",
    ),
}


@pytest.mark.parametrize("case", sorted(BEDROCK_REFUSALS))
def test_bedrock_refusing_credentials_or_model_marks_nothing(
    ctx: Container, clock: ManualClock, case: str
) -> None:
    key, model, failure, code = BEDROCK_REFUSALS[case]
    script = BedrockScript()
    if failure:
        script.failures.append(failure)
    venue(ctx)
    ids = [feedback(ctx) for _ in range(3)]
    with bedrock_server(script) as url:
        use_provider(ctx, BedrockReplyProvider(model_id=model, client=bedrock_client(url, key)))
        record = run_job(ctx, "ai_generator", trigger=RunTrigger.MANUAL)

        assert_stopped_by_config(record, f"bedrock {code}")
        assert len(script.requests) == 1
        assert untouched(ctx, ids)

        use_provider(ctx, BedrockReplyProvider(model_id=MODEL_ID, client=bedrock_client(url)))
        clock.advance(minutes=10)
        fixed = run_job(ctx, "ai_generator", trigger=RunTrigger.MANUAL)

    assert fixed is not None and fixed["status"] == "success"
    assert statuses(ctx) == ["generated"] * 3


def test_bedrock_without_aws_credentials_marks_nothing(
    ctx: Container, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    ctx.settings = ctx.settings.model_copy(update={"ai_provider": "bedrock"})
    venue(ctx)
    ids = [feedback(ctx) for _ in range(2)]

    record = run_job(ctx, "ai_generator", trigger=RunTrigger.MANUAL)

    assert_stopped_by_config(record, "bedrock: Unable to locate credentials")
    assert untouched(ctx, ids)


# --- transient failures: wait with backoff across runs, fail only after MAX_DRAFT_RUNS ---


def test_a_provider_down_for_a_while_drafts_every_feedback_once_up(
    ctx: Container, clock: ManualClock, chat: tuple[ChatScript, str]
) -> None:
    script, url = chat
    script.script(*[UNAVAILABLE] * 10, GOOD)
    use_manual_sleep(ctx, clock)
    use_openai(ctx, url, GOOD_KEY_OPENAI)
    venue(ctx)
    first, second = feedback(ctx), feedback(ctx)

    one = ai_generator.run(ctx, clock.now())

    assert one.details["provider_down"] is True and one.details["deferred"] == 1
    assert one.details["retries"] == MAX_ATTEMPTS - 1  # tenacity retried within the run
    waiting = feedback_row(ctx, first)
    assert waiting["draft_attempts"] == 1 and "HTTP 503" in waiting["draft_error"]
    wait = waiting["draft_retry_at"] - clock.now()
    assert timedelta(seconds=48) <= wait <= timedelta(seconds=60)
    assert all_rows(ctx, m.ai_responses) == []

    two = ai_generator.run(ctx, clock.now())  # `first` waits: the run tries `second`

    assert two.details["deferred"] == 1 and len(script.requests) == 2 * MAX_ATTEMPTS
    assert feedback_row(ctx, first)["draft_retry_at"] == waiting["draft_retry_at"]
    assert feedback_row(ctx, second)["draft_attempts"] == 1

    clock.advance(minutes=10)
    three = ai_generator.run(ctx, clock.now())  # the provider is back after two more 503s

    assert three.items_processed == 2 and three.details["provider_down"] is False
    assert statuses(ctx) == ["generated", "generated"]
    for fid in (first, second):
        row = feedback_row(ctx, fid)
        assert (row["draft_attempts"], row["draft_retry_at"], row["draft_error"]) == (0, None, None)


def test_a_provider_that_stays_down_fails_the_reply_only_after_the_bound(
    ctx: Container, clock: ManualClock, chat: tuple[ChatScript, str]
) -> None:
    script, url = chat
    script.script(UNAVAILABLE)
    use_manual_sleep(ctx, clock)
    use_openai(ctx, url, GOOD_KEY_OPENAI)
    venue(ctx)
    fid = feedback(ctx)

    for run in range(1, MAX_DRAFT_RUNS):
        ai_generator.run(ctx, clock.now())
        row = feedback_row(ctx, fid)
        assert ctx.replies.for_feedback(fid) is None and row["draft_attempts"] == run
        full = timedelta(seconds=60 * 2 ** (run - 1))  # 60 s, 120 s, 240 s, 480 s
        assert full * 0.8 <= row["draft_retry_at"] - clock.now() <= full
        calls = len(script.requests)
        ai_generator.run(ctx, clock.now())  # too early: skipped
        assert len(script.requests) == calls
        clock.set(row["draft_retry_at"])

    ai_generator.run(ctx, clock.now())

    reply = ctx.replies.for_feedback(fid)
    assert reply is not None and reply["status"] == "failed"
    assert "HTTP 503" in reply["error"] and f"failed in {MAX_DRAFT_RUNS} runs" in reply["error"]
    assert len(script.requests) == MAX_DRAFT_RUNS * MAX_ATTEMPTS
    clock.advance(hours=2)
    ai_generator.run(ctx, clock.now())
    assert len(script.requests) == MAX_DRAFT_RUNS * MAX_ATTEMPTS  # a failed reply is final


def test_the_selection_walks_the_primary_key_and_probes_the_reply_index(ctx: Container) -> None:
    if ctx.engine.dialect.name != "sqlite":
        pytest.skip("the plan is read on SQLite; MariaDB/PostgreSQL plans depend on statistics")
    query = candidates_query(now=ctx.clock.now(), after_id=0, limit=50)
    sql = str(query.compile(ctx.engine, compile_kwargs={"literal_binds": True}))
    with ctx.engine.connect() as conn:
        plan = [row[3] for row in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"))]

    assert "SEARCH feedback USING INTEGER PRIMARY KEY (rowid>?)" in plan
    assert any("encore_ai_responses USING INDEX ix_ai_responses_feedback" in p for p in plan)
    assert not any(p.startswith("SCAN") for p in plan)


# --- dry run ---


def test_a_dry_run_lists_what_would_be_drafted_and_changes_nothing(
    ctx: Container, clock: ManualClock, chat: tuple[ChatScript, str]
) -> None:
    script, url = chat
    use_openai(ctx, url, GOOD_KEY_OPENAI)
    venue(ctx, "v1")
    venue(ctx, "v2")
    due = [feedback(ctx, "v1"), feedback(ctx, "v2"), feedback(ctx, "v1")]
    feedback(ctx, "v1", scanned=False)  # not yet scanned for alerts
    later = feedback(ctx, "v2")
    ctx.feedback.defer_draft(later, retry_at=clock.now() + timedelta(minutes=5), error="503")
    before = all_rows(ctx, m.feedback)

    record = run_job(ctx, "ai_generator", trigger=RunTrigger.MANUAL, params={"dry_run": True})

    assert record is not None and record["status"] == "success" and record["dry_run"] is True
    assert record["details"] == {
        "dry_run": True,
        "would_draft": 3,
        "feedback_ids": sorted(due),
        "by_venue": {"v1": 2, "v2": 1},
    }
    assert script.requests == []
    assert all_rows(ctx, m.ai_responses) == [] and all_rows(ctx, m.email_queue) == []
    assert all_rows(ctx, m.rate_limit_slots) == []
    assert all_rows(ctx, m.feedback) == before


# --- draft now (the manual path): a refused key or a down provider stores nothing ---


def test_draft_now_with_a_refused_key_raises_and_keeps_the_failed_reply(
    ctx: Container, clock: ManualClock, chat: tuple[ChatScript, str]
) -> None:
    script, url = chat
    venue(ctx)
    fid = feedback(ctx)
    failed = {
        "response_id": "r-failed",
        "feedback_id": fid,
        "venue_id": "v1",
        "subject": "",
        "body": "",
        "status": "failed",
        "provider": "openai",
        "error": "model refused",
        "created_at": clock.now(),
    }
    assert ctx.replies.save(reply=failed)
    use_openai(ctx, url, WRONG_KEY)

    with pytest.raises(ProviderConfigError) as caught:
        approval_service.draft_now(ctx, feedback_id=fid)

    assert str(caught.value).startswith("AI provider: openai HTTP 401")
    assert WRONG_KEY not in str(caught.value) and len(script.requests) == 1
    assert [r["response_id"] for r in all_rows(ctx, m.ai_responses)] == ["r-failed"]

    use_openai(ctx, url, GOOD_KEY_OPENAI)
    drafted = approval_service.draft_now(ctx, feedback_id=fid)
    assert drafted["status"] == "generated"


def test_draft_now_with_the_provider_down_raises_and_stores_nothing(
    ctx: Container, clock: ManualClock, chat: tuple[ChatScript, str]
) -> None:
    script, url = chat
    script.script(UNAVAILABLE)
    use_manual_sleep(ctx, clock)
    use_openai(ctx, url, GOOD_KEY_OPENAI)
    venue(ctx)
    fid = feedback(ctx)

    with pytest.raises(TransientProviderError, match="HTTP 503"):
        approval_service.draft_now(ctx, feedback_id=fid)

    assert len(script.requests) == MAX_ATTEMPTS
    assert all_rows(ctx, m.ai_responses) == []
    assert feedback_row(ctx, fid)["draft_attempts"] == 0


def test_draft_now_over_http_answers_502_or_503_with_the_providers_words(
    ctx: Container, clock: ManualClock, chat: tuple[ChatScript, str]
) -> None:
    script, url = chat
    use_manual_sleep(ctx, clock)
    venue(ctx)
    fid = feedback(ctx)
    admin = {"Authorization": "Bearer test-admin-token"}
    with TestClient(create_app(ctx, start_scheduler=False)) as api:
        use_openai(ctx, url, WRONG_KEY)
        refused = api.post(f"/api/feedback/{fid}/responses", headers=admin)
        assert refused.status_code == 502 and "AI provider" in refused.json()["detail"]
        assert WRONG_KEY not in refused.text
        script.script(UNAVAILABLE)
        use_openai(ctx, url, GOOD_KEY_OPENAI)
        down = api.post(f"/api/feedback/{fid}/responses", headers=admin)
        assert down.status_code == 503 and "HTTP 503" in down.json()["detail"]
    assert all_rows(ctx, m.ai_responses) == []
