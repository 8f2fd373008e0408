"""The job function on every database: EventBridge Scheduler ticks through the shared runner.

Events are the ones the template's schedules send; the Lambda context counts down on the
test's manual clock, so a run's remaining time is as exact as its budget.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from reply_support import ScriptedProvider, feedback, use_manual_sleep, use_provider, venue
from sqlalchemy import func, select
from support.lambda_context import FakeLambdaContext, tick_event

from encore_backend.aws.ticks import run_tick
from encore_backend.bootstrap import Container, build
from encore_backend.clock import ManualClock, iso_z
from encore_backend.config import Settings
from encore_backend.domain.enums import RunTrigger
from encore_backend.scheduler.registry import REGISTRY
from encore_backend.storage.sql import models as m

JOB_IDS = [spec.id for spec in REGISTRY]


def count(ctx: Container, table: Any, *where: Any) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def invoke(ctx: Container, event: Any, **context: Any) -> dict[str, Any]:
    """One invocation; its answer must be JSON as Lambda returns it."""
    answer = run_tick(ctx, event, FakeLambdaContext(ctx.clock, **context))
    assert json.loads(json.dumps(answer)) == answer
    return answer


@pytest.mark.parametrize("job_id", JOB_IDS)
def test_every_job_runs_its_tick_and_records_it(
    ctx: Container, clock: ManualClock, job_id: str
) -> None:
    venue(ctx)
    feedback(ctx, comment="I got food poisoning after the fish", rating=1, scanned=False)
    at = iso_z(clock.now())
    answer = invoke(ctx, tick_event(job_id, at), request_id="req-1")

    assert answer["outcome"] == "ran"
    assert answer["status"] == "success", answer["error"]
    assert (answer["job_id"], answer["trigger"], answer["fire_time"]) == (job_id, "schedule", at)
    assert answer["owner"] == "encore-jobs:req-1"  # the function and its request id
    stored = ctx.job_runs.latest(job_id=job_id)
    assert stored is not None and stored["run_id"] == answer["run_id"]
    assert stored["tick_key"] == at and stored["status"] == "success"


def test_the_alert_tick_does_the_alert_work(ctx: Container, clock: ManualClock) -> None:
    venue(ctx)
    bad = feedback(ctx, comment="I got food poisoning after the fish", rating=1, scanned=False)
    answer = invoke(ctx, tick_event("alert_detector", iso_z(clock.now())))
    assert answer["items_processed"] == 1 and answer["details"]["alerts_created"] == 1
    assert count(ctx, m.alerts, m.alerts.c.feedback_id == bad) == 1


def test_the_same_tick_twice_runs_once(ctx: Container, clock: ManualClock) -> None:
    """A retried or duplicated invocation answers the first run's record and runs nothing."""
    venue(ctx)
    event = tick_event("stats_aggregator", "2026-03-10T11:58:30Z")
    first = invoke(ctx, event, request_id="first")
    clock.advance(seconds=20)
    again = invoke(ctx, event, request_id="retry")

    assert first["outcome"] == "ran" and again["outcome"] == "already_ran"
    assert again["run_id"] == first["run_id"] and again["owner"] == "encore-jobs:first"
    assert f"run {first['run_id']}" in again["message"] and "ran nothing" in again["message"]
    assert count(ctx, m.job_runs, m.job_runs.c.job_id == "stats_aggregator") == 1
    assert count(ctx, m.computed_stats) == 1  # one snapshot: the job itself ran once


def test_the_next_tick_runs_again(ctx: Container, clock: ManualClock) -> None:
    invoke(ctx, tick_event("stats_aggregator", "2026-03-10T11:55:00Z"))
    answer = invoke(ctx, tick_event("stats_aggregator", "2026-03-10T12:00:00Z"))
    assert answer["outcome"] == "ran"
    assert count(ctx, m.job_runs, m.job_runs.c.job_id == "stats_aggregator") == 2


def test_a_paced_job_stops_before_the_invocation_ends(ctx: Container, clock: ManualClock) -> None:
    """ai_generator with a backlog and 3 s left: each draft takes 1 s, so it stops after the
    drafts that fit (less the safety margin) and records its run before Lambda's end."""
    use_manual_sleep(ctx, clock)
    use_provider(ctx, SlowProvider(clock, seconds=1.0))
    venue(ctx)
    backlog = [feedback(ctx) for _ in range(6)]
    context = FakeLambdaContext(clock, remaining=timedelta(seconds=3))

    answer = run_tick(ctx, tick_event("ai_generator", iso_z(clock.now())), context)

    assert answer["status"] == "success" and answer["details"]["out_of_budget"] is True
    assert answer["items_processed"] == 2  # 2 s of drafts; 1 s kept back
    assert context.get_remaining_time_in_millis() == 1000  # finished with time to spare
    assert count(ctx, m.ai_responses) == 2

    later = iso_z(clock.advance(minutes=10))
    rest = invoke(ctx, tick_event("ai_generator", later))  # a full invocation's time
    assert rest["items_processed"] == len(backlog) - 2
    assert rest["details"]["out_of_budget"] is False


class SlowProvider(ScriptedProvider):
    """Drafts that take `seconds` each on the manual clock."""

    def __init__(self, clock: ManualClock, *, seconds: float) -> None:
        super().__init__(clock)
        self.seconds = seconds

    def draft(self, request: Any) -> Any:
        self.clock.advance(seconds=self.seconds)
        return super().draft(request)


BAD_EVENTS = [
    ("not a dict", "event", "JSON object"),
    (["stats_aggregator"], "event", "JSON object"),
    ({"scheduled_time": "2026-03-10T12:00:00Z"}, "job_id", "is required"),
    ({"job_id": "nope", "scheduled_time": "2026-03-10T12:00:00Z"}, "job_id", "unknown job id"),
    ({"job_id": 5, "scheduled_time": "2026-03-10T12:00:00Z"}, "job_id", "unknown job id"),
    ({"job_id": "stats_aggregator"}, "scheduled_time", "is required"),
    (
        {"job_id": "stats_aggregator", "scheduled_time": "<aws.scheduler.scheduled-time>"},
        "scheduled_time",
        "ISO-8601",
    ),
    ({"job_id": "stats_aggregator", "scheduled_time": "yesterday"}, "scheduled_time", "ISO-8601"),
    (
        {"job_id": "stats_aggregator", "scheduled_time": "2026-03-10T12:00:00"},
        "scheduled_time",
        "with its zone",
    ),
    ({"job_id": "stats_aggregator", "scheduled_time": 1773144000}, "scheduled_time", "ISO-8601"),
    (
        {"job_id": "stats_aggregator", "scheduled_time": "2026-03-10T13:00:00Z"},
        "scheduled_time",
        "in the future",
    ),
    (
        {"job_id": "stats_aggregator", "scheduled_time": "2026-03-10T12:00:00Z", "dry": True},
        "dry",
        "unexpected field",
    ),
]


@pytest.mark.parametrize(("event", "field", "says"), BAD_EVENTS)
def test_a_bad_event_is_refused_and_runs_nothing(
    ctx: Container, event: Any, field: str, says: str
) -> None:
    answer = invoke(ctx, event)
    assert answer["outcome"] == "rejected" and answer["field"] == field
    assert says in answer["error"]
    assert count(ctx, m.job_runs) == 0


def test_a_paused_job_runs_no_tick(ctx: Container, clock: ManualClock) -> None:
    ctx.job_controls.set_paused(job_id="stats_aggregator", paused=True, now=clock.now(), by="op")
    answer = invoke(ctx, tick_event("stats_aggregator", iso_z(clock.now())))
    assert answer["outcome"] == "paused" and "paused" in answer["message"]
    assert count(ctx, m.job_runs) == 0


def test_scheduler_disabled_runs_no_tick(ctx: Container, clock: ManualClock) -> None:
    ctx.settings = ctx.settings.model_copy(update={"scheduler_enabled": False})
    answer = invoke(ctx, tick_event("stats_aggregator", iso_z(clock.now())))
    assert answer["outcome"] == "disabled" and "SCHEDULER_ENABLED" in answer["message"]
    assert count(ctx, m.job_runs) == 0


def test_a_tick_later_than_its_catch_up_window_is_recorded_missed(
    ctx: Container, clock: ManualClock
) -> None:
    """A tick delivered late (EventBridge retrying for longer than the job's window) is not
    run: the next tick does the work. Its record says `missed`."""
    late = iso_z(clock.now() - timedelta(minutes=6))  # stats: a 5-minute window
    answer = invoke(ctx, tick_event("stats_aggregator", late))
    assert (answer["outcome"], answer["status"]) == ("missed", "missed")
    assert "catch-up window" in answer["error"]
    assert count(ctx, m.computed_stats) == 0


def test_a_tick_that_finds_its_job_running_is_skipped(ctx: Container, clock: ManualClock) -> None:
    """Overlap: the previous tick's run still holds the job (its lease is live)."""
    held = ctx.job_runs.claim(
        job_id="stats_aggregator",
        tick_key="2026-03-10T11:55:00Z",
        trigger=RunTrigger.SCHEDULE.value,
        fire_time=clock.now() - timedelta(minutes=5),
        owner="encore-jobs:earlier",
        clock=clock,
        lease=timedelta(minutes=2),
        exclusive=True,
    )
    assert held.run is not None
    answer = invoke(ctx, tick_event("stats_aggregator", iso_z(clock.now())))
    assert (answer["outcome"], answer["status"]) == ("skipped", "skipped")
    assert f"run {held.run['run_id']}" in answer["error"]


# --- the DynamoDB profile: the same handler, derived documents in DynamoDB (moto's server) ---


@pytest.mark.parametrize("job_id", JOB_IDS)
def test_every_job_runs_its_tick_in_the_dynamodb_profile(
    ctx: Container, dynamo_profile: Settings, job_id: str
) -> None:
    ctx = build(dynamo_profile, clock=ctx.clock, engine=ctx.engine)
    venue(ctx)
    bad = feedback(ctx, comment="I got food poisoning after the fish", rating=1, scanned=False)
    at = iso_z(ctx.clock.now())
    answer = invoke(ctx, tick_event(job_id, at), request_id="req-d")
    again = invoke(ctx, tick_event(job_id, at), request_id="req-d2")

    assert answer["outcome"] == "ran" and answer["status"] == "success", answer["error"]
    assert again["outcome"] == "already_ran" and again["run_id"] == answer["run_id"]
    if job_id == "alert_detector":
        alert = ctx.alerts.for_feedback(bad)
        assert alert is not None and alert["level"] == "critical"
        assert count(ctx, m.alerts) == 0  # the alert is in DynamoDB, not SQL
    if job_id == "stats_aggregator":
        assert ctx.stats.latest("v1") is not None
        assert count(ctx, m.computed_stats) == 0
