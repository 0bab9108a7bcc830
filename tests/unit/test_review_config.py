"""The digests.monthly and digests.quarterly configuration: defaults and named mistakes."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bot.config import ConfigError, parse_config
from support import EXAMPLE_CONFIG


def example_with(digests: dict[str, Any]) -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    data["digests"] = digests
    return data


def test_review_defaults() -> None:
    config = parse_config(example_with({"monthly": {"channel": "C0REVIEW01"}, "quarterly": {"channel": "#sales"}}))
    assert config.digests.monthly is not None
    assert (config.digests.monthly.day, config.digests.monthly.time) == (1, "09:00")
    assert config.digests.quarterly is not None
    assert config.digests.quarterly.channel == "#sales"


@pytest.mark.parametrize(("digests", "expected"), [
    ({"monthly": {"channel": "C0REVIEW01", "day": 31}}, "digests.monthly.day"),
    ({"monthly": {"channel": "C0REVIEW01", "time": "9am"}}, "digests.monthly.time"),
    ({"quarterly": {"channel": "sales"}}, "digests.quarterly.channel"),
    ({"quarterly": {"channel": "C0REVIEW01", "weekday": "mon"}}, "digests.quarterly.weekday: unknown key"),
])
def test_review_mistakes_are_named(digests: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(example_with(digests))
    assert expected in str(error.value)
