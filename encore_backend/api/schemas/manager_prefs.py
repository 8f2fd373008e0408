"""Manager preference bodies (issue 13: each manager address chooses its emails)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from encore_backend.api.schemas.common import InputModel, Int

Hour = Annotated[Int, Field(ge=0, le=23, description="venue-local hour, 0-23")]
ModeName = Literal["standard", "immediate", "digest", "weekly", "none"]


class PrefIn(InputModel):
    """PUT …/manager-preferences/{email}: `standard` removes the stored choice; `digest` needs
    digest_hour; quiet hours ([start, end), may wrap midnight) both or neither."""

    model_config = ConfigDict(extra="forbid")

    mode: ModeName
    digest_hour: Hour | None = Field(None, validate_default=True)
    quiet_start_hour: Hour | None = None
    quiet_end_hour: Hour | None = Field(None, validate_default=True)

    @field_validator("digest_hour")
    @classmethod
    def _digest_needs_hour(cls, value: int | None, info: ValidationInfo) -> int | None:
        if info.data.get("mode") == "digest" and value is None:
            raise ValueError("mode digest needs digest_hour")
        return value

    @field_validator("quiet_end_hour")
    @classmethod
    def _quiet_both_or_neither(cls, value: int | None, info: ValidationInfo) -> int | None:
        if "quiet_start_hour" in info.data and (info.data["quiet_start_hour"] is None) != (
            value is None
        ):
            raise ValueError("quiet_start_hour and quiet_end_hour go together")
        return value


class PrefOut(BaseModel):
    email: str
    mode: ModeName
    digest_hour: int | None
    quiet_start_hour: int | None
    quiet_end_hour: int | None


class PrefList(BaseModel):
    preferences: list[PrefOut]
