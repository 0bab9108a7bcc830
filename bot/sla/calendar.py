"""Business calendar for SLA deadlines: working hours, public holidays and closing days.

Working hours are wall-clock intervals in the calendar's time zone. Working time is
the elapsed (UTC) time inside those intervals. A 09:00-17:00 interval therefore stays
8 hours on a DST change day, because European clocks change at night, outside it.
An interval that contains a clock change is one hour shorter or longer.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from holidays.constants import PUBLIC
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

# Index i is the key for date.weekday() == i.
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Name that days_off() gives to a date from CalendarConfig.closing_days.
CLOSING_DAY_NAME = "Company closing day"

# Searches for the next working interval give up after this many consecutive calendar
# days without working time, so that a config whose closing days and holidays cover
# every working weekday raises NoWorkingTimeError instead of looping forever.
MAX_DAYS_WITHOUT_WORKING_TIME = 3 * 366
# Days whose working intervals a calendar keeps; about ten years of dates.
INTERVAL_CACHE_DAYS = 4096

_MINUTES_PER_DAY = 24 * 60
_INTERVAL_PATTERN = re.compile(r"\s*(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\s*")


class NoWorkingTimeError(RuntimeError):
    """Raised when a calendar search finds no working time within MAX_DAYS_WITHOUT_WORKING_TIME."""


def parse_interval(text: str) -> tuple[int, int]:
    """Parse an "HH:MM-HH:MM" working interval into (start, end) minutes after midnight.

    "24:00" is accepted as an end, so "00:00-24:00" is a whole day. An interval cannot
    cross midnight: "22:00-02:00" must be split into "22:00-24:00" and, on the next
    weekday, "00:00-02:00".
    """
    match = _INTERVAL_PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(
            f"invalid working interval {text!r}: expected 'HH:MM-HH:MM', for example '09:00-17:00'"
        )

    start_hour, start_minute, end_hour, end_minute = (int(group) for group in match.groups())
    start = _minutes_after_midnight(start_hour, start_minute, text, allow_midnight_end=False)
    end = _minutes_after_midnight(end_hour, end_minute, text, allow_midnight_end=True)
    if start >= end:
        raise ValueError(
            f"invalid working interval {text!r}: the start must be before the end. "
            "To cover midnight, split it into '...-24:00' and '00:00-...' on the next weekday."
        )
    return start, end


def _minutes_after_midnight(hour: int, minute: int, text: str, *, allow_midnight_end: bool) -> int:
    if allow_midnight_end and (hour, minute) == (24, 0):
        return _MINUTES_PER_DAY
    if hour > 23 or minute > 59:
        raise ValueError(
            f"invalid working interval {text!r}: {hour:02d}:{minute:02d} is not a time of day "
            "(hours 00-23, minutes 00-59, and 24:00 only as an end)"
        )
    return hour * 60 + minute


def _format_interval(start: int, end: int) -> str:
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def _default_working_hours() -> dict[Weekday, list[str]]:
    return {day: ["09:00-17:00"] for day in WEEKDAYS[:5]}


@dataclass(frozen=True)
class _HolidayCatalog:
    """Holiday names the `holidays` package uses for one country and subdivision."""

    public_names: frozenset[str]
    all_names: frozenset[str]
    categories: tuple[str, ...]
    language: str | None


@lru_cache(maxsize=32)
def _holiday_catalog(country: str, subdivision: str | None) -> _HolidayCatalog:
    """Collect holiday names over every year the package supports for the country.

    Raises ValueError for a subdivision the package does not know.
    """
    try:
        entity = holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError as error:
        valid = ", ".join(holidays.list_supported_countries().get(country, [])) or "none"
        raise ValueError(
            f"holiday_subdivision {subdivision!r} is not a subdivision of {country} in the "
            f"holidays package. Valid subdivisions: {valid}."
        ) from error

    # English names make configs readable across Benelux languages. A country without
    # an en_US translation keeps the names of its default language.
    language = "en_US" if "en_US" in entity.supported_languages else None
    categories = tuple(entity.supported_categories)
    years = range(entity.start_year, entity.end_year + 1)

    def collect(selected_categories: tuple[str, ...]) -> frozenset[str]:
        names: set[str] = set()
        # observed=False keeps every holiday on its own date. observed=True moves some
        # (King's Day on a Sunday) or adds substitute days, whose names can differ.
        for observed in (False, True):
            with warnings.catch_warnings():
                # Some countries compute part of their holidays for fewer years than start_year to
                # end_year, and warn about the others (holidays 0.109, India: 2001 to 2035). The names
                # found are enough to check the configuration; the calendar's own years still warn.
                warnings.filterwarnings("ignore", message="Requested Holidays are available only", category=UserWarning)
                entries = holidays.country_holidays(
                    country,
                    subdiv=subdivision,
                    years=years,
                    language=language,
                    categories=selected_categories,
                    observed=observed,
                )
            for day in entries:
                names.update(entries.get_list(day))
        return frozenset(names)

    return _HolidayCatalog(
        public_names=collect((PUBLIC,)),
        all_names=collect(categories),
        categories=categories,
        language=language,
    )


def _name_matches(name: str, selected: frozenset[str], observed_only: bool) -> bool:
    """Return whether a holiday entry is selected by a list of configured holiday names.

    An observed entry such as "Christmas Day (observed)" also matches "Christmas Day".
    """
    if name in selected:
        return True
    return observed_only and any(selected_name in name for selected_name in selected)


class CalendarConfig(BaseModel):
    """A team's business calendar: time zone, working hours and days off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Field(
        default="Europe/Amsterdam",
        description="IANA time zone name in which working hours and days are read.",
    )
    working_hours: dict[Weekday, list[str]] = Field(
        default_factory=_default_working_hours,
        description=(
            "Working intervals per weekday ('mon'..'sun') as 'HH:MM-HH:MM' wall-clock times, "
            "for example ['09:00-12:30', '13:30-17:30'] for a lunch break. A weekday that is "
            "missing or has an empty list has no working time. Setting this field replaces "
            "the whole default of Monday to Friday 09:00-17:00."
        ),
    )
    holiday_country: str | None = Field(
        default="NL",
        description=(
            "Country code of the `holidays` package (ISO 3166-1 alpha-2, such as NL, BE or LU) "
            "whose holidays are days off, or None for no public holidays."
        ),
    )
    holiday_subdivision: str | None = Field(
        default=None,
        description=(
            "Subdivision code of the `holidays` package for regional holidays, for example a "
            "German state. None uses the national holidays only."
        ),
    )
    holidays_off: list[str] | None = Field(
        default=None,
        description=(
            "English names of the public holidays that are days off, as the `holidays` package "
            "names them (for example 'Good Friday'). None makes every public holiday the "
            "package lists a day off. A list makes only those holidays days off, and an empty "
            "list none of them."
        ),
    )
    extra_holidays: list[str] = Field(
        default_factory=list,
        description=(
            "English names of further days off from any category of the `holidays` package, "
            "such as 'optional' or 'bank'. Example: 'Liberation Day' for the Netherlands, "
            "which the package lists as public only in years divisible by 5."
        ),
    )
    closing_days: list[date] = Field(
        default_factory=list,
        description="Dates on which the company is closed, in addition to holidays.",
    )

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as error:
            raise ValueError(
                f"invalid timezone {value!r}: use an IANA time zone name such as 'Europe/Brussels'"
            ) from error
        return value

    @field_validator("working_hours")
    @classmethod
    def _check_working_hours(cls, value: dict[Weekday, list[str]]) -> dict[Weekday, list[str]]:
        normalized: dict[Weekday, list[str]] = {}
        for weekday, texts in value.items():
            parsed: list[tuple[int, int, str]] = []
            for text in texts:
                try:
                    start, end = parse_interval(text)
                except ValueError as error:
                    raise ValueError(f"working_hours[{weekday!r}]: {error}") from None
                parsed.append((start, end, text))
            parsed.sort()

            for (_, previous_end, previous_text), (start, _, text) in zip(parsed, parsed[1:]):
                if start < previous_end:
                    raise ValueError(
                        f"working_hours[{weekday!r}]: intervals {previous_text!r} and {text!r} "
                        "overlap"
                    )
            normalized[weekday] = [_format_interval(start, end) for start, end, _ in parsed]

        if not any(normalized.values()):
            raise ValueError(
                "working_hours contains no working interval, so no deadline could ever fall "
                "due. Add at least one, for example {'mon': ['09:00-17:00']}."
            )
        return normalized

    @field_validator("holiday_country")
    @classmethod
    def _check_holiday_country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if code not in holidays.list_supported_countries():
            raise ValueError(
                f"holiday_country {value!r} is not supported by the holidays package. Use an "
                "ISO 3166-1 alpha-2 code such as 'NL', 'BE' or 'LU'. To list every supported "
                "code, run: python -c \"import holidays; "
                "print(sorted(holidays.list_supported_countries()))\""
            )
        return code

    @model_validator(mode="after")
    def _check_holiday_names(self) -> CalendarConfig:
        if self.holiday_country is None:
            if self.holiday_subdivision is not None or self.holidays_off or self.extra_holidays:
                raise ValueError(
                    "holiday_subdivision, holidays_off and extra_holidays need a "
                    "holiday_country. Set holiday_country or remove them."
                )
            return self

        catalog = _holiday_catalog(self.holiday_country, self.holiday_subdivision)
        unknown_public = [
            name for name in self.holidays_off or [] if name not in catalog.public_names
        ]
        if unknown_public:
            in_other_category = [name for name in unknown_public if name in catalog.all_names]
            hint = (
                f" {in_other_category} are not in the public category, so list them in "
                "extra_holidays instead."
                if in_other_category
                else ""
            )
            raise ValueError(
                f"holidays_off contains names that are not public holidays of "
                f"{self.holiday_country} in the holidays package {holidays.__version__}: "
                f"{unknown_public}.{hint} Public holiday names: {sorted(catalog.public_names)}"
            )

        unknown_extra = [name for name in self.extra_holidays if name not in catalog.all_names]
        if unknown_extra:
            raise ValueError(
                f"extra_holidays contains names that are not holidays of {self.holiday_country} "
                f"in the holidays package {holidays.__version__}: {unknown_extra}. Holiday "
                f"names in categories {list(catalog.categories)}: {sorted(catalog.all_names)}"
            )
        return self


class BusinessCalendar:
    """Working-time arithmetic over a team's working hours, holidays and closing days.

    Every method that takes a datetime rejects a naive one with ValueError. Returned
    datetimes are aware and in UTC. Working intervals are half-open: an interval's end is
    not working time.

    Wall-clock times that a DST change skips or repeats resolve as Python's zoneinfo does
    for fold=0 (PEP 495). That matters only for working hours that touch the hour the
    clocks skip or repeat, 02:00-03:00 in Amsterdam, Brussels and Luxembourg.
    """

    def __init__(self, config: CalendarConfig) -> None:
        self.config = config
        self.zone = ZoneInfo(config.timezone)
        self._intervals_by_weekday: tuple[tuple[tuple[int, int], ...], ...] = tuple(
            tuple(sorted(parse_interval(text) for text in config.working_hours.get(weekday, [])))
            for weekday in WEEKDAYS
        )
        if not any(self._intervals_by_weekday):
            raise ValueError(
                "CalendarConfig.working_hours contains no working interval. Add at least one, "
                "for example {'mon': ['09:00-17:00']}."
            )

        self._holidays_off = None if config.holidays_off is None else frozenset(config.holidays_off)
        self._extra_holidays = frozenset(config.extra_holidays)
        self._closing_days = frozenset(config.closing_days)
        self._catalog = (
            None
            if config.holiday_country is None
            else _holiday_catalog(config.holiday_country, config.holiday_subdivision)
        )
        self._days_off_by_year: dict[int, dict[date, str]] = {}
        self._intervals_by_day: dict[date, tuple[tuple[datetime, datetime], ...]] = {}

    # Days off

    def days_off(self, year: int) -> dict[date, str]:
        """Return the days off of a year, sorted by date, with the holiday or closing-day name.

        A holiday on a weekend is listed too. Several names on one date are joined by "; ".
        """
        return dict(self._days_off_for_year(year))

    def is_day_off(self, day: date) -> bool:
        """Return whether a local date is a holiday day off or a company closing day.

        A weekday without working hours, such as Saturday, is not a day off by itself.
        is_working_day() covers both.
        """
        _require_date(day)
        return day in self._days_off_for_year(day.year)

    def is_working_day(self, day: date) -> bool:
        """Return whether a local date has working time: working hours and not a day off."""
        _require_date(day)
        return bool(self._intervals_of(day))

    def _days_off_for_year(self, year: int) -> dict[date, str]:
        cached = self._days_off_by_year.get(year)
        if cached is not None:
            return cached

        names: dict[date, list[str]] = {}
        if self._catalog is not None:
            self._collect_holidays(year, (PUBLIC,), self._holidays_off, names)
            if self._extra_holidays:
                self._collect_holidays(year, self._catalog.categories, self._extra_holidays, names)
        for day in self._closing_days:
            if day.year == year:
                names.setdefault(day, []).append(CLOSING_DAY_NAME)

        days_off = {day: "; ".join(names[day]) for day in sorted(names)}
        # Assigning a finished dict keeps concurrent readers safe: at worst two threads
        # compute the same year twice.
        self._days_off_by_year[year] = days_off
        return days_off

    def _collect_holidays(
        self,
        year: int,
        categories: tuple[str, ...],
        selected: frozenset[str] | None,
        names: dict[date, list[str]],
    ) -> None:
        """Add the holidays of `year` whose names are in `selected` (None: all) to `names`."""
        assert self._catalog is not None
        lookups = {
            observed: holidays.country_holidays(
                self.config.holiday_country,
                subdiv=self.config.holiday_subdivision,
                years=year,
                language=self._catalog.language,
                categories=categories,
                observed=observed,
            )
            for observed in (False, True)
        }
        for day in sorted(lookups[True]):
            actual_names = lookups[False].get_list(day)
            for name in lookups[True].get_list(day):
                observed_only = name not in actual_names
                if selected is not None and not _name_matches(name, selected, observed_only):
                    continue
                day_names = names.setdefault(day, [])
                if name not in day_names:
                    day_names.append(name)

    # Working intervals

    def working_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """Return the working intervals of a local date as ordered UTC (start, end) pairs.

        The list is empty on days off and on weekdays without working hours.
        """
        _require_date(day)
        return list(self._intervals_of(day))

    def _intervals_of(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """Return `working_intervals(day)` as the cached tuple, for the walks over days in this class."""
        # Every deadline walks the days ahead of it, so the intervals of each day are kept once computed.
        cached = self._intervals_by_day.get(day)
        if cached is None:
            cached = tuple(self._compute_working_intervals(day))
            if len(self._intervals_by_day) >= INTERVAL_CACHE_DAYS:
                self._intervals_by_day.clear()
            self._intervals_by_day[day] = cached
        return cached

    def _compute_working_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        if self.is_day_off(day):
            return []

        intervals: list[tuple[datetime, datetime]] = []
        previous_end: datetime | None = None
        for start_minute, end_minute in self._intervals_by_weekday[day.weekday()]:
            start = self._resolve_wall_time(day, start_minute)
            end = self._resolve_wall_time(day, end_minute)
            # A wall time inside a DST gap resolves to a later instant than the wall times
            # just after the gap (fold=0), so clip to keep the intervals ordered and disjoint.
            if previous_end is not None and start < previous_end:
                start = previous_end
            if end <= start:
                continue
            intervals.append((start, end))
            previous_end = end
        return intervals

    def _resolve_wall_time(self, day: date, minute: int) -> datetime:
        if minute == _MINUTES_PER_DAY:
            day, minute = day + timedelta(days=1), 0
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.zone)
        return local.astimezone(UTC)

    def _intervals_from(
        self, moment: datetime, last_day: date | None = None
    ) -> Iterator[tuple[datetime, datetime]]:
        """Yield the working intervals that end after `moment`, clipped to start at it or later.

        Stops after the local date `last_day`. Without `last_day` the iterator is endless,
        but raises NoWorkingTimeError after MAX_DAYS_WITHOUT_WORKING_TIME days without work.
        """
        # Intervals of earlier local dates end at or before this date's midnight, so
        # none of them can contain `moment`.
        day = moment.astimezone(self.zone).date()
        days_without_working_time = 0
        while last_day is None or day <= last_day:
            found = False
            for start, end in self._intervals_of(day):
                if end <= moment:
                    continue
                found = True
                yield max(start, moment), end

            if found:
                days_without_working_time = 0
            else:
                days_without_working_time += 1
                if last_day is None and days_without_working_time > MAX_DAYS_WITHOUT_WORKING_TIME:
                    raise NoWorkingTimeError(
                        f"found no working time in the {MAX_DAYS_WITHOUT_WORKING_TIME} days "
                        f"up to {day.isoformat()}. Check working_hours, extra_holidays and "
                        "closing_days of the calendar config."
                    )
            day += timedelta(days=1)

    # Working time

    def is_working_time(self, at: datetime) -> bool:
        """Return whether an instant lies inside a working interval (start included, end not)."""
        moment = _to_utc(at, "at")
        day = moment.astimezone(self.zone).date()
        return any(start <= moment < end for start, end in self._intervals_of(day))

    def next_working_moment(self, at: datetime) -> datetime:
        """Return `at` if it is working time, else the start of the next working interval."""
        moment = _to_utc(at, "at")
        for start, _ in self._intervals_from(moment):
            return start
        raise AssertionError("_intervals_from() without last_day never ends")

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """Return the earliest instant by which `duration` of working time has passed since `start`.

        Only time inside working intervals counts. The result can be an interval end, for
        example 17:00 for 1 hour from 16:00 with 09:00-17:00. A zero duration returns
        `start` unchanged, even outside working time.
        """
        moment = _to_utc(start, "start")
        if duration < timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration}")
        if not duration:
            return moment

        remaining = duration
        for interval_start, interval_end in self._intervals_from(moment):
            available = interval_end - interval_start
            if remaining <= available:
                return interval_start + remaining
            remaining -= available
        raise AssertionError("_intervals_from() without last_day never ends")

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Measure the working time between two instants, or zero if `end` is not after `start`."""
        start_utc = _to_utc(start, "start")
        end_utc = _to_utc(end, "end")
        total = timedelta(0)
        if end_utc <= start_utc:
            return total

        last_day = end_utc.astimezone(self.zone).date()
        for interval_start, interval_end in self._intervals_from(start_utc, last_day):
            if interval_start >= end_utc:
                break
            total += min(interval_end, end_utc) - interval_start
        return total

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Return the same local clock time `days` working days after `start`.

        A start outside working time counts from the start of the next working interval:
        Friday 18:00 plus 1 working day is Tuesday 09:00 with 09:00-17:00 Monday to Friday.
        A working day is a date with working time (see is_working_day). Zero days returns
        next_working_moment(start). The result keeps the clock time even where the target
        day's working hours end earlier than that, so it can lie outside working time.
        """
        moment = _to_utc(start, "start")
        if isinstance(days, bool) or not isinstance(days, int):
            raise TypeError(f"days must be an int, got {days!r}")
        if days < 0:
            raise ValueError(f"days must not be negative, got {days}")

        local_start = self.next_working_moment(moment).astimezone(self.zone)
        clock_time = local_start.time().replace(fold=0)
        day = local_start.date()
        counted = 0
        days_without_working_time = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
                days_without_working_time = 0
                continue
            days_without_working_time += 1
            if days_without_working_time > MAX_DAYS_WITHOUT_WORKING_TIME:
                raise NoWorkingTimeError(
                    f"found no working day in the {MAX_DAYS_WITHOUT_WORKING_TIME} days up to "
                    f"{day.isoformat()}. Check working_hours, extra_holidays and closing_days "
                    "of the calendar config."
                )
        return datetime.combine(day, clock_time, tzinfo=self.zone).astimezone(UTC)


def _to_utc(value: datetime, argument: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{argument} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{argument} must be a timezone-aware datetime, got the naive value "
            f"{value.isoformat()}. Attach a time zone, for example with "
            "value.replace(tzinfo=ZoneInfo('Europe/Amsterdam'))."
        )
    return value.astimezone(UTC)


def _require_date(day: date) -> None:
    # datetime is a subclass of date but never equals a date key of days_off().
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(
            f"expected a date, got {type(day).__name__}. Convert an instant with "
            "at.astimezone(calendar.zone).date()."
        )
