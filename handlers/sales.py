"""Card actions after the MQL gate and the modals behind them.

Each listener reads the payload into typed values and calls one domain function. A button
that changes the lead at once commits that change before the ack; one that opens a modal acks
first. The outbox updates the card.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import modals, sales
from bot.handoff import RejectionInput, decide, may_act
from bot.i18n import t
from bot.ids import ActionId, CallbackId, LeadRef, database_id, parse_reject_option
from bot.lifecycle import ContactChannel, RejectionReason, Stage
from bot.modals import ModalMeta, SubmittedValues
from bot.outbox import OutboxSender
from bot.preferences import user_language
from bot.runtime import Runtime
from storage.models import Lead
from handlers.listener_work import ListenerWork, Reply

log = logging.getLogger(__name__)

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ModalBuilder = Callable[[Session, Lead, ModalMeta, str], dict[str, Any]]


def _tell(client: WebClient, body: dict[str, Any], text: str) -> None:
    """Send the clicking user an ephemeral message; it is transient, so a failure is only logged."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    user = (body.get("user") or {}).get("id")
    if not channel or not user:
        return
    try:
        client.chat_postEphemeral(channel=channel, user=user, text=text)
    except SlackApiError as error:
        log.warning("sales.ephemeral_failed user=%s error=%s", user, error.response.get("error"))


def _reference(action: dict[str, Any]) -> LeadRef | None:
    try:
        return LeadRef.decode(str(action.get("value") or ""))
    except ValueError as error:
        log.warning("sales.invalid_payload action=%s error=%s", action.get("action_id"), error)
        return None


def _open_modal(rt: Runtime, client: WebClient, body: dict[str, Any], ref: LeadRef, stages: set[Stage],
                build: ModalBuilder) -> None:
    user_id = body["user"]["id"]
    # Slack is called after the transaction, which on SQLite holds the write lock that clicks wait for.
    with rt.db.transaction() as session:
        lead, refusal, language = sales.check_actor(session, rt, ref.lead, user_id, stages)
        view = None if refusal is not None or lead is None else build(
            session, lead, ModalMeta(lead=lead.id, v=lead.version), language)
    if view is None:
        _tell(client, body, refusal.message if refusal and refusal.message else "?")
        return
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as error:
        log.warning("sales.modal_failed lead=%s user=%s error=%s", ref.lead, user_id, error.response.get("error"))


def open_reject_modal(rt: Runtime, client: WebClient, body: dict[str, Any], action: dict[str, Any]) -> None:
    """Open the rejection modal for the reason chosen on the card; the decision happens on submit."""
    option = (action.get("selected_option") or {}).get("value") or ""
    user_id = body["user"]["id"]
    try:
        reason_text, ref = parse_reject_option(str(option))
        reason = RejectionReason(reason_text)
    except ValueError as error:
        log.warning("sales.invalid_payload action=lead_reject error=%s", error)
        return
    message: str | None = None
    with rt.db.transaction() as session:
        language = user_language(session, rt.config, rt.settings.default_language, user_id)
        lead = session.get(Lead, ref.lead)
        if lead is None or not may_act(rt, lead, user_id) or lead.stage != Stage.MQL.value or lead.version != ref.v:
            # Let the decision path word the refusal, exactly as for Accept.
            outcome = decide(session, rt, lead_id=ref.lead, version=ref.v, user_id=user_id, accept=False,
                             rejection=RejectionInput(reason=reason)) if lead is not None and lead.stage != Stage.MQL.value else None
            message = outcome.message if outcome else None
            if message is None:
                _, refusal, _ = sales.check_actor(session, rt, ref.lead, user_id, {Stage.MQL})
                message = refusal.message if refusal else t(language, "action.lead_not_found")
            view = None
        else:
            next_action = rt.config.rejections.next_actions[reason]
            today = rt.clock.now().astimezone(rt.calendar(lead.team_id).zone).date()
            view = modals.reject_modal(
                ModalMeta(lead=lead.id, v=lead.version, reason=reason.value), lead.company, reason, next_action,
                rt.config.reps, lead.rep_email, today + timedelta(days=rt.config.rejections.nurture_days), language)
    # Slack is called after the transaction, which on SQLite holds the write lock that clicks wait for.
    if view is None:
        _tell(client, body, message or "?")
        return
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as error:
        log.warning("sales.modal_failed lead=%s user=%s error=%s", ref.lead, user_id, error.response.get("error"))


def _answer_submission(ack: Ack, result: sales.ActionResult, default_block: str) -> None:
    if result.done:
        ack()
    elif result.errors:
        ack(response_action="errors", errors=result.errors)
    else:
        ack(response_action="errors", errors={default_block: result.message or "?"})


def _find_duplicate(session: Session, lead: Lead, query: str) -> int | None:
    query = query.strip()
    conditions = [func.lower(Lead.email) == query.lower()]
    if (number := database_id(query)) is not None:
        conditions = [Lead.id == number]
    found = session.scalars(select(Lead.id).where(*conditions, Lead.id != lead.id).order_by(Lead.id).limit(1)).first()
    return found


def submit_rejection(rt: Runtime, body: dict[str, Any], view: dict[str, Any]) -> sales.ActionResult:
    """Validate the rejection modal and decide; the errors name the modal block they belong to."""
    user_id = body["user"]["id"]
    try:
        meta = ModalMeta.decode(view.get("private_metadata") or "")
        reason = RejectionReason(meta.reason or RejectionReason.OTHER.value)
    except ValueError as error:
        log.warning("sales.invalid_payload view=reject_modal error=%s", error)
        return sales.ActionResult("not_found", 0, None, {})
    values = SubmittedValues(view)
    note = values.text("note")
    with rt.db.transaction() as session:
        language = user_language(session, rt.config, rt.settings.default_language, user_id)
        lead = session.get(Lead, meta.lead)
        if lead is None:
            return sales.ActionResult("not_found", meta.lead, t(language, "action.lead_not_found"))
        errors: dict[str, str] = {}
        if reason is RejectionReason.OTHER and not note:
            errors["note"] = t(language, "sales.note_required")
        until = values.date("nurture_until")
        today = rt.clock.now().astimezone(rt.calendar(lead.team_id).zone).date()
        if "nurture_until" in _block_ids(view) and (until is None or until <= today):
            errors["nurture_until"] = t(language, "sales.date_not_future", date=until.isoformat() if until else "–")
        duplicate_of = None
        if reason is RejectionReason.DUPLICATE:
            query = values.text("duplicate_of")
            duplicate_of = _find_duplicate(session, lead, query) if query else None
            if not query:
                errors["duplicate_of"] = t(language, "sales.duplicate_missing")
            elif duplicate_of is None:
                errors["duplicate_of"] = t(language, "sales.duplicate_not_found", query=query[:100])
        corrected_email = values.text("contact_email").lower() or None
        if corrected_email and not EMAIL_PATTERN.match(corrected_email):
            errors["contact_email"] = t(language, "sales.email_invalid")
        if errors:
            return sales.ActionResult("invalid", meta.lead, next(iter(errors.values())), errors)
        rejection = RejectionInput(reason=reason, note=note or None, reroute_to=values.selected("rep"),
                                   nurture_until=until, duplicate_of=duplicate_of, corrected_email=corrected_email,
                                   corrected_phone=values.text("contact_phone") or None)
        outcome = decide(session, rt, lead_id=meta.lead, version=meta.v, user_id=user_id, accept=False,
                         rejection=rejection)
    if outcome.status == "done":
        return sales.ActionResult("done", meta.lead)
    return sales.ActionResult("not_allowed", meta.lead, outcome.message)


def _meta(view: dict[str, Any]) -> ModalMeta | None:
    """Read a submitted modal's metadata; None, logged, for a modal that is not one of ours."""
    try:
        return ModalMeta.decode(view.get("private_metadata") or "")
    except ValueError as error:
        log.warning("sales.invalid_payload view=%s error=%s", view.get("callback_id"), error)
        return None


def _block_ids(view: dict[str, Any]) -> set[str]:
    return {block.get("block_id") for block in view.get("blocks") or [] if isinstance(block, dict)}


def register(app: App, rt: Runtime, sender: OutboxSender, listener_work: ListenerWork) -> None:
    def deliver(result: sales.ActionResult) -> None:
        if result.done:
            sender.deliver_lead(result.lead_id)

    def run_action(client: WebClient, body: dict[str, Any],
                   work: Callable[[Session, str], sales.ActionResult]) -> Reply:
        """Commit `work` in a transaction of its own; return the Slack calls to make after the response.

        An exception goes to `change_before_ack`, which logs it and sends the user a reply.
        """
        with rt.db.transaction() as session:
            result = work(session, body["user"]["id"])
        if result.done:
            return lambda: deliver(result)
        if result.message:
            message = result.message
            return lambda: _tell(client, body, message)
        return None

    # Buttons that open a modal ---------------------------------------------------------------

    @app.action(ActionId.LOG_CONTACT.value)
    @listener_work.after_ack("log_contact")
    def on_log_contact(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        if (ref := _reference(action)) is not None:
            _open_modal(rt, client, body, ref, {Stage.MQL, Stage.SAL},
                        lambda session, lead, meta, language: modals.contact_modal(meta, lead.company, language))

    @app.action(ActionId.COMPLETE_DISCOVERY.value)
    @listener_work.after_ack("complete_discovery")
    def on_complete_discovery(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        if (ref := _reference(action)) is not None:
            _open_modal(rt, client, body, ref, {Stage.SAL}, lambda session, lead, meta, language: modals.discovery_modal(
                meta, lead.company, rt.config.methodology(lead.team_id), lead.opportunity_ref, language))

    @app.action(ActionId.RETURN_TO_NURTURE.value)
    @listener_work.after_ack("return_to_nurture")
    def on_return_to_nurture(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        if (ref := _reference(action)) is None:
            return

        def build(session: Session, lead: Lead, meta: ModalMeta, language: str) -> dict[str, Any]:
            today = rt.clock.now().astimezone(rt.calendar(lead.team_id).zone).date()
            notes = (lead.discovery or {}).get("next_steps")
            return modals.nurture_modal(meta, lead.company, today + timedelta(days=rt.config.rejections.nurture_days),
                                        notes, language)

        _open_modal(rt, client, body, ref, {Stage.SAL, Stage.SQL}, build)

    @app.action(ActionId.MARK_OPPORTUNITY.value)
    @listener_work.after_ack("mark_opportunity")
    def on_mark_opportunity(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        if (ref := _reference(action)) is not None:
            _open_modal(rt, client, body, ref, {Stage.SQL}, lambda session, lead, meta, language:
                        modals.opportunity_modal(meta, lead.company, lead.opportunity_ref, language))

    # Actions that change the lead at once ----------------------------------------------------

    @app.action(ActionId.DISCOVERY_DATE.value)
    @listener_work.change_before_ack("discovery_date")
    def on_discovery_date(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> Reply:
        day = SubmittedValues({"state": {"values": {"d": {"d": action}}}}).date("d")
        ref = _lead_from_card(body)
        if day is None or ref is None:
            log.warning("sales.invalid_payload action=lead_discovery_date")
            return None
        return run_action(client, body, lambda session, user: sales.schedule_discovery(
            session, rt, lead_id=ref, user_id=user, day=day))

    def record_outcome(body: dict[str, Any], action: dict[str, Any], client: WebClient, *, won: bool) -> Reply:
        if (ref := _reference(action)) is None:
            return None
        return run_action(client, body, lambda session, user: sales.record_outcome(
            session, rt, lead_id=ref.lead, user_id=user, won=won))

    @app.action(ActionId.WON.value)
    @listener_work.change_before_ack("won")
    def on_won(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> Reply:
        return record_outcome(body, action, client, won=True)

    @app.action(ActionId.LOST.value)
    @listener_work.change_before_ack("lost")
    def on_lost(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> Reply:
        return record_outcome(body, action, client, won=False)

    @app.action(ActionId.REASSIGN.value)
    @listener_work.change_before_ack("reassign")
    def on_reassign(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> Reply:
        raw = str((action.get("selected_option") or {}).get("value") or "")
        lead_text, _, email = raw.partition("|")
        rep = rt.config.rep(email)
        lead_id = database_id(lead_text)
        if lead_id is None or rep is None:
            log.warning("sales.invalid_payload action=lead_reassign")
            return None
        return run_action(client, body, lambda session, user: sales.reassign(
            session, rt, lead_id=lead_id, user_id=user, rep=rep))

    # Modal submissions -----------------------------------------------------------------------

    @app.view(CallbackId.REJECT.value)
    def on_reject_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        result = submit_rejection(rt, body, view)
        if result.status == "not_found" and result.message is None:
            ack()  # a modal that was not ours: close it, change nothing
            return
        _answer_submission(ack, result, "note")
        # The response goes to Slack when this listener returns, so Slack calls wait for the pool.
        listener_work.submit("deliver", deliver, result)

    @app.view(CallbackId.CONTACT.value)
    def on_contact_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = _meta(view)
        if meta is None:
            ack()
            return
        values = SubmittedValues(view)
        channel = ContactChannel(values.selected("channel") or ContactChannel.OTHER.value)
        with rt.db.transaction() as session:
            result = sales.log_contact(session, rt, lead_id=meta.lead, user_id=body["user"]["id"], channel=channel,
                                       note=values.text("note") or None, request_key=f"view:{view.get('id')}")
        _answer_submission(ack, result, "note")
        # The response goes to Slack when this listener returns, so Slack calls wait for the pool.
        listener_work.submit("deliver", deliver, result)

    @app.view(CallbackId.DISCOVERY.value)
    def on_discovery_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = _meta(view)
        if meta is None:
            ack()
            return
        values = SubmittedValues(view)
        with rt.db.transaction() as session:
            lead = session.get(Lead, meta.lead)
            criteria = modals.criteria_for(rt.config.methodology(lead.team_id if lead else None))
            checked = values.checked("criteria")
            answers = sales.DiscoveryInput(
                met={key: key in checked for key in criteria},
                notes={key: values.text(f"note_{key}") for key in criteria},
                next_steps=values.text("next_steps"), opportunity_ref=values.text("opportunity_ref"))
            result = sales.complete_discovery(session, rt, lead_id=meta.lead, user_id=body["user"]["id"], answers=answers)
        _answer_submission(ack, result, "next_steps")
        # The response goes to Slack when this listener returns, so Slack calls wait for the pool.
        listener_work.submit("deliver", deliver, result)

    @app.view(CallbackId.NURTURE.value)
    def on_nurture_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = _meta(view)
        if meta is None:
            ack()
            return
        values = SubmittedValues(view)
        until = values.date("nurture_until")
        with rt.db.transaction() as session:
            if until is None:
                language = user_language(session, rt.config, rt.settings.default_language, body["user"]["id"])
                result = sales.ActionResult("invalid", meta.lead, None,
                                            {"nurture_until": t(language, "sales.date_not_future", date="–")})
            else:
                result = sales.return_to_nurture(session, rt, lead_id=meta.lead, user_id=body["user"]["id"],
                                                 reason=values.text("nurture_reason"), until=until,
                                                 notes=values.text("notes"))
        _answer_submission(ack, result, "nurture_reason")
        # The response goes to Slack when this listener returns, so Slack calls wait for the pool.
        listener_work.submit("deliver", deliver, result)

    @app.view(CallbackId.OPPORTUNITY.value)
    def on_opportunity_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = _meta(view)
        if meta is None:
            ack()
            return
        values = SubmittedValues(view)
        with rt.db.transaction() as session:
            result = sales.mark_opportunity(session, rt, lead_id=meta.lead, user_id=body["user"]["id"],
                                            reference=values.text("opportunity_ref"))
        _answer_submission(ack, result, "opportunity_ref")
        # The response goes to Slack when this listener returns, so Slack calls wait for the pool.
        listener_work.submit("deliver", deliver, result)

    def _lead_from_card(body: dict[str, Any]) -> int | None:
        """Find the lead of a card action without a value of its own (the date picker) by the card's ts."""
        channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get("id")
        ts = (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts")
        if not channel or not ts:
            return None
        with rt.db.transaction() as session:
            return session.scalars(select(Lead.id).where(Lead.card_channel == channel, Lead.card_ts == ts)).first()
