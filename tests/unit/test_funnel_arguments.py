from datetime import UTC, date, datetime

import pytest

from bot.config import load_config
from bot.funnel_report import FunnelArgumentError, parse_arguments
from bot.metrics import PeriodError, parse_period, previous_period
from support import EXAMPLE_CONFIG

CONFIG = load_config(EXAMPLE_CONFIG)
NOW = datetime(2025, 5, 14, 10, 0, tzinfo=UTC)  # a Wednesday


def test_period_and_filters_are_split() -> None:
    arguments = parse_arguments("maand bron=webinar team=benelux-nl rep=<@U0SANNEDV1|sanne>", CONFIG)
    assert arguments.period_text == "maand"
    assert arguments.filters.source == "webinar"
    assert arguments.filters.team_id == "benelux-nl"
    assert arguments.filters.rep_email == "sanne.devries@handoff-demo.nl"


def test_rep_by_email_or_id() -> None:
    assert parse_arguments("rep=daan.bakker@handoff-demo.nl", CONFIG).filters.rep_email == "daan.bakker@handoff-demo.nl"
    assert parse_arguments("rep=U0DAANBKR1", CONFIG).filters.rep_email == "daan.bakker@handoff-demo.nl"


@pytest.mark.parametrize(("text", "key"), [
    ("kleur=rood", "funnel.bad_filter"),
    ("team=benelux-de", "funnel.unknown_team"),
    ("rep=@niemand", "funnel.unknown_rep"),
    ("bron=", "funnel.bad_filter"),
])
def test_bad_filters_name_the_problem(text: str, key: str) -> None:
    with pytest.raises(FunnelArgumentError) as error:
        parse_arguments(text, CONFIG)
    assert error.value.key == key


def test_two_periods_are_refused() -> None:
    with pytest.raises(PeriodError):
        parse_arguments("week maand", CONFIG)


def test_help_word() -> None:
    assert parse_arguments("help", CONFIG).help
    assert parse_arguments("hulp", CONFIG).help


def test_previous_of_week_month_quarter_and_range() -> None:
    week = previous_period(parse_period("week", NOW, "Europe/Amsterdam"))
    assert (week.first_day, week.last_day) == (date(2025, 5, 5), date(2025, 5, 11))
    month = previous_period(parse_period("maand", NOW, "Europe/Amsterdam"))
    assert (month.first_day, month.last_day) == (date(2025, 4, 1), date(2025, 4, 30))
    quarter = previous_period(parse_period("kwartaal", NOW, "Europe/Amsterdam"))
    assert (quarter.first_day, quarter.last_day) == (date(2025, 1, 1), date(2025, 3, 31))
    span = previous_period(parse_period("2025-03-01..2025-03-10", NOW, "Europe/Amsterdam"))
    assert (span.first_day, span.last_day) == (date(2025, 2, 19), date(2025, 2, 28))


@pytest.mark.parametrize(("text", "reason"), [
    ("kwartje", "unknown"),
    ("2025-1-1..2025-2-1", "unknown"),
    ("2025-01-01..2025-02-30", "invalid_date"),
    ("2025-03-31..2025-01-01", "reversed"),
    ("1800-01-01..1800-02-01", "out_of_range"),
])
def test_bad_period_names_its_reason(text: str, reason: str) -> None:
    now = datetime(2025, 3, 28, 12, 0, tzinfo=UTC)
    with pytest.raises(PeriodError) as error:
        parse_period(text, now, "Europe/Amsterdam")
    assert error.value.reason == reason
    assert repr(text) in str(error.value)
