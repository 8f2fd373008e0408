"""One scheduler leader on a database lease; pause from any process; atomic exclusive claims.

In-process schedulers on every database (real APScheduler threads, short real-time waits); the
real-process kill -9 failover is in tests/reliability/test_leader_failover.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sched_jobs import LONG_LEASE, Recorder, spec, use_jobs, wait_for
from sqlalchemy import Engine

from encore_backend.bootstrap import Container, build
from encore_backend.clock import ManualClock
from encore_backend.config import Settings
from encore_backend.domain.enums import RunTrigger
from encore_backend.providers.errors import ProviderConfigError
from encore_backend.scheduler.leader import LEASE_TTL, RENEW_EVERY
from encore_backend.scheduler.provider_status import provider_errors
from encore_backend.scheduler.registry import DEFAULT_LEASE
from encore_backend.scheduler.runner import JobBusy, run_job
from encore_backend.scheduler.scheduler import EngineScheduler
from encore_backend.storage.sql.engine import SQLITE_BUSY_TIMEOUT_SECONDS

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_a_lease_has_one_holder_until_it_expires_or_is_released(ctx: Container) -> None:
    leases, ttl = ctx.leases, timedelta(seconds=10)
    assert leases.acquire(name="s", holder="a", now=T0, expires_at=T0 + ttl)
    assert not leases.acquire(name="s", holder="b", now=T0 + ttl / 2, expires_at=T0 + ttl * 2)
    assert leases.acquire(name="s", holder="a", now=T0 + ttl / 2, expires_at=T0 + ttl * 1.5)
    later = T0 + ttl * 2  # a's renewals stopped: its lease ran out
    assert leases.acquire(name="s", holder="b", now=later, expires_at=later + ttl)
    assert not leases.acquire(name="s", holder="a", now=later, expires_at=later + ttl)
    current = leases.current(name="s")
    assert current is not None and current["holder"] == "b" and current["acquired_at"] == later
    assert leases.release(name="s", holder="b", now=later)
    assert leases.acquire(name="s", holder="a", now=later, expires_at=later + ttl)


def test_racing_candidates_elect_exactly_one(ctx: Container) -> None:
    barrier = threading.Barrier(6)
    wins: list[str] = []

    def candidate(name: str) -> None:
        barrier.wait()
        if ctx.leases.acquire(name="s", holder=name, now=T0, expires_at=T0 + LEASE_TTL):
            wins.append(name)

    threads = [threading.Thread(target=candidate, args=(f"p{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(wins) == 1


def test_a_run_lease_outlasts_the_sqlite_busy_timeout() -> None:
    # A heartbeat (every third of the lease) that waits out a busy database keeps the lease.
    assert timedelta(seconds=SQLITE_BUSY_TIMEOUT_SECONDS) <= DEFAULT_LEASE / 3


@pytest.fixture
def schedulers(settings: Settings, engine: Engine) -> Iterator[Callable[..., EngineScheduler]]:
    """Started schedulers on one database, each with its own container; stopped afterwards."""
    started: list[EngineScheduler] = []

    def make(*specs: Any) -> EngineScheduler:
        ctx = build(settings, engine=engine)
        use_jobs(ctx, *specs)
        scheduler = EngineScheduler(ctx)
        scheduler.start()
        started.append(scheduler)
        return scheduler

    yield make
    for scheduler in started:
        scheduler.shutdown(wait=False)


def test_one_process_leads_and_a_standby_takes_over_when_it_stops(
    schedulers: Callable[..., EngineScheduler],
) -> None:
    jobs = Recorder()
    fast = spec("fast", jobs.ok, minutes=0.01)
    first, second = schedulers(fast), schedulers(fast)
    assert first.leading and not second.leading and second.running
    assert second.leader() == first.leader()
    healthy, body = second.health()
    assert healthy and body["role"] == "standby"
    assert body["leader"]["holder"] == first.leader()["holder"]  # type: ignore[index]
    wait_for(lambda: len(jobs.calls) >= 2, 10)
    first.shutdown()  # hands the lease back: the standby leads at its next round
    taken_at = time.monotonic()
    wait_for(lambda: second.leading, RENEW_EVERY.total_seconds() + 3)
    calls = len(jobs.calls)
    wait_for(lambda: len(jobs.calls) > calls, 5)
    assert time.monotonic() - taken_at < LEASE_TTL.total_seconds()
    owners = {run["owner"] for run in second.ctx.job_runs.list_runs(job_id="fast", limit=500)}
    assert len(owners) == 1  # both are this test process; the lease told them apart


def test_pause_pressed_on_a_standby_holds_on_the_leader(
    schedulers: Callable[..., EngineScheduler],
) -> None:
    jobs = Recorder()
    fast = spec("fast", jobs.ok, minutes=0.01)
    leader, standby = schedulers(fast), schedulers(fast)
    wait_for(lambda: jobs.calls, 10)
    for press in range(21):  # pause, resume, …, pause: while ticks fire, on both processes
        node = (standby, leader)[press % 2]
        node.resume("fast") if press % 2 else node.pause("fast")
    paused_at = datetime.now(UTC)
    assert standby.job("fast")["paused"] and leader.job("fast")["paused"]
    time.sleep(RENEW_EVERY.total_seconds() + 1.5)  # several ticks' worth
    runs = leader.ctx.job_runs.list_runs(job_id="fast", limit=500)
    late = [r for r in runs if r["started_at"] > paused_at + timedelta(milliseconds=300)]
    assert late == []
    assert leader.job("fast")["next_run_time"] is None
    standby.resume("fast")
    wait_for(lambda: leader.job("fast")["next_run_time"] is not None, 5)
    resumed = leader.ctx.job_runs.list_runs
    wait_for(lambda: any(r["started_at"] > paused_at for r in resumed(job_id="fast")), 5)


@pytest.mark.parametrize("attempts", [8])
def test_exclusive_claims_of_one_job_never_overlap(ctx: Container, attempts: int) -> None:
    """Manual runs and a scheduled tick started at the same instant: one runs, the rest yield."""
    jobs = Recorder()
    use_jobs(ctx, spec("hold", jobs.hold, lease=LONG_LEASE))
    barrier = threading.Barrier(attempts)
    outcomes: list[str] = []

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            if i == 0:
                record = run_job(ctx, "hold", trigger=RunTrigger.SCHEDULE)
                outcomes.append("ran" if record and record["status"] == "success" else "yielded")
            else:
                run_job(ctx, "hold", trigger=RunTrigger.MANUAL)
                outcomes.append("ran")
        except JobBusy:
            outcomes.append("yielded")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(attempts)]
    for thread in threads:
        thread.start()
    assert jobs.entered.wait(20)
    time.sleep(0.5)  # let every loser reach its verdict while the winner holds the job
    jobs.release.set()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["ran"] + ["yielded"] * (attempts - 1)
    runs = ctx.job_runs.list_runs(job_id="hold", limit=50)
    assert [r["status"] for r in runs].count("success") == 1


def test_provider_errors_show_since_the_first_refused_run(
    ctx: Container, clock: ManualClock
) -> None:
    def refused(ctx: Container, now: datetime, **params: Any) -> Any:
        raise ProviderConfigError("401 Incorrect API key provided", provider="AI provider")

    use_jobs(ctx, spec("drafts", refused))
    first = run_job(ctx, "drafts", trigger=RunTrigger.MANUAL)
    assert first is not None and first["status"] == "failed"
    assert first["error"] == "AI provider: 401 Incorrect API key provided"
    clock.advance(minutes=10)
    run_job(ctx, "drafts", trigger=RunTrigger.MANUAL)
    scheduler = EngineScheduler(ctx)
    [problem] = provider_errors(ctx, scheduler.jobs())
    assert problem["job_id"] == "drafts" and problem["provider"] == "AI provider"
    assert problem["since"] == "2026-03-10T12:00:00Z"


def test_health_is_unavailable_while_a_provider_refuses_the_configuration(
    schedulers: Callable[..., EngineScheduler],
) -> None:
    def refused(ctx: Container, now: datetime, **params: Any) -> Any:
        raise ProviderConfigError("401 Incorrect API key provided", provider="AI provider")

    scheduler = schedulers(spec("drafts", refused, minutes=60))  # its current tick runs at once
    latest = scheduler.ctx.job_runs.latest
    wait_for(lambda: (latest(job_id="drafts") or {}).get("status") == "failed", 10)
    healthy, body = scheduler.health()
    assert not healthy and body["status"] == "unavailable"
    assert body["reason"].startswith("drafts is stopped since ")
    assert body["reason"].endswith("UTC: AI provider: 401 Incorrect API key provided")
