"""The in-process alert detector fed by ingestion: one run of `alert_detector` per batch.

Running the whole job (a run record, a claim, a heartbeat thread) for every single feedback
cost more than storing it and serialised the writers on SQLite. Instead ingestion signals the
new ids; one thread drains what arrived while the previous batch ran and scans it with a single
event run (params feedback_ids=[...]). No waiting window: an idle process scans at once, a busy
one in batches as large as its backlog. Nothing is lost if the process dies with ids queued:
their rows keep alert_scanned_at NULL and the scheduled alert_detector scan picks them up.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from encore_backend.domain.enums import RunStatus, RunTrigger

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

log = logging.getLogger("encore.alerts.signal")

SIGNAL_KEY = "alert_signal"  # ctx.extras key: the running DetectorSignal of this process
MAX_BATCH = 500  # the detector's own batch size: one load and one write transaction
STOP_SECONDS = 10.0
Done = Callable[[], None]


@dataclass
class Signal:
    feedback_ids: list[int]
    done: Done | None = None


@dataclass
class BatchCounts:
    """What the thread did, for logs and tests: batches run, ids scanned, batches failed."""

    batches: int = 0
    ids: int = 0
    failed: int = 0
    sizes: list[int] = field(default_factory=list)


class DetectorSignal:
    """A queue of new feedback ids and the thread that runs the detector on them."""

    def __init__(self, ctx: Container, *, max_batch: int = MAX_BATCH) -> None:
        self.ctx, self.max_batch = ctx, max_batch
        self.counts = BatchCounts()
        self._queue: queue.SimpleQueue[Signal | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="alert-signal", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Scan what is queued, then end the thread."""
        self._queue.put(None)
        self._thread.join(STOP_SECONDS)

    def signal(self, feedback_ids: Sequence[int], done: Done | None = None) -> None:
        """Queue ids for the next batch; `done` is called once their batch has run."""
        self._queue.put(Signal([int(i) for i in feedback_ids], done))

    async def detect(self, feedback_ids: Sequence[int]) -> None:
        """Queue ids and wait (without a thread) until their batch has run."""
        loop = asyncio.get_running_loop()
        finished = loop.create_future()

        def done() -> None:
            loop.call_soon_threadsafe(_resolve, finished)

        self.signal(feedback_ids, done)
        await finished

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            batch, stopping = self._take([first] if first else [], stopping=first is None)
            if batch:
                self._run(batch)

    def _take(self, batch: list[Signal], *, stopping: bool) -> tuple[list[Signal], bool]:
        """What arrived meanwhile, up to max_batch ids (at stop: everything queued)."""
        size = sum(len(s.feedback_ids) for s in batch)
        while stopping or size < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                stopping = True
                continue
            batch.append(item)
            size += len(item.feedback_ids)
        return batch, stopping

    def _run(self, batch: list[Signal]) -> None:
        ids = sorted({i for s in batch for i in s.feedback_ids})
        ok = run_detector(self.ctx, ids)  # logs its failures, never raises
        self.counts.batches += 1
        self.counts.ids += len(ids)
        self.counts.sizes.append(len(ids))
        self.counts.failed += not ok
        for item in batch:
            if item.done is not None:
                item.done()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def run_detector(ctx: Container, feedback_ids: list[int]) -> bool:
    """One event run of alert_detector over `feedback_ids`; False (logged) when it failed,
    which the scheduled scan makes good."""
    from encore_backend.scheduler.runner import run_job

    try:
        record = run_job(
            ctx, "alert_detector", trigger=RunTrigger.EVENT, params={"feedback_ids": feedback_ids}
        )
    except Exception:
        log.exception("alert detection of %d new feedback failed", len(feedback_ids))
        return False
    if record is not None and record["status"] != RunStatus.SUCCESS:
        log.error("alert detection of %d new feedback: run %s", len(feedback_ids), record["status"])
        return False
    return True


def running_signal(ctx: Container) -> DetectorSignal | None:
    """This process's detector thread, if the app's lifespan started one."""
    found = ctx.extras.get(SIGNAL_KEY)
    return found if isinstance(found, DetectorSignal) else None
