"""Rate limits held in the database, with an injected clock: no 60-second window above the cap,
and with a backlog one run keeps working, paced, at the limit (SPEC §3)."""

from __future__ import annotations

import threading
from datetime import timedelta

from reply_support import (
    ScriptedProvider,
    all_rows,
    feedback,
    max_in_window,
    use_manual_sleep,
    use_provider,
    venue,
)

from encore_backend.bootstrap import Container, build
from encore_backend.clock import ManualClock, SystemClock
from encore_backend.scheduler.jobs import ai_generator, email_sender
from encore_backend.services.pacing import PermitStock, RunClock, stop_paced_runs
from encore_backend.storage.sql import models as m

WINDOW = timedelta(seconds=60)


def test_a_limit_grants_the_cap_then_says_how_long_to_wait(
    ctx: Container, clock: ManualClock
) -> None:
    limits, t0 = ctx.rate_limits, clock.now()

    granted = [limits.acquire("x", limit=3, now=t0 + timedelta(seconds=i)) for i in range(3)]
    refused = limits.acquire("x", limit=3, now=t0 + timedelta(seconds=10))

    assert all(a.permit is not None for a in granted)
    assert refused.permit is None and refused.wait_seconds == 50.0
    assert limits.acquire("x", limit=3, now=t0 + timedelta(seconds=59.9)).permit is None
    assert limits.acquire("x", limit=3, now=t0 + WINDOW).permit is not None
    assert limits.acquire("other", limit=3, now=t0).permit is not None  # limits are per name


def test_a_released_permit_is_given_back(ctx: Container, clock: ManualClock) -> None:
    limits, t0 = ctx.rate_limits, clock.now()
    permit = limits.acquire("x", limit=1, now=t0).permit
    assert permit is not None

    assert limits.release(permit)

    assert limits.acquire("x", limit=1, now=t0 + timedelta(seconds=1)).permit is not None
    assert limits.acquire("x", limit=1, now=t0 + timedelta(seconds=2)).permit is None


def test_concurrent_takers_in_separate_containers_never_exceed_the_cap(
    ctx: Container, clock: ManualClock
) -> None:
    """Four threads, each with its own container (engine pool), all asking at the same instant."""
    now, granted, lock = clock.now(), [], threading.Lock()
    containers = [build(ctx.settings, clock=clock, engine=ctx.engine) for _ in range(4)]

    def take(c: Container) -> None:
        for _ in range(15):
            if c.rate_limits.acquire("burst", limit=7, now=now).permit is not None:
                with lock:
                    granted.append(1)

    threads = [threading.Thread(target=take, args=(c,)) for c in containers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert len(granted) == 7


def test_batched_takers_in_separate_containers_never_exceed_the_cap(
    ctx: Container, clock: ManualClock
) -> None:
    """Four containers taking permits in batches of 1 to 5 at the same instant, then one
    window later: each window grants exactly the cap, whichever taker got them."""
    now, granted, lock = clock.now(), [], threading.Lock()
    containers = [build(ctx.settings, clock=clock, engine=ctx.engine) for _ in range(4)]

    def take(c: Container, at: object) -> None:
        for count in (1, 2, 3, 4, 5) * 3:
            got = c.rate_limits.acquire_many("batch", count=count, limit=13, now=at)  # type: ignore[arg-type]
            assert len(got.permits) <= count
            assert got.permits or got.wait_seconds > 0
            with lock:
                granted.extend(p.slot for p in got.permits)

    for at in (now, now + WINDOW):
        granted.clear()
        threads = [threading.Thread(target=take, args=(c, at)) for c in containers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(granted) == list(range(13))  # the cap, each slot once

    assert ctx.rate_limits.acquire("batch", limit=13, now=now + WINDOW).permit is None


def test_released_batch_permits_are_given_back(ctx: Container, clock: ManualClock) -> None:
    limits, t0 = ctx.rate_limits, clock.now()
    got = limits.acquire_many("x", count=3, limit=3, now=t0)
    assert len(got.permits) == 3
    assert limits.acquire_many("x", count=1, limit=3, now=t0).permits == []

    assert limits.release_many(got.permits[:2]) == 2

    again = limits.acquire_many("x", count=3, limit=3, now=t0 + timedelta(seconds=1))
    assert len(again.permits) == 2


def test_concurrent_senders_keep_the_cap_and_send_each_email_once(
    ctx: Container, clock: ManualClock
) -> None:
    """Four senders in one run sharing a cap of 20: every email once, 20 per minute."""
    ctx.settings = ctx.settings.model_copy(
        update={"max_emails_per_minute": 20, "email_send_concurrency": 4}
    )
    use_manual_sleep(ctx, clock)
    venue(ctx, auto_send_enabled=True, auto_send_delay_minutes=0)
    for _ in range(50):
        feedback(ctx)
    ctx.settings = ctx.settings.model_copy(update={"max_ai_generations_per_minute": 1000})
    ai_generator.run(ctx, clock.now())

    result = email_sender.run(ctx, clock.now())

    assert result.details["sent"] == 50
    history = [h for h in all_rows(ctx, m.email_history) if h["outcome"] == "sent"]
    assert sorted(h["queue_id"] for h in history) == sorted(
        q["queue_id"] for q in all_rows(ctx, m.email_queue)
    )
    assert max_in_window([h["attempted_at"] for h in history]) == 20


def test_an_email_backlog_of_100_with_a_cap_of_20_drains_in_five_minutes(
    ctx: Container, clock: ManualClock
) -> None:
    ctx.settings = ctx.settings.model_copy(update={"max_emails_per_minute": 20})
    sleeps = use_manual_sleep(ctx, clock)
    venue(ctx, auto_send_enabled=True, auto_send_delay_minutes=0)
    for _ in range(100):
        feedback(ctx)
    ctx.settings = ctx.settings.model_copy(update={"max_ai_generations_per_minute": 1000})
    ai_generator.run(ctx, clock.now())
    start = clock.now()

    result = email_sender.run(ctx, start)  # one run, default budget (5-minute interval)

    assert result.details["sent"] == 100
    history = [h for h in all_rows(ctx, m.email_history) if h["outcome"] == "sent"]
    times = [h["attempted_at"] for h in history]
    assert len(times) == 100
    assert max_in_window(times) == 20
    assert max(times) - start <= timedelta(minutes=4, seconds=1)  # 5 batches: 0, 1, 2, 3, 4 min
    assert clock.now() - start < timedelta(minutes=5)
    assert sleeps and all(s <= 60 for s in sleeps)


def test_generation_is_paced_across_a_long_run(ctx: Container, clock: ManualClock) -> None:
    ctx.settings = ctx.settings.model_copy(update={"max_ai_generations_per_minute": 10})
    use_manual_sleep(ctx, clock)
    provider = ScriptedProvider(clock)
    use_provider(ctx, provider)
    venue(ctx)
    for _ in range(35):
        feedback(ctx)
    start = clock.now()

    result = ai_generator.run(ctx, start)  # default budget: 9 of the 10-minute interval

    assert result.items_processed == 35
    times = [at for at, _ in provider.calls]
    assert max_in_window(times) == 10
    assert max(times) - start == timedelta(minutes=3)  # batches at 0, 1, 2 and 3 min


def test_the_limit_holds_across_runs_and_containers(ctx: Container, clock: ManualClock) -> None:
    """Two containers (as two processes would) share one budget: the second run waits."""
    ctx.settings = ctx.settings.model_copy(update={"max_ai_generations_per_minute": 5})
    other = build(ctx.settings, clock=clock, engine=ctx.engine)
    for c in (ctx, other):
        use_manual_sleep(c, clock)
    provider = ScriptedProvider(clock)
    use_provider(ctx, provider)
    use_provider(other, provider)
    venue(ctx)
    for _ in range(8):
        feedback(ctx)

    ai_generator.run(ctx, clock.now(), max_seconds=1)  # 5 drafts, then out of budget
    ai_generator.run(other, clock.now(), max_seconds=120)

    times = [at for at, _ in provider.calls]
    assert len(times) == 8 and max_in_window(times) == 5


def test_shutdown_ends_a_run_waiting_for_a_permit(ctx: Container) -> None:
    """A paced run sleeps (really: no injected sleep here) until a slot frees, up to its
    budget; a shutdown must end that wait at once, not hold `encore serve` for the budget."""
    ctx.clock = SystemClock()
    assert ctx.rate_limits.acquire("emails", limit=1, now=ctx.clock.now()).permit is not None
    run = RunClock(ctx, ctx.clock.now(), budget=timedelta(minutes=5))
    result: list[object] = []
    waiter = threading.Thread(
        target=lambda: result.append(PermitStock(run, name="emails", limit=1).take())
    )
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive()  # waiting for the slot, ~60 s away

    stop_paced_runs(ctx)

    waiter.join(10)
    assert not waiter.is_alive() and result == [None]  # gave up: nothing claimed, nothing lost
