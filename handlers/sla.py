"""The clock controls on a reminder: snooze, pause (with its modal), resume, and the nurture-notes modal."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot.i18n import format_when, t
from bot.ids import ActionId, CallbackId, database_id
from bot.messages import lead_text
from bot.modals import SubmittedValues
from bot.outbox import OutboxSender, enqueue
from bot.preferences import user_language
from bot.runtime import Runtime
from bot.sla import blocks
from bot.sla.documentation import record_nurture_notes
from bot.sla.pauses import SNOOZE_CHOICES, ControlResult, StaleClock, pause, resume, snooze
from handlers.sales import _tell
from storage.models import Lead, SlaClock
from handlers.listener_work import ListenerWork, Reply

log = logging.getLogger(__name__)


def _task(session: Session, rt: Runtime, clock: SlaClock, language: str) -> str:
    lead = session.get(Lead, clock.lead_id)
    company = lead_text(lead.company if lead else None, language, 200)
    return t(language, f"clock.{clock.kind}", company=company)


def _owner_mention(rt: Runtime, clock: SlaClock | None) -> str:
    rep = rt.config.rep(clock.rep_email) if clock is not None else None
    return f"<@{rep.slack_user_id}>" if rep else "–"


def _refusal(rt: Runtime, result: ControlResult, language: str) -> str:
    texts = {"not_running": "sla.control.not_running", "breached": "sla.pause.breached",
             "already": "sla.pause.already", "not_found": "action.lead_not_found"}
    if result.status == "not_allowed":
        return t(language, "sla.control.not_owner", owner=_owner_mention(rt, result.clock))
    return t(language, texts.get(result.status, "sla.control.not_running"))


def register(app: App, rt: Runtime, sender: OutboxSender, listener_work: ListenerWork) -> None:
    def language_of(session: Session, user_id: str) -> str:
        return user_language(session, rt.config, rt.settings.default_language, user_id)

    def timezone_of(user_id: str) -> str:
        return rt.timezone_of(rt.config.person_by_slack_id(user_id))

    @app.action(ActionId.SNOOZE.value)
    @listener_work.change_before_ack("snooze")
    def on_snooze(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> Reply:
        raw = str((action.get("selected_option") or {}).get("value") or "")
        clock_text, _, rest = raw.partition("|")
        step_text, _, choice = rest.partition("|")
        clock_id = database_id(clock_text)
        if clock_id is None or not step_text.isdigit() or choice not in SNOOZE_CHOICES:
            log.warning("sla.invalid_payload action=%s", ActionId.SNOOZE.value)
            return None
        user_id = body["user"]["id"]
        try:
            with rt.db.transaction() as session:
                result = snooze(session, rt, clock_id=clock_id, step=int(step_text), user_id=user_id, choice=choice)
                language = language_of(session, user_id)
                deadline = format_when(result.clock.due_at, language, timezone_of(user_id)) if result.clock else "?"
                schedule = result.clock.schedule if result.clock else []
        except StaleClock:
            log.info("sla.snooze_conflict clock=%s user=%s: a sweep changed the clock first", clock_id, user_id)

            def tell_changed() -> None:
                with rt.db.transaction() as session:
                    language = language_of(session, user_id)
                _tell(client, body, t(language, "sla.control.changed"))

            return tell_changed
        until = format_when(result.until, language, timezone_of(user_id)) if result.until else "?"
        if result.status == "done":
            reminded = any(entry.get("snoozed") and entry["at"] == result.until.isoformat() for entry in schedule
                           if result.until)
            key = "sla.snooze.done" if reminded else "sla.snooze.done_no_reminder"
            text = t(language, key, until=until, deadline=deadline)
        elif result.status == "already":
            text = t(language, "sla.snooze.already", until=until)
        else:
            text = _refusal(rt, result, language)
        return lambda: _tell(client, body, text)

    @app.action(ActionId.PAUSE.value)
    @listener_work.after_ack("pause")
    def on_pause(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        clock_id = database_id(str(action.get("value") or ""))
        if clock_id is None:
            log.warning("sla.invalid_payload action=%s", ActionId.PAUSE.value)
            return
        user_id = body["user"]["id"]
        with rt.db.transaction() as session:
            language = language_of(session, user_id)
            clock = session.get(SlaClock, clock_id)
            owner = rt.config.rep(clock.rep_email) if clock else None
            if clock is None or owner is None or owner.slack_user_id != user_id:
                refusal = _refusal(rt, ControlResult("not_allowed" if clock else "not_found", clock), language)
                view = None
            else:
                refusal, view = "", blocks.pause_modal(clock.id, _task(session, rt, clock, language), language)
        # Slack is called after the transaction, which on SQLite holds the write lock that clicks wait for.
        if view is None:
            _tell(client, body, refusal)
            return
        try:
            client.views_open(trigger_id=body["trigger_id"], view=view)
        except SlackApiError as error:
            log.warning("sla.modal_failed clock=%s user=%s error=%s", clock_id, user_id, error.response.get("error"))

    @app.view(CallbackId.PAUSE.value)
    def on_pause_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        clock_id = database_id(str(view.get("private_metadata") or ""))
        if clock_id is None:
            ack()
            log.warning("sla.invalid_payload view=%s", CallbackId.PAUSE.value)
            return
        user_id = body["user"]["id"]
        values = SubmittedValues(view)
        reason = values.selected("reason") or ""
        note = values.text("note")
        with rt.db.transaction() as session:
            language = language_of(session, user_id)
            result = pause(session, rt, clock_id=clock_id, user_id=user_id, reason=reason, note=note)
            if result.status == "invalid":
                block, key = ("reason", "sla.pause.reason_missing") if not reason else ("note", "sla.pause.note_required")
                ack(response_action="errors", errors={block: t(language, key)})
                return
            if result.status != "done" or result.clock is None:
                ack(response_action="errors", errors={"reason": _refusal(rt, result, language)})
                return
            notice = blocks.pause_notice(clock_id, _task(session, rt, result.clock, language), reason, language)
            enqueue(session, key=f"sla:pause:{clock_id}:{result.clock.lead_id}:{rt.clock.now().isoformat()}",
                    kind="notice", method="chat.postMessage", payload={"channel": user_id, **notice.to_payload()},
                    now=rt.clock.now(), lead_id=result.clock.lead_id)
            lead_id = result.clock.lead_id
        # The response goes to Slack when this listener returns, so Slack calls wait for the pool.
        listener_work.submit("deliver", sender.deliver_lead, lead_id)
        ack()

    @app.action(ActionId.RESUME.value)
    @listener_work.change_before_ack("resume")
    def on_resume(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> Reply:
        clock_id = database_id(str(action.get("value") or ""))
        if clock_id is None:
            log.warning("sla.invalid_payload action=%s", ActionId.RESUME.value)
            return None
        user_id = body["user"]["id"]
        with rt.db.transaction() as session:
            language = language_of(session, user_id)
            result = resume(session, rt, clock_id=clock_id, user_id=user_id)
            if result.status == "done" and result.clock is not None:
                paused = result.paused or timedelta(0)
                hours = round(paused.total_seconds() / 3600, 1)
                text = t(language, "sla.resume.done", paused=t(language, "sla.hours", count=hours),
                         deadline=format_when(result.clock.due_at, language, timezone_of(user_id)))
            elif result.status == "already":
                text = t(language, "sla.resume.already")
            elif result.status == "not_allowed":
                text = t(language, "sla.resume.not_allowed")
            else:
                text = _refusal(rt, result, language)
        return lambda: _tell(client, body, text)

    @app.action(ActionId.NURTURE_NOTES.value)
    @listener_work.after_ack("nurture_notes")
    def on_nurture_notes(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        lead_id = database_id(str(action.get("value") or ""))
        if lead_id is None:
            log.warning("sla.invalid_payload action=%s", ActionId.NURTURE_NOTES.value)
            return
        with rt.db.transaction() as session:
            language = language_of(session, body["user"]["id"])
        try:
            client.views_open(trigger_id=body["trigger_id"], view=blocks.nurture_notes_modal(lead_id, language))
        except SlackApiError as error:
            log.warning("sla.modal_failed lead=%s error=%s", lead_id, error.response.get("error"))

    @app.view(CallbackId.NURTURE_NOTES.value)
    def on_nurture_notes_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        lead_id = database_id(str(view.get("private_metadata") or ""))
        if lead_id is None:
            ack()
            log.warning("sla.invalid_payload view=%s", CallbackId.NURTURE_NOTES.value)
            return
        user_id = body["user"]["id"]
        with rt.db.transaction() as session:
            language = language_of(session, user_id)
            status = record_nurture_notes(session, rt, lead_id=lead_id, user_id=user_id,
                                          notes=SubmittedValues(view).text("notes"))
        errors = {"invalid": "sla.nurture_notes.missing", "wrong_stage": "sla.nurture_notes.wrong_stage",
                  "not_found": "action.lead_not_found"}
        if status == "done":
            ack()
        elif status == "not_allowed":
            ack(response_action="errors", errors={"notes": t(language, "sla.nurture_notes.not_allowed")})
        else:
            ack(response_action="errors", errors={"notes": t(language, errors[status])})
