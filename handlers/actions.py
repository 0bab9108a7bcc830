"""Accept and Reject on the rep's lead card."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.handoff import decide
from bot.i18n import t
from bot.ids import ActionId, LeadRef, parse_reject_option
from bot.lifecycle import RejectionReason
from bot.outbox import OutboxSender, Sendable
from bot.preferences import user_language
from bot.runtime import Runtime
from bot.sla.clocks import start_waiting_sal_clocks
from handlers.listener_work import ListenerWork
from handlers.payloads import ActionPayload, PayloadError, parse_action
from handlers.sales import open_reject_modal

log = logging.getLogger(__name__)

# Lead ids are INTEGER, which is 32-bit in PostgreSQL.
MAX_LEAD_ID = 2_147_483_647


def register(app: App, rt: Runtime, sender: OutboxSender, listener_work: ListenerWork) -> None:
    @app.action(ActionId.ACCEPT.value)
    @listener_work.after_ack("accept")
    def on_accept(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        _handle(rt, sender, client, body, action, accept=True)

    @app.action(ActionId.REJECT.value)
    @listener_work.after_ack("reject")
    def on_reject(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        # Choosing a reason opens the rejection modal; the lead changes when it is submitted.
        ack()
        try:
            payload = parse_action(body, action)
        except PayloadError as error:
            log.warning("action.invalid_payload action=%s error=%s", ActionId.REJECT.value, error)
            return
        select = _checked_select(action)
        try:
            _, ref = parse_reject_option(select["selected_option"]["value"])
        except ValueError:
            ref = None  # open_reject_modal logs the invalid option
        if ref is not None and not _is_storable_id(ref.lead):
            _tell(rt, client, payload, _not_found_text(rt, payload))
            return
        open_reject_modal(rt, client, _checked_body(payload, body), select)


def _checked_body(payload: ActionPayload, body: dict[str, Any]) -> dict[str, Any]:
    """Rebuild the parts of a block action body that the modal code reads, from checked values."""
    trigger_id = body.get("trigger_id")
    checked: dict[str, Any] = {"user": {"id": payload.user_id}, "trigger_id": trigger_id if isinstance(trigger_id, str) else ""}
    if payload.channel_id is not None:
        checked["channel"] = {"id": payload.channel_id}
    return checked


def _checked_select(action: dict[str, Any]) -> dict[str, Any]:
    """Keep only the selected option's value, and only when it is a string."""
    option = action.get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    return {"action_id": action.get("action_id"), "selected_option": {"value": value if isinstance(value, str) else ""}}


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

    if not _is_storable_id(ref.lead):
        _tell(rt, client, payload, _not_found_text(rt, payload))
        return

    try:
        with rt.db.transaction() as session:
            claim = sender.new_claim()
            # An Accept's clocks switch after its card update, so that the card changes sooner.
            outcome = decide(session, rt, lead_id=ref.lead, version=ref.v, user_id=payload.user_id, accept=accept,
                             reason=reason, claim=claim, defer_clocks=True)
            # The card update is claimed with the decision, so that it goes to Slack right after the commit.
            # An Accept's INSERT claims it when nothing else of the lead waits; otherwise one more statement does.
            claimed: Sequence[Sendable] = ()
            if outcome.status == "done":
                claimed = claim.items or sender.claim_lead_items(session, outcome.lead_id)
    except Exception:
        reference = uuid.uuid4().hex[:8]
        log.exception("action.failed ref=%s lead=%s user=%s", reference, ref.lead, payload.user_id)
        _tell(rt, client, payload, _failure_text(rt, payload, reference))
        return

    if outcome.status == "done":
        try:
            sender.deliver_claimed(claimed)
        finally:
            # The decision is stored, so its clocks switch and its Home tabs are queued even when
            # marking the card update failed. If this process stops first, the clock process switches
            # the clocks after WAITING_SAL_CLOCKS_GRACE.
            try:
                if accept:
                    with rt.db.transaction() as session:
                        start_waiting_sal_clocks(session, rt, outcome.lead_id)
            finally:
                sender.refresh_homes(claim.home_users)
    elif outcome.message:
        _tell(rt, client, payload, outcome.message)
        log.info("action.refused lead=%s user=%s status=%s", outcome.lead_id, payload.user_id, outcome.status)


def _is_storable_id(lead_id: int) -> bool:
    """Check whether a lead id fits the INTEGER primary key, because a larger one fails in the query."""
    return 0 < lead_id <= MAX_LEAD_ID


def _not_found_text(rt: Runtime, payload: ActionPayload) -> str:
    with rt.db.transaction() as session:
        language = user_language(session, rt.config, rt.settings.default_language, payload.user_id, payload.team_id)
    return t(language, "action.lead_not_found")


def _failure_text(rt: Runtime, payload: ActionPayload, reference: str) -> str:
    with rt.db.transaction() as session:
        language = user_language(session, rt.config, rt.settings.default_language, payload.user_id, payload.team_id)
    return t(language, "action.failed", ref=reference)


def _tell(rt: Runtime, client: WebClient, payload: ActionPayload, text: str) -> None:
    """Send an ephemeral message. It is transient by nature, so a failure is logged, not queued."""
    if payload.channel_id is None:
        return
    try:
        client.chat_postEphemeral(channel=payload.channel_id, user=payload.user_id, text=text)
    except SlackApiError as error:
        log.warning("action.ephemeral_failed user=%s error=%s", payload.user_id, error.response.get("error"))


