"""The detector fed by ingestion (services/alert_signal.py) on every database: batches of what
arrived, each alert raised once, a failed batch logged and made good by the scheduled scan."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import Counter
from typing import Any

import anyio
import pytest
from api_support import ADMIN
from factories import make_feedback, make_venue
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from encore_backend.api.app import create_app
from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.domain.enums import RunTrigger
from encore_backend.scheduler.runner import run_job
from encore_backend.services import feedback_service
from encore_backend.services.alert_signal import DetectorSignal, running_signal
from encore_backend.storage.sql import models as m

SICK = "I got food poisoning after the oysters"


def alert_counts(engine: Engine) -> Counter[int]:
    with engine.connect() as conn:
        return Counter(conn.execute(select(m.alerts.c.feedback_id)).scalars())


def event_runs(engine: Engine) -> list[dict[str, Any]]:
    query = select(m.job_runs).where(
        m.job_runs.c.job_id == "alert_detector", m.job_runs.c.trigger == "event"
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def sick_feedback(engine: Engine, clock: ManualClock, count: int) -> list[int]:
    make_venue(engine, "v1", now=clock.now())
    return [
        make_feedback(engine, "v1", created_at=clock.now(), rating=3, comment=SICK)
        for _ in range(count)
    ]


def test_what_arrives_together_is_scanned_in_one_run_and_alerted_once(
    ctx: Container, engine: Engine, clock: ManualClock
) -> None:
    ids = sick_feedback(engine, clock, 6)
    detector = DetectorSignal(ctx)
    for chunk in (ids[:2], ids[2:5], ids[5:]):  # queued before the thread starts: one batch
        detector.signal(chunk)
    detector.signal(ids[:3])  # signalled twice: still one alert each
    detector.start()
    detector.stop()

    assert detector.counts.batches == 1
    assert detector.counts.sizes == [6]
    assert detector.counts.failed == 0
    assert alert_counts(engine) == dict.fromkeys(ids, 1)
    [run] = event_runs(engine)
    assert run["status"] == "success" and run["items_processed"] == 6


def test_batches_are_capped_and_later_signals_get_their_own_run(
    ctx: Container, engine: Engine, clock: ManualClock
) -> None:
    ids = sick_feedback(engine, clock, 5)
    detector = DetectorSignal(ctx, max_batch=2)
    for feedback_id in ids[:4]:
        detector.signal([feedback_id])
    detector.start()
    detector.stop()
    assert detector.counts.sizes == [2, 4 - 2]

    late = DetectorSignal(ctx)
    late.start()
    late.signal(ids[4:])
    late.stop()  # what is queued at shutdown is still scanned
    assert late.counts.batches == 1
    assert alert_counts(engine) == dict.fromkeys(ids, 1)


class FailingScans:
    """The alert store, except that saving a scan fails (a database error mid-batch)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def save_scan(self, **_kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_a_failed_batch_is_logged_and_the_scheduled_scan_catches_up(
    ctx: Container, engine: Engine, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    ids = sick_feedback(engine, clock, 3)
    broken = dataclasses.replace(ctx, alerts=FailingScans(ctx.alerts))
    detector = DetectorSignal(broken)
    detector.signal(ids)
    with caplog.at_level(logging.ERROR):
        detector.start()
        detector.stop()

    assert detector.counts.failed == 1
    assert "alert detection of 3 new feedback" in caplog.text
    assert alert_counts(engine) == {}  # nothing half written: the rows are still unscanned

    record = run_job(ctx, "alert_detector", trigger=RunTrigger.SCHEDULE)
    assert record is not None and record["status"] == "success"
    assert alert_counts(engine) == dict.fromkeys(ids, 1)


def test_without_a_running_detector_ingestion_scans_inline(
    ctx: Container, engine: Engine, clock: ManualClock
) -> None:
    ids = sick_feedback(engine, clock, 2)
    assert running_signal(ctx) is None
    # A thread of its own: a browser test earlier in this worker may have left Playwright's
    # event loop marked running in the main thread.
    worker = threading.Thread(
        target=anyio.run, args=(feedback_service.detect_alerts_after_ingest, ctx, ids)
    )
    worker.start()
    worker.join(timeout=30)
    assert alert_counts(engine) == dict.fromkeys(ids, 1)


def test_an_alarming_post_is_readable_soon_after_its_201(ctx: Container, engine: Engine) -> None:
    make_venue(engine, "v1", now=ctx.clock.now())
    with TestClient(create_app(ctx, start_scheduler=False)) as client:
        detector = running_signal(ctx)
        assert detector is not None  # the lifespan runs one
        posted = [
            client.post(
                "/api/feedback",
                json={"venue_id": "v1", "rating": 3, "comment": SICK},
                headers=ADMIN,
            )
            for _ in range(4)
        ]
        assert [p.status_code for p in posted] == [201] * 4
        wanted = {p.json()["feedback_id"] for p in posted}
        found = wait_for_alerts(client, wanted)
    assert found == wanted
    assert running_signal(ctx) is None  # stopped with the app
    assert 1 <= detector.counts.batches <= 4 and detector.counts.ids == 4


def wait_for_alerts(client: TestClient, wanted: set[int], timeout: float = 20) -> set[int]:
    """The feedback ids with an alert listed by the API, once all are there or at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        listed = client.get("/api/venues/v1/alerts", headers=ADMIN).json()["alerts"]
        found = {a["feedback_id"] for a in listed} & wanted
        if found == wanted or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
