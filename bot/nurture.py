"""Re-engagement: on a nurture lead's date it is scored again against the current criteria."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import messages
from bot.handoff import become_mql
from bot.i18n import t
from bot.lifecycle import Stage
from bot.outbox import enqueue
from bot.qualification import evaluate
from bot.routing import route
from bot.runtime import Runtime
from bot.transitions import StaleLead, move
from storage.models import Lead

log = logging.getLogger(__name__)


@dataclass
class ReengagementReport:
    due: int = 0
    requalified: int = 0
    still_nurture: int = 0
    failed: int = 0


def reengage_due(rt: Runtime, *, limit: int = 500) -> ReengagementReport:
    """Score every nurture lead whose re-engagement date has come; one lead's failure never stops the rest.

    A lead that qualifies becomes an MQL again and is routed and announced like a new one.
    One that does not stays in nurture without a date, and marketing gets a notice in its channel.
    """
    now = rt.clock.now()
    report = ReengagementReport()
    with rt.db.transaction() as session:
        due = list(session.scalars(
            select(Lead.id).where(Lead.stage == Stage.NURTURE.value, Lead.nurture_until.is_not(None),
                                  Lead.nurture_until <= now.date()).order_by(Lead.nurture_until, Lead.id).limit(limit)
        ))
    report.due = len(due)
    for lead_id in due:
        try:
            with rt.db.transaction() as session:
                outcome = _reengage(session, rt, lead_id)
        except Exception:  # noqa: BLE001 - the next sweep tries this lead again
            report.failed += 1
            log.exception("nurture.reengage_failed lead=%s", lead_id)
            continue
        if outcome == "mql":
            report.requalified += 1
        elif outcome == "nurture":
            report.still_nurture += 1
    return report


def _reengage(session: Session, rt: Runtime, lead_id: int) -> str | None:
    lead = session.get(Lead, lead_id)
    if lead is None or lead.stage != Stage.NURTURE.value or lead.nurture_until is None:
        return None
    local_today = rt.clock.now().astimezone(rt.calendar(lead.team_id).zone).date()
    if lead.nurture_until > local_today:
        return None
    now = rt.clock.now()
    result = evaluate(lead, rt.config.criteria, now)
    lead.qualification = result.to_json()
    session.flush()
    try:
        if result.is_mql:
            decision = route(session, rt.config, owner_email=lead.owner_email, country=lead.country, region=lead.region)
            become_mql(session, rt, lead, decision, actor="system", reason="reengaged", now=now)
            log.info("nurture.reengaged lead=%s", lead.id)
            return "mql"
        move(session, lead, Stage.NURTURE, actor="system", reason="rescored_not_qualified", now=now, same_stage=True,
             details={"failed": [r.key for r in result.results if not r.passed]}, nurture_until=None)
    except StaleLead:
        return None
    _tell_marketing(session, rt, lead)
    log.info("nurture.still_nurture lead=%s", lead.id)
    return "nurture"


def _tell_marketing(session: Session, rt: Runtime, lead: Lead) -> None:
    channel = rt.config.marketing_channel
    if channel is None:
        return
    language = rt.settings.default_language
    failed = [t(language, f"criterion.{item['key']}") for item in (lead.qualification or {}).get("results", [])
              if not item["passed"]]
    text = t(language, "nurture.not_requalified", company=messages.lead_text(lead.company, language, 200),
             lead=lead.id, criteria=", ".join(failed) or "–")
    enqueue(session, key=f"lead:{lead.id}:rescored:v{lead.version}", kind="notice", method="chat.postMessage",
            payload={"channel": channel, "text": text}, now=rt.clock.now(), lead_id=lead.id)
