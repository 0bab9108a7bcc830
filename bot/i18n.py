"""Dutch and English texts of everything a user reads, with Babel formatting per language."""

from __future__ import annotations

import string
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal, format_percent

from bot.texts import load_texts

Language = Literal["nl", "en"]
LANGUAGES: tuple[Language, ...] = ("nl", "en")
BABEL_LOCALES: dict[str, str] = {"nl": "nl_NL", "en": "en_GB"}

MESSAGES: dict[str, dict[str, str]] = load_texts()


def t(language: str, key: str, **values: object) -> str:
    """Return the text `key` in `language` (Dutch when unknown), filled with `values`."""
    entry = MESSAGES[key]
    template = entry.get(language) or entry["nl"]
    return template.format(**values) if values else template


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
