"""Builders of test leads; every lead is invented."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.intake.model import LeadInput


def lead_input(number: int = 1, *, at: datetime | None = None, **overrides: Any) -> LeadInput:
    """A lead that qualifies under the example configuration unless overridden."""
    values: dict[str, Any] = {
        "source": "hubspot",
        "external_id": f"HS-{number}",
        "email": f"contact{number}@verpakking-{number}.nl",
        "first_name": "Test",
        "last_name": f"Contact {number}",
        "company": f"Verpakkingen {number} BV",
        "industry": "Packaging",
        "employees": 250,
        "country": "NL",
        "lead_score": Decimal(75),
        "last_activity_at": at,
    }
    values.update(overrides)
    return LeadInput(**values)
