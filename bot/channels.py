"""Channels named in the handoff configuration: resolved to ids and checked against Slack at start.

The configuration may name a channel by id (C..., G...) or as "#name". Messages are always
sent to the id, so that renaming a channel breaks nothing. At start the bot lists the channels
it can see with conversations.list, resolves each name once, checks that every configured
channel exists, and stores the name-to-id table in the database. A process started without a
Slack token (an import with --no-deliver, for example) uses the stored table.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.config import SLACK_CHANNEL_ID_PATTERN, ConfigError, HandoffConfig
from bot.settings import Settings
from storage.db import Database
from storage.models import SlackChannel

log = logging.getLogger(__name__)

LIST_PAGE_SIZE = 200
# Private channels are listed only when the bot is a member, and archived ones not at all.
LIST_TYPES = "public_channel,private_channel"
INVITE_HINT = "invite the bot with /invite @Lead Handoff"


class ChannelError(ConfigError):
    """A configured channel is missing, unreachable for the bot, or its name cannot be resolved."""


@dataclass(frozen=True)
class ChannelReference:
    """One place in the configuration that names a channel."""

    location: str  # e.g. "digests.weekly.channel" or "sla.escalation.chain[1]"
    value: str  # "#name" or an id
    owner: BaseModel
    field: str
    index: int | None = None

    @property
    def is_name(self) -> bool:
        return self.value.startswith("#")


@dataclass(frozen=True)
class SlackChannelInfo:
    id: str
    name: str
    is_private: bool
    is_member: bool


def find_channel_references(config: HandoffConfig) -> list[ChannelReference]:
    """Return every channel in the configuration: fields named channel or *_channel, and escalation targets."""
    return list(_walk(config, ""))


def _walk(model: BaseModel, prefix: str) -> Iterator[ChannelReference]:
    for field in type(model).model_fields:
        value = getattr(model, field)
        location = f"{prefix}{field}"
        if isinstance(value, BaseModel):
            yield from _walk(value, f"{location}.")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _walk(item, f"{location}[{index}].")
                elif field == "chain" and isinstance(item, str) and _is_channel(item):
                    yield ChannelReference(f"{location}[{index}]", item, model, field, index)
        elif (field == "channel" or field.endswith("_channel")) and isinstance(value, str) and _is_channel(value):
            yield ChannelReference(location, value, model, field)


def _is_channel(value: str) -> bool:
    return value.startswith("#") or re.match(SLACK_CHANNEL_ID_PATTERN, value) is not None


def list_channels(client: WebClient) -> dict[str, SlackChannelInfo]:
    """Return the channels the bot can see, by id, reading every page of conversations.list."""
    channels: dict[str, SlackChannelInfo] = {}
    cursor: str | None = None
    while True:
        page = client.conversations_list(types=LIST_TYPES, exclude_archived=True, limit=LIST_PAGE_SIZE, cursor=cursor)
        for channel in page.get("channels") or []:
            channels[channel["id"]] = SlackChannelInfo(
                id=channel["id"], name=channel.get("name", ""), is_private=bool(channel.get("is_private")),
                is_member=bool(channel.get("is_member")),
            )
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if cursor is None:
            return channels


def check_channels(references: list[ChannelReference], channels: dict[str, SlackChannelInfo]) -> dict[str, str]:
    """Return the id of each configured name; raise ChannelError listing every channel that fails."""
    by_name = {channel.name: channel for channel in channels.values()}
    resolved: dict[str, str] = {}
    problems: list[str] = []
    for reference in references:
        channel = by_name.get(reference.value[1:]) if reference.is_name else channels.get(reference.value)
        if channel is None:
            problems.append(
                f"{reference.location}: channel {reference.value} not found among the public channels and the "
                f"private channels the bot is a member of. Check the spelling, or {INVITE_HINT} if it is private "
                "(archived channels do not count)"
            )
            continue
        if channel.is_private and not channel.is_member:
            problems.append(f"{reference.location}: the bot is not a member of the private channel "
                            f"{reference.value}: {INVITE_HINT}")
            continue
        if reference.is_name:
            resolved[reference.value] = channel.id
    if problems:
        raise ChannelError("configured Slack channels failed the check:\n" + "\n".join(f"  {p}" for p in problems))
    return resolved


def apply_channel_ids(config: HandoffConfig, names: dict[str, str]) -> HandoffConfig:
    """Return a copy of the configuration with each "#name" replaced by its id from `names`."""
    resolved = config.model_copy(deep=True)
    missing: list[str] = []
    for reference in find_channel_references(resolved):
        if not reference.is_name:
            continue
        channel_id = names.get(reference.value)
        if channel_id is None:
            missing.append(f"{reference.location} ({reference.value})")
        elif reference.index is None:
            setattr(reference.owner, reference.field, channel_id)
        else:
            getattr(reference.owner, reference.field)[reference.index] = channel_id
    if missing:
        raise ChannelError(
            f"channel names not resolved yet: {', '.join(missing)}. The bot looks names up in Slack when it "
            "starts with SLACK_BOT_TOKEN set and Slack reachable, and stores the ids; start it once that way, "
            "or write the channel ids (C...) in the configuration"
        )
    return resolved


def store_channel_ids(session: Session, names: dict[str, str], now: datetime) -> None:
    """Replace the stored name-to-id table with `names`."""
    session.execute(delete(SlackChannel))
    for name, channel_id in names.items():
        session.add(SlackChannel(name=name, channel_id=channel_id, resolved_at=now))


def stored_channel_ids(session: Session) -> dict[str, str]:
    return {row.name: row.channel_id for row in session.scalars(select(SlackChannel))}


def slack_client_for(settings: Settings) -> WebClient | None:
    """Return a Web API client that waits out rate limits, or None without a bot token."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    if not token:
        return None
    options: dict[str, Any] = {"token": token, "timeout": 10}
    if settings.slack_api_url:
        options["base_url"] = settings.slack_api_url
    client = WebClient(**options)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
    return client


def resolve_configured_channels(config: HandoffConfig, settings: Settings, db: Database | None,
                                now: datetime) -> HandoffConfig:
    """Check the configured channels against Slack and return the configuration with ids only.

    Without a bot token, or when Slack cannot be reached, names come from the table stored at
    the last successful check and ids are not checked. Pass `db=None` to check without storing.
    Raises ChannelError naming each channel that fails and the fix.
    """
    references = find_channel_references(config)
    if not references:
        return config
    client = slack_client_for(settings)
    if client is not None:
        try:
            channels = list_channels(client)
        except SlackApiError as error:
            code = error.response.get("error") if hasattr(error.response, "get") else None
            if code in {"invalid_auth", "not_authed", "missing_scope", "account_inactive"}:
                raise ChannelError(f"cannot list the Slack channels to check the configuration: {code}. Check "
                                   "SLACK_BOT_TOKEN and that the app has the scopes of manifest.yml") from None
            log.warning("channels.check_skipped error=%s: Slack returned an error; using the stored channel ids", code)
        except (SlackClientError, OSError) as error:
            log.warning("channels.check_skipped error=%s: Slack unreachable; using the stored channel ids",
                        type(error).__name__)
        else:
            names = check_channels(references, channels)
            if db is not None:
                with db.transaction() as session:
                    store_channel_ids(session, names, now)
            log.info("channels.checked count=%s names_resolved=%s", len(references), len(names))
            return apply_channel_ids(config, names)
    if not any(reference.is_name for reference in references):
        return config
    stored: dict[str, str] = {}
    if db is not None:
        with db.transaction() as session:
            stored = stored_channel_ids(session)
    return apply_channel_ids(config, stored)


def describe_channel_check(config: HandoffConfig, settings: Settings) -> list[str]:
    """Check the configured channels against Slack, as `handoff config check` does, and return report lines.

    Raises ChannelError when a channel fails or Slack cannot be asked.
    """
    references = find_channel_references(config)
    if not references:
        return []
    client = slack_client_for(settings)
    if client is None:
        return ["warning: the configured Slack channels were not checked because SLACK_BOT_TOKEN is not set"]
    try:
        channels = list_channels(client)
    except SlackApiError as error:
        code = error.response.get("error") if hasattr(error.response, "get") else None
        raise ChannelError(f"cannot list the Slack channels to check the configuration: {code}. Check "
                           "SLACK_BOT_TOKEN and that the app has the scopes of manifest.yml") from None
    except (SlackClientError, OSError) as error:
        raise ChannelError(f"cannot reach Slack to check the configured channels ({type(error).__name__}). "
                           "Check SLACK_API_URL and the network") from None
    names = check_channels(references, channels)
    lines = [f"{len(references)} configured Slack channels found"]
    lines.extend(f"  {reference.location}: {reference.value} is {names[reference.value]}"
                 for reference in references if reference.is_name)
    return lines
