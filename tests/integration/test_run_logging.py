"""Lines logged by a job's own code (here a reply provider) carry that run's job_id and run_id."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

from factories import make_feedback, make_venue

from encore_backend.bootstrap import Container
from encore_backend.clock import ManualClock
from encore_backend.domain.enums import RunTrigger
from encore_backend.observability.logging import JsonFormatter
from encore_backend.providers.ai.base import Draft, ReplyRequest
from encore_backend.providers.ai.template import TemplateReplyProvider
from encore_backend.scheduler.runner import run_job
from encore_backend.services.reply_service import PROVIDER_KEY

log = logging.getLogger("encore.test.provider")


class LoggingProvider(TemplateReplyProvider):
    """The template provider, saying what it drafts (as a real adapter logs its calls)."""

    def draft(self, request: ReplyRequest) -> Draft:
        log.info("drafting for %s", request.venue_name)
        return super().draft(request)


def test_job_log_lines_carry_the_run_ids(ctx: Container, clock: ManualClock) -> None:
    make_venue(ctx.engine, "v1", now=clock.now())
    make_feedback(ctx.engine, "v1", created_at=clock.now() - timedelta(minutes=5))
    run_job(ctx, "alert_detector", trigger=RunTrigger.MANUAL)
    ctx.extras[PROVIDER_KEY] = LoggingProvider()
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        record = run_job(ctx, "ai_generator", trigger=RunTrigger.MANUAL)
    finally:
        log.removeHandler(handler)
    (doc,) = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert doc["msg"] == "drafting for Venue v1"
    assert (doc["job_id"], doc["run_id"]) == ("ai_generator", record["run_id"])
