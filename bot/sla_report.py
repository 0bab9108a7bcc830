"""The /sla response: open breaches and leads at risk, per team and rep, with who and by how much."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from slack_sdk.models.blocks import Block, HeaderBlock, MarkdownTextObject, PlainTextObject, SectionBlock
from sqlalchemy import select

from bot.i18n import format_when, t
from bot.messages import SECTION_TEXT_LIMIT, Message, clip, ephemeral, lead_text
from bot.preferences import user_language
from bot.runtime import Runtime
from storage.models import ClockPause, Lead, SlaClock

# A clock is at risk when this many working hours or fewer are left.
AT_RISK_WORKING_HOURS = Decimal(4)
MAX_LINES_PER_TEAM = 30


def _hours(rt: Runtime, language: str, span: timedelta) -> str:
    hours = Decimal(span.total_seconds() / 3600).quantize(Decimal("0.1"))
    return t(language, "sla.hours", count=hours)


def sla_report(rt: Runtime, *, user_id: str | None, team_id: str | None = None) -> Message:
    """List running clocks that are breached or at risk, grouped by team, worst first."""
    now = rt.clock.now()
    risk = timedelta(hours=float(AT_RISK_WORKING_HOURS))
    with rt.db.transaction() as session:
        language = user_language(session, rt.config, rt.settings.default_language, user_id, team_id)
        # The report names companies and reps of every team, so it is for the configured people only.
        if user_id is not None and user_id not in rt.config.admins and rt.config.person_by_slack_id(user_id) is None:
            return ephemeral(t(language, "sla.not_allowed"))
        horizon = now + timedelta(days=14)  # covers 4 working hours across any holiday run; working time decides below
        rows = list(session.execute(
            select(SlaClock, Lead).join(Lead, Lead.id == SlaClock.lead_id)
            .where(SlaClock.status == "running", SlaClock.due_at <= horizon).order_by(SlaClock.due_at)
        ))
        paused_rows = list(session.execute(
            select(SlaClock, Lead, ClockPause).join(Lead, Lead.id == SlaClock.lead_id)
            .join(ClockPause, (ClockPause.clock_id == SlaClock.id) & ClockPause.ended_at.is_(None))
            .where(SlaClock.status == "paused").order_by(ClockPause.paused_at)
        ))
    teams: dict[str, list[tuple[int, str]]] = defaultdict(list)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for clock, lead in rows:
        calendar = rt.calendar(lead.team_id)
        rep = rt.config.rep(clock.rep_email)
        owner = f"<@{rep.slack_user_id}>" if rep else "–"
        task = t(language, f"sla.task.{clock.kind}")
        company = lead_text(lead.company, language, 80)
        team = rt.config.team(lead.team_id).name
        if clock.due_at <= now:
            overdue = calendar.working_time_between(clock.due_at, now)
            teams[team].append((0, t(language, "sla.breached_line", rep=owner, company=company, task=task,
                                     overdue=_hours(rt, language, overdue))))
            counts[team][0] += 1
        else:
            left = calendar.working_time_between(now, clock.due_at)
            if left <= risk:
                teams[team].append((1, t(language, "sla.risk_line", rep=owner, company=company, task=task,
                                         left=_hours(rt, language, left))))
                counts[team][1] += 1
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=t(language, "sla.title")))]
    if not teams and not paused_rows:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=t(language, "sla.none"))))
    for team, lines in sorted(teams.items()):
        breached, at_risk = counts[team]
        header = t(language, "sla.team", team=team, breached=breached, at_risk=at_risk)
        body = [line for _, line in sorted(lines, key=lambda item: item[0])][:MAX_LINES_PER_TEAM]
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join([header, *body]), SECTION_TEXT_LIMIT, language))))
    if paused_rows:
        # Paused clocks are listed apart: their deadline moves on at resume, so they are neither breached nor at risk.
        timezone = rt.timezone_of(rt.config.person_by_slack_id(user_id) if user_id else None, team_id)
        lines = [t(language, "sla.paused_header", count=len(paused_rows))]
        for clock, lead, pause_row in paused_rows[:MAX_LINES_PER_TEAM]:
            rep = rt.config.rep(clock.rep_email)
            lines.append(t(language, "sla.paused_line", rep=f"<@{rep.slack_user_id}>" if rep else "–",
                           company=lead_text(lead.company, language, 80), task=t(language, f"sla.task.{clock.kind}"),
                           since=format_when(pause_row.paused_at, language, timezone),
                           reason=t(language, f"sla.pause.reason.{pause_row.reason}")))
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), SECTION_TEXT_LIMIT, language))))
    total_breached = sum(c[0] for c in counts.values())
    total_risk = sum(c[1] for c in counts.values())
    return Message(text=t(language, "sla.fallback", breached=total_breached, at_risk=total_risk),
                   blocks=[block.to_dict() for block in blocks[:50]])


def delay_split(lead: Lead) -> tuple[timedelta | None, timedelta | None]:
    """Split a decided MQL's wait into the system's part (to the card's delivery) and the rep's (delivery to decision)."""
    system = lead.card_delivered_at - lead.mql_at if lead.card_delivered_at and lead.mql_at else None
    rep = lead.decided_at - lead.card_delivered_at if lead.decided_at and lead.card_delivered_at else None
    return system, rep


