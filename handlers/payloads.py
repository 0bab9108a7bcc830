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


def _member(container: Any, key: str) -> Any:
    """Return `container[key]` when the container is a JSON object, else None."""
    return container.get(key) if isinstance(container, dict) else None


def _has_control_characters(text: str) -> bool:
    return any(ord(character) < 32 or ord(character) == 127 for character in text)


def _text(container: Any, key: str) -> str | None:
    value = _member(container, key)
    return value if isinstance(value, str) and value else None


def parse_action(body: dict[str, Any], action: dict[str, Any]) -> ActionPayload:
    """Read the user, place and value of a block action; select menus carry the value in selected_option.

    Raises PayloadError when the user id or the value is missing or not a string. A team,
    channel or message of the wrong shape is read as absent.
    """
    user = _member(body, "user")
    value = _member(action, "value") or _member(_member(action, "selected_option"), "value")
    user_id = _member(user, "id")
    if isinstance(user_id, str) and _has_control_characters(user_id):
        # Slack ids are letters and digits, and PostgreSQL refuses a NUL in a query parameter.
        raise PayloadError("block action payload lacks a valid user")
    try:
        return ActionPayload(
            user_id=user_id,
            team_id=_text(_member(body, "team"), "id") or _text(user, "team_id"),
            channel_id=_text(_member(body, "channel"), "id") or _text(_member(body, "container"), "channel_id"),
            message_ts=_text(_member(body, "message"), "ts") or _text(_member(body, "container"), "message_ts"),
            value=value,
        )
    except ValidationError as error:
        # Name the fields only: the pydantic message would quote the values.
        fields = ", ".join(sorted({str(item["loc"][0]) for item in error.errors() if item["loc"]}))
        raise PayloadError(f"block action payload lacks a valid {fields}") from None


class CommandPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    command: str
    text: str = ""
    user_id: str
    team_id: str | None = None
    channel_id: str | None = None
