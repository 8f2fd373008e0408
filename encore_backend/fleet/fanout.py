"""The fleet's Fanout: per-item work becomes tasks on the work queues."""

from __future__ import annotations

from collections.abc import Sequence

from celery import Celery

from encore_backend.fleet.app import DRAFTS, SENDS

SEND_TASK, DRAFT_TASK = "encore.send_emails", "encore.draft_replies"


class CeleryFanout:
    """Enqueues batches; the batches claim their items when they run."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def send_emails(self, batches: int, *, items: int, seconds: float) -> int:
        for _ in range(batches):
            kwargs = {"items": items, "seconds": seconds}
            self.app.send_task(SEND_TASK, kwargs=kwargs, queue=SENDS)
        return batches

    def draft_replies(self, batches: Sequence[Sequence[int]], *, seconds: float) -> int:
        for ids in batches:
            kwargs = {"feedback_ids": list(ids), "seconds": seconds}
            self.app.send_task(DRAFT_TASK, kwargs=kwargs, queue=DRAFTS)
        return len(batches)
