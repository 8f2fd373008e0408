"""JSON log lines: one object per line (ts, level, logger, msg), with the run ids inside a run."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from encore_backend.observability.logging import JsonFormatter, use_json_logs
from encore_backend.scheduler.runner import current_run


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing through JsonFormatter into a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("encore.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, buffer
    logger.removeHandler(handler)


def read(buffer: io.StringIO) -> list[dict[str, Any]]:
    text = buffer.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_a_line_outside_a_run(lines: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = lines
    logger.warning("queue depth %s", 7)
    (doc,) = read(buffer)
    assert doc["level"] == "WARNING"
    assert doc["logger"] == "encore.test.json"
    assert doc["msg"] == "queue depth 7"
    assert doc["ts"].endswith("Z")
    assert "job_id" not in doc and "run_id" not in doc


def test_lines_inside_a_run_carry_its_ids(lines: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = lines
    token = current_run.set({"job_id": "email_sender", "run_id": 42, "trigger": "schedule"})
    try:
        logger.info("sent one")
    finally:
        current_run.reset(token)
    logger.info("after the run")
    inside, after = read(buffer)
    assert (inside["job_id"], inside["run_id"]) == ("email_sender", 42)
    assert "job_id" not in after


def test_extras_and_exceptions_stay_on_one_line(lines: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = lines
    try:
        raise RuntimeError("smtp down\nsecond line")
    except RuntimeError:
        logger.exception("send failed", extra={"job_id": "email_sender", "attempts": 3})
    (doc,) = read(buffer)
    assert doc["job_id"] == "email_sender"
    assert doc["attempts"] == 3
    assert "RuntimeError: smtp down" in doc["exc"]


def test_use_json_logs_formats_the_root_handlers() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], [h.formatter for h in root.handlers], root.level)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root.addHandler(handler)
    try:
        use_json_logs(logging.INFO)
        logging.getLogger("uvicorn.error").info("Started server process")
    finally:
        root.removeHandler(handler)
        for h, formatter in zip(saved[0], saved[1], strict=True):
            h.setFormatter(formatter)
        root.setLevel(saved[2])
    doc = json.loads(buffer.getvalue().splitlines()[-1])
    assert doc == {**doc, "logger": "uvicorn.error", "msg": "Started server process"}
