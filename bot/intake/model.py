"""The normalised lead record that every intake path produces."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

# Bounds of the storage columns, checked here so that a lead fails validation instead of
# failing when it is stored: INTEGER is 32-bit in PostgreSQL, and NUMERIC(18, 4) keeps
# values below 10^14 after rounding to 4 decimal places.
MAX_INTEGER = 2_147_483_647
MAX_DECIMAL = Decimal("99999999999999.9999")
_TEXT_OR_NONE = frozenset({str, type(None)})


class LeadInput(BaseModel):
    """One lead as it arrives from a CSV row or a webhook body, before qualification.

    `source` and `external_id` together identify the lead: sending the same pair
    again updates the stored lead instead of creating a second one.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    source: str = Field(min_length=1, max_length=64, description="Lead source, e.g. 'hubspot', 'webinar'.")
    external_id: str = Field(min_length=1, max_length=128, description="Id of the lead in the source system.")
    email: EmailStr | None = None
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=64)
    company: str | None = Field(default=None, max_length=300)
    job_title: str | None = Field(default=None, max_length=300)
    department: str | None = Field(default=None, max_length=200)
    seniority: str | None = Field(default=None, max_length=100)
    industry: str | None = Field(default=None, max_length=200)
    employees: int | None = Field(default=None, ge=0, le=MAX_INTEGER)
    annual_revenue: Decimal | None = Field(default=None, ge=0, le=MAX_DECIMAL)
    country: str | None = Field(default=None, max_length=64, description="ISO 3166 alpha-2 code or a country name.")
    region: str | None = Field(default=None, max_length=100)
    lead_score: Decimal | None = Field(default=None, ge=-MAX_DECIMAL, le=MAX_DECIMAL)
    visited_pricing: bool = False
    requested_demo: bool = False
    asset_downloads: int = Field(default=0, ge=0, le=MAX_INTEGER)
    last_activity_at: datetime | None = None
    owner_email: EmailStr | None = Field(default=None, description="Owner recorded in the CRM, if any.")
    campaign: str | None = Field(default=None, max_length=300)
    created_at: datetime | None = Field(default=None, description="When the source system created the lead.")
    extra: dict[str, Any] = Field(default_factory=dict, description="Source columns kept for reference.")

    @field_validator("email", "owner_email", mode="before")
    @classmethod
    def _normalise_email(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower()
            return value or None
        return value

    @field_validator("*")
    @classmethod
    def _reject_nul(cls, value: object) -> object:
        # PostgreSQL text columns cannot store NUL, so such a lead would fail only when stored.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text must not contain NUL (0x00) characters")
        return value

    @field_validator("extra")
    @classmethod
    def _reject_non_finite_numbers(cls, value: dict[str, Any]) -> dict[str, Any]:
        # JSON has no NaN or Infinity, so PostgreSQL rejects them in a JSON column.
        if set(map(type, value.values())) <= _TEXT_OR_NONE:
            return value  # the usual case, CSV cells
        pending: list[Any] = [value]
        while pending:
            item = pending.pop()
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError("extra must not contain NaN or Infinity: JSON numbers are finite")
            if isinstance(item, dict):
                pending.extend(item.values())
            elif isinstance(item, list):
                pending.extend(item)
        return value

    @field_validator("last_activity_at", "created_at")
    @classmethod
    def _require_timezone(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return value
        if value.tzinfo is None:
            raise ValueError("datetime must carry a time zone (e.g. 2025-03-28T16:00:00+01:00)")
        try:
            # Storage converts to UTC, which overflows for moments such as 0001-01-01T00:00+01:00.
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("datetime is out of range: in UTC it must fall between the years 1 and 9999") from None
        return value
