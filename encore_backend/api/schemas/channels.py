"""Notification channel bodies (SPEC §8: `{type: slack|teams|webhook, url, levels}`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from encore_backend.api.schemas.common import HttpUrl, InputModel, UtcTime
from encore_backend.domain.enums import AlertLevel
from encore_backend.notify.channels import DEFAULT_LEVELS

ChannelType = Literal["slack", "teams", "webhook"]
ChannelStatus = Literal["active", "failing", "disabled"]


class ChannelCreate(InputModel):
    """POST /api/venues/{venue_id}/channels: where to post, and the alert levels it wants."""

    model_config = ConfigDict(extra="forbid")

    type: ChannelType
    url: HttpUrl = Field(description="The incoming-webhook URL (http:// or https://)")
    levels: list[AlertLevel] = Field(
        default_factory=lambda: [AlertLevel(level) for level in DEFAULT_LEVELS],
        min_length=1,
        max_length=5,
    )
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None

    @field_validator("levels")
    @classmethod
    def _dedupe(cls, value: list[AlertLevel]) -> list[AlertLevel]:
        return list(dict.fromkeys(value))

    def fields(self) -> dict[str, Any]:
        """The keyword arguments of channel_service.create_channel."""
        levels = [level.value for level in self.levels]
        return {"channel_type": self.type, "url": self.url, "levels": levels, "name": self.name}


class ChannelOut(BaseModel):
    """A channel and its health: `failing` after a failed pass, `disabled` after repeated
    failures (nothing more is sent until a successful test message)."""

    channel_id: str
    venue_id: str
    type: ChannelType
    url: str
    name: str | None
    levels: list[AlertLevel]
    status: ChannelStatus
    consecutive_failures: int
    failing_since: UtcTime | None
    disabled_at: UtcTime | None
    last_error: str | None
    last_delivered_at: UtcTime | None
    created_at: UtcTime


class ChannelList(BaseModel):
    channels: list[ChannelOut]


class ChannelTestOut(BaseModel):
    """The test message's outcome: ok with the receiver's status code, or the error (an HTTP
    answer outside 2xx, or no answer: status_code null)."""

    ok: bool
    status_code: int | None
    error: str | None
    channel: ChannelOut
