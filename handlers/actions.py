"""Accept and Reject on the rep's lead card."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.handoff import decide
from bot.i18n import t
from bot.ids import ActionId, LeadRef, parse_reject_option
from bot.lifecycle import RejectionReason
from bot.outbox import OutboxSender
from bot.preferences import user_language
from bot.runtime import Runtime
from handlers.payloads import ActionPayload, PayloadError, parse_action
from handlers.sales import open_reject_modal

log = logging.getLogger(__name__)


def register(app: App, rt: Runtime, sender: OutboxSender) -> None:
    @app.action(ActionId.ACCEPT.value)
    def on_accept(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        _handle(rt, sender, client, body, action, accept=True)

    @app.action(ActionId.REJECT.value)
    def on_reject(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        # Choosing a reason opens the rejection modal; the lead changes when it is submitted.
        ack()
        open_reject_modal(rt, client, body, action)


def _handle(rt: Runtime, sender: OutboxSender, client: WebClient, body: dict[str, Any], action: dict[str, Any], *, accept: bool) -> None:
    try:
        payload = parse_action(body, action)
        if accept:
            ref, reason = LeadRef.decode(payload.value), None
        else:
            reason_text, ref = parse_reject_option(payload.value)
            reason = RejectionReason(reason_text)
    except (PayloadError, ValueError) as error:
        log.warning("action.invalid_payload action=%s error=%s", action.get("action_id"), error)
        return

    try:
        with rt.db.transaction() as session:
            outcome = decide(session, rt, lead_id=ref.lead, version=ref.v, user_id=payload.user_id, accept=accept, reason=reason)
    except Exception:
        reference = uuid.uuid4().hex[:8]
        log.exception("action.failed ref=%s lead=%s user=%s", reference, ref.lead, payload.user_id)
        _tell(rt, client, payload, _failure_text(rt, payload, reference))
        return

    if outcome.status == "done":
        sender.deliver_lead(outcome.lead_id)
    elif outcome.message:
        _tell(rt, client, payload, outcome.message)
        log.info("action.refused lead=%s user=%s status=%s", outcome.lead_id, payload.user_id, outcome.status)


def _failure_text(rt: Runtime, payload: ActionPayload, reference: str) -> str:
    with rt.db.transaction() as session:
        language = user_language(session, rt.config, rt.settings.default_language, payload.user_id, payload.team_id)
    return t(language, "action.failed", ref=reference)


def _tell(rt: Runtime, client: WebClient, payload: ActionPayload, text: str) -> None:
    """Send an ephemeral answer; it is transient by nature, so a failure is logged, not queued."""
    if payload.channel_id is None:
        return
    try:
        client.chat_postEphemeral(channel=payload.channel_id, user=payload.user_id, text=text)
    except SlackApiError as error:
        log.warning("action.ephemeral_failed user=%s error=%s", payload.user_id, error.response.get("error"))


