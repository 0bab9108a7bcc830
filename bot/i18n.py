"""Dutch and English texts of everything a user reads, with Babel formatting per language."""

from __future__ import annotations

import string
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import format_decimal, format_percent

from bot.texts import TextEntry, load_texts

Language = Literal["nl", "en"]
LANGUAGES: tuple[Language, ...] = ("nl", "en")
BABEL_LOCALES: dict[str, str] = {"nl": "nl_NL", "en": "en_GB"}

MESSAGES: dict[str, TextEntry] = load_texts()


def t(language: str, key: str, **values: object) -> str:
    """Return the text `key` in `language` (Dutch when unknown), filled with `values`.

    A text with plural forms picks its form by the value `count`, under the
    CLDR plural rules of the language, and writes that count as
    `format_number` does. Pass `count` as a number there, not as a string.
    """
    entry = MESSAGES[key]
    if language not in entry:
        language = "nl"
    text = entry[language]
    if isinstance(text, str):
        return text.format(**values) if values else text
    count = values.get("count")
    if not isinstance(count, int | float | Decimal) or isinstance(count, bool):
        raise TypeError(f"invalid count {count!r} for text {key!r}: its plural forms need count=<int or Decimal>")
    template = text[plural_category(count, language)]
    return template.format(**{**values, "count": format_number(count, language)})


def plural_category(count: int | float | Decimal, language: str) -> str:
    """Return the CLDR plural category of `count` in `language`, such as "one" or "other".

    The category is taken of the number as `format_number` writes it, so that
    Decimal("1.0"), written "1", takes "one" like the integer 1.
    """
    return _locale(language).plural_form(_as_written(count))


def plural_categories(language: str) -> set[str]:
    """Return the CLDR plural categories that `language` uses, "other" included."""
    return set(_locale(language).plural_form.tags) | {"other"}


@lru_cache(maxsize=8)
def _locale(language: str) -> Locale:
    return Locale.parse(babel_locale(language))


def _as_written(count: int | float | Decimal) -> int | Decimal:
    """Round `count` to the three decimals of Babel's default number pattern and drop trailing zeros."""
    if isinstance(count, int):
        return count
    return Decimal(str(count)).quantize(Decimal("0.001")).normalize()


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def babel_locale(language: str) -> str:
    return BABEL_LOCALES.get(language, BABEL_LOCALES["nl"])


# Cached, because imports format the same few deadlines on thousands of cards.
@lru_cache(maxsize=4096)
def format_when(moment: datetime, language: str, timezone: str) -> str:
    """Format an aware datetime as a date with weekday and time, the way `language` writes it."""
    local = moment.astimezone(ZoneInfo(timezone))
    return format_datetime(local, "EEEE d MMMM y, HH:mm", tzinfo=ZoneInfo(timezone), locale=babel_locale(language))


def format_day(moment: datetime, language: str) -> str:
    return format_datetime(moment, "d MMMM y", locale=babel_locale(language))


def format_percentage(value: Decimal | float | None, language: str) -> str:
    if value is None:
        return t(language, "funnel.no_rate")
    return format_percent(value, format="#,##0.#%", locale=babel_locale(language))


def format_number(value: Decimal | int | float, language: str) -> str:
    return format_decimal(value, locale=babel_locale(language))
