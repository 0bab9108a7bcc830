"""Typed views of the Slack payloads the handlers read."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class PayloadError(ValueError):
    """A Slack payload without the fields this handler needs."""


class ActionPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user_id: str
    team_id: str | None
    channel_id: str | None
    message_ts: str | None
    value: str


def parse_action(body: dict[str, Any], action: dict[str, Any]) -> ActionPayload:
    """Read the user, place and value of a block action; select menus carry the value in selected_option."""
    value = action.get("value") or (action.get("selected_option") or {}).get("value")
    try:
        return ActionPayload(
            user_id=body["user"]["id"],
            team_id=(body.get("team") or {}).get("id") or body["user"].get("team_id"),
            channel_id=(body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id"),
            message_ts=(body.get("message") or {}).get("ts") or (body.get("container") or {}).get("message_ts"),
            value=value,
        )
    except (KeyError, TypeError, ValidationError) as error:
        raise PayloadError(f"block action payload lacks a user or value: {error}") from None


class CommandPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    command: str
    text: str = ""
    user_id: str
    team_id: str | None = None
    channel_id: str | None = None
