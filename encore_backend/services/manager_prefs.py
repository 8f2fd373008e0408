"""Manager preference use cases: list and set a venue's addresses' choices (API, settings page),
and the one-click unsubscribe of a manager email (mode `none`).

The decision itself (which email goes to whom, and when) is domain/manager_prefs.delivery_time;
see its docstring for the semantics of each mode and of quiet hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from encore_backend.domain.manager_prefs import Mode, Pref
from encore_backend.providers.email import verify_manager_unsubscribe_token
from encore_backend.services.manager_mail import recipients, unsubscribe_secret

if TYPE_CHECKING:
    from encore_backend.bootstrap import Container

MODES = tuple(m.value for m in Mode)


class PrefError(ValueError):
    """A preference that does not hold together; `field` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Choice:
    """What a manager picks: mode `standard` or a stored one, with its hours."""

    mode: str
    digest_hour: int | None = None
    quiet_start_hour: int | None = None
    quiet_end_hour: int | None = None

    def checked(self) -> Pref | None:
        """The Pref to store (None for standard); PrefError when it does not hold together."""
        if self.mode not in MODES:
            raise PrefError("mode", f"mode must be one of {', '.join(MODES)}")
        for name in ("digest_hour", "quiet_start_hour", "quiet_end_hour"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 23:
                raise PrefError(name, f"{name} must be an hour from 0 to 23")
        if (self.quiet_start_hour is None) != (self.quiet_end_hour is None):
            missing = "quiet_end_hour" if self.quiet_end_hour is None else "quiet_start_hour"
            raise PrefError(missing, "quiet hours need both quiet_start_hour and quiet_end_hour")
        if self.mode == Mode.DIGEST and self.digest_hour is None:
            raise PrefError("digest_hour", "mode digest needs digest_hour")
        if self.mode == Mode.STANDARD:
            return None
        digest_hour = self.digest_hour if self.mode == Mode.DIGEST else None
        return Pref(self.mode, digest_hour, self.quiet_start_hour, self.quiet_end_hour)


def address_of(venue: dict[str, Any], email: str) -> str | None:
    """The venue's manager address matching `email` (case-insensitively), or None."""
    wanted = email.strip().lower()
    return next((a for a in recipients(venue.get("manager_emails")) if a.lower() == wanted), None)


def list_prefs(ctx: Container, venue: dict[str, Any]) -> list[dict[str, Any]]:
    """Every manager address of the venue with its choice ("standard" without a row)."""
    stored = ctx.manager_prefs.for_venue(venue["venue_id"])
    return [
        public_pref(address, stored.get(address.lower()))
        for address in recipients(venue.get("manager_emails"))
    ]


def public_pref(address: str, pref: Pref | None) -> dict[str, Any]:
    return {
        "email": address,
        "mode": pref.mode if pref else Mode.STANDARD.value,
        "digest_hour": pref.digest_hour if pref else None,
        "quiet_start_hour": pref.quiet_start_hour if pref else None,
        "quiet_end_hour": pref.quiet_end_hour if pref else None,
    }


def set_pref(
    ctx: Container, venue: dict[str, Any], address: str, choice: Choice, *, now: datetime
) -> dict[str, Any]:
    """Store the address's choice (PrefError before anything is written); its public form."""
    pref = choice.checked()
    ctx.manager_prefs.put(venue["venue_id"], address, pref, now=now)
    return public_pref(address, pref)


def unsubscribe(ctx: Container, *, token: str, now: datetime) -> bool:
    """Set the address a signed manager link names to `none` (keeping its quiet hours); False
    for a bad token, or an address that is no longer one of the venue's managers."""
    claim = verify_manager_unsubscribe_token(token, secret=unsubscribe_secret(ctx.settings))
    if claim is None:
        return False
    venue = ctx.venues.get(claim.venue_id)
    address = address_of(venue, claim.email) if venue else None
    if venue is None or address is None:
        return False
    old = ctx.manager_prefs.for_venue(claim.venue_id).get(address.lower())
    quiet = (old.quiet_start_hour, old.quiet_end_hour) if old else (None, None)
    ctx.manager_prefs.put(claim.venue_id, address, Pref(Mode.NONE, None, *quiet), now=now)
    return True


def claim_is_valid(ctx: Container, token: str) -> bool:
    return (
        verify_manager_unsubscribe_token(token, secret=unsubscribe_secret(ctx.settings)) is not None
    )
