from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.qualification import Criteria, EngagementCriteria, FitCriteria, Range, evaluate

NOW = datetime(2025, 3, 28, 9, 0, tzinfo=UTC)


@dataclass
class Facts:
    employees: int | None = 200
    annual_revenue: Decimal | None = None
    industry: str | None = "Manufacturing"
    country: str | None = "NL"
    job_title: str | None = "Production Manager"
    department: str | None = "Operations"
    seniority: str | None = None
    lead_score: Decimal | None = Decimal(60)
    visited_pricing: bool = False
    requested_demo: bool = False
    asset_downloads: int = 0
    last_activity_at: datetime | None = field(default_factory=lambda: NOW - timedelta(days=2))


CRITERIA = Criteria(
    fit=FitCriteria(
        employees=Range(min=Decimal(50), max=Decimal(1000)),
        industries=["Manufacturing", "Packaging"],
        countries=["NL", "BE", "LU"],
        job_titles=["Manager", "Director"],
        departments=["Operations", "Engineering"],
    ),
    engagement=EngagementCriteria(min_score=Decimal(50), min_asset_downloads=2, recent_days=30),
)


def results_by_key(facts: Facts) -> dict[str, bool]:
    return {r.key: r.passed for r in evaluate(facts, CRITERIA, NOW).results}


def test_fit_and_engaged_lead_is_mql() -> None:
    result = evaluate(Facts(), CRITERIA, NOW)
    assert result.fit
    assert result.engaged
    assert result.is_mql
    assert not result.needs_nurture


def test_fit_without_engagement_goes_to_nurture() -> None:
    result = evaluate(Facts(lead_score=Decimal(10)), CRITERIA, NOW)
    assert result.fit
    assert not result.engaged
    assert result.needs_nurture
    assert not result.is_mql


def test_engaged_non_fit_is_neither() -> None:
    result = evaluate(Facts(employees=5), CRITERIA, NOW)
    assert not result.fit
    assert result.engaged
    assert not result.is_mql
    assert not result.needs_nurture


@pytest.mark.parametrize(
    ("facts", "key"),
    [
        (Facts(employees=49), "employees"),
        (Facts(employees=1001), "employees"),
        (Facts(employees=None), "employees"),
        (Facts(industry="Retail"), "industry"),
        (Facts(country="US"), "country"),
        (Facts(country="Verenigde Staten"), "country"),
        (Facts(job_title="Intern"), "job_title"),
        (Facts(department="Sales"), "department"),
    ],
)
def test_each_fit_criterion_can_fail(facts: Facts, key: str) -> None:
    assert results_by_key(facts)[key] is False
    assert not evaluate(facts, CRITERIA, NOW).fit


def test_country_names_in_dutch_and_french_match_codes() -> None:
    assert results_by_key(Facts(country="België"))["country"] is True
    assert results_by_key(Facts(country="Luxembourg"))["country"] is True
    assert results_by_key(Facts(country="Nederland"))["country"] is True


def test_range_bounds_are_inclusive() -> None:
    assert results_by_key(Facts(employees=50))["employees"] is True
    assert results_by_key(Facts(employees=1000))["employees"] is True


def test_high_intent_actions_replace_low_score() -> None:
    assert evaluate(Facts(lead_score=None, requested_demo=True), CRITERIA, NOW).engaged
    assert evaluate(Facts(lead_score=None, visited_pricing=True), CRITERIA, NOW).engaged
    assert evaluate(Facts(lead_score=None, asset_downloads=2), CRITERIA, NOW).engaged
    assert not evaluate(Facts(lead_score=None, asset_downloads=1), CRITERIA, NOW).engaged


def test_stale_activity_fails_engagement() -> None:
    facts = Facts(last_activity_at=NOW - timedelta(days=31))
    result = evaluate(facts, CRITERIA, NOW)
    assert not result.engaged
    recent = next(r for r in result.results if r.key == "recent_activity")
    assert recent.passed is False
    assert recent.value == (NOW - timedelta(days=31)).date().isoformat()


def test_score_and_actions_mode_needs_both() -> None:
    criteria = Criteria(engagement=EngagementCriteria(require="score_and_actions", recent_days=None))
    assert not evaluate(Facts(lead_score=Decimal(90)), criteria, NOW).engaged
    assert evaluate(Facts(lead_score=Decimal(90), requested_demo=True), criteria, NOW).engaged


def test_result_names_values_and_expectations() -> None:
    result = evaluate(Facts(employees=12, lead_score=Decimal("72.50")), CRITERIA, NOW)
    employees = next(r for r in result.results if r.key == "employees")
    score = next(r for r in result.results if r.key == "lead_score")
    assert employees.value == "12"
    assert employees.expected == "50–1000"
    assert employees.dimension == "fit"
    assert score.value == "72.5"
    assert score.expected == "≥ 50"


def test_unset_criteria_are_not_checked() -> None:
    result = evaluate(Facts(employees=None, industry=None), Criteria(), NOW)
    assert [r.key for r in result.results if r.dimension == "fit"] == []
    assert result.fit


def test_range_rejects_min_above_max() -> None:
    with pytest.raises(ValueError, match="min 10 is greater than max 5"):
        Range(min=Decimal(10), max=Decimal(5))
