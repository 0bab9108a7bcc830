import logging
from pathlib import Path

import yaml
from slack_sdk import WebClient

from handlers.app import build_app

REPO = Path(__file__).resolve().parents[2]
# Web API methods the bot calls, and the bot scope each needs (Slack's method reference).
METHOD_SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "users.info": "users:read",
    # The channel check at start, and the outbox's search for a post whose sender died
    # (conversations.open finds the id of a DM that was posted to by user id).
    "conversations.list": "channels:read",
    "conversations.history": "channels:history",
    "conversations.open": "im:write",
    # Charts: files_upload_v2 calls both upload methods.
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    # The outbox's search for a chart whose sender died.
    "files.list": "files:read",
}


def manifest() -> dict:
    return yaml.safe_load((REPO / "manifest.yml").read_text(encoding="utf-8"))


def test_manifest_asks_exactly_the_scopes_used() -> None:
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    # chat:write.public posts rejection notices and escalations to channels the bot has not joined;
    # commands serves /funnel.
    # The conversations.* methods need one scope per conversation type: groups:* for private
    # channels, im:* for DMs.
    conversation_types = {"groups:read", "groups:history", "im:history"}
    assert scopes == set(METHOD_SCOPES.values()) | {"chat:write.public", "commands"} | conversation_types


def test_manifest_declares_funnel_and_interactivity() -> None:
    data = manifest()
    commands = {command["command"]: command for command in data["features"]["slash_commands"]}
    assert set(commands) == {"/funnel", "/lead", "/sla", "/handoff"}
    assert all(len(name) <= 32 for name in commands)
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert data["settings"]["socket_mode_enabled"] is True
    assert "url" not in commands["/funnel"]  # Socket Mode apps have no request URLs
    assert data["features"]["bot_user"]["display_name"]


def test_procfile_runs_web_and_clock() -> None:
    lines = dict(line.split(":", 1) for line in (REPO / "Procfile").read_text().splitlines() if line.strip())
    assert lines["web"].strip() == "handoff web --no-clock"
    assert lines["clock"].strip() == "handoff clock"


def test_build_app_names_missing_settings(runtime) -> None:  # type: ignore[no-untyped-def]
    runtime.settings.slack_bot_token = None
    try:
        build_app(runtime)
    except ValueError as error:
        assert "SLACK_BOT_TOKEN" in str(error)
    else:
        raise AssertionError("build_app accepted a missing bot token")


def test_build_app_skips_bolt_token_warning(runtime, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    # Bolt reads SLACK_BOT_TOKEN itself and warns that it is unused next to the client built from it.
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    caplog.set_level(logging.DEBUG)
    app, _sender = build_app(runtime, WebClient(token="xoxb-test-token", base_url="http://127.0.0.1:9/"),
                             verify_token=False)
    assert app.client.token == "xoxb-test-token"
    assert [record.getMessage() for record in caplog.records if "will be unused" in record.getMessage()] == []
