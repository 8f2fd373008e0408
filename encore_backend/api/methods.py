"""405 answers list every method the path supports in `Allow` (RFC 9110 §15.5.6).

Starlette answers 405 from the first route whose path matches, so a path served by two routes
(GET and POST /api/venues) claimed to allow only one of them. And a literal path that a
template also matches (GET /api/feedback/batch against GET /api/feedback/{feedback_id}) was
routed to the template, which refused "batch" as an id (422) instead of answering 405.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import fastapi.routing
from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PathMethods = list[tuple[re.Pattern[str], frozenset[str], bool]]


def path_methods(routes: Sequence[BaseRoute]) -> PathMethods:
    """Each route's path pattern with its methods and whether the path is literal (no
    parameters); routers included lazily are expanded."""
    table = []
    for context in fastapi.routing.iter_route_contexts(list(routes)):
        methods = getattr(context, "methods", None)
        if methods:
            path = str(context.path)
            table.append((compile_path(path)[0], frozenset(methods), "{" not in path))
    return table


def literal_methods(table: PathMethods, path: str) -> frozenset[str] | None:
    """The methods of the literal routes at exactly `path`, or None when none is literal."""
    found = [m for pattern, m, literal in table if literal and pattern.match(path)]
    return frozenset().union(*found) if found else None


def allowed(table: PathMethods, path: str) -> str:
    """The methods of the routes matching `path`; a literal path (POST /api/feedback/batch)
    names its own resource, so a template that happens to match it (GET
    /api/feedback/{feedback_id}) does not add its methods."""
    matches = [(m, literal) for pattern, m, literal in table if pattern.match(path)]
    if any(literal for _, literal in matches):
        matches = [(m, literal) for m, literal in matches if literal]
    methods = set().union(*(m for m, _ in matches))
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
        self.table = self.table or path_methods(self.routes)
        literal = literal_methods(self.table, scope["path"])
        if literal is not None and scope["method"] not in literal | {"HEAD", "OPTIONS"}:
            headers = {"Allow": allowed(self.table, scope["path"])}
            refused = JSONResponse({"detail": "Method Not Allowed"}, 405, headers=headers)
            await refused(scope, receive, send)
            return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                self.table = self.table or path_methods(self.routes)
                MutableHeaders(scope=message)["Allow"] = allowed(self.table, scope["path"])
            await send(message)

        await self.app(scope, receive, send_with_allow)
