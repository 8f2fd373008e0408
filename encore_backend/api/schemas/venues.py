"""Venue and venue-settings bodies (SPEC §8)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from encore_backend.api.schemas.common import (
    Bool,
    Email,
    HttpUrl,
    InputModel,
    Int,
    NewVenueId,
    TimeZone,
    UtcTime,
)
from encore_backend.domain import alert_rules
from encore_backend.domain.enums import AlertLevel, ReplyTone
from encore_backend.providers.ai.checks import find_placeholder

Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)]
Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
NotSent = SkipJsonSchema[None]
NON_NULLABLE_SETTINGS = (
    "ai_generation_enabled",
    "auto_generate_responses",
    "auto_send_enabled",
    "auto_send_delay_minutes",
    "require_approval",
    "daily_report_enabled",
    "weekly_report_enabled",
    "alert_notify_min_level",
    "alert_keywords",
    "alert_rules_disabled",
    "response_sla_hours",
    "reply_tone",
    "banned_phrases",
)
RuleId = Annotated[
    str, WithJsonSchema({"type": "string", "enum": list(alert_rules.ALERT_RULE_IDS)})
]


class VenueCreate(InputModel):
    """POST /api/venues; venue_id is generated from the name when absent."""

    model_config = ConfigDict(extra="forbid")

    venue_id: NewVenueId | None = None
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    timezone: TimeZone
    manager_emails: list[Email] = Field(max_length=50)
    webhook_url: HttpUrl | None = None

    @field_validator("manager_emails")
    @classmethod
    def _dedupe(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class VenueOut(BaseModel):
    """A venue as GET routes show it: never the webhook secret."""

    venue_id: str
    name: str
    timezone: str
    manager_emails: list[str]
    webhook_url: str | None
    created_at: UtcTime


class SettingsPatch(InputModel):
    """PATCH /api/venues/{venue_id}/settings: any subset of the keys; null only for brand_voice
    and reply_signature.

    None marks "not sent"; the schema omits it (SkipJsonSchema) and a null sent is refused."""

    model_config = ConfigDict(extra="forbid")

    ai_generation_enabled: Bool | NotSent = None
    auto_generate_responses: Bool | NotSent = None
    auto_send_enabled: Bool | NotSent = None
    auto_send_delay_minutes: Annotated[Int, Field(ge=0, le=10080)] | NotSent = None
    require_approval: Bool | NotSent = None
    daily_report_enabled: Bool | NotSent = None
    weekly_report_enabled: Bool | NotSent = None
    alert_notify_min_level: AlertLevel | NotSent = None
    brand_voice: str | None = Field(None, max_length=2000)
    alert_keywords: dict[AlertLevel, Annotated[list[Keyword], Field(max_length=50)]] | NotSent = (
        None
    )
    alert_rules_disabled: list[RuleId] | NotSent = None
    response_sla_hours: Annotated[Int, Field(ge=1, le=720)] | NotSent = None
    reply_tone: ReplyTone | NotSent = None
    reply_signature: str | None = Field(None, max_length=500)
    banned_phrases: Annotated[list[Phrase], Field(max_length=50)] | NotSent = None

    @field_validator(*NON_NULLABLE_SETTINGS)
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Runs only for keys the client sent: an explicit null is refused, absence is fine.
        if value is None:
            raise ValueError("may not be null")
        return value

    @field_validator("alert_keywords")
    @classmethod
    def _normalise_keywords(cls, value: dict[AlertLevel, list[str]]) -> dict[AlertLevel, list[str]]:
        """Keywords match case-insensitively: store them lower-cased, without repeats."""
        return {level: list(dict.fromkeys(k.lower() for k in kws)) for level, kws in value.items()}

    @field_validator("reply_signature")
    @classmethod
    def _no_placeholder(cls, value: str | None) -> str | None:
        """Every draft ends with the signature, and a draft with a leftover placeholder is never
        sent: a signature like "[Manager]" would stop every reply."""
        found = find_placeholder(value or "")
        if found:
            raise ValueError(f"contains a placeholder {found!r}; write the name itself")
        return value

    @field_validator("banned_phrases")
    @classmethod
    def _dedupe_phrases(cls, value: list[str]) -> list[str]:
        """Phrases match case-insensitively: each once, as first written."""
        seen: dict[str, str] = {}
        for phrase in value:
            written = " ".join(phrase.split())
            seen.setdefault(written.lower(), written)
        return list(seen.values())

    @field_validator("alert_rules_disabled")
    @classmethod
    def _known_rules(cls, value: list[str]) -> list[str]:
        unknown = [rule for rule in value if rule not in alert_rules.ALERT_RULE_IDS]
        if unknown:
            known = ", ".join(alert_rules.ALERT_RULE_IDS)
            raise ValueError(f"unknown rule id(s) {', '.join(unknown)}; known: {known}")
        return list(dict.fromkeys(value))

    def changes(self) -> dict[str, Any]:
        """Only the keys the client sent, as plain JSON-ready values."""
        return self.model_dump(mode="json", exclude_unset=True)


class SettingsOut(BaseModel):
    venue_id: str
    ai_generation_enabled: bool
    auto_generate_responses: bool
    auto_send_enabled: bool
    auto_send_delay_minutes: int
    require_approval: bool
    daily_report_enabled: bool
    weekly_report_enabled: bool
    alert_notify_min_level: AlertLevel
    brand_voice: str | None
    alert_keywords: dict[str, list[str]]
    alert_rules_disabled: list[str]
    response_sla_hours: int
    reply_tone: ReplyTone
    reply_signature: str | None
    banned_phrases: list[str]
    updated_at: UtcTime


class VenueCreated(VenueOut):
    """The create response: the only time the webhook secret is shown."""

    webhook_secret: str
    settings: SettingsOut


class VenueList(BaseModel):
    venues: list[VenueOut]
