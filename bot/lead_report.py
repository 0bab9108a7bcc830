"""The /lead response: a lead's current state and its whole history, for the person who asked."""

from __future__ import annotations

from datetime import timedelta

from babel.numbers import format_decimal
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from sqlalchemy import func, or_, select

from bot.i18n import MESSAGES, babel_locale, format_day, format_when, t
from bot.ids import database_id
from bot.sla_report import delay_split
from bot.messages import HEADER_TEXT_LIMIT, SECTION_TEXT_LIMIT, Message, clip, ephemeral, escape_mrkdwn, lead_text
from bot.preferences import user_language
from bot.runtime import Runtime
from bot.views import lead_view
from storage.models import ClockPause, Lead, LeadTransition, SlaClock

MAX_LEADS_SHOWN = 3
MAX_HISTORY_LINES = 40


def _span(span: timedelta, language: str) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    return format_decimal(minutes / 60, format="#,##0.0", locale=babel_locale(language)) + " h"


def _may_look_up(rt: Runtime, user_id: str) -> bool:
    return user_id in rt.config.admins or rt.config.person_by_slack_id(user_id) is not None


def _actor(actor: str) -> str:
    return f"<@{actor}>" if actor[:1] in {"U", "W"} and actor.isalnum() else escape_mrkdwn(actor)


def _stage(stage: str | None, language: str) -> str:
    return t(language, f"stage.{stage or 'none'}")


def _reason(reason: str, language: str) -> str:
    if reason.startswith("rejected:"):
        return t(language, "card.decision.rejected") + ": " + t(language, "reason." + reason.removeprefix("rejected:"))
    if f"lead.reason.{reason}" in MESSAGES:
        return t(language, f"lead.reason.{reason}")
    # A reason code without a text of its own (from an older version, say) shows as stored.
    return escape_mrkdwn(reason)


def pause_lines(rt: Runtime, lead: Lead, pauses: list[tuple[ClockPause, str]], language: str, timezone: str) -> list[str]:
    """List each pause of the lead's clocks with its reason and working time, under a total."""
    from bot.sla.pauses import paused_working_time

    now = rt.clock.now()
    lines: list[str] = []
    total = timedelta(0)
    for pause_row, kind in pauses:
        span = paused_working_time(rt, lead.team_id, pause_row, now)
        total += span
        reason = t(language, f"sla.pause.reason.{pause_row.reason}")
        if pause_row.note:
            reason += f" ({lead_text(pause_row.note, language, 200)})"
        duration = _span(span, language) + ("" if pause_row.ended_at else f", {t(language, 'lead.pause_open')}")
        lines.append(t(language, "lead.pause_line", when=format_when(pause_row.paused_at, language, timezone),
                       task=t(language, f"sla.task.{kind}"), reason=reason, actor=_actor(pause_row.paused_by),
                       duration=duration))
    return [t(language, "lead.pauses", count=len(pauses), total=_span(total, language)), *lines[-MAX_HISTORY_LINES:]]


def lead_blocks(rt: Runtime, lead: Lead, transitions: list[LeadTransition], language: str, timezone: str,
                pauses: list[tuple[ClockPause, str]] | None = None) -> list[Block]:
    view = lead_view(lead, rt.config, language)
    rep = rt.config.rep(lead.rep_email)
    company = (lead.company or "").strip() or t(language, "card.unknown")
    fields = [
        (t(language, "lead.stage"), _stage(lead.stage, language)),
        (t(language, "lead.owner"), f"<@{rep.slack_user_id}>" if rep else "–"),
        (t(language, "card.person"), lead_text(view.person, language, 500)),
        (t(language, "card.source"), lead_text(lead.source, language, 200)),
    ]
    if lead.stage == "mql" and lead.decision_due_at is not None:
        fields.append((t(language, "lead.deadline"), format_when(lead.decision_due_at, language, timezone)))
    if lead.nurture_until is not None:
        fields.append((t(language, "lead.nurture_until"), lead.nurture_until.isoformat()))
    if lead.rejection_reason:
        fields.append((t(language, "lead.rejection"), t(language, f"reason.{lead.rejection_reason}")))
    system, rep_time = delay_split(lead)
    if system is not None:
        # The system's part (intake to the card's delivery) is never counted against the rep.
        fields.append((t(language, "lead.delay"), t(language, "sla.delay", system=_span(system, language),
                                                    rep=_span(rep_time, language) if rep_time is not None else "–")))
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(t(language, "lead.title", id=lead.id, company=company), HEADER_TEXT_LIMIT, language))),
        SectionBlock(fields=[MarkdownTextObject(text=f"*{label}*\n{value}") for label, value in fields]),
    ]
    lines = [
        t(language, "lead.history_line", when=format_when(item.at, language, timezone),
          from_stage=_stage(item.from_stage, language), to_stage=_stage(item.to_stage, language),
          reason=_reason(item.reason, language), actor=_actor(item.actor))
        for item in transitions[-MAX_HISTORY_LINES:]
    ]
    header = t(language, "lead.history", count=len(transitions))
    if len(transitions) > MAX_HISTORY_LINES:
        lines.insert(0, "_" + t(language, "lead.history_more", count=len(transitions) - MAX_HISTORY_LINES) + "_")
    blocks.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join([header, *lines]), SECTION_TEXT_LIMIT, language))))
    if pauses:
        text = "\n".join(pause_lines(rt, lead, pauses, language, timezone))
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_TEXT_LIMIT, language))))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"{lead.source} · {escape_mrkdwn(lead.external_id)[:200]} · "
                                                                 f"{format_day(lead.created_at, language)}")]))
    return blocks


def lead_report(rt: Runtime, *, query: str, user_id: str, team_id: str | None = None) -> Message:
    """Find leads by id or e-mail and draw each with its history; refuse people outside the configuration."""
    query = query.strip()
    person = rt.config.person_by_slack_id(user_id)
    timezone = rt.timezone_of(person)
    with rt.db.transaction() as session:
        language = user_language(session, rt.config, rt.settings.default_language, user_id, team_id)
        if not _may_look_up(rt, user_id):
            return ephemeral(t(language, "lead.not_allowed"))
        if not query:
            return ephemeral(t(language, "lead.usage"))
        conditions = [func.lower(Lead.email) == query.lower()]
        if (number := database_id(query)) is not None:
            conditions.append(Lead.id == number)
        matches = list(session.scalars(select(Lead).where(or_(*conditions)).order_by(Lead.updated_at.desc(), Lead.id.desc())))
        if not matches:
            return ephemeral(t(language, "lead.not_found", query=escape_mrkdwn(query[:200])))
        blocks: list[Block] = []
        if len(matches) > MAX_LEADS_SHOWN:
            blocks.append(ContextBlock(elements=[MarkdownTextObject(
                text=t(language, "lead.more_matches", count=len(matches), shown=MAX_LEADS_SHOWN))]))
        for index, lead in enumerate(matches[:MAX_LEADS_SHOWN]):
            if index:
                blocks.append(DividerBlock())
            transitions = list(session.scalars(
                select(LeadTransition).where(LeadTransition.lead_id == lead.id).order_by(LeadTransition.id)))
            pauses = [(row, kind) for row, kind in session.execute(
                select(ClockPause, SlaClock.kind).join(SlaClock, SlaClock.id == ClockPause.clock_id)
                .where(ClockPause.lead_id == lead.id).order_by(ClockPause.id))]
            blocks.extend(lead_blocks(rt, lead, transitions, language, timezone, pauses))
        first = matches[0]
        text = t(language, "lead.fallback", id=first.id, company=escape_mrkdwn((first.company or "?")[:200]),
                 stage=_stage(first.stage, language))
    return Message(text=text, blocks=[block.to_dict() for block in blocks])
