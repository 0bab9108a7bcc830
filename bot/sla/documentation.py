"""Same-day documentation: a lead returned to nurture without discovery notes gets a clock until they are written.

The rejection reason, the nurture reason and the re-engagement date cannot be left out: the
rejection and nurture modals and `bot.sales.return_to_nurture` refuse a submission without them.
The notes are optional in the nurture modal, so this clock reminds the rep and escalates
at the end of the working day until they are recorded.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from sqlalchemy.orm import Session

from bot.lifecycle import Stage
from bot.sla.clocks import NURTURE_NOTES, end_of_working_day, start_clock, stop_clocks
from bot.transitions import StaleLead, move
from storage.models import Lead, SlaClock

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)


def start_nurture_notes_clock(session: Session, rt: Runtime, lead: Lead, *, now: datetime) -> SlaClock:
    """Start the clock of the discovery notes, due at the end of the working day of the return."""
    return start_clock(session, rt, lead, NURTURE_NOTES, start=now, due=end_of_working_day(rt, lead.team_id, now))


def record_nurture_notes(
    session: Session, rt: Runtime, *, lead_id: int, user_id: str, notes: str,
) -> Literal["done", "not_found", "not_allowed", "wrong_stage", "invalid"]:
    """Store the discovery notes of a nurture lead, record it in the history and stop the notes clock."""
    from bot.sales import is_manager_of

    lead = session.get(Lead, lead_id)
    if lead is None:
        return "not_found"
    rep = rt.config.rep(lead.rep_email)
    if not (rep is not None and rep.slack_user_id == user_id) and not is_manager_of(rt, lead, user_id):
        return "not_allowed"
    if lead.stage != Stage.NURTURE.value:
        return "wrong_stage"
    if not notes.strip():
        return "invalid"
    now = rt.clock.now()
    discovery = {**(lead.discovery or {}), "nurture_notes": notes.strip()}
    try:
        with session.begin_nested():
            move(session, lead, Stage.NURTURE, actor=user_id, reason="nurture_notes_added", now=now, same_stage=True,
                 discovery=discovery)
    except StaleLead:
        return "wrong_stage"
    stop_clocks(session, lead.id, now=now, kinds=(NURTURE_NOTES,))
    log.info("lead.nurture_notes lead=%s by=%s", lead.id, user_id)
    return "done"
