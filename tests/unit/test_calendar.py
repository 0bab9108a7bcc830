"""Tests for the SLA business calendar, with hand-checked deadlines for Benelux teams."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.sla import calendar as calendar_module
from bot.sla.calendar import (
    CLOSING_DAY_NAME,
    BusinessCalendar,
    CalendarConfig,
    NoWorkingTimeError,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
BRUSSELS = ZoneInfo("Europe/Brussels")
LUXEMBOURG = ZoneInfo("Europe/Luxembourg")
FOUR_HOURS = timedelta(hours=4)

# Public holidays that holidays.NL lists (package 0.109), without Liberation Day.
NL_PUBLIC_WITHOUT_LIBERATION_DAY = [
    "New Year's Day",
    "Good Friday",
    "Easter Sunday",
    "Easter Monday",
    "King's Day",
    "Ascension Day",
    "Pentecost",
    "Pentecost Monday",
    "Christmas Day",
    "Second Day of Christmas",
]
NL_PUBLIC_WITHOUT_GOOD_FRIDAY = [
    name for name in NL_PUBLIC_WITHOUT_LIBERATION_DAY if name != "Good Friday"
] + ["Liberation Day"]

ALWAYS_OPEN = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def ams(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMSTERDAM)


def local_iso(moment: datetime, zone: ZoneInfo = AMSTERDAM) -> str:
    return moment.astimezone(zone).isoformat()


@pytest.fixture(scope="module")
def dutch() -> BusinessCalendar:
    return BusinessCalendar(CalendarConfig())


@pytest.fixture(scope="module")
def belgian() -> BusinessCalendar:
    return BusinessCalendar(CalendarConfig(timezone="Europe/Brussels", holiday_country="BE"))


@pytest.fixture(scope="module")
def no_holidays() -> BusinessCalendar:
    return BusinessCalendar(CalendarConfig(holiday_country=None))


# Hand-checked MQL first-contact deadlines: 4 working hours, 09:00-17:00 Monday to Friday.


def test_mql_deadline_across_spring_dst(dutch: BusinessCalendar) -> None:
    due = dutch.add_working_time(ams(2025, 3, 28, 16), FOUR_HOURS)

    assert local_iso(due) == "2025-03-31T12:00:00+02:00"
    assert due.tzinfo is UTC


def test_mql_deadline_kings_day_on_saturday(dutch: BusinessCalendar) -> None:
    due = dutch.add_working_time(ams(2025, 4, 25, 16), FOUR_HOURS)

    assert local_iso(due) == "2025-04-28T12:00:00+02:00"
    assert dutch.days_off(2025)[date(2025, 4, 26)] == "King's Day"


def test_mql_deadline_liberation_day_off(dutch: BusinessCalendar) -> None:
    # holidays 0.109 lists Liberation Day as public in years divisible by 5, so 2025
    # is a day off with the default config.
    due = dutch.add_working_time(ams(2025, 5, 2, 16), FOUR_HOURS)

    assert local_iso(due) == "2025-05-06T12:00:00+02:00"


def test_mql_deadline_liberation_day_worked() -> None:
    calendar = BusinessCalendar(CalendarConfig(holidays_off=NL_PUBLIC_WITHOUT_LIBERATION_DAY))

    due = calendar.add_working_time(ams(2025, 5, 2, 16), FOUR_HOURS)

    assert local_iso(due) == "2025-05-05T12:00:00+02:00"
    assert not calendar.is_day_off(date(2025, 5, 5))


def test_liberation_day_every_year_via_extra(dutch: BusinessCalendar) -> None:
    every_year = BusinessCalendar(CalendarConfig(extra_holidays=["Liberation Day"]))
    start = ams(2026, 5, 4, 16)  # Monday 4 May, the day before Liberation Day 2026.

    assert not dutch.is_day_off(date(2026, 5, 5))
    assert local_iso(dutch.add_working_time(start, FOUR_HOURS)) == "2026-05-05T12:00:00+02:00"
    assert every_year.days_off(2026)[date(2026, 5, 5)] == "Liberation Day"
    assert local_iso(every_year.add_working_time(start, FOUR_HOURS)) == "2026-05-06T12:00:00+02:00"


def test_liberation_day_extra_overrides_holidays_off() -> None:
    calendar = BusinessCalendar(
        CalendarConfig(
            holidays_off=NL_PUBLIC_WITHOUT_LIBERATION_DAY, extra_holidays=["Liberation Day"]
        )
    )

    assert calendar.is_day_off(date(2025, 5, 5))
    assert calendar.is_day_off(date(2027, 5, 5))


# Good Friday: a public holiday in holidays.NL, a bank holiday in holidays.BE.


def test_good_friday_off_by_default_nl(dutch: BusinessCalendar) -> None:
    due = dutch.add_working_time(ams(2025, 4, 17, 16), FOUR_HOURS)

    assert dutch.days_off(2025)[date(2025, 4, 18)] == "Good Friday"
    assert local_iso(due) == "2025-04-22T12:00:00+02:00"


def test_good_friday_worked_nl() -> None:
    calendar = BusinessCalendar(CalendarConfig(holidays_off=NL_PUBLIC_WITHOUT_GOOD_FRIDAY))

    due = calendar.add_working_time(ams(2025, 4, 17, 16), FOUR_HOURS)

    assert local_iso(due) == "2025-04-18T12:00:00+02:00"
    assert calendar.is_day_off(date(2025, 4, 21))


def test_good_friday_worked_by_default_be(belgian: BusinessCalendar) -> None:
    start = datetime(2025, 4, 17, 16, tzinfo=BRUSSELS)

    due = belgian.add_working_time(start, FOUR_HOURS)

    assert local_iso(due, BRUSSELS) == "2025-04-18T12:00:00+02:00"


def test_good_friday_off_via_extra_be() -> None:
    calendar = BusinessCalendar(
        CalendarConfig(
            timezone="Europe/Brussels", holiday_country="BE", extra_holidays=["Good Friday"]
        )
    )
    start = datetime(2025, 4, 17, 16, tzinfo=BRUSSELS)

    due = calendar.add_working_time(start, FOUR_HOURS)

    assert local_iso(due, BRUSSELS) == "2025-04-22T12:00:00+02:00"


# Belgium and Luxembourg.


def test_belgian_national_day(belgian: BusinessCalendar) -> None:
    start = datetime(2025, 7, 18, 16, tzinfo=BRUSSELS)

    due = belgian.add_working_time(start, FOUR_HOURS)

    assert belgian.days_off(2025)[date(2025, 7, 21)] == "National Day"
    assert local_iso(due, BRUSSELS) == "2025-07-22T12:00:00+02:00"


def test_belgian_easter_monday(belgian: BusinessCalendar) -> None:
    start = datetime(2025, 4, 18, 16, tzinfo=BRUSSELS)

    due = belgian.add_working_time(start, FOUR_HOURS)

    assert belgian.days_off(2025)[date(2025, 4, 21)] == "Easter Monday"
    assert local_iso(due, BRUSSELS) == "2025-04-22T12:00:00+02:00"


def test_belgian_days_off_2025(belgian: BusinessCalendar) -> None:
    days_off = belgian.days_off(2025)

    assert date(2025, 5, 1) in days_off  # Labor Day
    assert date(2025, 8, 15) in days_off  # Assumption Day
    assert date(2025, 11, 11) in days_off  # Armistice Day
    assert date(2025, 4, 18) not in days_off  # Good Friday: bank category only
    assert date(2025, 12, 26) not in days_off  # bank category only


def test_luxembourg_europe_and_national_day() -> None:
    calendar = BusinessCalendar(
        CalendarConfig(timezone="Europe/Luxembourg", holiday_country="LU")
    )

    europe_day_due = calendar.add_working_time(
        datetime(2025, 5, 8, 16, tzinfo=LUXEMBOURG), FOUR_HOURS
    )
    national_day_due = calendar.add_working_time(
        datetime(2025, 6, 20, 16, tzinfo=LUXEMBOURG), FOUR_HOURS
    )

    assert calendar.days_off(2025)[date(2025, 5, 9)] == "Europe Day"
    assert local_iso(europe_day_due, LUXEMBOURG) == "2025-05-12T12:00:00+02:00"
    assert calendar.days_off(2025)[date(2025, 6, 23)] == "National Day"
    assert local_iso(national_day_due, LUXEMBOURG) == "2025-06-24T12:00:00+02:00"


def test_luxembourg_two_holidays_one_date() -> None:
    calendar = BusinessCalendar(
        CalendarConfig(timezone="Europe/Luxembourg", holiday_country="LU")
    )

    assert calendar.days_off(2024)[date(2024, 5, 9)] == "Ascension Day; Europe Day"


def test_observed_entry_matches_holiday_name() -> None:
    # Christmas 2022 is a Sunday, and holidays.US adds "Christmas Day (observed)" on Monday.
    calendar = BusinessCalendar(
        CalendarConfig(
            timezone="America/New_York", holiday_country="US", holidays_off=["Christmas Day"]
        )
    )

    days_off = calendar.days_off(2022)

    assert days_off[date(2022, 12, 26)] == "Christmas Day (observed)"
    assert date(2022, 7, 4) not in days_off


# Year end and company closing days.


def test_year_end_new_years_day(dutch: BusinessCalendar) -> None:
    due = dutch.add_working_time(ams(2025, 12, 31, 16), FOUR_HOURS)

    assert local_iso(due) == "2026-01-02T12:00:00+01:00"


def test_year_end_christmas(dutch: BusinessCalendar) -> None:
    due = dutch.add_working_time(ams(2025, 12, 24, 16), FOUR_HOURS)

    assert local_iso(due) == "2025-12-29T12:00:00+01:00"


def test_year_end_multi_day_duration(dutch: BusinessCalendar) -> None:
    # 1 hour on 31 Dec, 8 hours on Fri 2 Jan, 3 hours on Mon 5 Jan.
    due = dutch.add_working_time(ams(2025, 12, 31, 16), timedelta(hours=12))

    assert local_iso(due) == "2026-01-05T12:00:00+01:00"


def test_closing_days_between_christmas_and_new_year() -> None:
    closing = [date(2025, 12, 29), date(2025, 12, 30), date(2025, 12, 31)]
    calendar = BusinessCalendar(CalendarConfig(closing_days=closing))

    due = calendar.add_working_time(ams(2025, 12, 24, 16), FOUR_HOURS)

    assert local_iso(due) == "2026-01-02T12:00:00+01:00"
    assert calendar.days_off(2025)[date(2025, 12, 30)] == CLOSING_DAY_NAME
    assert calendar.is_day_off(date(2025, 12, 31))
    assert not calendar.is_day_off(date(2025, 12, 23))


def test_closing_day_on_holiday_joins_names() -> None:
    calendar = BusinessCalendar(CalendarConfig(closing_days=[date(2025, 12, 25)]))

    assert calendar.days_off(2025)[date(2025, 12, 25)] == f"Christmas Day; {CLOSING_DAY_NAME}"


def test_closing_days_without_holiday_country() -> None:
    calendar = BusinessCalendar(
        CalendarConfig(holiday_country=None, closing_days=["2025-08-01"])
    )

    assert calendar.days_off(2025) == {date(2025, 8, 1): CLOSING_DAY_NAME}
    assert not calendar.is_day_off(date(2025, 12, 25))


# Lunch breaks and other working-hour shapes.


def test_lunch_break_intervals() -> None:
    hours = ["13:30-17:30", "09:00-12:30"]
    calendar = BusinessCalendar(
        CalendarConfig(working_hours={day: hours for day in ("mon", "tue", "wed", "thu", "fri")})
    )

    assert calendar.config.working_hours["mon"] == ["09:00-12:30", "13:30-17:30"]
    assert local_iso(calendar.add_working_time(ams(2025, 3, 3, 11), FOUR_HOURS)) == (
        "2025-03-03T16:00:00+01:00"
    )
    assert not calendar.is_working_time(ams(2025, 3, 3, 12, 45))
    assert calendar.is_working_time(ams(2025, 3, 3, 13, 30))
    assert local_iso(calendar.next_working_moment(ams(2025, 3, 3, 12, 45))) == (
        "2025-03-03T13:30:00+01:00"
    )
    assert calendar.working_time_between(ams(2025, 3, 3, 0), ams(2025, 3, 4, 0)) == timedelta(
        hours=7, minutes=30
    )


def test_interval_end_is_not_working_time(no_holidays: BusinessCalendar) -> None:
    assert no_holidays.is_working_time(ams(2025, 3, 3, 9))
    assert no_holidays.is_working_time(ams(2025, 3, 3, 16, 59, 59))
    assert not no_holidays.is_working_time(ams(2025, 3, 3, 17))
    assert not no_holidays.is_working_time(ams(2025, 3, 1, 12))  # Saturday


def test_result_can_be_interval_end(no_holidays: BusinessCalendar) -> None:
    due = no_holidays.add_working_time(ams(2025, 3, 3, 16), timedelta(hours=1))

    assert local_iso(due) == "2025-03-03T17:00:00+01:00"


def test_sunday_dst_day_keeps_eight_hours() -> None:
    calendar = BusinessCalendar(
        CalendarConfig(holiday_country=None, working_hours={"sun": ["09:00-17:00"]})
    )

    for day in (date(2025, 3, 30), date(2025, 10, 26)):
        intervals = calendar.working_intervals(day)
        assert len(intervals) == 1
        start, end = intervals[0]
        assert end - start == timedelta(hours=8)


def test_always_open_follows_elapsed_time() -> None:
    calendar = BusinessCalendar(CalendarConfig(holiday_country=None, working_hours=ALWAYS_OPEN))

    spring = calendar.working_time_between(ams(2025, 3, 29, 12), ams(2025, 3, 30, 12))
    autumn = calendar.working_time_between(ams(2025, 10, 25, 12), ams(2025, 10, 26, 12))
    due = calendar.add_working_time(ams(2025, 10, 25, 12), timedelta(hours=24))

    assert spring == timedelta(hours=23)
    assert autumn == timedelta(hours=25)
    assert local_iso(due) == "2025-10-26T11:00:00+01:00"
    assert calendar.is_working_time(ams(2025, 3, 31, 0))


def test_start_in_other_zone(dutch: BusinessCalendar) -> None:
    in_utc = datetime(2025, 3, 28, 15, tzinfo=UTC)  # 16:00 in Amsterdam
    in_new_york = in_utc.astimezone(ZoneInfo("America/New_York"))

    assert dutch.add_working_time(in_utc, FOUR_HOURS) == ams(2025, 3, 31, 12)
    assert dutch.add_working_time(in_new_york, FOUR_HOURS) == ams(2025, 3, 31, 12)


def test_start_outside_working_time(no_holidays: BusinessCalendar) -> None:
    due = no_holidays.add_working_time(ams(2025, 3, 29, 10), FOUR_HOURS)  # Saturday

    assert local_iso(due) == "2025-03-31T13:00:00+02:00"


def test_zero_duration_returns_start(no_holidays: BusinessCalendar) -> None:
    saturday = ams(2025, 3, 29, 10)

    assert no_holidays.add_working_time(saturday, timedelta(0)) == saturday


def test_negative_duration_rejected(no_holidays: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        no_holidays.add_working_time(ams(2025, 3, 3, 10), timedelta(hours=-1))


# Working days.


def test_five_working_days_weekend_holidays(dutch: BusinessCalendar) -> None:
    # Good Friday 18 April and Easter Monday 21 April 2025 are days off.
    due = dutch.add_working_days(ams(2025, 4, 17, 10), 5)

    assert local_iso(due) == "2025-04-28T10:00:00+02:00"


def test_five_working_days_weekend_only(no_holidays: BusinessCalendar) -> None:
    due = no_holidays.add_working_days(ams(2025, 4, 17, 10), 5)

    assert local_iso(due) == "2025-04-24T10:00:00+02:00"


def test_working_days_across_dst_keep_clock(no_holidays: BusinessCalendar) -> None:
    due = no_holidays.add_working_days(ams(2025, 3, 28, 10, 30), 1)

    assert local_iso(due) == "2025-03-31T10:30:00+02:00"


def test_working_days_from_outside_working_time(no_holidays: BusinessCalendar) -> None:
    friday_evening = ams(2025, 3, 28, 18)
    early_monday = ams(2025, 3, 31, 7)

    assert local_iso(no_holidays.add_working_days(friday_evening, 1)) == (
        "2025-04-01T09:00:00+02:00"
    )
    assert local_iso(no_holidays.add_working_days(early_monday, 1)) == (
        "2025-04-01T09:00:00+02:00"
    )
    assert local_iso(no_holidays.add_working_days(friday_evening, 0)) == (
        "2025-03-31T09:00:00+02:00"
    )


def test_working_days_across_year_end(dutch: BusinessCalendar) -> None:
    # The 4 working days are 29, 30 and 31 December and 2 January, because 25 and 26
    # December and 1 January are holidays.
    due = dutch.add_working_days(ams(2025, 12, 24, 15), 4)

    assert local_iso(due) == "2026-01-02T15:00:00+01:00"


def test_working_days_invalid_count(no_holidays: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        no_holidays.add_working_days(ams(2025, 3, 3, 10), -1)
    with pytest.raises(TypeError):
        no_holidays.add_working_days(ams(2025, 3, 3, 10), 1.5)  # type: ignore[arg-type]


def test_is_working_day(dutch: BusinessCalendar) -> None:
    assert dutch.is_working_day(date(2025, 4, 17))
    assert not dutch.is_working_day(date(2025, 4, 18))  # Good Friday
    assert not dutch.is_working_day(date(2025, 4, 19))  # Saturday
    assert not dutch.is_day_off(date(2025, 4, 19))


# Measuring working time.


def test_between_across_weekend(no_holidays: BusinessCalendar) -> None:
    elapsed = no_holidays.working_time_between(ams(2025, 11, 28, 15), ams(2025, 12, 1, 11))

    assert elapsed == FOUR_HOURS


def test_between_across_autumn_dst(no_holidays: BusinessCalendar) -> None:
    start = ams(2025, 10, 24, 15)  # +02:00
    end = ams(2025, 10, 27, 11)  # +01:00

    assert start.utcoffset() != end.utcoffset()
    assert no_holidays.working_time_between(start, end) == FOUR_HOURS


def test_between_with_holidays(dutch: BusinessCalendar) -> None:
    elapsed = dutch.working_time_between(ams(2025, 12, 24, 0), ams(2026, 1, 3, 0))

    # 24, 29, 30 and 31 December and 2 January.
    assert elapsed == timedelta(hours=5 * 8)


def test_between_end_not_after_start(no_holidays: BusinessCalendar) -> None:
    moment = ams(2025, 3, 3, 10)

    assert no_holidays.working_time_between(moment, moment) == timedelta(0)
    assert no_holidays.working_time_between(moment, moment - FOUR_HOURS) == timedelta(0)


def test_next_working_moment_friday_night(dutch: BusinessCalendar) -> None:
    moment = dutch.next_working_moment(ams(2025, 3, 28, 22))

    assert local_iso(moment) == "2025-03-31T09:00:00+02:00"
    assert moment.tzinfo is UTC


def test_next_working_moment_in_working_time(dutch: BusinessCalendar) -> None:
    at = ams(2025, 3, 27, 10, 15)

    assert dutch.next_working_moment(at) == at


# Input checks.


def test_naive_datetime_rejected(dutch: BusinessCalendar) -> None:
    naive = datetime(2025, 3, 28, 16)
    calls = [
        lambda: dutch.is_working_time(naive),
        lambda: dutch.add_working_time(naive, FOUR_HOURS),
        lambda: dutch.add_working_days(naive, 1),
        lambda: dutch.working_time_between(naive, ams(2025, 3, 31, 9)),
        lambda: dutch.working_time_between(ams(2025, 3, 27, 9), naive),
        lambda: dutch.next_working_moment(naive),
    ]

    for call in calls:
        with pytest.raises(ValueError, match="naive"):
            call()


def test_datetime_rejected_as_date(dutch: BusinessCalendar) -> None:
    with pytest.raises(TypeError, match="expected a date"):
        dutch.is_day_off(ams(2025, 4, 18, 10))


def test_invalid_timezone_names_value() -> None:
    with pytest.raises(ValidationError) as raised:
        CalendarConfig(timezone="Europe/Amsterdamm")

    message = str(raised.value)
    assert "'Europe/Amsterdamm'" in message
    assert "Europe/Brussels" in message


def test_no_working_hours_rejected() -> None:
    for working_hours in ({}, {"mon": []}, {"sat": [], "sun": []}):
        with pytest.raises(ValidationError, match="no working interval"):
            CalendarConfig(working_hours=working_hours)


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        ("9-17", "expected 'HH:MM-HH:MM'"),
        ("09:00", "expected 'HH:MM-HH:MM'"),
        ("17:00-09:00", "start must be before the end"),
        ("09:00-09:00", "start must be before the end"),
        ("09:00-25:00", "25:00 is not a time of day"),
        ("09:60-10:00", "09:60 is not a time of day"),
        ("24:00-24:00", "24:00 is not a time of day"),
    ],
)
def test_invalid_interval_rejected(interval: str, expected: str) -> None:
    with pytest.raises(ValidationError) as raised:
        CalendarConfig(working_hours={"mon": [interval]})

    message = str(raised.value)
    assert expected in message
    assert repr(interval) in message


def test_overlapping_intervals_rejected() -> None:
    with pytest.raises(ValidationError, match="'09:00-12:00' and '11:00-13:00' overlap"):
        CalendarConfig(working_hours={"tue": ["11:00-13:00", "09:00-12:00"]})


def test_touching_intervals_accepted() -> None:
    config = CalendarConfig(working_hours={"mon": ["12:00-17:00", "09:00-12:00"]})
    calendar = BusinessCalendar(config)

    assert config.working_hours["mon"] == ["09:00-12:00", "12:00-17:00"]
    assert calendar.add_working_time(ams(2025, 3, 3, 11), FOUR_HOURS) == ams(2025, 3, 3, 15)


def test_unknown_weekday_rejected() -> None:
    with pytest.raises(ValidationError, match="monday"):
        CalendarConfig(working_hours={"monday": ["09:00-17:00"]})


def test_unknown_field_rejected() -> None:
    with pytest.raises(ValidationError, match="extra_forbidden"):
        CalendarConfig(holiday_region="NL")


def test_unknown_country_rejected() -> None:
    with pytest.raises(ValidationError) as raised:
        CalendarConfig(holiday_country="XX")

    message = str(raised.value)
    assert "'XX'" in message
    assert "list_supported_countries" in message


def test_country_code_normalized() -> None:
    assert CalendarConfig(holiday_country=" be ").holiday_country == "BE"


def test_unknown_subdivision_lists_valid() -> None:
    with pytest.raises(ValidationError) as raised:
        CalendarConfig(holiday_country="BE", holiday_subdivision="Brussels")

    message = str(raised.value)
    assert "'Brussels'" in message
    assert "Flemish, French, German" in message


def test_unknown_holiday_name_rejected() -> None:
    with pytest.raises(ValidationError) as raised:
        CalendarConfig(holidays_off=["Kings Day"])

    message = str(raised.value)
    assert "'Kings Day'" in message
    assert "\"King's Day\"" in message


def test_bank_holiday_in_holidays_off_hints_extra() -> None:
    # "Good Friday" is in the bank category of holidays.BE, not the public one.
    with pytest.raises(ValidationError, match="list them in extra_holidays"):
        CalendarConfig(holiday_country="BE", holidays_off=["Good Friday"])


def test_unknown_extra_holiday_rejected() -> None:
    with pytest.raises(ValidationError, match="'Sinterklaas'"):
        CalendarConfig(extra_holidays=["Sinterklaas"])


def test_holiday_names_need_country() -> None:
    with pytest.raises(ValidationError, match="need a holiday_country"):
        CalendarConfig(holiday_country=None, extra_holidays=["Liberation Day"])


def test_empty_holidays_off_means_none() -> None:
    calendar = BusinessCalendar(CalendarConfig(holidays_off=[]))

    assert calendar.days_off(2025) == {}


# Caching, efficiency and the endless-search guard.


def test_holidays_looked_up_once_per_year(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    original = holidays.country_holidays

    def counting_country_holidays(*args: object, **kwargs: object) -> object:
        calls.append(kwargs.get("years"))
        return original(*args, **kwargs)

    calendar = BusinessCalendar(CalendarConfig())
    monkeypatch.setattr(calendar_module.holidays, "country_holidays", counting_country_holidays)

    for _ in range(3):
        for day in range(1, 32):
            calendar.is_day_off(date(2025, 12, day))
    calls_for_2025 = len(calls)
    calendar.is_day_off(date(2026, 1, 1))

    assert calls_for_2025 > 0
    assert set(calls) == {2025, 2026}
    assert len(calls) == 2 * calls_for_2025


def test_long_duration_loops_per_day(
    dutch: BusinessCalendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    visited_days: list[date] = []
    # The walk over days reads each day's intervals through this private method.
    original = dutch._intervals_of

    def recording_intervals(day: date) -> tuple[tuple[datetime, datetime], ...]:
        visited_days.append(day)
        return original(day)

    monkeypatch.setattr(dutch, "_intervals_of", recording_intervals)
    start = ams(2025, 3, 3, 9)

    two_working_weeks = dutch.add_working_time(start, timedelta(hours=80))
    days_for_80_hours = len(visited_days)
    dutch.add_working_time(start, timedelta(weeks=2))  # 336 working hours

    assert local_iso(two_working_weeks) == "2025-03-14T17:00:00+01:00"
    assert days_for_80_hours == 12
    assert len(visited_days) - days_for_80_hours < 80


def test_no_reachable_working_time_raises() -> None:
    mondays = [date(2025, 1, 6) + timedelta(weeks=week) for week in range(4 * 53)]
    calendar = BusinessCalendar(
        CalendarConfig(
            holiday_country=None, working_hours={"mon": ["09:00-17:00"]}, closing_days=mondays
        )
    )
    start = ams(2025, 1, 1, 9)

    with pytest.raises(NoWorkingTimeError, match="found no working time"):
        calendar.add_working_time(start, FOUR_HOURS)
    with pytest.raises(NoWorkingTimeError, match="found no working time"):
        calendar.next_working_moment(start)
    with pytest.raises(NoWorkingTimeError):
        calendar.add_working_days(start, 1)
    assert calendar.working_time_between(start, ams(2029, 1, 1, 0)) == timedelta(0)


# Property: adding working time and measuring it agree.

_PROPERTY_CALENDARS = [
    BusinessCalendar(CalendarConfig()),
    BusinessCalendar(
        CalendarConfig(
            timezone="Europe/Brussels",
            holiday_country="BE",
            working_hours={
                day: ["08:30-12:00", "12:45-17:15"] for day in ("mon", "tue", "wed", "thu")
            }
            | {"fri": ["08:30-13:00"]},
        )
    ),
    BusinessCalendar(CalendarConfig(holiday_country=None, working_hours=ALWAYS_OPEN)),
]


def _is_interval_end(calendar: BusinessCalendar, moment: datetime) -> bool:
    local_day = moment.astimezone(calendar.zone).date()
    # An interval that ends at 24:00 belongs to the previous local date.
    candidate_days = (local_day - timedelta(days=1), local_day)
    return any(
        end == moment for day in candidate_days for _, end in calendar.working_intervals(day)
    )


@settings(max_examples=300, deadline=None)
@given(
    calendar=st.sampled_from(_PROPERTY_CALENDARS),
    start=st.datetimes(
        min_value=datetime(2020, 1, 1),
        max_value=datetime(2030, 12, 31),
        timezones=st.sampled_from(
            [AMSTERDAM, UTC, ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")]
        ),
    ),
    duration=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=80)),
)
def test_add_then_measure_round_trip(
    calendar: BusinessCalendar, start: datetime, duration: timedelta
) -> None:
    end = calendar.add_working_time(start, duration)

    # Holds for starts outside working time too, because the result is the earliest
    # instant with that much working time since `start`.
    assert calendar.working_time_between(start, end) == duration
    assert end >= start
    if duration > timedelta(0):
        assert calendar.is_working_time(end) or _is_interval_end(calendar, end)


def test_india_calendar_checks_without_warning() -> None:
    calendar_module._holiday_catalog.cache_clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        calendar = BusinessCalendar(CalendarConfig(timezone="Asia/Kolkata", holiday_country="IN"))
        working = calendar.add_working_days(datetime(2026, 1, 5, 9, tzinfo=UTC), 3)

    assert working > datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert [str(warning.message) for warning in caught] == []
