"""Accept and Reject on the rep's lead card."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.clicks import (
    AcceptClick,
    ClickStore,
    decide_click,
    finish_click,
    settle_click,
    tell,
    user_text,
)
from bot.ids import ActionId, LeadRef, parse_reject_option
from bot.outbox import OutboxSender
from bot.runtime import Runtime
from handlers.listener_work import ListenerWork
from handlers.payloads import ActionPayload, PayloadError, parse_action
from handlers.sales import open_reject_modal

log = logging.getLogger(__name__)

# Lead ids are INTEGER, which is 32-bit in PostgreSQL.
MAX_LEAD_ID = 2_147_483_647


def register(app: App, rt: Runtime, sender: OutboxSender, listener_work: ListenerWork) -> None:
    clicks = ClickStore(rt)

    @app.action(ActionId.ACCEPT.value)
    def on_accept(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        # Decided or stored before the ack, so that a process that stops after the ack loses nothing.
        click = _accept_click(body, action, rt.clock.now())
        if click is None:
            pass  # _accept_click logged why the payload is invalid
        elif not _is_storable_id(click.lead_id):
            listener_work.submit("accept", _tell_not_found, rt, client, click.channel_id, click.user_id, click.team_id)
        elif listener_work.quiet():
            # Nothing else waits for this process, so the decision costs the response no more than storing the click.
            decided = decide_click(rt, sender, click, pending_id=None, client=client)
            if decided is not None:
                listener_work.submit("accept", finish_click, rt, sender, click, decided, client)
        else:
            pending_id = clicks.store(click)
            listener_work.submit("accept", settle_click, rt, sender, click, pending_id=pending_id, client=client)
        ack()

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
            _tell_not_found(rt, client, payload.channel_id, payload.user_id, payload.team_id)
            return
        open_reject_modal(rt, client, _checked_body(payload, body), select)


def _accept_click(body: dict[str, Any], action: dict[str, Any], clicked_at: datetime) -> AcceptClick | None:
    """Read an Accept click from its payload, or log why it cannot be read and return None."""
    try:
        payload = parse_action(body, action)
        ref = LeadRef.decode(payload.value)
    except (PayloadError, ValueError) as error:
        log.warning("action.invalid_payload action=%s error=%s", action.get("action_id"), error)
        return None
    return AcceptClick(lead_id=ref.lead, version=ref.v, user_id=payload.user_id, team_id=payload.team_id,
                       clicked_at=clicked_at, channel_id=payload.channel_id)


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


def _is_storable_id(lead_id: int) -> bool:
    """Check whether a lead id fits the INTEGER primary key, because a larger one fails in the query."""
    return 0 < lead_id <= MAX_LEAD_ID


def _tell_not_found(rt: Runtime, client: WebClient, channel_id: str | None, user_id: str, team_id: str | None) -> None:
    tell(client, channel_id, user_id, user_text(rt, user_id, team_id, "action.lead_not_found"))
