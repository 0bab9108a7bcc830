"""The monthly deep dive and the quarterly criteria review, posted by the clock and on demand.

Monthly: the funnel per source and per campaign, response times and the
acceptance and win rates per lead-score band, for last month's MQL cohort.
Quarterly: for each MQL criterion, how leads that passed it comfortably fared
against leads that barely passed it, which criteria separate accepted from
rejected MQLs, and the best threshold changes found by the backtest.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date
from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, SectionBlock
from sqlalchemy import select

from bot import messages
from bot.backtest import (
    HistoricalLead,
    describe_result,
    describe_suggestion,
    last_quarter,
    load_history,
    replay,
    search_thresholds,
)
from bot.charts import MAX_REASONS, AcceptanceChart, FunnelChart, ReasonsChart, enqueue_charts
from bot.i18n import babel_locale, format_number, format_percentage, t
from bot.metrics import Funnel, Period, compute_funnel
from bot.outbox import enqueue
from bot.qualification import Criteria, Range, evaluate
from bot.runtime import Runtime
from storage.models import OutboxItem

log = logging.getLogger(__name__)

# A value barely passes a threshold when it lies within this share of the threshold's own value.
BARELY_MARGIN = Decimal("0.10")
ACCEPTANCE_WEEKS = 12
MAX_GROUP_LINES = 10
MAX_SEPARATORS = 3
MIN_SEPARATION = Decimal("0.10")
SECTION_LIMIT = 3000

Chart = FunnelChart | AcceptanceChart | ReasonsChart


@dataclass
class Review:
    """A review message and the charts that go with it."""

    message: messages.Message
    charts: list[Chart] = field(default_factory=list)


@dataclass
class Tally:
    """Outcome counts of a group of MQLs."""

    mqls: int = 0
    accepted: int = 0
    rejected: int = 0
    sqls: int = 0
    won: int = 0

    def add(self, lead: HistoricalLead) -> None:
        self.mqls += 1
        self.accepted += lead.accepted
        self.rejected += lead.rejected
        self.sqls += lead.sql
        self.won += lead.won

    @property
    def decided(self) -> int:
        return self.accepted + self.rejected

    @property
    def acceptance_rate(self) -> Decimal | None:
        return None if self.decided == 0 else Decimal(self.accepted) / Decimal(self.decided)

    @property
    def win_rate(self) -> Decimal | None:
        """Won deals per decided MQL."""
        return None if self.decided == 0 else Decimal(self.won) / Decimal(self.decided)


# Periods ------------------------------------------------------------------------------------------


def last_full_month(now: datetime, zone: ZoneInfo) -> Period:
    today = now.astimezone(zone).date()
    last = today.replace(day=1) - timedelta(days=1)
    first = last.replace(day=1)
    return Period(name="last_month", start=datetime.combine(first, time(0), zone),
                  end=datetime.combine(last + timedelta(days=1), time(0), zone), first_day=first, last_day=last)


def _week_period(monday: date, zone: ZoneInfo) -> Period:
    return Period(name="range", start=datetime.combine(monday, time(0), zone),
                  end=datetime.combine(monday + timedelta(days=7), time(0), zone), first_day=monday,
                  last_day=monday + timedelta(days=6))


def month_label(period: Period, language: str) -> str:
    return format_date(period.first_day, "LLLL y", locale=babel_locale(language))


def quarter_label(period: Period, language: str) -> str:
    return t(language, "review.quarter_name", quarter=(period.first_day.month - 1) // 3 + 1, year=period.first_day.year)


# Charts shared by the digest and the reviews ------------------------------------------------------


def acceptance_chart(rt: Runtime, end: datetime, language: str, weeks: int = ACCEPTANCE_WEEKS) -> AcceptanceChart:
    """Chart the acceptance rate of each of the `weeks` full weeks before `end`, oldest first."""
    zone = rt.calendar(None).zone
    local_end = end.astimezone(zone).date()
    last_monday = local_end - timedelta(days=local_end.weekday() + 7)
    labels: list[str] = []
    rates: list[float | None] = []
    with rt.db.transaction() as session:
        for offset in range(weeks - 1, -1, -1):
            monday = last_monday - timedelta(weeks=offset)
            rate = compute_funnel(session, _week_period(monday, zone)).acceptance_rate
            labels.append(f"W{monday.isocalendar().week:02d}")
            rates.append(None if rate is None else float(rate))
    return AcceptanceChart(language=language, title=t(language, "chart.title.acceptance", weeks=weeks), weeks=labels,
                           rates=rates, target=float(rt.config.targets.acceptance_rate.target))


def funnel_charts(funnel: Funnel, language: str, label: str) -> list[Chart]:
    """Chart the funnel and the rejection reasons of one period."""
    reasons = list(funnel.rejection_reasons.items())[:MAX_REASONS]
    return [
        FunnelChart(language=language, title=t(language, "chart.title.funnel", period=label), mqls=funnel.mqls,
                    accepted=funnel.accepted, sqls=funnel.sqls, won=funnel.won),
        ReasonsChart(language=language, title=t(language, "chart.title.reasons", period=label), reasons=reasons),
    ]


# Monthly deep dive --------------------------------------------------------------------------------


def _section(text: str, language: str) -> dict[str, object]:
    return SectionBlock(text=MarkdownTextObject(text=messages.clip(text, SECTION_LIMIT, language))).to_dict()


def _tally_by(leads: Iterable[HistoricalLead], key: Callable[[HistoricalLead], str]) -> dict[str, Tally]:
    groups: dict[str, Tally] = {}
    for lead in leads:
        groups.setdefault(key(lead), Tally()).add(lead)
    return dict(sorted(groups.items(), key=lambda item: (-item[1].mqls, item[0])))


def _group_lines(title: str, groups: dict[str, Tally], language: str) -> str:
    lines = [title]
    for name, tally in list(groups.items())[:MAX_GROUP_LINES]:
        lines.append(t(language, "review.group_line", name=messages.lead_text(name, language, 80),
                       mqls=t(language, "count.mqls", count=tally.mqls),
                       acceptance=format_percentage(tally.acceptance_rate, language),
                       sqls=t(language, "count.sqls", count=tally.sqls), won=tally.won))
    if len(groups) > MAX_GROUP_LINES:
        lines.append(t(language, "review.more_groups", count=len(groups) - MAX_GROUP_LINES))
    if not groups:
        lines.append(t(language, "review.no_mqls"))
    return "\n".join(lines)


def _hours(value: timedelta) -> float:
    return value.total_seconds() / 3600


def _response_lines(rt: Runtime, leads: list[HistoricalLead], language: str) -> str:
    contact = [_hours(rt.calendar(lead.team_id).working_time_between(lead.first_mql_at, lead.first_contact_at))
               for lead in leads if lead.first_mql_at and lead.first_contact_at]
    decision = [_hours(rt.calendar(lead.team_id).working_time_between(lead.first_mql_at, lead.decided_at))
                for lead in leads if lead.first_mql_at and lead.decided_at]
    limit = float(rt.config.sla.first_contact_working_hours)
    lines = [t(language, "review.response_title")]
    if contact:
        within = sum(hours <= limit for hours in contact) / len(contact)
        lines.append(t(language, "review.first_contact", median=format_number(round(statistics.median(contact), 1), language),
                       within=format_percentage(within, language), limit=format_number(limit, language), n=len(contact)))
    else:
        lines.append(t(language, "review.no_first_contact"))
    if decision:
        lines.append(t(language, "review.decision_time",
                       median=format_number(round(statistics.median(decision), 1), language), n=len(decision)))
    return "\n".join(lines)


def score_bands(criteria: Criteria) -> list[tuple[Decimal | None, Decimal | None]]:
    """Return the score bands [low, high): below the threshold, then three bands of 15 points, the last open."""
    threshold = criteria.engagement.min_score if criteria.engagement.min_score is not None else Decimal(50)
    edges = [threshold, threshold + 15, threshold + 30]
    return [(None, edges[0]), (edges[0], edges[1]), (edges[1], edges[2]), (edges[2], None)]


def _format_score(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _band_label(low: Decimal | None, high: Decimal | None) -> str:
    if low is None and high is not None:
        return f"< {_format_score(high)}"
    if high is None and low is not None:
        return f"≥ {_format_score(low)}"
    # NOTE: the label assumes whole-number scores; a score of 64.5 falls in the band labelled 50–64.
    assert low is not None and high is not None
    return f"{_format_score(low)}–{_format_score(high - 1)}"


def _score_lines(criteria: Criteria, leads: list[HistoricalLead], language: str) -> str:
    lines = [t(language, "review.score_title")]
    for low, high in score_bands(criteria):
        tally = Tally()
        for lead in leads:
            score = lead.facts.lead_score
            if score is None or (low is not None and score < low) or (high is not None and score >= high):
                continue
            tally.add(lead)
        lines.append(t(language, "review.score_line", band=_band_label(low, high), decided=tally.decided,
                       acceptance=format_percentage(tally.acceptance_rate, language),
                       wins=format_percentage(tally.win_rate, language)))
    return "\n".join(lines)


def monthly_review(rt: Runtime, now: datetime, language: str | None = None) -> Review:
    """Draw last month's deep dive: funnel, sources, campaigns, response times and lead-score bands."""
    language = language or rt.settings.default_language
    zone = rt.calendar(None).zone
    period = last_full_month(now, zone)
    label = month_label(period, language)
    with rt.db.transaction() as session:
        funnel = compute_funnel(session, period)
        cohort = [lead for lead in load_history(session, period) if lead.first_mql_at is not None]
    rates = t(language, "review.funnel_line", mqls=t(language, "count.mqls", count=funnel.mqls),
              accepted=funnel.accepted, rejected=funnel.rejected, pending=funnel.pending,
              sqls=t(language, "count.sqls", count=funnel.sqls), won=funnel.won,
              acceptance=format_percentage(funnel.acceptance_rate, language),
              sal_to_sql=format_percentage(funnel.sal_to_sql_rate, language),
              mql_to_won=format_percentage(funnel.mql_to_won_rate, language))
    no_campaign = t(language, "review.no_campaign")
    blocks = [
        _section(f"*{t(language, 'review.monthly_title', month=label)}*\n{rates}", language),
        _section(_group_lines(t(language, "review.by_source"), _tally_by(cohort, lambda lead: lead.source), language),
                 language),
        _section(_group_lines(t(language, "review.by_campaign"),
                              _tally_by(cohort, lambda lead: lead.campaign or no_campaign), language), language),
        _section(_response_lines(rt, cohort, language), language),
        _section(_score_lines(rt.config.criteria, cohort, language), language),
        ContextBlock(elements=[MarkdownTextObject(text=t(language, "review.cohort_note"))]).to_dict(),
    ]
    text = t(language, "review.monthly_fallback", month=label, count=funnel.mqls,
             acceptance=format_percentage(funnel.acceptance_rate, language))
    charts: list[Chart] = [*funnel_charts(funnel, language, label), acceptance_chart(rt, period.end, language)]
    return Review(messages.Message(text=text, blocks=blocks), charts)


# Quarterly criteria review ------------------------------------------------------------------------


def _near(value: Decimal, threshold: Decimal, margin: Decimal) -> bool:
    return abs(value - threshold) < abs(threshold) * margin


def _near_range(value: Decimal, bounds: Range, margin: Decimal) -> bool:
    return any(bound is not None and _near(value, bound, margin) for bound in (bounds.min, bounds.max))


def margin_class(key: str, lead: HistoricalLead, criteria: Criteria, margin: Decimal = BARELY_MARGIN) -> str:
    """Return "barely" when a passed numeric criterion lies within `margin` of its threshold, else "comfortably"."""
    facts = lead.facts
    fit, engagement = criteria.fit, criteria.engagement
    barely = False
    if key == "employees" and fit.employees is not None and facts.employees is not None:
        barely = _near_range(Decimal(facts.employees), fit.employees, margin)
    elif key == "annual_revenue" and fit.annual_revenue is not None and facts.annual_revenue is not None:
        barely = _near_range(Decimal(facts.annual_revenue), fit.annual_revenue, margin)
    elif key == "lead_score" and engagement.min_score is not None and facts.lead_score is not None:
        barely = _near(Decimal(facts.lead_score), engagement.min_score, margin)
    elif key == "asset_downloads" and engagement.min_asset_downloads is not None:
        barely = _near(Decimal(facts.asset_downloads), Decimal(engagement.min_asset_downloads), margin)
    elif key == "recent_activity" and engagement.recent_days is not None and facts.last_activity_at is not None:
        age = Decimal((lead.evaluated_at - facts.last_activity_at).total_seconds()) / Decimal(86400)
        barely = age > Decimal(engagement.recent_days) * (1 - margin)
    return "barely" if barely else "comfortably"


@dataclass
class CriterionStats:
    """Outcomes of decided MQLs grouped by how they met one criterion."""

    key: str
    expected: str
    groups: dict[str, Tally] = field(default_factory=dict)  # comfortably, barely, failed
    accepted_comfortably: int = 0
    rejected_comfortably: int = 0


def criterion_stats(leads: list[HistoricalLead], criteria: Criteria, margin: Decimal = BARELY_MARGIN) -> list[CriterionStats]:
    """Group the decided MQLs of `leads` per criterion into comfortably, barely and failed (as evaluated today)."""
    stats: dict[str, CriterionStats] = {}
    for lead in leads:
        if not lead.decided:
            continue
        for result in evaluate(lead.facts, criteria, lead.evaluated_at).results:
            entry = stats.setdefault(result.key, CriterionStats(key=result.key, expected=result.expected))
            group = margin_class(result.key, lead, criteria, margin) if result.passed else "failed"
            entry.groups.setdefault(group, Tally()).add(lead)
            if group == "comfortably":
                entry.accepted_comfortably += lead.accepted
                entry.rejected_comfortably += lead.rejected
    return list(stats.values())


def separators(stats: list[CriterionStats], accepted: int, rejected: int) -> list[tuple[str, Decimal, Decimal]]:
    """Return (criterion, share of accepted, share of rejected) that met it comfortably, largest gap first."""
    if accepted == 0 or rejected == 0:
        return []
    found = []
    for entry in stats:
        share_accepted = Decimal(entry.accepted_comfortably) / accepted
        share_rejected = Decimal(entry.rejected_comfortably) / rejected
        if abs(share_accepted - share_rejected) >= MIN_SEPARATION:
            found.append((entry.key, share_accepted, share_rejected))
    found.sort(key=lambda item: (-abs(item[1] - item[2]), item[0]))
    return found[:MAX_SEPARATORS]


def _criterion_lines(stats: list[CriterionStats], language: str) -> str:
    lines = [t(language, "review.criteria_title", margin=format_percentage(BARELY_MARGIN, language))]
    for entry in stats:
        lines.append(t(language, "review.criterion_name", name=t(language, f"criterion.{entry.key}"),
                       expected=messages.escape_mrkdwn(entry.expected)))
        for group in ("comfortably", "barely", "failed"):
            tally = entry.groups.get(group)
            if tally is None:
                continue
            lines.append(t(language, f"review.group_{group}", n=tally.decided,
                           acceptance=format_percentage(tally.acceptance_rate, language),
                           wins=format_percentage(tally.win_rate, language)))
    return "\n".join(lines)


def quarterly_review(rt: Runtime, now: datetime, language: str | None = None) -> Review:
    """Draw last quarter's criteria review: per criterion, what separates accepted MQLs, and threshold suggestions."""
    language = language or rt.settings.default_language
    period = last_quarter(now, rt.config.teams[0].calendar.timezone)
    label = quarter_label(period, language)
    criteria = rt.config.criteria
    with rt.db.transaction() as session:
        funnel = compute_funnel(session, period)
        history = load_history(session, period)
    current = replay(history, criteria)
    decided = [lead for lead in history if lead.decided]
    stats = criterion_stats(decided, criteria)
    accepted = sum(lead.accepted for lead in decided)
    separating = separators(stats, accepted, len(decided) - accepted)
    leads_label = t(language, "backtest.leads_quarter", quarter=label)
    suggestions = search_thresholds(history, criteria)

    separator_lines = [t(language, "review.separators_title")]
    separator_lines += [t(language, "review.separator_line", name=t(language, f"criterion.{key}"),
                          accepted=format_percentage(share_accepted, language),
                          rejected=format_percentage(share_rejected, language))
                        for key, share_accepted, share_rejected in separating] or [t(language, "review.no_separators")]
    suggestion_lines = [t(language, "review.suggestions_title")]
    suggestion_lines += [f"• {describe_suggestion(item, language, leads_label)}" for item in suggestions] or [
        t(language, "backtest.no_suggestions")]
    blocks = [
        _section(f"*{t(language, 'review.quarterly_title', quarter=label)}*\n"
                 f"{describe_result(t(language, 'backtest.current'), current, language)}", language),
        _section(_criterion_lines(stats, language), language),
        _section("\n".join(separator_lines), language),
        _section("\n".join(suggestion_lines), language),
        ContextBlock(elements=[MarkdownTextObject(text=t(language, "review.backtest_hint"))]).to_dict(),
    ]
    text = t(language, "review.quarterly_fallback", quarter=label, suggestions=len(suggestions))
    charts: list[Chart] = [*funnel_charts(funnel, language, label),
                           acceptance_chart(rt, period.end, language, weeks=13)]
    return Review(messages.Message(text=text, blocks=blocks), charts)


# Scheduling ---------------------------------------------------------------------------------------


def _clock_time(text: str) -> time:
    hour, minute = (int(part) for part in text.split(":"))
    return time(hour, minute)


def post_once(rt: Runtime, *, key: str, channel: str, kind: str, build: Callable[[], Review], now: datetime) -> bool:
    """Queue a review and its charts under `key` unless it was queued before; the unique key makes it once."""
    with rt.db.transaction() as session:
        if session.scalar(select(OutboxItem.id).where(OutboxItem.dedupe_key == key)) is not None:
            return False  # checked first, so each sweep after the moment costs one indexed lookup
    review = build()
    with rt.db.transaction() as session:
        queued = enqueue(session, key=key, kind=kind, method="chat.postMessage",
                         payload={"channel": channel, **review.message.to_payload()}, now=now)
        if queued:
            enqueue_charts(session, key=key, channel=channel, charts=review.charts, now=now)
    if queued:
        log.info("review.queued key=%s charts=%s", key, len(review.charts))
    return queued


def due_monthly_review(rt: Runtime) -> bool:
    """Queue last month's deep dive once its day and time of this month have passed."""
    settings = rt.config.digests.monthly
    if settings is None:
        return False
    now = rt.clock.now()
    zone = rt.calendar(None).zone
    local = now.astimezone(zone).date()
    moment = datetime.combine(local.replace(day=settings.day), _clock_time(settings.time), zone)
    if now < moment:
        return False
    reviewed = last_full_month(moment, zone)
    key = f"review:monthly:{reviewed.first_day:%Y-%m}"
    return post_once(rt, key=key, channel=settings.channel, kind="review",
                     build=lambda: monthly_review(rt, moment), now=now)


def due_quarterly_review(rt: Runtime) -> bool:
    """Queue last quarter's criteria review once its day and time in the quarter's first month have passed."""
    settings = rt.config.digests.quarterly
    if settings is None:
        return False
    now = rt.clock.now()
    zone = rt.calendar(None).zone
    local = now.astimezone(zone).date()
    first_month = 3 * ((local.month - 1) // 3) + 1
    moment = datetime.combine(date(local.year, first_month, settings.day), _clock_time(settings.time), zone)
    if now < moment:
        return False
    reviewed = last_quarter(moment, rt.config.teams[0].calendar.timezone)
    key = f"review:quarterly:{reviewed.first_day.year}-Q{(reviewed.first_day.month - 1) // 3 + 1}"
    return post_once(rt, key=key, channel=settings.channel, kind="review",
                     build=lambda: quarterly_review(rt, moment), now=now)
