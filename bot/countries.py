"""Country names and codes as CRM exports write them, normalised to ISO 3166 alpha-2."""

from __future__ import annotations

from functools import cache

from babel import Locale


@cache
def _country_names() -> dict[str, str]:
    """Map country names in English, Dutch, French and German to ISO codes, from Babel's CLDR data."""
    names: dict[str, str] = {}
    for locale in ("en", "nl", "fr", "de"):
        for code, name in Locale.parse(locale).territories.items():
            if len(code) == 2 and code.isalpha():
                names[name.casefold()] = code
    return names


def country_code(value: str | None) -> str | None:
    """Return the ISO 3166 alpha-2 code of a code or a country name, or None when unknown."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if len(text) == 2 and text.isalpha():
        return text.upper()
    return _country_names().get(text.casefold())
