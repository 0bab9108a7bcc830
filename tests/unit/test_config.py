from pathlib import Path

import pytest
import yaml

from bot.config import ConfigError, load_config, parse_config
from bot.lifecycle import NextAction, RejectionReason

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "handoff.example.yml"


def example_data() -> dict:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def test_example_configuration_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert {team.id for team in config.teams} == {"benelux-nl", "benelux-be"}
    assert config.rep("Sanne.DeVries@handoff-demo.nl") is not None
    assert config.rejections.next_actions[RejectionReason.NO_BUDGET_TIMING] is NextAction.NURTURE


def test_missing_file_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="copy examples/handoff.example.yml"):
        load_config(tmp_path / "handoff.yml")


def test_unknown_team_names_key_and_value() -> None:
    data = example_data()
    data["reps"][0]["team"] = "benelux-de"
    with pytest.raises(ConfigError) as error:
        parse_config(data, "handoff.yml")
    assert "reps[0].team" in str(error.value)
    assert "'benelux-de'" in str(error.value)
    assert "benelux-nl" in str(error.value)


def test_bad_slack_id_names_key_and_value() -> None:
    data = example_data()
    data["reps"][1]["slack_user_id"] = "sanne"
    with pytest.raises(ConfigError) as error:
        parse_config(data, "handoff.yml")
    message = str(error.value)
    assert "reps.1.slack_user_id" in message or "reps[1].slack_user_id" in message
    assert "'sanne'" in message


def test_invalid_time_zone_is_reported() -> None:
    data = example_data()
    data["teams"][0]["calendar"]["timezone"] = "Europe/Amsterdm"
    with pytest.raises(ConfigError, match="Europe/Amsterdm"):
        parse_config(data)


def test_unknown_key_is_reported() -> None:
    data = example_data()
    data["sla"]["decision_days"] = 3
    with pytest.raises(ConfigError, match="decision_days"):
        parse_config(data)


def test_fallback_owner_must_be_a_rep() -> None:
    data = example_data()
    data["fallback_owner"] = "nobody@handoff-demo.nl"
    with pytest.raises(ConfigError, match="nobody@handoff-demo.nl"):
        parse_config(data)


def test_invalid_yaml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yml"
    path.write_text("teams: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_partial_next_actions_keep_defaults() -> None:
    data = example_data()
    data["rejections"]["next_actions"] = {"competitor": "nurture"}
    config = parse_config(data)
    assert config.rejections.next_actions[RejectionReason.COMPETITOR] is NextAction.NURTURE
    assert config.rejections.next_actions[RejectionReason.DUPLICATE] is NextAction.ARCHIVE


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d["reps"][0].__setitem__("timezone", "Amsterdam"), "invalid timezone 'Amsterdam'"),
    (lambda d: d["reps"][0].__setitem__("territory", ["BELGIUM"]), "invalid territory 'BELGIUM'"),
    (lambda d: d["sla"]["escalation"].__setitem__("chain", ["managr"]), "sla.escalation.chain[0]: 'managr'"),
    (lambda d: d.__setitem__("admins", ["sanne"]), "admins[0]"),
    (lambda d: d["reps"][1].__setitem__("slack_user_id", d["reps"][0]["slack_user_id"]), "listed twice: U0SANNEDV1"),
    (lambda d: d["reps"][0].__setitem__("active", False), "is inactive"),
    (lambda d: d.__setitem__("marketing_channel", "marketing"), "marketing_channel"),
    (lambda d: d["teams"][0]["calendar"].__setitem__("closing_days", ["2026-13-01"]), "closing_days"),
])
def test_configuration_mistakes_are_named(change, expected: str) -> None:  # type: ignore[no-untyped-def]
    data = example_data()
    change(data)
    with pytest.raises(ConfigError) as error:
        parse_config(data, "handoff.yml")
    assert expected in str(error.value)
    assert "Value error," not in str(error.value)


def test_misspelled_key_points_to_example() -> None:
    data = example_data()
    data["fallback_ownr"] = data.pop("fallback_owner")
    with pytest.raises(ConfigError) as error:
        parse_config(data)
    assert "fallback_ownr: unknown key" in str(error.value)


def test_malformed_channel_names_the_fix() -> None:
    data = example_data()
    data["marketing_channel"] = "#Sales NL"
    with pytest.raises(ConfigError) as error:
        parse_config(data)
    assert 'marketing_channel: not a channel: write its id (C...) or its name in quotes' in str(error.value)
    assert "(value: '#Sales NL')" in str(error.value)
