"""Fan-out: how a job with per-item work hands it to other workers (the Celery fleet), or does
it itself when nobody is there to take it (the embedded and serverless profiles).

The job still claims nothing ahead: each batch claims its items in the database when it runs,
so a batch delivered twice, or one more batch than needed, sends nothing twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

FANOUT_KEY = "fanout"  # ctx.extras key: the Fanout of a fleet worker's container


class Fanout(Protocol):
    def send_emails(self, batches: int, *, items: int, seconds: float) -> int:
        """Enqueue `batches` send batches of up to `items` each, `seconds` of work at most;
        returns how many were enqueued."""
        ...


def fanout_of(ctx: Container) -> Fanout | None:
    """The container's fan-out, or None: do the work in this run."""
    fanout: Fanout | None = ctx.extras.get(FANOUT_KEY)
    return fanout
