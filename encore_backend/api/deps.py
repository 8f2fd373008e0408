"""Typed FastAPI dependencies: the container, the caller and the access rules."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from encore_backend.bootstrap import Container
from encore_backend.domain.enums import Role

SESSION_COOKIE = "encore_session"  # set by the dashboard's sign-in (web/auth.py)
# Known tokens are remembered briefly: an ingesting client sends one per request, and the lookup
# was a database round trip each time. Unknown tokens are never cached; a token revoked in the
# database stops working within the TTL.
TOKEN_CACHE_KEY = "token_cache"  # ctx.extras key
TOKEN_CACHE_TTL = timedelta(seconds=5)
TOKEN_CACHE_SIZE = 10_000
bearer = HTTPBearer(auto_error=False, description="An API token: admin, venue_manager or ingest")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role, and for a venue manager the one venue they may see."""

    role: Role
    name: str
    venue_id: str | None = None
    token_id: str | None = None

    def can_see(self, venue_id: str) -> bool:
        return self.role == Role.ADMIN or (
            self.role == Role.VENUE_MANAGER and self.venue_id == venue_id
        )

    @property
    def venue_bound(self) -> bool:
        """Submits feedback for its own venue only (a manager, a venue-bound ingest token)."""
        return self.role == Role.VENUE_MANAGER or (
            self.role == Role.INGEST and self.venue_id is not None
        )


def hash_token(token: str) -> str:
    """Tokens are stored as SHA-256 hex digests, never in clear."""
    return hashlib.sha256(token.encode()).hexdigest()


def get_ctx(request: Request) -> Container:
    return request.app.state.ctx  # type: ignore[no-any-return]


Ctx = Annotated[Container, Depends(get_ctx)]


def resolve_token(ctx: Container, token: str) -> Principal | None:
    """The principal for a raw token (the admin token from settings, or a stored one)."""
    admin = ctx.settings.encore_admin_token
    if admin and hmac.compare_digest(token.encode(), admin.encode()):
        return Principal(role=Role.ADMIN, name="admin")
    digest = hash_token(token)
    cache: dict[str, tuple[datetime, Principal]] = ctx.extras.setdefault(TOKEN_CACHE_KEY, {})
    now = ctx.clock.now()
    cached = cache.get(digest)
    if cached is not None and cached[0] > now:
        return cached[1]
    row = ctx.tokens.find_active_by_hash(digest)
    if row is None:
        return None
    principal = Principal(
        role=Role(row["role"]), name=row["name"], venue_id=row["venue_id"], token_id=row["token_id"]
    )
    if len(cache) >= TOKEN_CACHE_SIZE:
        cache.clear()
    cache[digest] = (now + TOKEN_CACHE_TTL, principal)
    return principal


def current_principal(
    ctx: Ctx,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """401 without a token or with an unknown one."""
    token = credentials.credentials if credentials else session_token(request)
    principal = resolve_token(ctx, token) if token else None
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or invalid bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def session_token(request: Request) -> str | None:
    """The dashboard's sign-in cookie, accepted by reads only (GET: the alert stream's
    EventSource cannot send headers); writes need the bearer header, so no CSRF opening."""
    if request.method not in ("GET", "HEAD"):
        return None
    return request.cookies.get(SESSION_COOKIE) or None


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def reader(principal: CurrentPrincipal) -> Principal:
    """Admins and venue managers; ingest tokens may only submit feedback (403 otherwise)."""
    if principal.role == Role.INGEST:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "ingest tokens may only submit feedback")
    return principal


def admin_only(principal: CurrentPrincipal) -> Principal:
    if principal.role != Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "admin role required")
    return principal


Reader = Annotated[Principal, Depends(reader)]
Admin = Annotated[Principal, Depends(admin_only)]


def check_venue(principal: Principal, venue_id: str | None) -> None:
    """404, not 403, for another venue's data: its existence is not revealed."""
    if venue_id is None or not principal.can_see(venue_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")


def venue_or_404(ctx: Container, principal: Principal, venue_id: str) -> dict[str, object]:
    """The venue row when it exists and the caller may see it; 404 otherwise."""
    check_venue(principal, venue_id)
    venue = ctx.venues.get(venue_id)
    if venue is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "venue not found")
    return venue
