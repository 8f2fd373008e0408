"""Lambda's context object, as the runtime hands it to a handler, on the test's clock."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from encore_backend.clock import Clock

FIFTEEN_MINUTES = timedelta(minutes=15)  # the longest a Lambda function may run


class FakeLambdaContext:
    """Names the function and request; the remaining time counts down on `clock`."""

    def __init__(
        self,
        clock: Clock,
        *,
        remaining: timedelta = FIFTEEN_MINUTES,
        function_name: str = "encore-jobs",
        request_id: str | None = None,
    ) -> None:
        self.clock = clock
        self.deadline = clock.now() + remaining
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        )
        self.memory_limit_in_mb = "512"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/03/10/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        left = self.deadline - self.clock.now()
        return max(int(left / timedelta(milliseconds=1)), 0)


def tick_event(job_id: str, scheduled_time: str) -> dict[str, str]:
    """The input EventBridge Scheduler sends, its context attribute filled in."""
    return {"job_id": job_id, "scheduled_time": scheduled_time}


def http_api_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    token: str | None = None,
    query: str = "",
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event, as the $default route sends it."""
    host = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
    headers = {
        "accept": "application/json",
        "host": host,
        "user-agent": "curl/8.5.0",
        "x-amzn-trace-id": "Root=1-65edb0c0-0123456789abcdef01234567",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": host,
            "domainPrefix": "a1b2c3d4e5",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0",
            },
            "requestId": f"{uuid.uuid4().hex[:16]}=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "10/Mar/2026:12:00:00 +0000",
            "timeEpoch": 1773144000000,
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        raw = json.dumps(body)
        headers["content-type"] = "application/json"
        headers["content-length"] = str(len(raw.encode()))
        event["body"] = raw
    return event


def on_lambda_thread(handler: Callable[[Any, Any], Any], event: Any, context: Any) -> Any:
    """Call `handler` as Lambda's runtime does: on a thread with no event loop running. (A test
    session may run one on its main thread: Playwright's sync API keeps one going.)"""

    def call() -> Any:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            return handler(event, context)
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()
