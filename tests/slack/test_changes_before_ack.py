"""Clicks and commands that change the database commit it before Slack gets the HTTP response.

Each test sends one signed request and leaves the WSGI response body open, so the listener work
queued after the response has not started. It reads the database and the stand-in's calls at that
moment, then closes the body, as a WSGI server does once Slack has the response, and checks that
the listener's Slack call came only after the close. A process that dies between the response
and the close therefore loses only the Slack call, never the change.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from harness import Harness, Reply
from sqlalchemy import event, func, select

from bot import sales
from bot.handoff import decide
from bot.ids import ActionId, LeadRef, reject_option_value
from bot.modals import criteria_for
from bot.sla.clocks import FIRST_CONTACT, stop_clocks, sweep
from bot.sla.pauses import pause
from bot.slack_standin.interactions import (
    block_action_body,
    button_action,
    select_action,
    slash_command_body,
    text_value,
)
from bot.slack_standin.server import RecordedCall
from storage.models import (
    ClockSnooze,
    Lead,
    LeadTransition,
    OutboxItem,
    RejectionContest,
    SlaClock,
    UserSetting,
)

SANNE = "U0SANNEDV1"
DAAN = "U0DAANBKR1"
EVA = "U0EVAVSR01"
PIETER = "U0PIETERJ1"
MARKETEER = "U0MARKETER"
MARKETING_CHANNEL = "C0SALES001"
SANNE_EMAIL = "sanne.devries@handoff-demo.nl"
DAAN_EMAIL = "daan.bakker@handoff-demo.nl"


@dataclass(frozen=True)
class Click:
    """A prepared request, the database value it changes, and the Slack call its listener makes after the response."""

    body: str
    read_change: Callable[[], object]
    # What read_change returns once the request is handled: the new value, or for a refused click the old one.
    expected: object
    slack_call: Callable[[RecordedCall], bool]
    slack_call_name: str


@dataclass(frozen=True)
class Observed:
    """The database value and the matching Slack calls when the response was sent, and again after close()."""

    reply: Reply
    change_at_response: object
    calls_at_response: list[RecordedCall]
    change_after_close: object
    calls_after_close: list[RecordedCall]


def send_without_close(harness: Harness, click: Click) -> Observed:
    """Send `click`, read its effects before and after the response body is closed, and return them."""
    listener_work = harness.web.bolt.listener_work
    assert listener_work.wait_idle(10), "setup work still running after 10 s"
    first_call = len(harness.slack.calls())
    reply, close = harness.slack_post_unclosed(click.body)
    try:
        change_at_response = click.read_change()
        calls_at_response = new_calls(harness, first_call, click.slack_call)
    finally:
        close()
    assert listener_work.wait_idle(10), "listener work still running 10 s after close()"
    return Observed(reply, change_at_response, calls_at_response, click.read_change(),
                    new_calls(harness, first_call, click.slack_call))


def new_calls(harness: Harness, first_call: int, matches: Callable[[RecordedCall], bool]) -> list[RecordedCall]:
    return [call for call in harness.slack.calls()[first_call:] if matches(call)]


# Reading the database ------------------------------------------------------------------------


def lead_row(harness: Harness, lead_id: int) -> Lead:
    return harness.stored(Lead, lead_id)


def clock_row(harness: Harness, clock_id: int) -> SlaClock:
    return harness.stored(SlaClock, clock_id)


def chosen_language(harness: Harness, user_id: str) -> str | None:
    with harness.rt.db.transaction() as session:
        return session.scalar(select(UserSetting.language).where(UserSetting.slack_user_id == user_id))


def snoozes(harness: Harness) -> list[tuple[str, str]]:
    with harness.rt.db.transaction() as session:
        return [(row.snoozed_by, row.choice) for row in session.scalars(select(ClockSnooze).order_by(ClockSnooze.id))]


def decision_clock_id(harness: Harness, lead_id: int) -> int:
    with harness.rt.db.transaction() as session:
        return session.scalars(select(SlaClock.id).where(SlaClock.lead_id == lead_id, SlaClock.kind == "decision")).one()


# Matching the stand-in's calls ---------------------------------------------------------------


def card_update(lead: Lead) -> Callable[[RecordedCall], bool]:
    return lambda call: (call.method == "chat.update" and call.params.get("channel") == lead.card_channel
                         and call.params.get("ts") == lead.card_ts)


def ephemeral_to(user_id: str) -> Callable[[RecordedCall], bool]:
    return lambda call: call.method == "chat.postEphemeral" and call.params.get("user") == user_id


def message_to(channel: str) -> Callable[[RecordedCall], bool]:
    return lambda call: call.method == "chat.postMessage" and call.params.get("channel") == channel


# Setting up leads and clocks -----------------------------------------------------------------


def accepted_lead(harness: Harness) -> int:
    """Add an MQL for Sanne, accept it and deliver its card, so that the lead is a SAL."""
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL, company="Vooraf BV")
    with harness.rt.db.transaction() as session:
        outcome = decide(session, harness.rt, lead_id=lead_id, version=lead_row(harness, lead_id).version,
                         user_id=SANNE, accept=True)
    assert outcome.status == "done"
    harness.sender.deliver_due()
    return lead_id


def opportunity_lead(harness: Harness) -> int:
    """Take Sanne's lead from SAL through discovery to an opportunity, with its card up to date."""
    lead_id = accepted_lead(harness)
    rt = harness.rt
    criteria = criteria_for(rt.config.methodology(lead_row(harness, lead_id).team_id))
    answers = sales.DiscoveryInput(met={key: True for key in criteria}, notes={}, next_steps="Demo",
                                   opportunity_ref="CRM-OPP-1")
    with rt.db.transaction() as session:
        assert sales.complete_discovery(session, rt, lead_id=lead_id, user_id=SANNE, answers=answers).done
    with rt.db.transaction() as session:
        assert sales.mark_opportunity(session, rt, lead_id=lead_id, user_id=SANNE).done
    harness.sender.deliver_due()
    assert lead_row(harness, lead_id).stage == "opportunity"
    return lead_id


def card_click(harness: Harness, lead_id: int, user_id: str, action: dict[str, Any]) -> str:
    lead = lead_row(harness, lead_id)
    assert lead.card_channel is not None and lead.card_ts is not None, "the lead's card was never delivered"
    return block_action_body(user_id=user_id, action=action, channel_id=lead.card_channel, message_ts=lead.card_ts)


def outcome_click(harness: Harness, lead_id: int, user_id: str, action_id: ActionId) -> str:
    ref = LeadRef(lead=lead_id, v=lead_row(harness, lead_id).version).encode()
    return card_click(harness, lead_id, user_id, button_action(action_id.value, ref))


def reminder(harness: Harness) -> dict[str, Any]:
    """Add an MQL for Sanne, deliver the halfway reminder of its decision clock, and return that message."""
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL, company="Snooze BV")
    with harness.rt.db.transaction() as session:
        stop_clocks(session, lead_id, now=harness.rt.clock.now(), kinds=(FIRST_CONTACT,))
    harness.rt.clock.set(datetime(2025, 4, 1, 12, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    assert sweep(harness.rt).enqueued == 1
    harness.sender.deliver_due()
    [message] = [m for m in harness.slack.messages(SANNE) if "Snooze BV" in m["text"] and "Herinnering" in m["text"]]
    return message


def action_element(message: dict[str, Any], action_id: ActionId) -> dict[str, Any] | None:
    return next((element for block in message.get("blocks") or [] if block["type"] == "actions"
                 for element in block["elements"] if element["action_id"] == action_id.value), None)


def snooze_click(harness: Harness, user_id: str) -> str:
    message = reminder(harness)
    picker = action_element(message, ActionId.SNOOZE)
    assert picker is not None
    action = {**select_action(ActionId.SNOOZE.value, picker["options"][0]["value"]), "block_id": "sla_reminder"}
    return block_action_body(user_id=user_id, action=action, channel_id=message["channel"], message_ts=message["ts"])


def open_contest(harness: Harness) -> tuple[int, int]:
    """Reject Sanne's lead, let marketing contest it, and return the lead id and the contest id."""
    harness.rt.config.marketing_channel = MARKETING_CHANNEL
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL, company="Betwist BV")
    assert harness.reject(lead_id, SANNE, "incorrect_fit", note="Te klein voor ons").status == 200
    with harness.rt.db.transaction() as session:
        rejection_id = session.scalars(select(LeadTransition.id).where(LeadTransition.lead_id == lead_id)
                                       .order_by(LeadTransition.id.desc()).limit(1)).one()
    reply = harness.submit_view(MARKETEER, "contest_modal", str(rejection_id), text_value("comment", "80 medewerkers"))
    assert reply.body == b""
    harness.sender.deliver_due()
    with harness.rt.db.transaction() as session:
        contest_id = session.scalars(select(RejectionContest.id).where(RejectionContest.lead_id == lead_id)).one()
    return lead_id, contest_id


def contest_status(harness: Harness, contest_id: int) -> str:
    with harness.rt.db.transaction() as session:
        contest = session.get(RejectionContest, contest_id)
        assert contest is not None
        return contest.status


# The interactions ----------------------------------------------------------------------------


def won(harness: Harness) -> Click:
    lead_id = opportunity_lead(harness)
    return Click(outcome_click(harness, lead_id, SANNE, ActionId.WON), lambda: lead_row(harness, lead_id).stage,
                 "won", card_update(lead_row(harness, lead_id)), "chat.update of the card")


def lost(harness: Harness) -> Click:
    lead_id = opportunity_lead(harness)
    return Click(outcome_click(harness, lead_id, SANNE, ActionId.LOST), lambda: lead_row(harness, lead_id).stage,
                 "lost", card_update(lead_row(harness, lead_id)), "chat.update of the card")


def reassign(harness: Harness) -> Click:
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL)
    action = select_action(ActionId.REASSIGN.value, f"{lead_id}|{DAAN_EMAIL}")
    return Click(card_click(harness, lead_id, EVA, action), lambda: lead_row(harness, lead_id).rep_email,
                 DAAN_EMAIL, message_to(DAAN), "the new card to Daan")


def discovery_date(harness: Harness) -> Click:
    lead_id = accepted_lead(harness)
    action = {"type": "datepicker", "action_id": ActionId.DISCOVERY_DATE.value, "selected_date": "2025-04-02"}
    return Click(card_click(harness, lead_id, SANNE, action), lambda: lead_row(harness, lead_id).discovery_date,
                 date(2025, 4, 2), card_update(lead_row(harness, lead_id)), "chat.update of the card")


def snooze(harness: Harness) -> Click:
    return Click(snooze_click(harness, SANNE), lambda: snoozes(harness), [(SANNE, "hour")], ephemeral_to(SANNE),
                 "the snooze confirmation")


def resume(harness: Harness) -> Click:
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL)
    clock_id = decision_clock_id(harness, lead_id)
    with harness.rt.db.transaction() as session:
        paused = pause(session, harness.rt, clock_id=clock_id, user_id=SANNE, reason="waiting_for_customer",
                       note="offerte")
    assert paused.status == "done"
    body = block_action_body(user_id=SANNE, action=button_action(ActionId.RESUME.value, str(clock_id)),
                             channel_id=f"D{SANNE}", message_ts="1")
    return Click(body, lambda: clock_row(harness, clock_id).status, "running", ephemeral_to(SANNE),
                 "the resume confirmation")


def ruling(harness: Harness, action_id: ActionId, expected: tuple[str, str]) -> Click:
    lead_id, contest_id = open_contest(harness)
    body = block_action_body(user_id=EVA, action=button_action(action_id.value, str(contest_id)),
                             channel_id=f"D{EVA}", message_ts="1")
    return Click(body, lambda: (contest_status(harness, contest_id), lead_row(harness, lead_id).stage), expected,
                 message_to(MARKETING_CHANNEL), "the ruling notice in marketing's channel")


def uphold(harness: Harness) -> Click:
    return ruling(harness, ActionId.UPHOLD, ("upheld", "rejected"))


def overturn(harness: Harness) -> Click:
    return ruling(harness, ActionId.OVERTURN, ("overturned", "mql"))


def acknowledge(harness: Harness) -> Click:
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL, company="Escalatie BV")
    clock_id = decision_clock_id(harness, lead_id)
    harness.rt.clock.set(datetime(2025, 4, 4, 8, 0, tzinfo=UTC))  # type: ignore[attr-defined]  # the decision deadline
    sweep(harness.rt)
    harness.sender.deliver_due()
    # Eva gets one escalation for the decision clock and one for the first-contact clock.
    # The value of the acknowledge button is the id of the clock it stops.
    [message] = [m for m in harness.slack.messages(EVA)
                 if (action_element(m, ActionId.ACKNOWLEDGE) or {}).get("value") == str(clock_id)]
    button = action_element(message, ActionId.ACKNOWLEDGE)
    assert button is not None
    body = block_action_body(user_id=EVA, action=button_action(ActionId.ACKNOWLEDGE.value, button["value"]),
                             channel_id=message["channel"], message_ts=message["ts"])
    return Click(body, lambda: clock_row(harness, clock_id).acknowledged_by, EVA, ephemeral_to(EVA),
                 "the acknowledgement confirmation")


def home_language(harness: Harness) -> Click:
    action = select_action(ActionId.LANGUAGE.value, "en")
    body = block_action_body(user_id=SANNE, action=action, channel_id=f"D{SANNE}", message_ts="1")
    return Click(body, lambda: chosen_language(harness, SANNE), "en",
                 lambda call: call.method == "views.publish" and call.params.get("user_id") == SANNE,
                 "views.publish of Sanne's Home tab")


def handoff_language_command(harness: Harness) -> Click:
    token = uuid.uuid4().hex
    body = slash_command_body(command="/handoff", text="taal en", user_id=SANNE, channel_id=MARKETING_CHANNEL,
                              response_url=harness.slack.root_url + "response/" + token)
    return Click(body, lambda: chosen_language(harness, SANNE), "en",
                 lambda call: call.method == "response_url" and call.params.get("response_token") == token,
                 "the command's response_url post")


# The buttons that change a lead or a clock at once.
BUTTONS = [
    pytest.param(won, id="won"),
    pytest.param(lost, id="lost"),
    pytest.param(reassign, id="reassign"),
    pytest.param(discovery_date, id="discovery_date"),
    pytest.param(snooze, id="snooze"),
    pytest.param(resume, id="resume"),
    pytest.param(uphold, id="uphold"),
    pytest.param(overturn, id="overturn"),
    pytest.param(acknowledge, id="acknowledge"),
]


@pytest.mark.parametrize("prepare", [
    *BUTTONS,
    pytest.param(home_language, id="home_language"),
    pytest.param(handoff_language_command, id="handoff_taal_command"),
])
def test_change_committed_before_response(harness: Harness, prepare: Callable[[Harness], Click]) -> None:
    click = prepare(harness)
    assert click.read_change() != click.expected, "the setup already contains the change"

    observed = send_without_close(harness, click)

    assert observed.reply.status == 200
    assert observed.change_at_response == click.expected, "the change was not committed when Slack got the response"
    assert observed.calls_at_response == [], f"{click.slack_call_name} came before the response body was closed"
    assert observed.change_after_close == click.expected
    assert observed.calls_after_close, f"no {click.slack_call_name} after the response body was closed"
    assert all(call.response.get("ok") for call in observed.calls_after_close), \
        f"the stand-in rejected {click.slack_call_name}: {[call.response for call in observed.calls_after_close]}"


def won_by_other_rep(harness: Harness) -> Click:
    lead_id = opportunity_lead(harness)
    return Click(outcome_click(harness, lead_id, PIETER, ActionId.WON), lambda: lead_row(harness, lead_id).stage,
                 "opportunity", ephemeral_to(PIETER), "the refusal to Pieter")


def snooze_by_other_rep(harness: Harness) -> Click:
    return Click(snooze_click(harness, DAAN), lambda: snoozes(harness), [], ephemeral_to(DAAN), "the refusal to Daan")


@pytest.mark.parametrize("prepare", [
    pytest.param(won_by_other_rep, id="won_by_other_rep"),
    pytest.param(snooze_by_other_rep, id="snooze_by_other_rep"),
])
def test_refused_click_changes_nothing(harness: Harness, prepare: Callable[[Harness], Click]) -> None:
    click = prepare(harness)
    assert click.read_change() == click.expected, "the setup is not in the state the refusal should keep"

    observed = send_without_close(harness, click)

    assert observed.reply.status == 200
    assert observed.change_at_response == click.expected
    assert observed.calls_at_response == [], f"{click.slack_call_name} came before the response body was closed"
    assert observed.change_after_close == click.expected, "the refused click changed the database"
    assert len(observed.calls_after_close) == 1, f"expected one {click.slack_call_name} after the body was closed"
    assert observed.calls_after_close[0].response.get("ok"), \
        f"the stand-in rejected {click.slack_call_name}: {observed.calls_after_close[0].response}"


@contextmanager
def statements_failing(harness: Harness, fragment: str) -> Iterator[None]:
    """Make every statement that contains `fragment` fail, as a database that refuses the change would."""

    def fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if fragment in statement:
            raise harness.rt.db.engine.dialect.dbapi.OperationalError("the database refused the statement")

    event.listen(harness.rt.db.engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(harness.rt.db.engine, "before_cursor_execute", fail)


@pytest.mark.parametrize(("prepare", "work", "fragment"), [
    pytest.param(won, "won", "UPDATE leads", id="won"),
    pytest.param(snooze, "snooze", "INSERT INTO sla_clock_snoozes", id="snooze"),
    pytest.param(handoff_language_command, "handoff", "INSERT INTO user_settings", id="handoff_taal_command"),
])
def test_failed_change_is_told_with_its_reference(harness: Harness, caplog: pytest.LogCaptureFixture,
                                                  prepare: Callable[[Harness], Click], work: str,
                                                  fragment: str) -> None:
    click = prepare(harness)
    before = click.read_change()
    # The reply to a failed Won is an ephemeral message, like the listener's refusals.
    failure_reply = replace(click, slack_call=ephemeral_to(SANNE)) if work == "won" else click
    with statements_failing(harness, fragment), caplog.at_level(logging.ERROR, logger="handlers.listener_work"):
        observed = send_without_close(harness, failure_reply)

    assert observed.reply.status == 200
    assert observed.change_after_close == before
    assert observed.calls_at_response == []
    [failure] = [record.getMessage() for record in caplog.records if "change_failed" in record.getMessage()]
    reference = failure.split("ref=")[1].split()[0]
    # Only the type: the message of an exception can hold lead data.
    assert failure == f"listener.change_failed ref={reference} work={work} user={SANNE} error=OperationalError"
    [reply] = observed.calls_after_close
    assert reference in str(reply.params.get("text")), reply.params


# Repeated deliveries ---------------------------------------------------------------------------

# Slack calls that post or change a message that others see. An ephemeral reply is not one of them.
VISIBLE_METHODS = {"chat.postMessage", "chat.update"}


def database_state(harness: Harness) -> dict[str, Any]:
    """Return the row counts and clock fields that a repeated click must leave unchanged."""
    with harness.rt.db.transaction() as session:
        clocks = session.execute(select(SlaClock.id, SlaClock.status, SlaClock.started_at, SlaClock.due_at,
                                        SlaClock.acknowledged_by).order_by(SlaClock.id)).all()
        return {
            "transitions": session.scalar(select(func.count()).select_from(LeadTransition)),
            "outbox": session.scalar(select(func.count()).select_from(OutboxItem)),
            "snoozes": session.scalar(select(func.count()).select_from(ClockSnooze)),
            "clocks": [tuple(row) for row in clocks],
        }


def send_and_deliver(harness: Harness, body: str) -> None:
    """Send `body`, wait for its listener work, and send what the outbox holds, as the clock process would."""
    assert harness.slack_post(body).status == 200
    assert harness.web.bolt.listener_work.wait_idle(10)
    harness.sender.deliver_due()


@pytest.mark.parametrize("prepare", BUTTONS)
def test_repeated_delivery_changes_nothing(harness: Harness, prepare: Callable[[Harness], Click]) -> None:
    click = prepare(harness)
    send_and_deliver(harness, click.body)
    assert click.read_change() == click.expected
    first = database_state(harness)
    first_call = len(harness.slack.calls())

    send_and_deliver(harness, click.body)

    second = database_state(harness)
    for part in ("transitions", "outbox", "snoozes", "clocks"):
        assert second[part] == first[part], f"the repeat changed the {part}"
    visible = [call.method for call in harness.slack.calls()[first_call:] if call.method in VISIBLE_METHODS]
    assert visible == [], "the repeat posted or updated a message"


# Slack calls outside transactions ----------------------------------------------------------------


def pause_by_other_rep(harness: Harness) -> str:
    """Daan's click on Pause for a clock of Sanne's lead, which the listener refuses."""
    clock_id = decision_clock_id(harness, harness.add_lead(5, owner_email=SANNE_EMAIL, company="Pauze BV"))
    return block_action_body(user_id=DAAN, action=button_action(ActionId.PAUSE.value, str(clock_id)),
                             channel_id=f"D{DAAN}", message_ts="1")


def log_contact_by_other_rep(harness: Harness) -> str:
    """Daan's click on Log contact on Sanne's lead, which the listener refuses instead of opening the modal."""
    lead_id = harness.add_lead(3, owner_email=SANNE_EMAIL, company="Contact BV")
    ref = LeadRef(lead=lead_id, v=lead_row(harness, lead_id).version).encode()
    return card_click(harness, lead_id, DAAN, button_action(ActionId.LOG_CONTACT.value, ref))


def reject_by_other_rep(harness: Harness) -> str:
    """Daan's choice of a rejection reason on Sanne's card, which the listener refuses instead of opening the modal."""
    lead_id = harness.add_lead(4, owner_email=SANNE_EMAIL, company="Afwijzing BV")
    option = reject_option_value(LeadRef(lead=lead_id, v=lead_row(harness, lead_id).version), "incorrect_fit")
    return card_click(harness, lead_id, DAAN, select_action(ActionId.REJECT.value, option))


@pytest.mark.parametrize("prepare", [
    pytest.param(pause_by_other_rep, id="pause"),
    pytest.param(log_contact_by_other_rep, id="log_contact"),
    pytest.param(reject_by_other_rep, id="reject"),
])
def test_slow_refusal_holds_no_write_lock(harness: Harness, prepare: Callable[[Harness], str]) -> None:
    # On SQLite a transaction holds the write lock from its start, so a Slack call made inside one
    # would make every click that commits before its ack wait for that call.
    slow_click = prepare(harness)
    won_click = won(harness)
    assert harness.web.bolt.listener_work.wait_idle(10)
    slack_delay = 2.0
    harness.slack.set_latency(slack_delay, "chat.postEphemeral")
    first_call = len(harness.slack.calls())
    try:
        # The refusal runs after the response, in a thread of its own, as when gunicorn closes the body.
        assert harness.slack_post(slow_click).status == 200
        deadline = time.monotonic() + 5
        while not any(call.method == "chat.postEphemeral" for call in harness.slack.calls()[first_call:]):
            assert time.monotonic() < deadline, "the refusal never reached the stand-in"
            time.sleep(0.01)
        started = time.monotonic()
        reply = harness.slack_post(won_click.body)
        elapsed = time.monotonic() - started
    finally:
        harness.slack.set_latency(0, "chat.postEphemeral")
    assert reply.status == 200
    assert elapsed < slack_delay / 2, f"the Won click waited {elapsed:.2f} s for another listener's Slack call"
    assert won_click.read_change() == won_click.expected
