"""Contesting a rejection from marketing's channel, the manager's ruling, and the Home tab's language picker."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import InputBlock, PlainTextInputElement, PlainTextObject
from slack_sdk.models.views import View

from bot.contests import ContestResult, open_contest, rule_on_contest
from bot.i18n import LANGUAGES, t
from bot.ids import ActionId, CallbackId, database_id
from bot.messages import clip
from bot.modals import SubmittedValues
from bot.outbox import OutboxSender
from bot.preferences import set_user_language, user_language
from bot.runtime import Runtime
from bot.sla.clocks import acknowledge
from handlers.sales import _tell
from handlers.events import publish_home
from handlers.listener_work import ListenerWork, Reply

log = logging.getLogger(__name__)


def contest_modal(rejection_id: int, language: str) -> dict[str, Any]:
    return View(
        type="modal", callback_id=CallbackId.CONTEST.value, private_metadata=str(rejection_id),
        title=PlainTextObject(text=clip(t(language, "contest.modal_title"), 24, language)),
        submit=PlainTextObject(text=clip(t(language, "contest.submit"), 24, language)),
        close=PlainTextObject(text=clip(t(language, "modal.cancel"), 24, language)),
        blocks=[InputBlock(block_id="comment", optional=True, label=PlainTextObject(text=t(language, "contest.comment")),
                           element=PlainTextInputElement(action_id="comment", multiline=True, max_length=3000))],
    ).to_dict()


def register(app: App, rt: Runtime, sender: OutboxSender, listener_work: ListenerWork) -> None:
    def deliver(result: ContestResult) -> None:
        if result.status == "done":
            sender.deliver_due(limit=20)

    @app.action(ActionId.CONTEST.value)
    @listener_work.after_ack("contest")
    def on_contest(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        rejection_id = database_id(str(action.get("value") or ""))
        if rejection_id is None:
            log.warning("contest.invalid_payload")
            return
        with rt.db.transaction() as session:
            language = user_language(session, rt.config, rt.settings.default_language, body["user"]["id"])
        try:
            client.views_open(trigger_id=body["trigger_id"], view=contest_modal(rejection_id, language))
        except SlackApiError as error:
            log.warning("contest.modal_failed user=%s error=%s", body["user"]["id"], error.response.get("error"))

    @app.view(CallbackId.CONTEST.value)
    def on_contest_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        rejection_id = database_id(str(view.get("private_metadata") or ""))
        if rejection_id is None:
            ack()
            log.warning("contest.invalid_payload")
            return
        with rt.db.transaction() as session:
            result = open_contest(session, rt, rejection_id=rejection_id, user_id=body["user"]["id"],
                                  comment=SubmittedValues(view).text("comment"))
        if result.status == "done":
            ack()
        else:
            ack(response_action="errors", errors={"comment": result.message or "?"})
        # The response goes to Slack when this listener returns, so Slack calls wait for the pool.
        listener_work.submit("deliver", deliver, result)

    def rule(body: dict[str, Any], action: dict[str, Any], client: WebClient,
             overturn: bool) -> Reply:
        contest_id = database_id(str(action.get("value") or ""))
        if contest_id is None:
            log.warning("contest.invalid_payload")
            return None
        with rt.db.transaction() as session:
            result = rule_on_contest(session, rt, contest_id=contest_id, user_id=body["user"]["id"], overturn=overturn)
        if result.status != "done" and result.message:
            message = result.message
            return lambda: _tell(client, body, message)
        return lambda: deliver(result)

    @app.action(ActionId.UPHOLD.value)
    @listener_work.change_before_ack("uphold")
    def on_uphold(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> Reply:
        return rule(body, action, client, overturn=False)

    @app.action(ActionId.OVERTURN.value)
    @listener_work.change_before_ack("overturn")
    def on_overturn(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> Reply:
        return rule(body, action, client, overturn=True)

    @app.action(ActionId.ACKNOWLEDGE.value)
    @listener_work.change_before_ack("acknowledge")
    def on_acknowledge(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> Reply:
        clock_id = database_id(str(action.get("value") or ""))
        if clock_id is None:
            log.warning("escalation.invalid_payload")
            return None
        user_id = body["user"]["id"]
        with rt.db.transaction() as session:
            result = acknowledge(session, rt, clock_id=clock_id, user_id=user_id)
            language = user_language(session, rt.config, rt.settings.default_language, user_id)
        texts = {"done": "escalation.acknowledged", "already": "escalation.already_acknowledged",
                 "not_allowed": "escalation.not_allowed", "not_found": "action.lead_not_found"}
        text = t(language, texts[result.status], user=f"<@{result.by}>" if result.by else "")
        return lambda: _tell(client, body, text)

    @app.action(ActionId.LANGUAGE.value)
    @listener_work.change_before_ack("language")
    def on_language(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> Reply:
        choice = str((action.get("selected_option") or {}).get("value") or "")
        user_id = body["user"]["id"]
        if choice not in LANGUAGES:
            log.warning("home.invalid_language user=%s", user_id)
            return None
        with rt.db.transaction() as session:
            set_user_language(session, user_id, choice, rt.clock.now())
        return lambda: publish_home(rt, client, user_id)
