"""The clock controls on a reminder, the nurture-notes modal, and pauses in /sla and /lead, through Bolt."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.ids import ActionId, CallbackId
from bot.sla.clocks import FIRST_CONTACT, stop_clocks, sweep
from bot.slack_standin.interactions import (
    block_action_body,
    button_action,
    select_action,
    select_value,
    slash_command_body,
    text_value,
)
from harness import Harness
from storage.models import ClockPause, ClockSnooze, SlaClock

SANNE = "U0SANNEDV1"
DAAN = "U0DAANBKR1"
EVA = "U0EVAVSR01"


def command(harness: Harness, name: str, text: str, user: str) -> Any:
    token = uuid.uuid4().hex
    body = slash_command_body(command=name, text=text, user_id=user, channel_id="C0SALES001",
                              response_url=harness.slack.root_url + "response/" + token)
    assert harness.slack_post(body).status == 200
    return harness.slack.wait_for("response_url", lambda call: call.params["response_token"] == token)


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def reminded_lead(harness: Harness) -> tuple[int, dict[str, Any]]:
    """Add an MQL for Sanne and deliver its halfway reminder; return the lead id and the reminder message."""
    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl", company="Snooze BV")
    with harness.rt.db.transaction() as session:
        stop_clocks(session, lead_id, now=harness.rt.clock.now(), kinds=(FIRST_CONTACT,))
    harness.rt.clock.set(datetime(2025, 4, 1, 12, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    assert sweep(harness.rt).enqueued == 1
    harness.sender.deliver_due()
    [message] = [m for m in harness.slack.messages(SANNE) if "Snooze BV" in m["text"] and "Herinnering" in m["text"]]
    return lead_id, message


def control(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    return next(element for block in message["blocks"] if block["type"] == "actions"
                for element in block["elements"] if element["action_id"] == action_id)


def act(harness: Harness, user: str, action: dict[str, Any], message: dict[str, Any]) -> None:
    body = block_action_body(user_id=user, action={**action, "block_id": "sla_reminder"},
                             channel_id=message["channel"], message_ts=message["ts"],
                             trigger_id=harness.slack.issue_trigger_id(user))
    assert harness.slack_post(body).status == 200


def modals(harness: Harness, user: str) -> list[dict[str, Any]]:
    return [view for view in harness.slack.views(user) if view.get("type") == "modal"]


def ephemerals(harness: Harness, user: str) -> list[str]:
    return [message["text"] for message in harness.slack.ephemeral_messages(user=user)]


def test_reminder_snooze_through_bolt(harness: Harness) -> None:
    _, message = reminded_lead(harness)
    picker = control(message, ActionId.SNOOZE.value)
    assert [option["text"]["text"] for option in picker["options"]] == [
        "Over 1 werkuur", "Volgende werkochtend", "Over 1 werkdag"]
    act(harness, SANNE, select_action(ActionId.SNOOZE.value, picker["options"][0]["value"]), message)
    wait_until(lambda: any("uitgesteld tot" in text for text in ephemerals(harness, SANNE)), "the snooze answer")
    act(harness, SANNE, select_action(ActionId.SNOOZE.value, picker["options"][2]["value"]), message)
    wait_until(lambda: any("al uitgesteld" in text for text in ephemerals(harness, SANNE)), "the repeat answer")
    with harness.rt.db.transaction() as session:
        snoozes = list(session.scalars(select(ClockSnooze)))
    assert [(row.snoozed_by, row.choice) for row in snoozes] == [(SANNE, "hour")]


def test_snooze_by_other_user_refused(harness: Harness) -> None:
    _, message = reminded_lead(harness)
    picker = control(message, ActionId.SNOOZE.value)
    act(harness, DAAN, select_action(ActionId.SNOOZE.value, picker["options"][0]["value"]), message)
    wait_until(lambda: any("Only the lead's owner" in text for text in ephemerals(harness, DAAN)), "the refusal")
    with harness.rt.db.transaction() as session:
        assert list(session.scalars(select(ClockSnooze))) == []


def test_pause_and_resume_through_bolt(harness: Harness) -> None:
    lead_id, message = reminded_lead(harness)
    button = control(message, ActionId.PAUSE.value)
    act(harness, SANNE, button_action(ActionId.PAUSE.value, button["value"]), message)
    wait_until(lambda: modals(harness, SANNE), "the pause modal")
    [modal] = modals(harness, SANNE)
    assert modal["callback_id"] == CallbackId.PAUSE.value

    # 'Other' without a note is refused in the modal, naming the field.
    reply = harness.submit_view(SANNE, CallbackId.PAUSE.value, modal["private_metadata"],
                                select_value("reason", "other"))
    assert json.loads(reply.body)["errors"] == {"note": "Licht 'Andere reden' toe in een paar woorden."}

    reply = harness.submit_view(SANNE, CallbackId.PAUSE.value, modal["private_metadata"],
                                {**select_value("reason", "waiting_for_customer"), **text_value("note", "offerte")})
    assert reply.status == 200
    assert not reply.body
    with harness.rt.db.transaction() as session:
        paused = session.scalars(select(SlaClock).where(SlaClock.kind == "decision")).one()
        assert paused.status == "paused"
    wait_until(lambda: any("gepauzeerd" in m["text"] for m in harness.slack.messages(SANNE)), "the pause notice")
    notice = next(m for m in harness.slack.messages(SANNE) if "gepauzeerd" in m["text"])
    resume_button = next(e for b in notice["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert resume_button["action_id"] == ActionId.RESUME.value

    overview = command(harness, "/sla", "", user=EVA)
    text = str(overview.params["blocks"])
    assert "*Gepauzeerd* · 1" in text
    assert "*Snooze BV* · accepteren/afwijzen" in text
    assert "Wacht op de klant" in text
    assert "verlopen" not in text.split("Gepauzeerd")[1]

    harness.rt.clock.set(datetime(2025, 4, 2, 12, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    body = block_action_body(user_id=SANNE, action=button_action(ActionId.RESUME.value, resume_button["value"]),
                             channel_id=notice["channel"], message_ts=notice["ts"])
    assert harness.slack_post(body).status == 200
    wait_until(lambda: any("Klok hervat" in text for text in ephemerals(harness, SANNE)), "the resume answer")
    with harness.rt.db.transaction() as session:
        resumed = session.scalars(select(SlaClock).where(SlaClock.kind == "decision")).one()
        record = session.scalars(select(ClockPause)).one()
    assert resumed.status == "running"
    assert record.paused_working_seconds == 8 * 3600  # Tuesday 14:00 to Wednesday 14:00 Amsterdam

    history = str(command(harness, "/lead", str(lead_id), user=EVA).params["blocks"])
    assert "*Pauzes* (1, samen 8,0 h werktijd)" in history
    assert "Wacht op de klant (offerte)" in history


def test_nurture_notes_modal_through_bolt(harness: Harness) -> None:
    from datetime import date

    from bot.handoff import decide
    from bot.sales import return_to_nurture

    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl", company="Notities BV")
    with harness.rt.db.transaction() as session:
        decide(session, harness.rt, lead_id=lead_id, version=2, user_id=SANNE, accept=True)
    with harness.rt.db.transaction() as session:
        assert return_to_nurture(session, harness.rt, lead_id=lead_id, user_id=SANNE, reason="geen budget",
                                 until=date(2025, 9, 1), notes="").done
    harness.rt.clock.set(datetime(2025, 3, 28, 12, 30, tzinfo=UTC))  # type: ignore[attr-defined]
    assert sweep(harness.rt).enqueued == 1
    harness.sender.deliver_due()
    [message] = [m for m in harness.slack.messages(SANNE) if "discoverynotities" in m["text"]]
    button = control(message, ActionId.NURTURE_NOTES.value)
    act(harness, SANNE, button_action(ActionId.NURTURE_NOTES.value, button["value"]), message)
    wait_until(lambda: modals(harness, SANNE), "the notes modal")
    [modal] = modals(harness, SANNE)
    reply = harness.submit_view(SANNE, CallbackId.NURTURE_NOTES.value, modal["private_metadata"],
                                text_value("notes", "Budget pas in Q3"))
    assert reply.status == 200
    assert not reply.body
    with harness.rt.db.transaction() as session:
        status = session.scalars(select(SlaClock.status).where(SlaClock.kind == "nurture_notes")).one()
    assert status == "stopped"
