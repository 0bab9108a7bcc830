"""Slash commands: /funnel."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.funnel_report import funnel_report
from bot.runtime import Runtime
from handlers.payloads import CommandPayload

log = logging.getLogger(__name__)


def register(app: App, rt: Runtime) -> None:
    @app.command("/funnel")
    def on_funnel(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack()
        payload = CommandPayload.model_validate(command)
        message, visible = funnel_report(rt, text=payload.text, user_id=payload.user_id, team_id=payload.team_id)
        respond(text=message.text, blocks=message.blocks, response_type="in_channel" if visible else "ephemeral")
        log.info("command.funnel user=%s channel=%s period=%r ok=%s", payload.user_id, payload.channel_id, payload.text, visible)
