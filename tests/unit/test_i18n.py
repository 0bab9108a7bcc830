from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot.i18n import LANGUAGES, MESSAGES, format_percentage, format_when, placeholders, t


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_text_has_dutch_and_english(key: str) -> None:
    entry = MESSAGES[key]
    assert set(entry) == set(LANGUAGES), key
    assert all(entry[language].strip() for language in LANGUAGES), key


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_languages_share_placeholders(key: str) -> None:
    assert placeholders(MESSAGES[key]["nl"]) == placeholders(MESSAGES[key]["en"]), key


def test_unknown_language_falls_back_to_dutch() -> None:
    assert t("de", "card.accept") == "Accepteren"


def test_dates_are_written_per_language() -> None:
    moment = datetime(2025, 3, 31, 10, 0, tzinfo=UTC)
    assert format_when(moment, "nl", "Europe/Amsterdam") == "maandag 31 maart 2025, 12:00"
    assert format_when(moment, "en", "Europe/Amsterdam") == "Monday 31 March 2025, 12:00"


def test_percentages_are_written_per_language() -> None:
    assert format_percentage(Decimal("0.615"), "nl") == "61,5%"
    assert format_percentage(Decimal("0.615"), "en") == "61.5%"
    assert format_percentage(None, "nl") == "n.v.t."
