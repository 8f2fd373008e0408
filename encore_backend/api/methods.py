"""405 answers list every method the path supports in `Allow` (RFC 9110 §15.5.6).

Starlette answers 405 from the first route whose path matches, so a path served by two routes
(GET and POST /api/venues) claimed to allow only one of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import fastapi.routing
from starlette.datastructures import MutableHeaders
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PathMethods = list[tuple[re.Pattern[str], frozenset[str]]]


def path_methods(routes: Sequence[BaseRoute]) -> PathMethods:
    """Each route's path pattern with its methods (routers included lazily are expanded)."""
    table = []
    for context in fastapi.routing.iter_route_contexts(list(routes)):
        methods = getattr(context, "methods", None)
        if methods:
            table.append((compile_path(str(context.path))[0], frozenset(methods)))
    return table


def allowed(table: PathMethods, path: str) -> str:
    methods = set().union(*(m for pattern, m in table if pattern.match(path)))
    return ", ".join(sorted(methods))


class AllowEveryMethod:
    """Rewrites `Allow` on 405 answers with the union of the path's routes' methods."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes
        self.table: PathMethods | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                self.table = self.table or path_methods(self.routes)
                MutableHeaders(scope=message)["Allow"] = allowed(self.table, scope["path"])
            await send(message)

        await self.app(scope, receive, send_with_allow)
