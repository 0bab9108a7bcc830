"""The weekly MQL review digest, posted once a week before the review."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock
from sqlalchemy import func, select

from bot import messages
from bot.charts import MAX_REASONS, ReasonsChart
from bot.i18n import format_day, format_percentage, t
from bot.metrics import Period, compute_funnel, previous_period, traffic_light
from bot.reviews import Review, acceptance_chart, post_once
from bot.runtime import Runtime
from storage.models import Lead, SlaClock

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_WAITING_LINES = 15


def _last_full_week(moment: datetime, zone: ZoneInfo) -> Period:
    today = moment.astimezone(zone).date()
    first = today - timedelta(days=today.weekday() + 7)
    last = first + timedelta(days=6)
    return Period(name="last_week", start=datetime.combine(first, time(0), zone),
                  end=datetime.combine(last + timedelta(days=1), time(0), zone), first_day=first, last_day=last)


def weekly_digest(rt: Runtime, now: datetime) -> messages.Message:
    """Draw last week's volume, acceptance, rising rejection reasons, open breaches and waiting MQLs."""
    language = rt.settings.default_language
    zone = rt.calendar(None).zone
    period = _last_full_week(now, zone)
    with rt.db.transaction() as session:
        funnel = compute_funnel(session, period)
        before = compute_funnel(session, previous_period(period))
        breaches = session.scalar(select(func.count()).select_from(SlaClock)
                                  .where(SlaClock.status == "running", SlaClock.due_at <= now)) or 0
        waiting = list(session.scalars(select(Lead).where(Lead.stage == "mql").order_by(Lead.mql_at).limit(100)))
    target = rt.config.targets.acceptance_rate
    base = messages.funnel_message(funnel, traffic_light(funnel.acceptance_rate, target), target, language,
                                   conversion_target=rt.config.targets.sal_to_sql_rate)
    label = f"{format_day(period.start, language)} – {format_day(period.end - timedelta(seconds=1), language)}"
    blocks: list[dict[str, object]] = [SectionBlock(text=MarkdownTextObject(
        text=f"*{t(language, 'digest.title', period=label)}*")).to_dict(), *base.blocks[1:]]

    risen = [(reason, count, before.rejection_reasons.get(reason, 0)) for reason, count in funnel.rejection_reasons.items()
             if count > before.rejection_reasons.get(reason, 0)]
    lines = [t(language, "digest.risen")]
    lines += [t(language, "digest.risen_line", reason=t(language, f"reason.{reason}"), count=count, before=previous)
              for reason, count, previous in risen] or [t(language, "digest.none_risen")]
    extra: list[Block] = [SectionBlock(text=MarkdownTextObject(text="\n".join(lines))),
                          SectionBlock(text=MarkdownTextObject(text=t(language, "digest.breaches", count=breaches)))]
    waiting_lines = [t(language, "digest.waiting", count=len(waiting))]
    for lead in waiting[:MAX_WAITING_LINES]:
        rep = rt.config.rep(lead.rep_email)
        since = format_day(lead.mql_at, language) if lead.mql_at else "?"
        waiting_lines.append(t(language, "digest.waiting_line", company=messages.lead_text(lead.company, language, 80),
                               rep=f"<@{rep.slack_user_id}>" if rep else "–", since=since))
    extra.append(SectionBlock(text=MarkdownTextObject(text=messages.clip("\n".join(waiting_lines), 3000, language))))
    extra.append(ContextBlock(elements=[MarkdownTextObject(text=t(language, "funnel.previous",
        count=before.mqls, mql_change=f"{funnel.mqls - before.mqls:+d}",
        rate=format_percentage(before.acceptance_rate, language), rate_change="–"))]))
    blocks += [block.to_dict() for block in extra]
    text = t(language, "digest.fallback", mqls=t(language, "count.mqls", count=funnel.mqls),
             rate=format_percentage(funnel.acceptance_rate, language),
             breaches=t(language, "count.sla_breaches", count=breaches))
    return messages.Message(text=text, blocks=blocks[:50])


def due_weekly_digest(rt: Runtime) -> bool:
    """Queue this week's digest and its charts once its moment has passed; the outbox key makes it once per week."""
    settings = rt.config.digests.weekly
    if settings is None:
        return False
    now = rt.clock.now()
    zone = rt.calendar(None).zone
    local = now.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    hour, minute = (int(part) for part in settings.time.split(":"))
    moment = datetime.combine(monday + timedelta(days=WEEKDAYS.index(settings.weekday)), time(hour, minute), zone)
    if now < moment:
        return False
    year, week, _ = moment.isocalendar()
    key = f"digest:weekly:{year}-W{week:02d}"
    return post_once(rt, key=key, channel=settings.channel, kind="digest", build=lambda: weekly_review(rt, now), now=now)


def weekly_review(rt: Runtime, now: datetime) -> Review:
    """Return the weekly digest with its charts: acceptance per week and last week's rejection reasons."""
    language = rt.settings.default_language
    period = _last_full_week(now, rt.calendar(None).zone)
    with rt.db.transaction() as session:
        funnel = compute_funnel(session, period)
    label = f"{format_day(period.start, language)} – {format_day(period.end - timedelta(seconds=1), language)}"
    reasons = ReasonsChart(language=language, title=t(language, "chart.title.reasons", period=label),
                           reasons=list(funnel.rejection_reasons.items())[:MAX_REASONS])
    return Review(weekly_digest(rt, now), [acceptance_chart(rt, period.end, language), reasons])
