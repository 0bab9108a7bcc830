"""Slash commands: /funnel, /lead and /handoff."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.funnel_report import funnel_report
from bot.i18n import LANGUAGES, t
from bot.lead_report import lead_report
from bot.messages import escape_mrkdwn
from bot.preferences import set_user_language, user_language
from bot.runtime import Runtime
from bot.sla_report import sla_report
from handlers.payloads import CommandPayload
from handlers.listener_work import ListenerWork

log = logging.getLogger(__name__)

LANGUAGE_WORDS = {"taal", "language", "lang"}


def register(app: App, rt: Runtime, listener_work: ListenerWork) -> None:
    @app.command("/funnel")
    @listener_work.after_ack("funnel")
    def on_funnel(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack()
        payload = CommandPayload.model_validate(command)
        message, visible = funnel_report(rt, text=payload.text, user_id=payload.user_id, team_id=payload.team_id)
        respond(text=message.text, blocks=message.blocks, response_type="in_channel" if visible else "ephemeral")
        log.info("command.funnel user=%s channel=%s ok=%s", payload.user_id, payload.channel_id, visible)

    @app.command("/lead")
    @listener_work.after_ack("lead")
    def on_lead(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack()
        payload = CommandPayload.model_validate(command)
        message = lead_report(rt, query=payload.text, user_id=payload.user_id, team_id=payload.team_id)
        respond(text=message.text, blocks=message.blocks, response_type="ephemeral")
        # The query may be an e-mail address, so it is not logged.
        log.info("command.lead user=%s found=%s", payload.user_id, bool(message.blocks))

    @app.command("/sla")
    @listener_work.after_ack("sla")
    def on_sla(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack()
        payload = CommandPayload.model_validate(command)
        message = sla_report(rt, user_id=payload.user_id, team_id=payload.team_id)
        respond(text=message.text, blocks=message.blocks, response_type="ephemeral")
        log.info("command.sla user=%s", payload.user_id)

    @app.command("/handoff")
    @listener_work.change_before_ack("handoff")
    def on_handoff(ack: Ack, command: dict[str, Any], respond: Respond) -> Callable[[], object]:
        # `/handoff taal` stores the language before the ack; the reply follows the response.
        text = handoff_command(rt, CommandPayload.model_validate(command))
        return lambda: respond(text=text, response_type="ephemeral")


def handoff_command(rt: Runtime, payload: CommandPayload) -> str:
    """Run `/handoff taal nl|en` or `/handoff help` and return the text for the user."""
    words = payload.text.split()
    with rt.db.transaction() as session:
        language = user_language(session, rt.config, rt.settings.default_language, payload.user_id, payload.team_id)
        if not words or words[0].lower() in {"help", "hulp"}:
            return t(language, "handoff.help")
        if words[0].lower() in LANGUAGE_WORDS:
            choice = words[1].lower() if len(words) > 1 else ""
            if choice not in LANGUAGES:
                return t(language, "handoff.bad_language", value=escape_mrkdwn(choice[:20]))
            set_user_language(session, payload.user_id, choice, rt.clock.now())
            log.info("command.language user=%s language=%s", payload.user_id, choice)
            return t(choice, "handoff.language_set")
    return t(language, "handoff.unknown", text=escape_mrkdwn(payload.text[:100]), help=t(language, "handoff.help"))
