from typing import Any

from bot.people import load_slack_timezones
from bot.runtime import Runtime
from harness import Harness


def test_time_zones_come_from_slack_unless_configured(harness: Harness, slack: Any, runtime: Runtime) -> None:
    slack.add_user("U0PIETERJ1", email="pieter.janssens@handoff-demo.be", real_name="Pieter", tz="America/New_York")
    runtime.slack_timezones.clear()
    loaded = load_slack_timezones(runtime, harness.client)
    assert loaded >= 1
    pieter = runtime.config.person_by_slack_id("U0PIETERJ1")
    assert runtime.timezone_of(pieter) == "America/New_York"
    runtime.config.reps[2].timezone = "Europe/Brussels"
    assert runtime.timezone_of(runtime.config.reps[2]) == "Europe/Brussels"


def test_unknown_slack_user_keeps_team_zone(harness: Harness, runtime: Runtime) -> None:
    runtime.slack_timezones.clear()
    load_slack_timezones(runtime, harness.client)
    lotte = runtime.config.person_by_slack_id("U0LOTTEPT1")  # not registered in the stand-in
    assert "U0LOTTEPT1" not in runtime.slack_timezones
    assert runtime.timezone_of(lotte) == "Europe/Brussels"
