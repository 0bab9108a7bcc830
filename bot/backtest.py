"""Replay stored leads against changed MQL criteria, and search thresholds that raise acceptance.

The replay runs the real qualification code (`bot.qualification.evaluate`) on
each lead's stored data, at the moment the lead was first evaluated as an MQL
(or created, when it never was). What sales decided and what became of the
deal come from the stored transition history, so a replay can only show how
leads that sales actually saw would have fared. A lead that the candidate
criteria would add was never decided and counts only in the MQL volume.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, get_args
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from bot.i18n import format_percentage, t
from bot.metrics import Period
from bot.qualification import Criteria, evaluate
from storage.models import Lead, LeadTransition

# A suggestion needs this many decided MQLs under the candidate criteria.
MIN_DECIDED = 10
# A suggestion may not drop more than half of the current MQLs.
MIN_KEPT_SHARE = Decimal("0.5")
# A suggestion must raise acceptance by at least one percentage point.
MIN_GAIN = Decimal("0.01")
# At most this many candidate values are tried per threshold, spread over the observed values.
MAX_CANDIDATES = 12

# Numeric thresholds the search varies, as dotted keys; each has a label text `backtest.key.<key>`.
SEARCHED_THRESHOLDS: tuple[str, ...] = (
    "engagement.min_score",
    "engagement.min_asset_downloads",
    "engagement.min_actions",
    "engagement.recent_days",
    "fit.employees.min",
    "fit.employees.max",
    "fit.annual_revenue.min",
    "fit.annual_revenue.max",
)
RECENT_DAYS_CANDIDATES = (7, 14, 21, 30, 45, 60, 90)


class BacktestError(ValueError):
    """A candidate criterion, file or option that cannot be used; the message names the value and the fix."""


@dataclass(frozen=True)
class LeadSnapshot:
    """The stored facts of a lead that the MQL criteria read."""

    employees: int | None
    annual_revenue: Decimal | None
    industry: str | None
    country: str | None
    job_title: str | None
    department: str | None
    seniority: str | None
    lead_score: Decimal | None
    visited_pricing: bool
    requested_demo: bool
    asset_downloads: int
    last_activity_at: datetime | None


@dataclass(frozen=True)
class HistoricalLead:
    """A stored lead with what sales decided about it and what became of it."""

    lead_id: int
    facts: LeadSnapshot
    evaluated_at: datetime  # first MQL time, else creation time
    source: str
    campaign: str | None
    team_id: str | None
    first_mql_at: datetime | None
    first_contact_at: datetime | None
    decided_at: datetime | None
    accepted: bool  # ever reached SAL
    rejected: bool  # rejected, never accepted, and no longer waiting for a rep
    sql: bool
    won: bool

    @property
    def decided(self) -> bool:
        return self.accepted or self.rejected


@dataclass(frozen=True)
class ReplayResult:
    """Counts of the MQLs a set of criteria would have made of the replayed leads, and their outcomes."""

    leads: int
    mqls: int
    decided: int
    accepted: int
    won: int

    @property
    def acceptance_rate(self) -> Decimal | None:
        return None if self.decided == 0 else Decimal(self.accepted) / Decimal(self.decided)

    @property
    def win_rate(self) -> Decimal | None:
        """Won deals per decided MQL."""
        return None if self.decided == 0 else Decimal(self.won) / Decimal(self.decided)


@dataclass(frozen=True)
class Suggestion:
    key: str  # dotted criterion key, e.g. engagement.min_score
    current: Decimal
    proposed: Decimal
    before: ReplayResult
    after: ReplayResult

    @property
    def gain(self) -> Decimal:
        return (self.after.acceptance_rate or Decimal(0)) - (self.before.acceptance_rate or Decimal(0))


def last_quarter(now: datetime, timezone: str) -> Period:
    """Return the last full calendar quarter before `now` in the team's time zone."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    this_quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    last = this_quarter - timedelta(days=1)
    first = date(last.year, 3 * ((last.month - 1) // 3) + 1, 1)
    return Period(name="last_quarter", start=datetime.combine(first, time(0), zone),
                  end=datetime.combine(last + timedelta(days=1), time(0), zone), first_day=first, last_day=last)


def load_history(session: Session, period: Period) -> list[HistoricalLead]:
    """Load the leads of `period` with their outcomes.

    A lead belongs to the period when its first MQL time falls in it, or, for a
    lead that never became an MQL, its creation time. The outcome rules are the
    ones `bot.metrics.compute_funnel` counts with.
    """
    moment = func.coalesce(Lead.first_mql_at, Lead.created_at)
    cohort = select(Lead.id).where(moment >= period.start, moment < period.end)
    outcome = (
        select(
            LeadTransition.lead_id,
            func.max(case((LeadTransition.to_stage == "sal", 1), else_=0)).label("accepted"),
            func.max(case((LeadTransition.reason.like("rejected:%"), 1), else_=0)).label("rejected"),
            func.max(case((LeadTransition.to_stage == "sql", 1), else_=0)).label("sql"),
            func.max(case((LeadTransition.to_stage == "won", 1), else_=0)).label("won"),
        )
        .where(LeadTransition.lead_id.in_(cohort))
        .group_by(LeadTransition.lead_id)
        .subquery()
    )
    rows = session.execute(
        select(Lead, outcome.c.accepted, outcome.c.rejected, outcome.c.sql, outcome.c.won)
        .outerjoin(outcome, outcome.c.lead_id == Lead.id)
        .where(Lead.id.in_(cohort))
        .order_by(Lead.id)
    )
    history: list[HistoricalLead] = []
    for lead, accepted, rejected, sql, won in rows:
        history.append(HistoricalLead(
            lead_id=lead.id,
            facts=LeadSnapshot(
                employees=lead.employees, annual_revenue=lead.annual_revenue, industry=lead.industry,
                country=lead.country, job_title=lead.job_title, department=lead.department, seniority=lead.seniority,
                lead_score=lead.lead_score, visited_pricing=bool(lead.visited_pricing),
                requested_demo=bool(lead.requested_demo), asset_downloads=lead.asset_downloads or 0,
                last_activity_at=lead.last_activity_at,
            ),
            evaluated_at=lead.first_mql_at or lead.created_at,
            source=lead.source, campaign=lead.campaign, team_id=lead.team_id, first_mql_at=lead.first_mql_at,
            first_contact_at=lead.first_contact_at, decided_at=lead.decided_at,
            accepted=bool(accepted),
            # A rerouted lead waiting for its next rep is still open, not rejected.
            rejected=bool(rejected) and not accepted and lead.stage != "mql",
            sql=bool(sql), won=bool(won),
        ))
    return history


def replay(history: Iterable[HistoricalLead], criteria: Criteria) -> ReplayResult:
    """Count the MQLs `criteria` would have made, and how the decided ones among them fared."""
    leads = mqls = decided = accepted = won = 0
    for lead in history:
        leads += 1
        if not evaluate(lead.facts, criteria, lead.evaluated_at).is_mql:
            continue
        mqls += 1
        if lead.decided:
            decided += 1
            accepted += lead.accepted
            won += lead.won
    return ReplayResult(leads=leads, mqls=mqls, decided=decided, accepted=accepted, won=won)


# Candidate criteria -------------------------------------------------------------------------------


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _nested_model(argument)
        if found is not None:
            return found
    return None


def _is_list(annotation: Any) -> bool:
    return getattr(annotation, "__origin__", None) is list or any(_is_list(arg) for arg in get_args(annotation))


def known_keys(model: type[BaseModel] = Criteria, prefix: str = "") -> list[str]:
    """Return every dotted key that `--set` accepts, e.g. engagement.min_score."""
    keys: list[str] = []
    for name, field in model.model_fields.items():
        nested = _nested_model(field.annotation)
        if nested is None:
            keys.append(prefix + name)
        else:
            keys.extend(known_keys(nested, f"{prefix}{name}."))
    return keys


def apply_overrides(criteria: Criteria, assignments: Sequence[str]) -> Criteria:
    """Return `criteria` with each KEY=VALUE of `assignments` applied, validated as the configuration is."""
    data = criteria.model_dump(mode="json")
    for assignment in assignments:
        key, separator, text = assignment.partition("=")
        key = key.strip()
        if not separator or not key:
            raise BacktestError(f"invalid --set {assignment!r}: use KEY=VALUE, e.g. engagement.min_score=65")
        _assign(data, key, text.strip(), assignment)
    try:
        return Criteria.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(_problem(item) for item in error.errors())
        raise BacktestError(f"invalid candidate criteria: {problems}") from None


def _problem(item: Any) -> str:
    """Name the key, the value given for it when it is a single value, and what pydantic expected."""
    where = ".".join(str(part) for part in item["loc"])
    message = item["msg"].removeprefix("Value error, ")
    value = item.get("input")
    if isinstance(value, dict | list) or value is None:
        return f"{where}: {message}"
    return f"{where}={value!r}: {message}"


def _assign(data: dict[str, Any], key: str, text: str, assignment: str) -> None:
    model: type[BaseModel] = Criteria
    target = data
    parts = key.split(".")
    for index, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            raise BacktestError(
                f"invalid --set {assignment!r}: unknown key {key!r}; known keys: {', '.join(known_keys())}"
            )
        nested = _nested_model(field.annotation)
        last = index == len(parts) - 1
        if last and nested is None:
            target[part] = _parse_value(text, is_list=_is_list(field.annotation))
            return
        if last or nested is None:
            raise BacktestError(
                f"invalid --set {assignment!r}: {key!r} is not a single value; known keys: {', '.join(known_keys())}"
            )
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
        model = nested


def _parse_value(text: str, *, is_list: bool) -> Any:
    if text.lower() in {"", "null", "none", "off"}:
        return None
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = text
    if is_list and isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if is_list and not isinstance(value, list):
        return [str(value)]
    return value


def load_candidate(path: str, current: Criteria) -> Criteria:
    """Read candidate criteria from a YAML file: a whole handoff configuration or just its `criteria:` part.

    Keys the file leaves out keep their current values; a key set to null turns that criterion off.
    """
    try:
        with open(path, encoding="utf-8") as stream:
            data = yaml.safe_load(stream)
    except FileNotFoundError:
        raise BacktestError(f"{path}: candidate criteria file not found") from None
    except yaml.YAMLError as error:
        raise BacktestError(f"{path}: not valid YAML: {error}") from None
    if isinstance(data, dict) and "criteria" in data:
        data = data["criteria"]
    if not isinstance(data, dict) or not set(data) <= {"fit", "engagement"}:
        raise BacktestError(
            f"{path}: expected a mapping with fit: and/or engagement: (or a handoff configuration with criteria:)"
        )
    merged = _merge(current.model_dump(mode="json"), data)
    try:
        return Criteria.model_validate(merged)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors())
        raise BacktestError(f"{path}: invalid criteria: {problems}") from None


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# Threshold search ---------------------------------------------------------------------------------


def threshold_value(criteria: Criteria, key: str) -> Decimal | None:
    """Return the current value of a dotted numeric criterion, or None when it is not set."""
    value: Any = criteria
    for part in key.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    if isinstance(value, bool):
        return None
    return Decimal(value)


def _observed(history: Sequence[HistoricalLead], key: str) -> list[Decimal]:
    values: set[Decimal] = set()
    for lead in history:
        if not lead.decided:
            continue
        facts = lead.facts
        if key == "engagement.min_score" and facts.lead_score is not None:
            values.add(Decimal(facts.lead_score))
        elif key == "engagement.min_asset_downloads" and facts.asset_downloads > 0:
            values.add(Decimal(facts.asset_downloads))
        elif key.startswith("fit.employees.") and facts.employees is not None:
            values.add(Decimal(facts.employees))
        elif key.startswith("fit.annual_revenue.") and facts.annual_revenue is not None:
            values.add(Decimal(facts.annual_revenue))
    if key == "engagement.min_actions":
        values = {Decimal(1), Decimal(2), Decimal(3)}
    if key == "engagement.recent_days":
        values = {Decimal(days) for days in RECENT_DAYS_CANDIDATES}
    ordered = sorted(values)
    if len(ordered) <= MAX_CANDIDATES:
        return ordered
    step = (len(ordered) - 1) / (MAX_CANDIDATES - 1)
    return sorted({ordered[round(index * step)] for index in range(MAX_CANDIDATES)})


def _with_value(criteria: Criteria, key: str, value: Decimal) -> Criteria | None:
    text = str(int(value)) if value == value.to_integral_value() else str(value)
    try:
        return apply_overrides(criteria, [f"{key}={text}"])
    except BacktestError:
        return None  # e.g. a minimum above the configured maximum


def search_thresholds(
    history: Sequence[HistoricalLead], criteria: Criteria, *, min_decided: int = MIN_DECIDED,
    min_kept_share: Decimal = MIN_KEPT_SHARE, limit: int = 3,
) -> list[Suggestion]:
    """Try other values for each numeric threshold; return the best change per threshold, best first.

    A change qualifies when at least `min_decided` decided MQLs remain, it keeps
    at least `min_kept_share` of the current MQLs, and acceptance rises by at
    least one percentage point. Ties go to the change that keeps more MQLs.
    """
    history = list(history)
    before = replay(history, criteria)
    if before.acceptance_rate is None:
        return []
    best: list[Suggestion] = []
    for key in SEARCHED_THRESHOLDS:
        current = threshold_value(criteria, key)
        if current is None:
            continue
        found: Suggestion | None = None
        for value in _observed(history, key):
            if value == current:
                continue
            candidate = _with_value(criteria, key, value)
            if candidate is None:
                continue
            after = replay(history, candidate)
            if after.decided < min_decided or after.mqls < before.mqls * min_kept_share:
                continue
            suggestion = Suggestion(key=key, current=current, proposed=value, before=before, after=after)
            if suggestion.gain < MIN_GAIN:
                continue
            if found is None or (suggestion.gain, suggestion.after.mqls) > (found.gain, found.after.mqls):
                found = suggestion
        if found is not None:
            best.append(found)
    best.sort(key=lambda item: (-item.gain, -item.after.mqls, item.key))
    return best[:limit]


def format_threshold(value: Decimal) -> str:
    return str(int(value)) if value == value.to_integral_value() else format(value.normalize(), "f")


def describe_suggestion(suggestion: Suggestion, language: str, leads_label: str) -> str:
    """Format a suggestion as one sentence, e.g. 'Raise the score threshold from 50 to 65: acceptance ...'."""
    verb = "raise" if suggestion.proposed > suggestion.current else "lower"
    return t(
        language, f"backtest.suggestion_{verb}",
        criterion=t(language, f"backtest.key.{suggestion.key}"),
        current=format_threshold(suggestion.current), proposed=format_threshold(suggestion.proposed),
        new_rate=format_percentage(suggestion.after.acceptance_rate, language),
        old_rate=format_percentage(suggestion.before.acceptance_rate, language),
        leads=leads_label, decided=suggestion.after.decided,
        mqls=t(language, "count.mqls", count=suggestion.after.mqls), before_mqls=suggestion.before.mqls,
    )


def describe_result(label: str, result: ReplayResult, language: str) -> str:
    return t(language, "backtest.result", label=label, mqls=t(language, "count.mqls", count=result.mqls),
             leads=t(language, "count.leads", count=result.leads), decided=result.decided,
             acceptance=format_percentage(result.acceptance_rate, language),
             wins=format_percentage(result.win_rate, language))
