"""The optional policy that reassigns a lead to the next rep of its team when a clock breaches."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from bot.config import Rep
from bot.i18n import t
from bot.messages import lead_text
from bot.outbox import enqueue
from storage.models import Lead, SlaClock

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"


def next_rep(rt: Runtime, current: Rep) -> Rep | None:
    """Return the active rep after `current` in the team's order in the configuration, wrapping round.

    Passing the lead on in that order spreads the breached leads of a team round robin and never
    returns `current`; None means the team has no other active rep.
    """
    team = [rep for rep in rt.config.reps if rep.team == current.team]
    position = next(index for index, rep in enumerate(team) if rep.email == current.email)
    for offset in range(1, len(team)):
        candidate = team[(position + offset) % len(team)]
        if candidate.active:
            return candidate
    return None


def auto_reassign(session: Session, rt: Runtime, lead: Lead, clock: SlaClock, due_steps: list[dict[str, Any]], *,
                  now: datetime) -> bool:
    """Give the breached lead to the next rep and tell both reps and the manager, in the caller's transaction.

    The caller has claimed the clock's first escalation step, so this runs once per breach. The
    notices replace that step's escalation; False leaves the escalation to the caller.
    """
    from bot.lifecycle import Stage
    from bot.preferences import user_language
    from bot.sales import OPEN_STAGES, hand_over

    current = rt.config.rep(clock.rep_email)
    if current is None or Stage(lead.stage) not in OPEN_STAGES or lead.rep_email != clock.rep_email:
        return False
    successor = next_rep(rt, current)
    if successor is None:
        log.warning("sla.auto_reassign_skipped lead=%s clock=%s: no other active rep in team %s",
                    lead.id, clock.id, current.team)
        return False
    language = user_language(session, rt.config, rt.settings.default_language, current.slack_user_id)
    note = t(language, "sla.auto_reassigned.card_note", rep=f"<@{successor.slack_user_id}>")
    result = hand_over(session, rt, lead, successor, actor=SYSTEM_ACTOR, language=language, note=note)
    if not result.done:
        return False
    step = min(entry["step"] for entry in due_steps if entry["kind"] == "escalation")
    key = f"sla:{lead.id}:{clock.kind}:{clock.generation}:{step}:auto_reassign"
    people = {"old_rep": current.slack_user_id, "new_rep": successor.slack_user_id}
    manager = rt.config.manager_of(current)
    recipients = [("old_rep", current.slack_user_id)] + ([("manager", manager.slack_user_id)] if manager else [])
    for role, user_id in recipients:
        reader_language = user_language(session, rt.config, rt.settings.default_language, user_id)
        company = lead_text(lead.company, reader_language, 200)
        task = t(reader_language, f"clock.{clock.kind}", company=company)
        text = t(reader_language, f"sla.auto_reassigned.{role}", company=company, task=task,
                 **{name: f"<@{value}>" for name, value in people.items()})
        enqueue(session, key=f"{key}:{role}", kind="notice", method="chat.postMessage",
                payload={"channel": user_id, "text": text}, now=now, lead_id=lead.id)
    log.info("sla.auto_reassigned lead=%s clock=%s from=%s to=%s", lead.id, clock.id, current.slack_user_id,
             successor.slack_user_id)
    return True
