from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot.i18n import (
    LANGUAGES,
    MESSAGES,
    format_percentage,
    format_when,
    placeholders,
    plural_categories,
    t,
)

PLURAL_KEYS = sorted(key for key, entry in MESSAGES.items() if not isinstance(entry["nl"], str))


def templates(key: str, language: str) -> list[str]:
    """List the templates of `key` in `language`: the one plain template, or every plural form."""
    text = MESSAGES[key][language]
    return [text] if isinstance(text, str) else list(text.values())


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_text_has_dutch_and_english(key: str) -> None:
    entry = MESSAGES[key]
    assert set(entry) == set(LANGUAGES), key
    for language in LANGUAGES:
        assert all(template.strip() for template in templates(key, language)), (key, language)


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_languages_share_placeholders(key: str) -> None:
    expected = placeholders(templates(key, "nl")[0])
    for language in LANGUAGES:
        for template in templates(key, language):
            assert placeholders(template) == expected, (key, language, template)


def test_plural_texts_exist() -> None:
    assert "funnel.fallback" in PLURAL_KEYS
    assert "count.mqls" in PLURAL_KEYS


@pytest.mark.parametrize("key", PLURAL_KEYS)
def test_plural_text_has_every_form(key: str) -> None:
    for language in LANGUAGES:
        forms = MESSAGES[key][language]
        assert isinstance(forms, dict), (key, language)
        assert set(forms) == plural_categories(language), (key, language)


@pytest.mark.parametrize("key", PLURAL_KEYS)
def test_plural_text_is_chosen_by_count(key: str) -> None:
    for language in LANGUAGES:
        assert "count" in placeholders(templates(key, language)[0]), (key, language)


@pytest.mark.parametrize(("language", "count", "expected"), [
    ("nl", 0, "0 MQL's"),
    ("nl", 1, "1 MQL"),
    ("nl", 2, "2 MQL's"),
    ("nl", 1234, "1.234 MQL's"),
    ("en", 0, "0 MQLs"),
    ("en", 1, "1 MQL"),
    ("en", 2, "2 MQLs"),
    ("en", 1234, "1,234 MQLs"),
    ("de", 1, "1 MQL"),
])
def test_plural_form_follows_count(language: str, count: int, expected: str) -> None:
    assert t(language, "count.mqls", count=count) == expected


def test_plural_form_of_decimal_as_written() -> None:
    # Decimal("1.0") is written "1", so it takes the singular form like the integer 1.
    assert t("en", "funnel.hours", count=Decimal("1.0")) == "1 working hour"
    assert t("en", "funnel.hours", count=1.0) == "1 working hour"
    assert t("en", "funnel.hours", count=Decimal("1.5")) == "1.5 working hours"
    assert t("nl", "funnel.hours", count=Decimal("1.5")) == "1,5 werkuur"


def test_plural_forms_of_sla_breaches() -> None:
    assert t("nl", "count.sla_breaches", count=1) == "1 SLA-overschrijding"
    assert t("nl", "count.sla_breaches", count=2) == "2 SLA-overschrijdingen"
    assert t("en", "count.sla_breaches", count=1) == "1 SLA breach"
    assert t("en", "count.sla_breaches", count=2) == "2 SLA breaches"


def test_plural_text_rejects_count_as_string() -> None:
    with pytest.raises(TypeError, match="count.mqls"):
        t("en", "count.mqls", count="1")


def test_plural_text_rejects_missing_count() -> None:
    with pytest.raises(TypeError, match="count.mqls"):
        t("en", "count.mqls")


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
