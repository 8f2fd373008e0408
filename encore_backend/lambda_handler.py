"""AWS Lambda entry points (SPEC §9).

`handler` runs the EventBridge Scheduler tick `{"job_id": …, "scheduled_time": …}` and answers
its run record; `http_handler` serves the HTTP API (API Gateway HTTP API or a function URL).
A warm environment builds its container once and reuses it for every invocation.
"""

from __future__ import annotations

from typing import Any

from encore_backend.aws import warm
from encore_backend.aws.invocation import LambdaContext
from encore_backend.aws.ticks import run_tick


def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """The job function: run one scheduled tick (see encore_backend.aws.ticks)."""
    return run_tick(warm.container(), event, context)


def http_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The HTTP function: one API request through the FastAPI app (imported on first use:
    the job function's cold start does not load it)."""
    from encore_backend.aws.http import warm_function

    return warm_function()(event, context)
