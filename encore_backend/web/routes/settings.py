"""The venue settings page: each manager address's email preference, and the venue's response
deadline and reply voice. Plain CSRF-checked forms; a bad value re-shows the page with the error
next to its field and saves nothing; a saved form redirects back with a notice."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.responses import Response

from encore_backend.api.deps import Principal
from encore_backend.api.schemas.venues import SettingsPatch
from encore_backend.bootstrap import Container
from encore_backend.domain.enums import ReplyTone
from encore_backend.services import manager_prefs, venue_service
from encore_backend.services.manager_prefs import Choice, PrefError
from encore_backend.web import auth
from encore_backend.web.routes.venue import ctx_of, visible_venue
from encore_backend.web.templating import render

router = APIRouter(include_in_schema=False)
User = Annotated[Principal, Depends(auth.page_principal)]
Form = Annotated[dict[str, str], Depends(auth.read_form)]
NOTICES = {
    "emails-saved": "Email preference saved.",
    "voice-saved": "Response deadline and voice saved.",
}
MODE_LABELS = {
    "standard": "Standard: critical alerts at once, daily and weekly reports",
    "immediate": "Immediate: critical and high alerts at once, daily and weekly reports",
    "digest": "Daily digest at a chosen hour (critical alerts still at once), weekly report",
    "weekly": "Weekly report only",
    "none": "Nothing",
}
VOICE_FIELDS = ("response_sla_hours", "reply_tone", "reply_signature", "banned_phrases")


@router.get("/venues/{venue_id}/settings")
def settings_page(request: Request, venue_id: str, user: User, notice: str = "") -> Response:
    ctx = ctx_of(request)
    venue = visible_venue(ctx, user, venue_id)
    return page(request, ctx, venue, notice=NOTICES.get(notice))


def page(
    request: Request,
    ctx: Container,
    venue: dict[str, Any],
    *,
    status_code: int = 200,
    notice: str | None = None,
    pref_errors: dict[str, dict[str, str]] | None = None,
    pref_values: dict[str, dict[str, Any]] | None = None,
    voice_errors: dict[str, str] | None = None,
    voice_values: dict[str, Any] | None = None,
) -> Response:
    """The page, with a refused form's values and errors shown in place of the stored ones."""
    prefs = manager_prefs.list_prefs(ctx, venue)
    for row in prefs:
        row.update((pref_values or {}).get(row["email"], {}))
    stored = ctx.venues.get_settings(venue["venue_id"]) or {}
    voice = {k: stored.get(k) for k in VOICE_FIELDS}
    voice["banned_phrases"] = "\n".join(stored.get("banned_phrases") or [])
    voice.update(voice_values or {})
    return render(
        request,
        "settings.html.j2",
        status_code=status_code,
        notice=notice,
        venue=venue,
        prefs=prefs,
        pref_errors=pref_errors or {},
        modes=MODE_LABELS,
        hours=range(24),
        voice=voice,
        voice_errors=voice_errors or {},
        tones=[t.value for t in ReplyTone],
    )


def back(venue_id: str, notice: str, anchor: str) -> RedirectResponse:
    return RedirectResponse(f"/venues/{venue_id}/settings?notice={notice}#{anchor}", 303)


@router.post("/venues/{venue_id}/settings/emails")
def save_email_pref(request: Request, venue_id: str, user: User, form: Form) -> Response:
    """One manager address's mode, digest hour and quiet hours."""
    auth.check_csrf(request, form)
    ctx = ctx_of(request)
    venue = visible_venue(ctx, user, venue_id)
    address = manager_prefs.address_of(venue, form.get("email", ""))
    if address is None:
        raise auth.PageNotFound()
    values = {name: form.get(name, "") for name in Choice.__dataclass_fields__}
    try:
        choice = Choice(
            mode=values["mode"],
            digest_hour=_hour(values, "digest_hour"),
            quiet_start_hour=_hour(values, "quiet_start_hour"),
            quiet_end_hour=_hour(values, "quiet_end_hour"),
        )
        manager_prefs.set_pref(ctx, venue, address, choice, now=ctx.clock.now())
    except PrefError as exc:
        shown = {k: (v if k == "mode" else _int_or_none(v)) for k, v in values.items()}
        return page(
            request,
            ctx,
            venue,
            status_code=422,
            pref_errors={address: {exc.field: str(exc)}},
            pref_values={address: shown},
        )
    return back(venue_id, "emails-saved", "emails")


def _hour(values: dict[str, str], name: str) -> int | None:
    text = values[name].strip()
    if not text:
        return None
    if not text.isdigit():
        raise PrefError(name, "choose an hour from 0 to 23")
    return int(text)


def _int_or_none(text: str) -> int | str | None:
    text = text.strip()
    return int(text) if text.isdigit() else (text or None)


@router.post("/venues/{venue_id}/settings/voice")
def save_voice(request: Request, venue_id: str, user: User, form: Form) -> Response:
    """Response deadline, tone, signature and banned phrases, validated as the API's PATCH."""
    auth.check_csrf(request, form)
    ctx = ctx_of(request)
    venue = visible_venue(ctx, user, venue_id)
    values = {name: form.get(name, "") for name in VOICE_FIELDS}
    errors: dict[str, str] = {}
    hours = values["response_sla_hours"].strip()
    body: dict[str, Any] = {
        "reply_tone": values["reply_tone"],
        "reply_signature": values["reply_signature"].strip() or None,
        "banned_phrases": [p for p in values["banned_phrases"].splitlines() if p.strip()],
    }
    if hours.isdigit():
        body["response_sla_hours"] = int(hours)
    else:
        errors["response_sla_hours"] = "Enter a whole number of hours from 1 to 720."
    try:
        changes = SettingsPatch.model_validate(body).changes()
    except ValidationError as exc:
        for error in exc.errors():
            errors.setdefault(str(error["loc"][0]), error["msg"])
    if errors:
        return page(request, ctx, venue, status_code=422, voice_errors=errors, voice_values=values)
    venue_service.update_settings(ctx, venue_id=venue["venue_id"], changes=changes)
    return back(venue_id, "voice-saved", "voice")
