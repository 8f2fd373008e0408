"""Fan-out: how a job with per-item work hands it to other workers (the Celery fleet), or does
it itself when nobody is there to take it (the embedded and serverless profiles).

The job still claims nothing ahead: each batch claims its items in the database when it runs,
so a batch delivered twice, or one more batch than needed, sends nothing twice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

FANOUT_KEY = "fanout"  # ctx.extras key: the Fanout of a fleet worker's container
MAX_BATCHES = 32  # batches one tick enqueues at most
MIN_ITEM_SECONDS = 0.01


class Fanout(Protocol):
    def send_emails(self, batches: int, *, items: int, seconds: float) -> int:
        """Enqueue `batches` send batches of up to `items` each, `seconds` of work at most;
        returns how many were enqueued."""
        ...

    def draft_replies(self, batches: Sequence[Sequence[int]], *, seconds: float) -> int:
        """Enqueue one draft batch per list of feedback ids; returns how many."""
        ...


def fanout_of(ctx: Container) -> Fanout | None:
    """The container's fan-out, or None: do the work in this run."""
    fanout: Fanout | None = ctx.extras.get(FANOUT_KEY)
    return fanout


@dataclass(frozen=True)
class Split:
    batches: int
    per_batch: int


def split(items: int, *, limit_per_minute: int, item_seconds: float) -> Split:
    """As many batches as the rate limit can keep busy, given one item takes `item_seconds`:
    at 20 a minute one worker is enough; with the limit lifted every worker slot works."""
    if items <= 0:
        return Split(0, 0)
    busy = math.ceil(limit_per_minute / 60 * max(item_seconds, MIN_ITEM_SECONDS))
    batches = max(1, min(MAX_BATCHES, items, busy))
    return Split(batches, math.ceil(items / batches))


def batch_budget(interval_minutes: float) -> float:
    """A batch's seconds of work: 90 % of its job's interval (at most 15 min), so the batches
    of one tick are done when the next tick splits what is left."""
    return min(interval_minutes * 60 * 0.9, 900.0)
