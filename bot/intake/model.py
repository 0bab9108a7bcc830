"""The normalised lead record that every intake path produces."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator


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
    employees: int | None = Field(default=None, ge=0)
    annual_revenue: Decimal | None = Field(default=None, ge=0)
    country: str | None = Field(default=None, max_length=64, description="ISO 3166 alpha-2 code or a country name.")
    region: str | None = Field(default=None, max_length=100)
    lead_score: Decimal | None = None
    visited_pricing: bool = False
    requested_demo: bool = False
    asset_downloads: int = Field(default=0, ge=0)
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

    @field_validator("last_activity_at", "created_at")
    @classmethod
    def _require_timezone(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("datetime must carry a time zone (e.g. 2025-03-28T16:00:00+01:00)")
        return value
