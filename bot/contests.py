"""Marketing contests a rejection; the rep's manager upholds or overturns it with one click."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, MarkdownTextObject, SectionBlock
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import messages
from bot.config import Person
from bot.handoff import become_mql
from bot.i18n import t
from bot.ids import ActionId
from bot.lifecycle import Stage
from bot.outbox import enqueue
from bot.preferences import user_language
from bot.routing import RoutingDecision
from bot.runtime import Runtime
from bot.transitions import StaleLead
from storage.models import Lead, LeadTransition, RejectionContest

log = logging.getLogger(__name__)


class _AlreadyRuled(Exception):
    """Another click ruled on the contest first."""


@dataclass(frozen=True)
class ContestResult:
    status: Literal["done", "invalid", "not_allowed", "not_found"]
    message: str | None = None
    contest_id: int | None = None


def rejection_notice(rt: Runtime, lead: Lead, rejection: LeadTransition, language: str) -> messages.Message:
    """Draw the notice to marketing of one rejection, with its note and a Contest button."""
    company = messages.lead_text(lead.company, language, 200)
    reason = t(language, "reason." + rejection.reason.removeprefix("rejected:"))
    text = t(language, "contest.notice", company=company, lead=lead.id, rep=f"<@{rejection.actor}>", reason=reason)
    note = rejection.details.get("note") if isinstance(rejection.details, dict) else None
    body = text
    if note:
        body += "\n" + t(language, "contest.notice_note", note=messages.clip(messages.escape_mrkdwn(str(note)), 2000, language))
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=messages.clip(body, messages.SECTION_TEXT_LIMIT, language))),
        ActionsBlock(block_id="contest", elements=[ButtonElement(
            text=t(language, "contest.button"), action_id=ActionId.CONTEST.value, value=str(rejection.id))]),
    ]
    return messages.Message(text=text, blocks=[block.to_dict() for block in blocks])


def _judge(rt: Runtime, lead: Lead, rejection: LeadTransition) -> Person | None:
    """Return the manager who rules: the rejecting rep's manager, else the lead's rep's manager."""
    rejecter = rt.config.person_by_slack_id(rejection.actor)
    rep = rt.config.rep(rejecter.email) if rejecter else None
    rep = rep or rt.config.rep(lead.rep_email)
    return rt.config.manager_of(rep) if rep else None


def open_contest(session: Session, rt: Runtime, *, rejection_id: int, user_id: str, comment: str) -> ContestResult:
    """Record marketing's objection to the lead's latest rejection and ask the manager to rule."""
    language = user_language(session, rt.config, rt.settings.default_language, user_id)
    if not comment.strip():
        return ContestResult("invalid", t(language, "contest.comment_missing"))
    rejection = session.get(LeadTransition, rejection_id)
    lead = session.get(Lead, rejection.lead_id) if rejection else None
    if rejection is None or lead is None or not rejection.reason.startswith("rejected:"):
        return ContestResult("not_found", t(language, "action.lead_not_found"))
    latest = session.scalar(select(LeadTransition.id).where(LeadTransition.lead_id == lead.id)
                            .order_by(LeadTransition.id.desc()).limit(1))
    if latest != rejection.id:
        return ContestResult("invalid", t(language, "contest.not_latest"))
    now = rt.clock.now()
    contest = RejectionContest(lead_id=lead.id, rejection_id=rejection.id, contested_by=user_id,
                               comment=comment.strip()[:3000], created_at=now, status="open")
    try:
        with session.begin_nested():
            session.add(contest)
            session.flush()
    except IntegrityError:
        return ContestResult("invalid", t(language, "contest.already"))

    company = messages.lead_text(lead.company, language, 200)
    comment_text = messages.clip(messages.escape_mrkdwn(contest.comment), 1500, language)
    if rt.config.marketing_channel:
        text = t(language, "contest.opened", user=f"<@{user_id}>", company=company, lead=lead.id, comment=comment_text)
        enqueue(session, key=f"contest:{contest.id}:opened", kind="notice", method="chat.postMessage",
                payload={"channel": rt.config.marketing_channel, "text": text}, now=now, lead_id=lead.id)
    judge = _judge(rt, lead, rejection)
    if judge is not None:
        judge_language = user_language(session, rt.config, rt.settings.default_language, judge.slack_user_id)
        reason = t(judge_language, "reason." + rejection.reason.removeprefix("rejected:"))
        body = t(judge_language, "contest.for_manager", rep=f"<@{rejection.actor}>", company=company, lead=lead.id,
                 reason=reason, user=f"<@{user_id}>", comment=comment_text)
        blocks = [
            SectionBlock(text=MarkdownTextObject(text=messages.clip(body, messages.SECTION_TEXT_LIMIT, judge_language))),
            ActionsBlock(block_id="ruling", elements=[
                ButtonElement(text=t(judge_language, "contest.uphold"), action_id=ActionId.UPHOLD.value, value=str(contest.id)),
                ButtonElement(text=t(judge_language, "contest.overturn"), action_id=ActionId.OVERTURN.value,
                              value=str(contest.id), style="danger"),
            ]),
        ]
        enqueue(session, key=f"contest:{contest.id}:manager", kind="notice", method="chat.postMessage",
                payload={"channel": judge.slack_user_id, "text": body, "blocks": [b.to_dict() for b in blocks]},
                now=now, lead_id=lead.id)
    log.info("contest.opened contest=%s lead=%s by=%s", contest.id, lead.id, user_id)
    return ContestResult("done", contest_id=contest.id)


def rule_on_contest(session: Session, rt: Runtime, *, contest_id: int, user_id: str, overturn: bool) -> ContestResult:
    """Uphold or overturn once; overturning makes the lead an MQL of the rep who rejected it again."""
    language = user_language(session, rt.config, rt.settings.default_language, user_id)
    contest = session.get(RejectionContest, contest_id)
    if contest is None:
        return ContestResult("not_found", t(language, "action.lead_not_found"))
    lead = session.get(Lead, contest.lead_id)
    rejection = session.get(LeadTransition, contest.rejection_id)
    assert lead is not None and rejection is not None
    judge = _judge(rt, lead, rejection)
    if user_id not in rt.config.admins and (judge is None or judge.slack_user_id != user_id):
        return ContestResult("not_allowed", t(language, "contest.manager_only"))
    now = rt.clock.now()
    status = "overturned" if overturn else "upheld"
    try:
        # One savepoint for the ruling and the lead's return, so neither is kept without the other.
        with session.begin_nested():
            claimed = session.execute(
                update(RejectionContest).where(RejectionContest.id == contest.id, RejectionContest.status == "open")
                .values(status=status, resolved_by=user_id, resolved_at=now).execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                raise _AlreadyRuled
            if overturn:
                rejecter = rt.config.person_by_slack_id(rejection.actor)
                rep = rt.config.rep(rejecter.email) if rejecter else None
                rep = rep or rt.config.rep(lead.rep_email)
                if rep is not None and Stage(lead.stage) in {Stage.REJECTED, Stage.NURTURE, Stage.MQL}:
                    decision = RoutingDecision(rep=rep, team_id=rep.team, rule="contest_overturned", detail=str(contest.id))
                    become_mql(session, rt, lead, decision, actor=user_id, reason="contest_overturned", now=now,
                               details={"contest": contest.id})
    except _AlreadyRuled:
        session.refresh(contest)
        ruled_by = f"<@{contest.resolved_by}>" if contest.resolved_by else "–"
        return ContestResult("invalid", t(language, f"contest.ruled_{contest.status}", user=ruled_by))
    except StaleLead:
        return ContestResult("invalid", t(language, "sales.changed_meanwhile"))
    if rt.config.marketing_channel:
        key = "contest.overturned" if overturn else "contest.upheld"
        text = t(rt.settings.default_language, key, user=f"<@{user_id}>",
                 company=messages.lead_text(lead.company, rt.settings.default_language, 200), lead=lead.id)
        enqueue(session, key=f"contest:{contest.id}:{status}", kind="notice", method="chat.postMessage",
                payload={"channel": rt.config.marketing_channel, "text": text}, now=now, lead_id=lead.id)
    log.info("contest.ruled contest=%s lead=%s by=%s status=%s", contest.id, lead.id, user_id, status)
    return ContestResult("done", contest_id=contest.id)
