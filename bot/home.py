"""The App Home tab: a rep's open leads by deadline, a manager's team queue with breaches first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.i18n import format_day, format_when, t
from bot.ids import ActionId
from bot.messages import SECTION_TEXT_LIMIT, clip, lead_text
from bot.preferences import user_language
from bot.runtime import Runtime
from storage.models import Lead

MAX_LINES_PER_SECTION = 25


def _rep_emails_for(rt: Runtime, user_id: str) -> tuple[list[str], bool]:
    """Return the reps whose leads this user's Home tab lists, and whether the user is their manager."""
    person = rt.config.person_by_slack_id(user_id)
    if person is None:
        return [], False
    team = [rep.email for rep in rt.config.reps if rep.manager == person.email]
    if team:
        return team, True
    return [person.email], False


def _section(header: str, lines: list[str], language: str) -> SectionBlock:
    shown = lines[:MAX_LINES_PER_SECTION]
    if len(lines) > MAX_LINES_PER_SECTION:
        shown.append("_" + t(language, "home.more", count=len(lines) - MAX_LINES_PER_SECTION) + "_")
    body = "\n".join([header, *shown]) if shown else f"{header}\n{t(language, 'home.none')}"
    return SectionBlock(text=MarkdownTextObject(text=clip(body, SECTION_TEXT_LIMIT, language)))


def home_view(session: Session, rt: Runtime, user_id: str) -> dict[str, Any]:
    """Build the Home tab of `user_id` from the current state of their leads or their team's."""
    language = user_language(session, rt.config, rt.settings.default_language, user_id)
    person = rt.config.person_by_slack_id(user_id)
    timezone = rt.timezone_of(person)
    now = rt.clock.now()
    emails, as_manager = _rep_emails_for(rt, user_id)
    title = t(language, "home.team_title" if as_manager else "home.title")
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=title))]
    if person is None:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=t(language, "home.not_configured"))))
    else:
        leads = list(session.scalars(
            select(Lead).where(Lead.rep_email.in_(emails), Lead.stage.in_(["mql", "sal", "sql", "opportunity"]))
        )) if emails else []
        blocks.extend(_lead_sections(rt, leads, now, language, timezone, as_manager))
    blocks.append(DividerBlock())
    options = [Option(text=PlainTextObject(text=name), value=code) for code, name in (("nl", "Nederlands"), ("en", "English"))]
    blocks.append(SectionBlock(
        text=MarkdownTextObject(text=t(language, "home.language")),
        accessory=StaticSelectElement(action_id=ActionId.LANGUAGE.value, options=options,
                                      initial_option=options[0] if language == "nl" else options[1]),
    ))
    return View(type="home", blocks=blocks).to_dict()


def _owner(rt: Runtime, lead: Lead) -> str:
    rep = rt.config.rep(lead.rep_email)
    return f"<@{rep.slack_user_id}>" if rep else "–"


def _lead_sections(rt: Runtime, leads: list[Lead], now: datetime, language: str, timezone: str,
                   as_manager: bool) -> list[Block]:
    far = datetime.max.replace(tzinfo=now.tzinfo)
    mqls = [lead for lead in leads if lead.stage == "mql"]
    # A manager gets breaches first, and everyone gets the nearest deadline first after that.
    mqls.sort(key=lambda lead: (not (as_manager and lead.decision_due_at is not None and lead.decision_due_at < now),
                                lead.decision_due_at or far, lead.id))
    mql_lines = []
    for lead in mqls:
        breached = lead.decision_due_at is not None and lead.decision_due_at < now
        mark = t(language, "home.breached") if breached else ":hourglass_flowing_sand:"
        deadline = format_when(lead.decision_due_at, language, timezone) if lead.decision_due_at else "?"
        mql_lines.append(t(language, "home.mql_line", mark=mark, company=lead_text(lead.company, language, 100),
                           rep=_owner(rt, lead), deadline=deadline))

    sals = [lead for lead in leads if lead.stage == "sal"]
    sals.sort(key=lambda lead: (lead.discovery_date or datetime.max.date(), lead.decided_at or far, lead.id))
    cadence = rt.config.sales.cadence.touches
    sal_lines = []
    for lead in sals:
        if lead.discovery_date is not None:
            step = t(language, "home.next_discovery", date=format_day(datetime.combine(lead.discovery_date, datetime.min.time()), language))
        elif (lead.contact_attempts or 0) < cadence:
            step = t(language, "home.next_contact", count=lead.contact_attempts or 0, target=cadence)
        else:
            step = t(language, "home.next_schedule")
        sal_lines.append(t(language, "home.sal_line", mark=":telephone_receiver:", company=lead_text(lead.company, language, 100),
                           rep=_owner(rt, lead), next=step))

    later = sorted((lead for lead in leads if lead.stage in {"sql", "opportunity"}), key=lambda lead: lead.id)
    later_lines = [f"• *{lead_text(lead.company, language, 100)}* · {_owner(rt, lead)} · {t(language, 'stage.' + lead.stage)}"
                   for lead in later]
    return [
        _section(t(language, "home.mqls", count=len(mqls)), mql_lines, language),
        _section(t(language, "home.sals", count=len(sals)), sal_lines, language),
        _section(t(language, "home.sqls", count=len(later)), later_lines, language),
    ]
