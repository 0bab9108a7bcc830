"""After acceptance: contact attempts, discovery, SQL, opportunity, outcome, nurture and reassignment."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.cards import enqueue_card, refresh_card
from bot.config import Rep
from bot.i18n import t
from bot.lifecycle import BANT_CRITERIA, MEDDIC_CRITERIA, ContactChannel, Stage
from bot.preferences import user_language
from bot.routing import RoutingDecision
from bot.runtime import Runtime
from bot.sla.clocks import (
    CADENCE,
    DISCOVERY_SCHEDULED,
    FIRST_CONTACT,
    OPEN_STATUSES,
    SAL_CLOCKS,
    start_decision_clock,
    start_first_contact_clock,
    start_sql_decision_clock,
    start_waiting_sal_clocks,
    stop_clocks,
)
from bot.transitions import StaleLead, move
from storage.models import ContactAttempt, Lead, SlaClock

log = logging.getLogger(__name__)

OPEN_STAGES = frozenset({Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY})


@dataclass(frozen=True)
class ActionResult:
    """Outcome of a rep's action: done, or why not, with per-field errors for a modal."""

    status: Literal["done", "unchanged", "not_allowed", "wrong_stage", "invalid", "not_found"]
    lead_id: int
    message: str | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status == "done"


def allowed_people(rt: Runtime, lead: Lead) -> list[str]:
    rep = rt.config.rep(lead.rep_email)
    people = []
    if rep is not None:
        people.append(rep.slack_user_id)
        manager = rt.config.manager_of(rep)
        if manager is not None:
            people.append(manager.slack_user_id)
    return people


def is_manager_of(rt: Runtime, lead: Lead, user_id: str) -> bool:
    if user_id in rt.config.admins:
        return True
    rep = rt.config.rep(lead.rep_email)
    manager = rt.config.manager_of(rep) if rep is not None else None
    return manager is not None and manager.slack_user_id == user_id


def check_actor(
    session: Session, rt: Runtime, lead_id: int, user_id: str, stages: set[Stage],
) -> tuple[Lead | None, ActionResult | None, str]:
    """Load the lead and refuse when the user may not act or the stage does not fit.

    When the action may go on, the lead row is locked and clocks that an Accept left waiting
    switch first, so that the action finds them as of the Accept. The returned lead keeps the
    version read here, so a change committed meanwhile still fails the action's guarded UPDATE.
    """
    language = user_language(session, rt.config, rt.settings.default_language, user_id)
    lead = session.get(Lead, lead_id)
    if lead is None:
        return None, ActionResult("not_found", lead_id, t(language, "action.lead_not_found")), language
    if user_id not in rt.config.admins and user_id not in allowed_people(rt, lead):
        names = ", ".join(f"<@{person}>" for person in allowed_people(rt, lead)) or "–"
        return lead, ActionResult("not_allowed", lead_id, t(language, "action.not_allowed", allowed=names)), language
    if Stage(lead.stage) not in stages:
        message = t(language, "sales.wrong_stage", stage=t(language, f"stage.{lead.stage}"))
        return lead, ActionResult("wrong_stage", lead_id, message), language
    start_waiting_sal_clocks(session, rt, lead_id)
    return lead, None, language


def log_contact(
    session: Session, rt: Runtime, *, lead_id: int, user_id: str, channel: ContactChannel, note: str | None,
    request_key: str,
) -> ActionResult:
    """Record one touch; the first sets the first-contact time. A repeated request is stored once."""
    lead, refusal, _language = check_actor(session, rt, lead_id, user_id, {Stage.MQL, Stage.SAL})
    if refusal is not None or lead is None:
        return refusal or ActionResult("not_found", lead_id)
    now = rt.clock.now()
    try:
        with session.begin_nested():
            session.add(ContactAttempt(lead_id=lead.id, at=now, actor=user_id, channel=channel.value,
                                       note=(note or None), request_key=request_key))
            session.flush()
    except IntegrityError:
        return ActionResult("done", lead_id)
    lead.contact_attempts = session.scalar(
        select(func.count()).select_from(ContactAttempt).where(ContactAttempt.lead_id == lead.id)
    ) or 0
    if lead.first_contact_at is None:
        lead.first_contact_at = now
        if lead.mql_at is not None:
            # Stored once, so the funnel averages and ranks it in SQL without a calendar.
            working = rt.calendar(lead.team_id).working_time_between(lead.mql_at, now)
            lead.first_contact_working_seconds = int(working.total_seconds())
        stop_clocks(session, lead.id, now=now, kinds=(FIRST_CONTACT,))
    if lead.contact_attempts >= rt.config.sales.cadence.touches:
        stop_clocks(session, lead.id, now=now, kinds=(CADENCE,))
    lead.updated_at = now
    session.flush()
    refresh_card(session, rt, lead, key=f"contact:{request_key}")
    log.info("lead.contact lead=%s by=%s channel=%s count=%s", lead.id, user_id, channel.value, lead.contact_attempts)
    return ActionResult("done", lead_id)


def schedule_discovery(session: Session, rt: Runtime, *, lead_id: int, user_id: str, day: date) -> ActionResult:
    lead, refusal, language = check_actor(session, rt, lead_id, user_id, {Stage.SAL})
    if refusal is not None or lead is None:
        return refusal or ActionResult("not_found", lead_id)
    if lead.discovery_date == day:
        # A repeated delivery of the click, or the same date picked again: the card shows it already.
        return ActionResult("unchanged", lead_id)
    today = rt.clock.now().astimezone(rt.calendar(lead.team_id).zone).date()
    if day < today:
        return ActionResult("invalid", lead_id, t(language, "sales.date_in_past", date=day.isoformat()),
                            {"discovery_date": t(language, "sales.date_in_past", date=day.isoformat())})
    try:
        with session.begin_nested():
            move(session, lead, Stage.SAL, actor=user_id, reason="discovery_scheduled", now=rt.clock.now(),
                 same_stage=True, details={"date": day.isoformat()}, discovery_date=day)
    except StaleLead:
        return ActionResult("wrong_stage", lead_id, t(language, "sales.changed_meanwhile"))
    stop_clocks(session, lead.id, now=rt.clock.now(), kinds=(DISCOVERY_SCHEDULED,))
    start_sql_decision_clock(session, rt, lead, now=rt.clock.now())
    refresh_card(session, rt, lead, key="discovery_date")
    log.info("lead.discovery_scheduled lead=%s by=%s", lead.id, user_id)
    return ActionResult("done", lead_id)


@dataclass(frozen=True)
class DiscoveryInput:
    """The values submitted in the discovery modal."""

    met: dict[str, bool]
    notes: dict[str, str]
    next_steps: str
    opportunity_ref: str


def discovery_errors(rt: Runtime, lead: Lead, answers: DiscoveryInput, language: str) -> dict[str, str]:
    """Name each condition of the SQL minimum that the submitted values do not meet, by modal block id."""
    methodology = rt.config.methodology(lead.team_id)
    criteria = BANT_CRITERIA if methodology == "bant" else MEDDIC_CRITERIA
    needed = rt.config.sales.bant_min_met if methodology == "bant" else rt.config.sales.meddic_min_met
    met = sum(1 for key in criteria if answers.met.get(key))
    errors: dict[str, str] = {}
    if met < needed:
        errors["criteria"] = t(language, "sales.too_few_criteria", met=met, needed=needed, total=len(criteria),
                               framework=methodology.upper())
    if not answers.next_steps.strip():
        errors["next_steps"] = t(language, "sales.next_steps_missing")
    if not answers.opportunity_ref.strip():
        errors["opportunity_ref"] = t(language, "sales.opportunity_missing")
    return errors


def complete_discovery(
    session: Session, rt: Runtime, *, lead_id: int, user_id: str, answers: DiscoveryInput,
) -> ActionResult:
    """Make the SAL an SQL when the discovery meets the minimum; otherwise name the missing conditions."""
    lead, refusal, language = check_actor(session, rt, lead_id, user_id, {Stage.SAL})
    if refusal is not None or lead is None:
        return refusal or ActionResult("not_found", lead_id)
    errors = discovery_errors(rt, lead, answers, language)
    if errors:
        return ActionResult("invalid", lead_id, next(iter(errors.values())), errors)
    now = rt.clock.now()
    methodology = rt.config.methodology(lead.team_id)
    discovery = {
        "methodology": methodology,
        "criteria": {key: {"met": bool(answers.met.get(key)), "note": answers.notes.get(key, "")}
                     for key in (BANT_CRITERIA if methodology == "bant" else MEDDIC_CRITERIA)},
        "next_steps": answers.next_steps.strip(),
        "completed_by": user_id,
    }
    try:
        with session.begin_nested():
            move(session, lead, Stage.SQL, actor=user_id, reason="discovery_completed", now=now,
                 details={"methodology": methodology, "met": sum(1 for v in answers.met.values() if v)},
                 discovery=discovery, discovery_completed_at=now, opportunity_ref=answers.opportunity_ref.strip())
    except StaleLead:
        return ActionResult("wrong_stage", lead_id, t(language, "sales.changed_meanwhile"))
    stop_clocks(session, lead.id, now=now, kinds=SAL_CLOCKS)
    refresh_card(session, rt, lead)
    log.info("lead.sql lead=%s by=%s", lead.id, user_id)
    return ActionResult("done", lead_id)


def return_to_nurture(
    session: Session, rt: Runtime, *, lead_id: int, user_id: str, reason: str, until: date, notes: str,
) -> ActionResult:
    """Send a SAL or SQL back to marketing with a reason, a future re-engagement date and the discovery notes."""
    lead, refusal, language = check_actor(session, rt, lead_id, user_id, {Stage.SAL, Stage.SQL})
    if refusal is not None or lead is None:
        return refusal or ActionResult("not_found", lead_id)
    errors: dict[str, str] = {}
    today = rt.clock.now().astimezone(rt.calendar(lead.team_id).zone).date()
    if not reason.strip():
        errors["nurture_reason"] = t(language, "sales.reason_missing")
    if until <= today:
        errors["nurture_until"] = t(language, "sales.date_not_future", date=until.isoformat())
    if errors:
        return ActionResult("invalid", lead_id, next(iter(errors.values())), errors)
    now = rt.clock.now()
    discovery = dict(lead.discovery or {})
    if notes.strip():
        discovery["nurture_notes"] = notes.strip()
    try:
        with session.begin_nested():
            move(session, lead, Stage.NURTURE, actor=user_id, reason="returned_to_nurture", now=now,
                 details={"until": until.isoformat()}, nurture_until=until, nurture_reason=reason.strip(),
                 discovery=discovery)
    except StaleLead:
        return ActionResult("wrong_stage", lead_id, t(language, "sales.changed_meanwhile"))
    stop_clocks(session, lead.id, now=now)
    if not notes.strip():
        from bot.sla.documentation import start_nurture_notes_clock

        start_nurture_notes_clock(session, rt, lead, now=now)
    refresh_card(session, rt, lead)
    log.info("lead.returned_to_nurture lead=%s by=%s", lead.id, user_id)
    return ActionResult("done", lead_id)


def mark_opportunity(session: Session, rt: Runtime, *, lead_id: int, user_id: str, reference: str | None = None) -> ActionResult:
    lead, refusal, language = check_actor(session, rt, lead_id, user_id, {Stage.SQL})
    if refusal is not None or lead is None:
        return refusal or ActionResult("not_found", lead_id)
    reference = (reference or lead.opportunity_ref or "").strip()
    if not reference:
        return ActionResult("invalid", lead_id, t(language, "sales.opportunity_missing"),
                            {"opportunity_ref": t(language, "sales.opportunity_missing")})
    try:
        with session.begin_nested():
            move(session, lead, Stage.OPPORTUNITY, actor=user_id, reason="opportunity_created", now=rt.clock.now(),
                 details={"reference": reference}, opportunity_ref=reference)
    except StaleLead:
        return ActionResult("wrong_stage", lead_id, t(language, "sales.changed_meanwhile"))
    refresh_card(session, rt, lead)
    log.info("lead.opportunity lead=%s by=%s", lead.id, user_id)
    return ActionResult("done", lead_id)


def record_outcome(session: Session, rt: Runtime, *, lead_id: int, user_id: str, won: bool) -> ActionResult:
    lead, refusal, language = check_actor(session, rt, lead_id, user_id, {Stage.OPPORTUNITY})
    if refusal is not None or lead is None:
        return refusal or ActionResult("not_found", lead_id)
    now = rt.clock.now()
    try:
        with session.begin_nested():
            move(session, lead, Stage.WON if won else Stage.LOST, actor=user_id, reason="won" if won else "lost",
                 now=now, closed_at=now)
    except StaleLead:
        return ActionResult("wrong_stage", lead_id, t(language, "sales.changed_meanwhile"))
    refresh_card(session, rt, lead)
    log.info("lead.closed lead=%s by=%s won=%s", lead.id, user_id, won)
    return ActionResult("done", lead_id)


def reassign(session: Session, rt: Runtime, *, lead_id: int, user_id: str, rep: Rep) -> ActionResult:
    """Give an open lead to another rep: only the current rep's manager or an admin may.

    The old card is closed with a note, the new rep gets a fresh card, and an
    MQL gets a new decision deadline, because the new rep starts from zero.
    """
    language = user_language(session, rt.config, rt.settings.default_language, user_id)
    lead = session.get(Lead, lead_id)
    if lead is None:
        return ActionResult("not_found", lead_id, t(language, "action.lead_not_found"))
    if not is_manager_of(rt, lead, user_id):
        return ActionResult("not_allowed", lead_id, t(language, "sales.manager_only"))
    if Stage(lead.stage) not in OPEN_STAGES:
        message = t(language, "sales.wrong_stage", stage=t(language, f"stage.{lead.stage}"))
        return ActionResult("wrong_stage", lead_id, message)
    if rep.email == lead.rep_email:
        return ActionResult("invalid", lead_id, t(language, "sales.same_rep"), {"rep": t(language, "sales.same_rep")})
    return hand_over(session, rt, lead, rep, actor=user_id, language=language,
                     note=t(language, "sales.reassigned_to", rep=f"<@{rep.slack_user_id}>"))


def hand_over(session: Session, rt: Runtime, lead: Lead, rep: Rep, *, actor: str, language: str, note: str) -> ActionResult:
    """Move an open lead to `rep`: the path of the manager's Reassign and of the reassignment after a breach.

    The caller checks who may do this. The old card closes with `note`, the new rep gets a
    fresh card and fresh decision and first-contact clocks while those are still open.
    """
    lead_id = lead.id
    # The waiting clocks switch first, so that the decision clock stopped at the Accept keeps its rep.
    start_waiting_sal_clocks(session, rt, lead_id)
    now = rt.clock.now()
    previous = lead.rep_email
    decision = RoutingDecision(rep=rep, team_id=rep.team, rule="reassigned", detail=previous or "")
    fields: dict[str, object] = {"rep_email": rep.email, "team_id": rep.team, "routing": decision.to_json(),
                                 "card_channel": None, "card_ts": None, "card_delivered_at": None}
    if lead.stage == Stage.MQL.value:
        fields["decision_due_at"] = rt.calendar(rep.team).add_working_days(now, rt.config.sla.decision_working_days)
    try:
        with session.begin_nested():
            refresh_card(session, rt, lead, key="reassigned", final=True, card=(lead.card_channel, lead.card_ts),
                         note=note)
            move(session, lead, Stage(lead.stage), actor=actor, reason="reassigned", now=now, same_stage=True,
                 details={"from_rep": previous, "to_rep": rep.email}, **fields)
    except StaleLead:
        return ActionResult("wrong_stage", lead_id, t(language, "sales.changed_meanwhile"))
    if lead.stage == Stage.MQL.value:
        start_decision_clock(session, rt, lead, now=now)
    else:
        # The running and paused clocks now alert the new rep.
        session.execute(update(SlaClock).where(SlaClock.lead_id == lead.id, SlaClock.status.in_(OPEN_STATUSES))
                        .values(rep_email=rep.email).execution_options(synchronize_session=False))
        if lead.first_contact_at is None:
            start_first_contact_clock(session, rt, lead, now=now)
    enqueue_card(session, rt, lead, rep, now=now, key_suffix="reassigned")
    log.info("lead.reassigned lead=%s by=%s to=%s", lead.id, actor, rep.slack_user_id)
    return ActionResult("done", lead_id)



def close_from_crm(
    session: Session, rt: Runtime, *, lead_id: int, won: bool, actor: str, reference: str | None = None,
    language: str = "en",
) -> ActionResult:
    """Record won or lost reported by the CRM or an admin's CLI, making an SQL an opportunity first.

    This path has no Slack user to check: the webhook's signature or shell access to
    the bot authorizes it, and `actor` records which ("crm", "cli"). Its messages are for
    an integrator or an admin, so they default to English.
    """
    lead = session.get(Lead, lead_id)
    if lead is None:
        return ActionResult("not_found", lead_id, t(language, "action.lead_not_found"))
    now = rt.clock.now()
    try:
        with session.begin_nested():
            if lead.stage == Stage.SQL.value:
                reference = (reference or lead.opportunity_ref or "").strip()
                if not reference:
                    return ActionResult("invalid", lead_id, t(language, "sales.opportunity_missing"))
                move(session, lead, Stage.OPPORTUNITY, actor=actor, reason="opportunity_created", now=now,
                     details={"reference": reference}, opportunity_ref=reference)
            if lead.stage != Stage.OPPORTUNITY.value:
                message = t(language, "sales.outcome_wrong_stage", stage=t(language, f"stage.{lead.stage}"))
                return ActionResult("wrong_stage", lead_id, message)
            move(session, lead, Stage.WON if won else Stage.LOST, actor=actor, reason="won" if won else "lost",
                 now=now, closed_at=now)
    except StaleLead:
        return ActionResult("wrong_stage", lead_id, t(language, "sales.changed_meanwhile"))
    refresh_card(session, rt, lead)
    log.info("lead.closed lead=%s by=%s won=%s", lead.id, actor, won)
    return ActionResult("done", lead_id)
