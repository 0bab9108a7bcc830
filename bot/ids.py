"""Slack action, block and callback ids, and the small models carried in button values."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# Ids and versions are 32-bit integer columns in PostgreSQL.
MAX_DATABASE_INT = 2**31 - 1


class ActionId(StrEnum):
    ACCEPT = "lead_accept"
    REJECT = "lead_reject"
    LOG_CONTACT = "lead_log_contact"
    DISCOVERY_DATE = "lead_discovery_date"
    COMPLETE_DISCOVERY = "lead_complete_discovery"
    RETURN_TO_NURTURE = "lead_return_to_nurture"
    MARK_OPPORTUNITY = "lead_mark_opportunity"
    WON = "lead_won"
    LOST = "lead_lost"
    REASSIGN = "lead_reassign"
    CONTEST = "rejection_contest"
    UPHOLD = "rejection_uphold"
    OVERTURN = "rejection_overturn"
    LANGUAGE = "home_language"
    ACKNOWLEDGE = "escalation_acknowledge"
    SNOOZE = "sla_snooze"
    PAUSE = "sla_pause"
    RESUME = "sla_resume"
    NURTURE_NOTES = "sla_nurture_notes"


class CallbackId(StrEnum):
    """Modal callback ids."""

    REJECT = "reject_modal"
    CONTACT = "contact_modal"
    DISCOVERY = "discovery_modal"
    NURTURE = "nurture_modal"
    OPPORTUNITY = "opportunity_modal"
    CONTEST = "contest_modal"
    PAUSE = "sla_pause_modal"
    NURTURE_NOTES = "sla_nurture_notes_modal"


class BlockId(StrEnum):
    DECISION = "lead_decision"


class LeadRef(BaseModel):
    """The lead a button or select refers to, with the version the card showed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lead: int = Field(ge=1, le=MAX_DATABASE_INT)
    v: int = Field(ge=1, le=MAX_DATABASE_INT)

    def encode(self) -> str:
        return self.model_dump_json()

    @classmethod
    def decode(cls, raw: str) -> LeadRef:
        """Parse a button value; raise ValueError naming the value when it is not ours."""
        try:
            return cls.model_validate_json(raw)
        except ValidationError as error:
            raise ValueError(f"invalid lead reference {raw[:100]!r}: {error.errors()[0]['msg']}") from None


def database_id(text: str) -> int | None:
    """Return `text` as an id that fits the database's integer columns, or None."""
    if not text.isdigit() or len(text) > 10:
        return None
    number = int(text)
    return number if 1 <= number <= MAX_DATABASE_INT else None


def reject_option_value(ref: LeadRef, reason: str) -> str:
    """Encode a rejection option: the select carries the lead in each option's value."""
    return f"{reason}|{ref.lead}|{ref.v}"


def parse_reject_option(raw: str) -> tuple[str, LeadRef]:
    parts = raw.split("|")
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        raise ValueError(f"invalid rejection option {raw[:100]!r}: expected reason|lead|version")
    return parts[0], LeadRef(lead=int(parts[1]), v=int(parts[2]))
