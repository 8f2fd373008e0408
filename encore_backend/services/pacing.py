"""Pacing for long job runs: the run's own time, an injectable sleep, rate-limit permits, backoff.

A job is handed `now` once; a run that keeps working for minutes (paced by a rate limit) reads
`ctx.clock` again through RunClock, so a ManualClock advanced by the injected sleep drives it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from encore_backend.storage.ports import Permit

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

SLEEP_KEY = "sleep"  # ctx.extras key: a `sleep(seconds)` (tests advance a ManualClock with it)
STOPPING_KEY = "stopping"  # ctx.extras key: a threading.Event set when the process shuts down
Sleep = Callable[[float], object]
# The container-clock time by which this invocation must have stopped working (a Lambda
# invocation's end, less a margin); every run budget in it ends there at the latest.
invocation_deadline: ContextVar[datetime | None] = ContextVar("encore_deadline", default=None)


def stopping_event(ctx: Container) -> threading.Event:
    """The container's shutdown flag: set it and every paced run stops waiting at once."""
    event: threading.Event = ctx.extras.setdefault(STOPPING_KEY, threading.Event())
    return event


def stop_paced_runs(ctx: Container) -> None:
    """Called on shutdown: runs sleeping for a rate-limit permit or a backoff end now, leaving
    their unclaimed work for the next run (a paced run may otherwise sleep for minutes and hold
    a graceful shutdown that long)."""
    stopping_event(ctx).set()


class RunClock:
    """`now` given to the run, plus the time elapsed on the container's clock since."""

    def __init__(self, ctx: Container, now: datetime, *, budget: timedelta) -> None:
        self.ctx, self.start, self._clock_start = ctx, now, ctx.clock.now()
        self.deadline = now + budget
        hard = invocation_deadline.get()
        if hard is not None:  # on the run's time line, as now() counts it
            self.deadline = min(self.deadline, now + (hard - self._clock_start))
        self.stopping = stopping_event(ctx)
        self.sleep: Sleep = ctx.extras.get(SLEEP_KEY) or self.stopping.wait

    def now(self) -> datetime:
        return self.start + (self.ctx.clock.now() - self._clock_start)

    def left(self) -> float:
        """Seconds of the run's budget left."""
        return (self.deadline - self.now()).total_seconds()

    def pause(self, seconds: float) -> bool:
        """Sleep `seconds` if the budget allows; False (without sleeping) when it does not, or
        when the process is shutting down (also if that happens during the sleep)."""
        if seconds > self.left() or self.stopping.is_set():
            return False
        self.sleep(seconds)
        return not self.stopping.is_set()


def backoff_seconds(
    attempts: int, *, base: float, cap: float, jitter: float, retry_after: float | None = None
) -> float:
    """base · 2^(attempts-1) capped, minus up to 20 % (`jitter` in [0, 1)) so retries spread;
    never sooner than a provider's retry_after."""
    delay = min(base * 2 ** max(attempts - 1, 0), cap) * (1 - 0.2 * jitter)
    return max(delay, min(retry_after or 0.0, cap))


def run_budget(interval_minutes: float, max_seconds: float | None = None) -> timedelta:
    """How long one paced run may keep working: most of its interval (at least 30 s, at most
    15 min) so the next tick usually finds it done; `max_seconds` overrides."""
    if max_seconds is not None:
        return timedelta(seconds=float(max_seconds))
    return timedelta(seconds=min(max(interval_minutes * 60 * 0.9, 30.0), 900.0))


PERMIT_BATCH = 16  # most permits one take asks for
PERMIT_HOLD_SECONDS = 1.0  # a permit is used within this long of its take, or given back


class PermitStock:
    """Rate-limit permits for a run's senders, taken a few at a time (one transaction) and
    handed out one by one. The batch starts at one and doubles while the run keeps using them,
    so a run with one item takes one permit; permits unused PERMIT_HOLD_SECONDS after their take
    go back to the limiter. Thread-safe: when the limiter says wait, the permits handed out are
    used first (`finish`), then one sender sleeps on the run's clock while the others wait for
    it, so no use trails its take across a wait."""

    def __init__(
        self, run: RunClock, *, name: str, limit: int, patience: float | None = None
    ) -> None:
        self.run, self.name, self.limit, self.patience = run, name, limit, patience
        self.stock: list[Permit] = []
        self.taken_at = run.now()
        self.batch = 1
        self.out = 0  # permits handed out and not finished
        self.cond = threading.Condition()

    def take(self) -> Permit | None:
        """A permit, sleeping as the limiter says; None when the budget runs out first (or is
        spent already: a budget bounds the work started, not only the waits), or when the
        limiter asks for a wait longer than `patience` seconds. Call `finish` once it is used
        or not."""
        with self.cond:
            if self.run.left() <= 0:
                return None
            age = (self.run.now() - self.taken_at).total_seconds()
            if self.stock and age > PERMIT_HOLD_SECONDS:  # slow items: take fewer ahead
                self._release()
                self.batch = 1
            if not self.stock and not self._refill():
                return None
            self.out += 1
            return self.stock.pop()

    def finish(self, permit: Permit, *, used: bool) -> None:
        """A permit handed out is done with; an unused one serves the next item."""
        with self.cond:
            self.out -= 1
            if not used:
                self.stock.append(permit)
            self.cond.notify_all()

    def release_all(self) -> None:
        with self.cond:
            self._release()

    def _release(self) -> None:
        if self.stock:
            self.run.ctx.rate_limits.release_many(self.stock)
            self.stock = []

    def _refill(self) -> bool:
        while True:
            now = self.run.now()
            got = self.run.ctx.rate_limits.acquire_many(
                self.name, count=self.batch, limit=self.limit, now=now
            )
            if got.permits:
                self.stock, self.taken_at = list(got.permits), now
                self.batch = min(self.batch * 2, PERMIT_BATCH)
                return True
            if self.patience is not None and got.wait_seconds > self.patience:
                return False
            if self.out:  # permits in use: let them finish (one may come back), then look again
                self.cond.wait()
                if self.stock:
                    return True
                continue
            if not self.run.pause(got.wait_seconds):
                return False
