"""MQL criteria (fit and engagement) and an evaluation that explains itself."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from operator import attrgetter
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.countries import country_code


class Range(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: Decimal | None = Field(default=None, description="Lowest accepted value, inclusive.")
    max: Decimal | None = Field(default=None, description="Highest accepted value, inclusive.")

    @model_validator(mode="after")
    def _check_order(self) -> Range:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self

    def contains(self, value: Decimal | int) -> bool:
        number = Decimal(value)
        if self.min is not None and number < self.min:
            return False
        return self.max is None or number <= self.max

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            return f"{self.min}–{self.max}"
        if self.min is not None:
            return f"≥ {self.min}"
        if self.max is not None:
            return f"≤ {self.max}"
        return "any"


class FitCriteria(BaseModel):
    """Fit criteria: who the lead is. Every configured criterion must pass, and unset ones are not checked."""

    model_config = ConfigDict(extra="forbid")

    employees: Range | None = Field(default=None, description="Company size in employees.")
    annual_revenue: Range | None = Field(default=None, description="Company annual revenue.")
    industries: list[str] | None = Field(default=None, description="Accepted industries (case-insensitive).")
    countries: list[str] | None = Field(default=None, description="Accepted country codes, e.g. [NL, BE, LU].")
    job_titles: list[str] | None = Field(
        default=None, description="Accepted job titles; a title matches when it contains one of these words."
    )
    departments: list[str] | None = Field(default=None, description="Accepted departments (case-insensitive).")
    seniorities: list[str] | None = Field(default=None, description="Accepted seniority levels.")


class EngagementCriteria(BaseModel):
    """Engagement criteria: what the lead did, as a score threshold and high-intent actions."""

    model_config = ConfigDict(extra="forbid")

    min_score: Decimal | None = Field(default=Decimal(50), description="Lead score threshold, inclusive.")
    visited_pricing: bool = Field(default=True, description="A visit to the pricing page counts as a high-intent action.")
    requested_demo: bool = Field(default=True, description="A demo request counts as a high-intent action.")
    min_asset_downloads: int | None = Field(
        default=2, ge=1, description="This many asset downloads count as one high-intent action."
    )
    min_actions: int = Field(default=1, ge=1, description="High-intent actions needed when the score is below threshold.")
    recent_days: int | None = Field(
        default=30, ge=1, description="Engagement counts only when the last activity is at most this many days old."
    )
    require: Literal["score_or_actions", "score_and_actions", "score", "actions", "none"] = Field(
        default="score_or_actions",
        description="How the score and the actions combine; 'none' skips engagement, for sources that send only engaged leads.",
    )


class Criteria(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fit: FitCriteria = Field(default_factory=FitCriteria)
    engagement: EngagementCriteria = Field(default_factory=EngagementCriteria)


class LeadFacts(Protocol):
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


class CriterionResult(BaseModel):
    dimension: Literal["fit", "engagement"]
    key: str
    passed: bool
    value: str | None = Field(description="The lead's value, as text; None when the lead has none.")
    expected: str


class Qualification(BaseModel):
    """The outcome of checking a lead against the MQL criteria, criterion by criterion."""

    fit: bool
    engaged: bool
    results: list[CriterionResult]

    @property
    def is_mql(self) -> bool:
        return self.fit and self.engaged

    @property
    def needs_nurture(self) -> bool:
        return self.fit and not self.engaged

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _in_list(value: str | None, accepted: list[str]) -> bool:
    return value is not None and value.strip().casefold() in {item.casefold() for item in accepted}


def _title_matches(value: str | None, accepted: list[str]) -> bool:
    if value is None:
        return False
    title = value.casefold()
    return any(word.casefold() in title for word in accepted)


def _fit_results(lead: LeadFacts, fit: FitCriteria) -> list[CriterionResult]:
    results: list[CriterionResult] = []

    def add(key: str, passed: bool, value: object, expected: str) -> None:
        text = None if value is None else str(value)
        results.append(CriterionResult(dimension="fit", key=key, passed=passed, value=text, expected=expected))

    if fit.employees is not None:
        passed = lead.employees is not None and fit.employees.contains(lead.employees)
        add("employees", passed, lead.employees, fit.employees.describe())
    if fit.annual_revenue is not None:
        passed = lead.annual_revenue is not None and fit.annual_revenue.contains(lead.annual_revenue)
        add("annual_revenue", passed, lead.annual_revenue, fit.annual_revenue.describe())
    if fit.industries is not None:
        add("industry", _in_list(lead.industry, fit.industries), lead.industry, ", ".join(fit.industries))
    if fit.countries is not None:
        code = country_code(lead.country)
        add("country", _in_list(code, fit.countries), lead.country, ", ".join(fit.countries))
    if fit.job_titles is not None:
        add("job_title", _title_matches(lead.job_title, fit.job_titles), lead.job_title, ", ".join(fit.job_titles))
    if fit.departments is not None:
        add("department", _in_list(lead.department, fit.departments), lead.department, ", ".join(fit.departments))
    if fit.seniorities is not None:
        add("seniority", _in_list(lead.seniority, fit.seniorities), lead.seniority, ", ".join(fit.seniorities))
    return results


def _engagement_results(lead: LeadFacts, rules: EngagementCriteria, now: datetime) -> tuple[bool, list[CriterionResult]]:
    results: list[CriterionResult] = []
    if rules.require == "none":
        return True, results
    score_ok = rules.min_score is not None and lead.lead_score is not None and lead.lead_score >= rules.min_score
    if rules.min_score is not None:
        results.append(
            CriterionResult(
                dimension="engagement",
                key="lead_score",
                passed=score_ok,
                value=None if lead.lead_score is None else format(lead.lead_score.normalize(), "f"),
                expected=f"≥ {rules.min_score}",
            )
        )

    actions = 0
    if rules.visited_pricing:
        actions += lead.visited_pricing
        results.append(_flag("visited_pricing", lead.visited_pricing))
    if rules.requested_demo:
        actions += lead.requested_demo
        results.append(_flag("requested_demo", lead.requested_demo))
    if rules.min_asset_downloads is not None:
        downloads_ok = lead.asset_downloads >= rules.min_asset_downloads
        actions += downloads_ok
        results.append(
            CriterionResult(
                dimension="engagement",
                key="asset_downloads",
                passed=downloads_ok,
                value=str(lead.asset_downloads),
                expected=f"≥ {rules.min_asset_downloads}",
            )
        )
    actions_ok = actions >= rules.min_actions

    engaged = {
        "score_or_actions": score_ok or actions_ok,
        "score_and_actions": score_ok and actions_ok,
        "score": score_ok,
        "actions": actions_ok,
    }[rules.require]

    if rules.recent_days is not None:
        cutoff = now - timedelta(days=rules.recent_days)
        recent = lead.last_activity_at is not None and lead.last_activity_at >= cutoff
        results.append(
            CriterionResult(
                dimension="engagement",
                key="recent_activity",
                passed=recent,
                value=None if lead.last_activity_at is None else lead.last_activity_at.date().isoformat(),
                expected=str(rules.recent_days),
            )
        )
        engaged = engaged and recent
    return engaged, results


def _flag(key: str, value: bool) -> CriterionResult:
    return CriterionResult(dimension="engagement", key=key, passed=value, value="yes" if value else "no", expected="yes")


def evaluate(lead: LeadFacts, criteria: Criteria, now: datetime) -> Qualification:
    """Check `lead` against fit and engagement; an MQL needs both to pass."""
    fit_results = _fit_results(lead, criteria.fit)
    engaged, engagement_results = _engagement_results(lead, criteria.engagement, now)
    fit = all(result.passed for result in fit_results)
    return Qualification(fit=fit, engaged=engaged, results=fit_results + engagement_results)


# The attributes that `evaluate` reads, so a lead's qualification depends on these values only.
FACT_NAMES: tuple[str, ...] = tuple(LeadFacts.__annotations__)


class QualificationMemo:
    """Memo of `evaluate` for one set of criteria at one moment, with one entry per distinct set of lead facts.

    Imports check thousands of leads that share a few combinations of facts. A memo
    returns the same `Qualification` object, and the same `to_json()` dict, for leads
    with equal facts, so callers must not change either.
    """

    def __init__(self, criteria: Criteria, now: datetime) -> None:
        self._criteria = criteria
        self._now = now
        self._facts = attrgetter(*FACT_NAMES)
        self._results: dict[tuple[str, ...], tuple[Qualification, dict[str, Any]]] = {}

    def evaluate(self, lead: LeadFacts) -> tuple[Qualification, dict[str, Any]]:
        """Return the lead's qualification and its JSON form."""
        # The key is the repr of each fact, because equal values may be quoted differently:
        # Decimal 1000 and 1000.0, or one moment in two time zones, which fall on different dates.
        key = tuple(map(repr, self._facts(lead)))
        found = self._results.get(key)
        if found is None:
            result = evaluate(lead, self._criteria, self._now)
            found = self._results[key] = (result, result.to_json())
        return found
