"""Configured channels: names resolved to ids once at start, every channel checked against Slack."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot.bootstrap import build_runtime
from bot.channels import ChannelError
from bot.cli import main
from bot.clock import FixedClock
from bot.slack_standin import SlackStandin
from storage.db import Database
from storage.models import SlackChannel
from support import EXAMPLE_CONFIG, make_settings

MARKETING = "C0MARKET01"
LEADS = "C0LEADS001"


def write_config(tmp_path: Path, **changes: Any) -> Path:
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    data["marketing_channel"] = changes.get("marketing_channel", "#marketing")
    data["teams"][0]["channel"] = changes.get("team_channel", "C0SALES001")
    data["sla"]["escalation"]["chain"] = ["manager", changes.get("escalation_channel", "#sales-leads")]
    path = tmp_path / "handoff.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def settings_for(db: Database, config: Path, slack: SlackStandin | None, **overrides: Any) -> Any:
    values: dict[str, Any] = {"handoff_config": config, **overrides}
    if slack is not None:
        values["slack_api_url"] = slack.base_url
    return make_settings(db.url, **values)


@pytest.fixture
def workspace(slack: SlackStandin) -> SlackStandin:
    # More channels than one page of conversations.list holds, with the configured ones last.
    for number in range(450):
        slack.add_channel(f"C1FILL{number:04d}", f"filler-{number}")
    slack.add_channel(MARKETING, "marketing")
    slack.add_channel(LEADS, "sales-leads", is_private=True)
    return slack


def test_names_resolved_to_ids_over_pages(db: Database, workspace: SlackStandin, tmp_path: Path,
                                          clock: FixedClock) -> None:
    rt = build_runtime(settings_for(db, write_config(tmp_path), workspace), clock=clock, prepare=False)

    assert rt.config.marketing_channel == MARKETING
    assert rt.config.sla.escalation.chain == ["manager", LEADS]
    assert rt.config.teams[0].channel == "C0SALES001"
    listed = workspace.calls("conversations.list")
    assert len(listed) == 3
    assert listed[0].params["types"] == "public_channel,private_channel"
    with db.transaction() as session:
        stored = {row.name: row.channel_id for row in session.scalars(select(SlackChannel))}
    assert stored == {"#marketing": MARKETING, "#sales-leads": LEADS}


def test_missing_channel_names_place_and_fix(db: Database, workspace: SlackStandin, tmp_path: Path) -> None:
    config = write_config(tmp_path, marketing_channel="#marketting", team_channel="C0GONE0001")

    with pytest.raises(ChannelError) as caught:
        build_runtime(settings_for(db, config, workspace), prepare=False)

    message = str(caught.value)
    assert "marketing_channel: channel #marketting not found" in message
    assert "teams[0].channel: channel C0GONE0001 not found" in message
    assert "/invite @Lead Handoff" in message


def test_private_channel_needs_membership(db: Database, slack: SlackStandin, tmp_path: Path) -> None:
    slack.add_channel(MARKETING, "marketing")
    slack.add_channel(LEADS, "sales-leads", is_private=True, is_member=False)

    with pytest.raises(ChannelError) as caught:
        build_runtime(settings_for(db, write_config(tmp_path), slack), prepare=False)

    assert "sla.escalation.chain[1]: channel #sales-leads not found" in str(caught.value)
    assert "invite the bot" in str(caught.value)


def test_public_channel_without_membership_passes(db: Database, slack: SlackStandin, tmp_path: Path) -> None:
    # chat:write.public lets the bot post in public channels it has not joined.
    slack.add_channel(MARKETING, "marketing", is_member=False)
    slack.add_channel(LEADS, "sales-leads", is_private=True)

    rt = build_runtime(settings_for(db, write_config(tmp_path), slack), prepare=False)

    assert rt.config.marketing_channel == MARKETING


def test_without_token_stored_ids_are_used(db: Database, workspace: SlackStandin, tmp_path: Path) -> None:
    config = write_config(tmp_path)
    build_runtime(settings_for(db, config, workspace), prepare=False)
    workspace.reset()

    rt = build_runtime(settings_for(db, config, None, slack_bot_token=None), prepare=False)

    assert rt.config.marketing_channel == MARKETING
    assert workspace.calls() == []


def test_without_token_unknown_name_fails(db: Database, tmp_path: Path) -> None:
    with pytest.raises(ChannelError) as caught:
        build_runtime(settings_for(db, write_config(tmp_path), None, slack_bot_token=None), prepare=False)

    assert "marketing_channel (#marketing)" in str(caught.value)
    assert "SLACK_BOT_TOKEN" in str(caught.value)


def test_unreachable_slack_falls_back_to_stored(db: Database, workspace: SlackStandin, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    config = write_config(tmp_path)
    build_runtime(settings_for(db, config, workspace), prepare=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    with caplog.at_level(logging.WARNING, logger="bot.channels"):
        rt = build_runtime(settings_for(db, config, None, slack_api_url=f"http://127.0.0.1:{closed_port}/api/"),
                           prepare=False)

    assert rt.config.marketing_channel == MARKETING
    assert any("channels.check_skipped" in line for line in caplog.messages)


def test_ids_only_need_no_token(db: Database, tmp_path: Path) -> None:
    config = write_config(tmp_path, marketing_channel=MARKETING, escalation_channel=LEADS)
    rt = build_runtime(settings_for(db, config, None, slack_bot_token=None), prepare=False)
    assert rt.config.marketing_channel == MARKETING


def test_config_check_reports_channels(db: Database, workspace: SlackStandin, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in {"HANDOFF_CONFIG": str(write_config(tmp_path)), "SLACK_BOT_TOKEN": "xoxb-test-token",
                        "SLACK_SIGNING_SECRET": "secret", "SLACK_API_URL": workspace.base_url,
                        "DATABASE_URL": db.url}.items():
        monkeypatch.setenv(name, value)

    assert main(["config", "check"]) == 0

    output = capsys.readouterr().out
    assert "3 configured Slack channels found" in output
    assert f"marketing_channel: #marketing is {MARKETING}" in output


def test_config_check_stops_on_missing_channel(db: Database, slack: SlackStandin, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in {"HANDOFF_CONFIG": str(write_config(tmp_path)), "SLACK_BOT_TOKEN": "xoxb-test-token",
                        "SLACK_SIGNING_SECRET": "secret", "SLACK_API_URL": slack.base_url,
                        "DATABASE_URL": db.url}.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(SystemExit) as caught:
        main(["config", "check"])

    assert "marketing_channel: channel #marketing not found" in str(caught.value)
