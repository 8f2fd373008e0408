"""The HTTP function: the API and dashboards behind API Gateway (HTTP API) or a function URL.

Mangum runs the FastAPI app to completion inside the invocation, background tasks included,
so the alert scan that follows an ingested feedback finishes before the invocation returns
(a thread would be frozen with the environment once it does). No scheduler runs here:
EventBridge Scheduler fires the job function.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from mangum import Mangum
from starlette.types import ASGIApp, Receive, Scope, Send

from encore_backend.api.app import create_app
from encore_backend.aws import warm
from encore_backend.aws.invocation import LambdaContext, invocation

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

LIVE_STREAM = re.compile(r"^/api/venues/[^/]+/alerts/stream$")


class NoLiveStreams:
    """Answers the live alert stream with 204 No Content.

    API Gateway returns a response whole, so a server-sent event stream would hold an
    invocation for its full length and reach the browser as one late block; a 204 tells the
    dashboard's EventSource not to reconnect (new alerts then show on reload)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and LIVE_STREAM.match(scope["path"]):
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


class HttpFunction:
    """The app for `ctx` behind Mangum; each call is one invocation, bounded by its time."""

    def __init__(self, ctx: Container) -> None:
        self.ctx = ctx
        app = NoLiveStreams(create_app(ctx, start_scheduler=False))
        self.adapter = Mangum(app, lifespan="off")

    def __call__(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        with invocation(self.ctx.clock, context):
            return self.adapter(event, context)  # type: ignore[arg-type]  # same object, narrower protocol


@functools.cache
def warm_function() -> HttpFunction:
    """The HTTP function of this environment's container, built on its first request."""
    return HttpFunction(warm.container())
