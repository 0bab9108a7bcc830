"""Guarded stage changes that append to the lead's history in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.lifecycle import Stage, check_transition
from storage.models import Lead, LeadTransition


class StaleLead(Exception):
    """The lead changed since it was read: another click, retry or process got there first."""


def move(
    session: Session,
    lead: Lead,
    to_stage: Stage,
    *,
    actor: str,
    reason: str,
    now: datetime,
    details: dict[str, Any] | None = None,
    same_stage: bool = False,
    **fields: Any,
) -> None:
    """Change `lead` to `to_stage` only if it is unchanged since it was read, and record why.

    The UPDATE matches on the version the caller read, so of two concurrent
    requests exactly one changes the row; the other raises `StaleLead`. With
    `same_stage`, a change that keeps the stage (such as a reassignment) is
    recorded the same way.
    """
    from_stage = Stage(lead.stage)
    if not (same_stage and from_stage == to_stage):
        check_transition(from_stage, to_stage)
    session.flush()
    values = {"stage": to_stage.value, "version": lead.version + 1, "updated_at": now, **fields}
    result = session.execute(
        update(Lead)
        .where(Lead.id == lead.id, Lead.version == lead.version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise StaleLead(f"lead {lead.id} changed since version {lead.version}")
    # The row now has these values, so record them on the object without marking it dirty.
    for name, value in values.items():
        set_committed_value(lead, name, value)
    session.add(
        LeadTransition(
            lead_id=lead.id, at=now, actor=actor, from_stage=from_stage.value, to_stage=to_stage.value,
            reason=reason, details=details or {},
        )
    )
    session.flush()


def record_creation(session: Session, lead: Lead, *, actor: str, now: datetime) -> None:
    session.add(
        LeadTransition(lead_id=lead.id, at=now, actor=actor, from_stage=None, to_stage=lead.stage, reason="created", details={})
    )
