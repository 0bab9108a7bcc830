"""Deal outcomes reported by the CRM through the intake webhook: `{"outcomes": [...]}`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class OutcomeInput(BaseModel):
    """Won or lost for the lead that the CRM identifies by (source, external id)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    source: str = Field(min_length=1, max_length=64)
    external_id: str = Field(min_length=1, max_length=128)
    outcome: Literal["won", "lost"]
    opportunity_ref: str | None = Field(default=None, max_length=500)
