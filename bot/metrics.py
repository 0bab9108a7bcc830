"""Funnel metrics computed with SQL aggregation over lead rows and, for a few counts, their history."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.orm import Session

from bot.config import RateTarget
from storage.models import Lead, LeadTransition

Light = Literal["green", "amber", "red", "none"]
LIGHT_EMOJI: dict[str, str] = {"green": ":large_green_circle:", "amber": ":large_orange_circle:",
                               "red": ":red_circle:", "none": ":white_circle:"}

PERIOD_ALIASES: dict[str, str] = {
    "": "this_week", "week": "this_week", "deze-week": "this_week", "this-week": "this_week",
    "last-week": "last_week", "lastweek": "last_week", "vorige-week": "last_week", "vorigeweek": "last_week",
    "month": "this_month", "maand": "this_month", "quarter": "this_quarter", "kwartaal": "this_quarter",
}


SECONDS_PER_HOUR = Decimal(3600)

MIN_YEAR = 1900
DATE_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_YEAR = 2999


class PeriodError(ValueError):
    """A period argument that is not one of the known names or a valid date range.

    `reason` is unknown (no such name), invalid_date (a day that does not exist),
    reversed (the range ends before it starts) or out_of_range (a year outside MIN_YEAR..MAX_YEAR).
    """

    MESSAGES = {
        "unknown": "unknown period {value!r}: use week, last-week, month, quarter or YYYY-MM-DD..YYYY-MM-DD",
        "invalid_date": "invalid date in period {value!r}: both ends must be real days written YYYY-MM-DD",
        "reversed": "period {value!r} ends before it starts: put the earlier day first",
        "out_of_range": "period {value!r} is out of range: use years from 1900 to 2999",
    }

    def __init__(self, value: str, reason: str = "unknown") -> None:
        super().__init__(self.MESSAGES[reason].format(value=value))
        self.value = value
        self.reason = reason


@dataclass(frozen=True)
class Period:
    name: str  # this_week, last_week, this_month, this_quarter or range
    start: datetime  # inclusive, aware
    end: datetime  # exclusive, aware
    first_day: date
    last_day: date


def parse_period(text: str, now: datetime, timezone: str) -> Period:
    """Resolve a /funnel period in the team's time zone; weeks start on Monday."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    value = text.strip().lower()
    name = PERIOD_ALIASES.get(value)
    if name == "this_week":
        first = today - timedelta(days=today.weekday())
        last = first + timedelta(days=6)
    elif name == "last_week":
        first = today - timedelta(days=today.weekday() + 7)
        last = first + timedelta(days=6)
    elif name == "this_month":
        first = today.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    elif name == "this_quarter":
        first = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        last = (first + timedelta(days=95)).replace(day=1) - timedelta(days=1)
    elif ".." in value:
        name = "range"
        start_text, _, end_text = value.partition("..")
        if not (DATE_SHAPE.fullmatch(start_text) and DATE_SHAPE.fullmatch(end_text)):
            raise PeriodError(text)
        try:
            first, last = date.fromisoformat(start_text), date.fromisoformat(end_text)
        except ValueError:
            raise PeriodError(text, "invalid_date") from None
        if last < first:
            raise PeriodError(text, "reversed")
        # The comparison with the previous period needs room before the range, and weeks after it.
        if first.year < MIN_YEAR or last.year > MAX_YEAR:
            raise PeriodError(text, "out_of_range")
    else:
        raise PeriodError(text)
    start = datetime.combine(first, time(0), zone)
    end = datetime.combine(last + timedelta(days=1), time(0), zone)
    return Period(name=name, start=start, end=end, first_day=first, last_day=last)


@dataclass(frozen=True)
class Funnel:
    period: Period
    mqls_by_source: dict[str, int]
    accepted: int
    rejected: int
    pending: int
    rejection_reasons: dict[str, int] = field(default_factory=dict)
    sqls: int = 0  # cohort leads that reached SQL
    won: int = 0
    reengaged: int = 0  # nurture leads that qualified again on their date, in the period
    rescored: int = 0  # nurture leads scored again on their date, in the period
    contacted: int = 0  # cohort leads with a measured time to first contact
    first_contact_total_seconds: int = 0  # sum of those times, in working seconds
    first_contact_median_seconds: Decimal | None = None
    contact_attempts: int = 0  # attempts logged on the accepted leads of the cohort

    @property
    def first_contact_average_hours(self) -> Decimal | None:
        if self.contacted == 0:
            return None
        return Decimal(self.first_contact_total_seconds) / Decimal(self.contacted) / SECONDS_PER_HOUR

    @property
    def first_contact_median_hours(self) -> Decimal | None:
        if self.first_contact_median_seconds is None:
            return None
        return self.first_contact_median_seconds / SECONDS_PER_HOUR

    @property
    def attempts_per_lead(self) -> Decimal | None:
        return None if self.accepted == 0 else Decimal(self.contact_attempts) / Decimal(self.accepted)

    @property
    def sal_to_sql_rate(self) -> Decimal | None:
        return None if self.accepted == 0 else Decimal(self.sqls) / Decimal(self.accepted)

    @property
    def mql_to_sql_rate(self) -> Decimal | None:
        return None if self.mqls == 0 else Decimal(self.sqls) / Decimal(self.mqls)

    @property
    def mql_to_won_rate(self) -> Decimal | None:
        return None if self.mqls == 0 else Decimal(self.won) / Decimal(self.mqls)

    @property
    def reengagement_rate(self) -> Decimal | None:
        return None if self.rescored == 0 else Decimal(self.reengaged) / Decimal(self.rescored)

    @property
    def mqls(self) -> int:
        return sum(self.mqls_by_source.values())

    @property
    def acceptance_rate(self) -> Decimal | None:
        decided = self.accepted + self.rejected
        return None if decided == 0 else Decimal(self.accepted) / Decimal(decided)


def light_at_least(value: Decimal | None, target: Decimal, amber_band: Decimal) -> Light:
    """Return green at or above `target`, amber down to `amber_band` below it, red below that."""
    if value is None:
        return "none"
    if value >= target:
        return "green"
    if value >= target - amber_band:
        return "amber"
    return "red"


def light_at_most(value: Decimal | None, target: Decimal, amber_band: Decimal) -> Light:
    """Return green at or below `target`, amber up to `amber_band` above it, red above that."""
    if value is None:
        return "none"
    if value <= target:
        return "green"
    if value <= target + amber_band:
        return "amber"
    return "red"


def traffic_light(rate: Decimal | None, target: RateTarget) -> Light:
    return light_at_least(rate, target.target, target.amber_band)


@dataclass(frozen=True)
class FunnelFilter:
    """Narrow the funnel to one source, team or rep; None means all."""

    source: str | None = None
    team_id: str | None = None
    rep_email: str | None = None

    def is_empty(self) -> bool:
        return self.source is None and self.team_id is None and self.rep_email is None


def previous_period(period: Period) -> Period:
    """Return the period of the same length that ends where `period` starts."""
    if period.name == "this_month":
        last = period.first_day - timedelta(days=1)
        first = last.replace(day=1)
    elif period.name == "this_quarter":
        last = period.first_day - timedelta(days=1)
        first = date(last.year, 3 * ((last.month - 1) // 3) + 1, 1)
    else:
        length = (period.last_day - period.first_day).days + 1
        last = period.first_day - timedelta(days=1)
        first = last - timedelta(days=length - 1)
    zone = period.start.tzinfo
    return Period(
        name="previous", start=datetime.combine(first, time(0), zone),
        end=datetime.combine(last + timedelta(days=1), time(0), zone), first_day=first, last_day=last,
    )


def compute_funnel(session: Session, period: Period, filters: FunnelFilter | None = None) -> Funnel:
    """Count the MQL cohort of the period and what became of it.

    The cohort is every lead whose first MQL time (`leads.first_mql_at`) falls
    in the period, so reroutes and re-engagements do not count a lead twice. A
    lead counts as accepted when it ever reached SAL, and rejected when it has a
    rejection, no acceptance and is no longer an MQL. The acceptance rate is
    accepted / (accepted + rejected); leads still waiting count as pending.
    Time to first contact covers the cohort leads with a first contact attempt,
    and contact attempts per lead divides the attempts on accepted leads by the
    accepted leads. Every count is a SQL aggregate. The outcomes come from the
    lead's own outcome times (`reached_sal_at` and the like), which
    `bot.transitions.move` writes with each stage change, so the counts read
    one row per cohort lead, never its history. The median is read with an
    ordered OFFSET query, so SQLite and PostgreSQL return the same value.
    """
    filters = filters or FunnelFilter()
    lead_conditions = _filter_conditions(filters)
    conditions = [Lead.first_mql_at >= period.start, Lead.first_mql_at < period.end, *lead_conditions]

    by_source: dict[str, int] = {}
    contacted = first_contact_seconds = accepted = rejected_only = sqls = won = attempts = 0
    for row in session.execute(_cohort_totals(conditions)):
        by_source[row.source] = int(row.mqls)
        contacted += int(row.contacted)
        first_contact_seconds += int(row.contact_seconds)
        accepted += int(row.accepted)
        rejected_only += int(row.rejected)
        sqls += int(row.sqls)
        won += int(row.won)
        attempts += int(row.attempts)

    reengaged, rescored = _rescoring(session, period, lead_conditions)
    total = sum(by_source.values())
    return Funnel(
        period=period,
        mqls_by_source=dict(sorted(by_source.items(), key=lambda kv: (-kv[1], kv[0]))),
        accepted=accepted,
        rejected=rejected_only,
        pending=total - accepted - rejected_only,
        rejection_reasons=_rejection_reasons(session, conditions),
        sqls=sqls, won=won, reengaged=reengaged, rescored=rescored,
        contacted=contacted,
        first_contact_total_seconds=first_contact_seconds,
        first_contact_median_seconds=_median_first_contact(session, conditions, contacted),
        contact_attempts=attempts,
    )


def _filter_conditions(filters: FunnelFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.source is not None:
        conditions.append(Lead.source == filters.source)
    if filters.team_id is not None:
        conditions.append(Lead.team_id == filters.team_id)
    if filters.rep_email is not None:
        conditions.append(Lead.rep_email == filters.rep_email)
    return conditions


def _sum_where(condition: ColumnElement[bool], value: ColumnElement[int] | int = 1) -> ColumnElement[int]:
    """Return the SQL sum of `value` over the rows that meet `condition`, 0 when there are none."""
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def _cohort_totals(conditions: list[ColumnElement[bool]]) -> Select[Any]:
    """Build the per-source totals of the cohort: MQLs, contacted leads, contact seconds and outcomes.

    A lead counts as accepted when it ever reached SAL. It counts as finally
    rejected when it was rejected, never accepted and is no longer an MQL,
    because a rerouted lead waiting for its next rep is still open. Attempts
    count on accepted leads only.
    """
    accepted = Lead.reached_sal_at.is_not(None)
    finally_rejected = and_(Lead.reached_sal_at.is_(None), Lead.first_rejected_at.is_not(None), Lead.stage != "mql")
    return (
        select(
            Lead.source.label("source"),
            func.count().label("mqls"),
            func.count(Lead.first_contact_working_seconds).label("contacted"),
            func.coalesce(func.sum(Lead.first_contact_working_seconds), 0).label("contact_seconds"),
            _sum_where(accepted).label("accepted"),
            _sum_where(finally_rejected).label("rejected"),
            _sum_where(Lead.reached_sql_at.is_not(None)).label("sqls"),
            _sum_where(Lead.won_at.is_not(None)).label("won"),
            _sum_where(accepted, Lead.contact_attempts).label("attempts"),
        )
        .where(*conditions)
        .group_by(Lead.source)
    )


def _rescoring(session: Session, period: Period, lead_conditions: list[ColumnElement[bool]]) -> tuple[int, int]:
    """Return the nurture leads that qualified again on their date in the period, and all that were scored."""
    rescoring = [LeadTransition.at >= period.start, LeadTransition.at < period.end,
                 LeadTransition.reason.in_(["reengaged", "rescored_not_qualified"])]
    if lead_conditions:
        # The same filters, without the cohort's time window.
        rescoring.append(LeadTransition.lead_id.in_(select(Lead.id).where(*lead_conditions)))
    reengaged, rescored = session.execute(
        select(func.coalesce(func.sum(case((LeadTransition.reason == "reengaged", 1), else_=0)), 0), func.count())
        .where(*rescoring)
    ).one()
    return int(reengaged), int(rescored)


def _rejection_reasons(session: Session, conditions: list[ColumnElement[bool]]) -> dict[str, int]:
    reasons = session.execute(
        select(LeadTransition.reason, func.count())
        .join(Lead, Lead.id == LeadTransition.lead_id)
        # Only leads with a rejection have such rows, so this condition lets the query skip the others.
        .where(*conditions, Lead.first_rejected_at.is_not(None), LeadTransition.reason.like("rejected:%"))
        .group_by(LeadTransition.reason)
    )
    ordered = sorted(((reason, int(count)) for reason, count in reasons), key=lambda kv: (-kv[1], kv[0]))
    return {reason.removeprefix("rejected:"): count for reason, count in ordered}


def _median_first_contact(session: Session, conditions: list[ColumnElement[bool]], count: int) -> Decimal | None:
    """Return the median time to first contact in seconds: the middle value, or the mean of the middle two."""
    if count == 0:
        return None
    middle = session.scalars(
        select(Lead.first_contact_working_seconds)
        .where(*conditions, Lead.first_contact_working_seconds.is_not(None))
        .order_by(Lead.first_contact_working_seconds)
        .offset((count - 1) // 2)
        .limit(2 - count % 2)
    ).all()
    values = [Decimal(value) for value in middle if value is not None]
    return sum(values, Decimal(0)) / len(values) if values else None
