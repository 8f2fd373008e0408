"""One Lambda invocation's bounds: its owner name and the time by which its work must stop."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Protocol

from encore_backend.clock import Clock
from encore_backend.scheduler.runner import invocation_owner
from encore_backend.services.pacing import invocation_deadline

# Kept back from the remaining time to record the run's outcome and return; the budget check
# is made between items, so this also absorbs an item that was already under way.
SAFETY_MARGIN = timedelta(seconds=5)


class LambdaContext(Protocol):
    """The part of Lambda's context object we read."""

    function_name: str
    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int: ...


def owner_of(context: LambdaContext) -> str:
    """`function:request id`: a Lambda run's owner in the run record (SPEC §3)."""
    return f"{context.function_name}:{context.aws_request_id}"


def deadline(clock: Clock, context: LambdaContext) -> datetime:
    """When this invocation's work must stop: the remaining time less a margin (a third of it
    for an invocation with under 15 s left, so a short one still gets most of its time)."""
    remaining = timedelta(milliseconds=max(context.get_remaining_time_in_millis(), 0))
    return clock.now() + remaining - min(SAFETY_MARGIN, remaining / 3)


@contextmanager
def invocation(clock: Clock, context: LambdaContext) -> Iterator[datetime]:
    """Within: runs are owned by this invocation and their budgets end by its deadline."""
    ends = deadline(clock, context)
    owner, limit = invocation_owner.set(owner_of(context)), invocation_deadline.set(ends)
    try:
        yield ends
    finally:
        invocation_deadline.reset(limit)
        invocation_owner.reset(owner)
