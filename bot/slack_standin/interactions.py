"""Signed Slack requests as Slack sends them: block actions and slash commands.

The demo and the tests use these to drive the real Bolt app the way Slack
would, with the `X-Slack-Signature` of the raw body.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier


def signed_headers(signing_secret: str, body: str, *, timestamp: int | None = None,
                   content_type: str = "application/x-www-form-urlencoded") -> dict[str, str]:
    """Headers Slack sends with `body`: the content type, timestamp and v0 signature."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=stamp, body=body)
    return {"content-type": content_type, "x-slack-request-timestamp": stamp, "x-slack-signature": signature}


def block_action_body(
    *, user_id: str, action: dict[str, Any], channel_id: str, message_ts: str, team_id: str = "T0HANDOFF",
    response_url: str = "https://hooks.slack.com/actions/T0HANDOFF/1/x", trigger_id: str = "1.2.3",
) -> str:
    """Build the form-encoded body of a block_actions interaction on a message."""
    payload = {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "handoff"},
        "user": {"id": user_id, "team_id": team_id},
        "api_app_id": "A0HANDOFF",
        "token": "legacy-verification-token",
        "trigger_id": trigger_id,
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id, "is_ephemeral": False},
        "channel": {"id": channel_id},
        "message": {"type": "message", "ts": message_ts},
        "response_url": response_url,
        "actions": [{**action, "block_id": action.get("block_id", "lead_decision"), "action_ts": str(time.time())}],
    }
    return urlencode({"payload": json.dumps(payload)})


def button_action(action_id: str, value: str) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "value": value, "text": {"type": "plain_text", "text": "x"}}


def select_action(action_id: str, value: str) -> dict[str, Any]:
    return {"type": "static_select", "action_id": action_id,
            "selected_option": {"value": value, "text": {"type": "plain_text", "text": "x"}}}


def slash_command_body(*, command: str, text: str, user_id: str, channel_id: str, response_url: str,
                       team_id: str = "T0HANDOFF", trigger_id: str = "1.2.3") -> str:
    """Build the form-encoded body of a slash command."""
    return urlencode({
        "token": "legacy-verification-token", "team_id": team_id, "team_domain": "handoff",
        "channel_id": channel_id, "channel_name": "sales", "user_id": user_id, "user_name": user_id.lower(),
        "command": command, "text": text, "api_app_id": "A0HANDOFF", "response_url": response_url,
        "trigger_id": trigger_id,
    })


def view_submission_body(*, user_id: str, callback_id: str, private_metadata: str, values: dict[str, dict[str, Any]],
                         view_id: str = "V0HANDOFF1", team_id: str = "T0HANDOFF", blocks: list[dict[str, Any]] | None = None) -> str:
    """Build the form-encoded body of a modal submission; `values` is `view.state.values` keyed by block id."""
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "handoff"},
        "user": {"id": user_id, "team_id": team_id},
        "api_app_id": "A0HANDOFF",
        "token": "legacy-verification-token",
        "trigger_id": "1.2.4",
        "view": {
            "id": view_id, "type": "modal", "callback_id": callback_id, "private_metadata": private_metadata,
            "blocks": blocks or [], "state": {"values": values}, "hash": "1.abc",
        },
    }
    return urlencode({"payload": json.dumps(payload)})


def text_value(block_id: str, value: str) -> dict[str, dict[str, Any]]:
    return {block_id: {block_id: {"type": "plain_text_input", "value": value}}}


def date_value(block_id: str, value: str) -> dict[str, dict[str, Any]]:
    return {block_id: {block_id: {"type": "datepicker", "selected_date": value}}}


def select_value(block_id: str, value: str) -> dict[str, dict[str, Any]]:
    return {block_id: {block_id: {"type": "static_select", "selected_option": {"value": value}}}}


def checkbox_values(block_id: str, values: list[str]) -> dict[str, dict[str, Any]]:
    return {block_id: {block_id: {"type": "checkboxes", "selected_options": [{"value": v} for v in values]}}}


def event_callback_body(*, event_id: str, event: dict[str, Any], team_id: str = "T0HANDOFF") -> str:
    """Build the JSON body of an Events API delivery."""
    return json.dumps({
        "token": "legacy-verification-token", "team_id": team_id, "api_app_id": "A0HANDOFF",
        "type": "event_callback", "event_id": event_id, "event_time": int(time.time()), "event": event,
    })
