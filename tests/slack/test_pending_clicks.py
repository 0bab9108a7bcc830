"""Accept clicks stored before the ack: the clock process decides those that their web process left undecided."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.clicks import MAX_CLICK_ATTEMPTS, PENDING_CLICK_GRACE, recover_clicks
from bot.ids import ActionId, LeadRef
from bot.sla.clocks import WAITING_SAL_CLOCKS_GRACE
from bot.slack_standin.interactions import block_action_body, button_action
from scheduler.clock import run_once
from storage.db import is_sqlite
from storage.models import Lead, LeadTransition, PendingClick, SlaClock

SANNE = "U0SANNEDV1"
SANNE_EMAIL = "sanne.devries@handoff-demo.nl"
DAAN_EMAIL = "daan.bakker@handoff-demo.nl"


def accept_body(harness: Any, lead_id: int, user_id: str = SANNE) -> str:
    with harness.rt.db.transaction() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        channel, ts = lead.card_channel, lead.card_ts
    action = button_action(ActionId.ACCEPT.value, LeadRef(lead=lead_id, v=2).encode())
    return block_action_body(user_id=user_id, action=action, channel_id=channel, message_ts=ts)


def busy(harness: Any) -> Any:
    """Keep another request in flight, so that the process is busy and stores a click instead of deciding it before the ack."""
    return harness.web.bolt.listener_work.request_in_flight()


@contextmanager
def work_held(harness: Any) -> Iterator[threading.Event]:
    """Keep the web process busy, and hold every transaction begun outside the test's thread until the yielded event is set.

    A busy process stores a click before the ack, in the request thread, which is the test's
    here, and decides it after the ack in another thread. Held, the decision waits as if its
    process had stopped.
    """
    listener_work = harness.web.bolt.listener_work
    release = threading.Event()
    test_thread = threading.current_thread()
    engine = harness.rt.db.engine

    def hold(*_args: Any) -> None:
        if threading.current_thread() is not test_thread:
            release.wait(20)

    def hold_sqlite_begin(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # SQLite's BEGIN IMMEDIATE, which takes the write lock, runs in a "begin" listener of its own.
        if statement == "BEGIN IMMEDIATE":
            hold()

    listener = ("before_cursor_execute", hold_sqlite_begin) if is_sqlite(engine) else ("begin", hold)
    event.listen(engine, *listener)
    try:
        with busy(harness):
            yield release
    finally:
        release.set()
        assert listener_work.wait_idle(20), "the held decision did not end"
        event.remove(engine, *listener)


def pending(harness: Any) -> list[PendingClick]:
    with harness.rt.db.transaction() as session:
        return list(session.scalars(select(PendingClick).order_by(PendingClick.id)))


def lead_of(harness: Any, lead_id: int) -> Lead:
    with harness.rt.db.transaction() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        return lead


def accepts_of(harness: Any, lead_id: int) -> list[LeadTransition]:
    with harness.rt.db.transaction() as session:
        return list(session.scalars(select(LeadTransition).where(
            LeadTransition.lead_id == lead_id, LeadTransition.to_stage == "sal")))


def test_quiet_process_decides_the_click_before_the_ack_without_storing_it(harness: Any, slack: Any) -> None:
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(harness.rt.db.engine, "before_cursor_execute", record)
    try:
        assert harness.slack_post(accept_body(harness, lead_id)).status == 200
        # The response has come back; the card update may still be under way, but the decision is stored.
        assert lead_of(harness, lead_id).stage == "sal"
        assert harness.web.bolt.listener_work.wait_idle(10)
    finally:
        event.remove(harness.rt.db.engine, "before_cursor_execute", record)
    assert not any("pending_clicks" in statement for statement in statements if statement.startswith("INSERT"))
    assert pending(harness) == []
    assert len(slack.calls("chat.update")) == 1


def test_busy_process_stores_the_click_before_the_ack_and_its_decision_deletes_it(harness: Any, slack: Any) -> None:
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL)
    with work_held(harness) as release:
        assert harness.slack_post(accept_body(harness, lead_id)).status == 200
        [click] = pending(harness)
        assert (click.lead_id, click.version, click.user_id, click.attempts) == (lead_id, 2, SANNE, 0)
        assert click.clicked_at == harness.rt.clock.now()
        assert lead_of(harness, lead_id).stage == "mql"
        release.set()
    assert lead_of(harness, lead_id).stage == "sal"
    assert pending(harness) == []
    assert len(slack.calls("chat.update")) == 1


def test_clock_process_decides_a_click_left_undecided_as_of_the_click(harness: Any, slack: Any) -> None:
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL)
    clicked_at = harness.rt.clock.now()
    with work_held(harness) as release:
        assert harness.slack_post(accept_body(harness, lead_id)).status == 200
        # Within the grace the click may still be decided by its own process.
        harness.rt.clock.advance(PENDING_CLICK_GRACE - timedelta(seconds=1))
        run_once(harness.rt, harness.sender)
        assert lead_of(harness, lead_id).stage == "mql"
        assert len(pending(harness)) == 1

        harness.rt.clock.advance(timedelta(seconds=2))
        run_once(harness.rt, harness.sender)
        lead = lead_of(harness, lead_id)
        assert (lead.stage, lead.decided_at, lead.decided_by) == ("sal", clicked_at, SANNE)
        assert pending(harness) == []
        assert len(slack.calls("chat.update")) == 1
        with harness.rt.db.transaction() as session:
            decision = session.scalars(select(SlaClock).where(SlaClock.lead_id == lead_id,
                                                              SlaClock.kind == "decision")).one()
            assert (decision.status, decision.stopped_at) == ("stopped", clicked_at)
            assert session.scalars(select(SlaClock.started_at).where(
                SlaClock.lead_id == lead_id, SlaClock.kind == "cadence")).one() == clicked_at
        # The web process wakes up and finds its click decided, so it changes nothing and sends no reply.
        release.set()
    assert len(accepts_of(harness, lead_id)) == 1
    assert len(slack.calls("chat.update")) == 1
    assert slack.calls("chat.postEphemeral") == []


def test_recovered_click_that_is_refused_is_logged_not_answered(harness: Any, slack: Any,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    lead_id = harness.add_lead(owner_email=DAAN_EMAIL)  # Sanne may not decide Daan's lead
    with work_held(harness):
        assert harness.slack_post(accept_body(harness, lead_id)).status == 200
        harness.rt.clock.advance(PENDING_CLICK_GRACE + timedelta(seconds=1))
        with caplog.at_level(logging.INFO, logger="bot.clicks"):
            run_once(harness.rt, harness.sender)
        assert pending(harness) == []
    assert lead_of(harness, lead_id).stage == "mql"
    assert slack.calls("chat.postEphemeral") == []
    assert any(record.getMessage().startswith(f"action.refused lead={lead_id} user={SANNE} status=not_allowed")
               for record in caplog.records)


def test_recovery_gives_up_on_a_click_whose_decision_keeps_failing(harness: Any, slack: Any,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL)
    failing = threading.Event()

    def fail_lead_reads(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if failing.is_set() and "FROM leads" in statement:
            raise RuntimeError("the leads table is unreadable")

    # Added before the hold and removed after it: a listener removed while the held thread
    # iterates over the listeners would break that thread's statement.
    event.listen(harness.rt.db.engine, "before_cursor_execute", fail_lead_reads)
    try:
        with work_held(harness):
            assert harness.slack_post(accept_body(harness, lead_id)).status == 200
            harness.rt.clock.advance(PENDING_CLICK_GRACE + timedelta(seconds=1))
            failing.set()
            with caplog.at_level(logging.ERROR, logger="bot.clicks"):
                for _ in range(MAX_CLICK_ATTEMPTS + 2):
                    recover_clicks(harness.rt, harness.sender)
            failing.clear()
            [click] = pending(harness)
            assert click.attempts == MAX_CLICK_ATTEMPTS
            gave_up = [record for record in caplog.records if record.getMessage().startswith("click.recovery_gave_up")]
            assert len(gave_up) == 1
            assert f"lead={lead_id}" in gave_up[0].getMessage()
            # Given up, the click is no longer tried, and the lead stays undecided.
            run_once(harness.rt, harness.sender)
            assert pending(harness)[0].attempts == MAX_CLICK_ATTEMPTS
            assert lead_of(harness, lead_id).stage == "mql"
    finally:
        event.remove(harness.rt.db.engine, "before_cursor_execute", fail_lead_reads)
    # Its own process, which was only slow, still decides it.
    assert lead_of(harness, lead_id).stage == "sal"
    assert pending(harness) == []


def test_click_that_cannot_be_stored_is_decided_in_memory(harness: Any, slack: Any,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL)

    def fail_store(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO pending_clicks"):
            raise harness.rt.db.engine.dialect.dbapi.OperationalError("no room for pending clicks")

    event.listen(harness.rt.db.engine, "before_cursor_execute", fail_store)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.clicks"):
            with busy(harness):
                assert harness.slack_post(accept_body(harness, lead_id)).status == 200
            assert harness.web.bolt.listener_work.wait_idle(10)
    finally:
        event.remove(harness.rt.db.engine, "before_cursor_execute", fail_store)
    assert lead_of(harness, lead_id).stage == "sal"
    assert len(slack.calls("chat.update")) == 1
    assert any(record.getMessage().startswith(f"click.not_stored lead={lead_id} ") for record in caplog.records)


def test_failed_decision_is_answered_and_not_decided_again(harness: Any, slack: Any) -> None:
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL)
    test_thread = threading.current_thread()

    def fail_decision(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM leads" in statement and threading.current_thread() is not test_thread:
            raise RuntimeError("the leads table is unreadable")

    event.listen(harness.rt.db.engine, "before_cursor_execute", fail_decision)
    try:
        with busy(harness):
            assert harness.slack_post(accept_body(harness, lead_id)).status == 200
        ephemeral = slack.wait_for("chat.postEphemeral")
        assert harness.web.bolt.listener_work.wait_idle(10)
    finally:
        event.remove(harness.rt.db.engine, "before_cursor_execute", fail_decision)
    assert ephemeral.params["user"] == SANNE
    # The reply asks the rep to click again, so the clock process must not decide the click later.
    assert pending(harness) == []
    harness.rt.clock.advance(PENDING_CLICK_GRACE + timedelta(seconds=1))
    run_once(harness.rt, harness.sender)
    assert lead_of(harness, lead_id).stage == "mql"


def test_quiet_process_answers_a_failed_decision_with_its_reference(harness: Any, slack: Any,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL)
    body = accept_body(harness, lead_id)

    def fail_decision(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM leads" in statement:
            raise RuntimeError("the leads table is unreadable")

    event.listen(harness.rt.db.engine, "before_cursor_execute", fail_decision)
    try:
        with caplog.at_level(logging.ERROR, logger="bot.clicks"):
            assert harness.slack_post(body).status == 200
        assert harness.web.bolt.listener_work.wait_idle(10)
    finally:
        event.remove(harness.rt.db.engine, "before_cursor_execute", fail_decision)
    [failure] = [record.getMessage() for record in caplog.records if record.getMessage().startswith("action.failed")]
    reference = failure.split("ref=")[1].split()[0]
    [ephemeral] = slack.calls("chat.postEphemeral")
    assert ephemeral.params["user"] == SANNE
    assert reference in ephemeral.params["text"]
    assert lead_of(harness, lead_id).stage == "mql"
    assert pending(harness) == []
    assert slack.calls("chat.update") == []


def test_clock_tick_survives_a_recovered_click_that_fails(harness: Any, slack: Any,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    first = harness.add_lead(1, owner_email=SANNE_EMAIL)
    second = harness.add_lead(2, owner_email=SANNE_EMAIL)
    failed_once = threading.Event()

    def fail_first_clock_switch(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The clock switch of the first recovered Accept fails once, after its decision was stored.
        if statement.startswith("UPDATE leads SET sal_clocks_from") and not failed_once.is_set():
            failed_once.set()
            raise harness.rt.db.engine.dialect.dbapi.OperationalError("server closed the connection unexpectedly")

    event.listen(harness.rt.db.engine, "before_cursor_execute", fail_first_clock_switch)
    try:
        with work_held(harness):
            assert harness.slack_post(accept_body(harness, first)).status == 200
            assert harness.slack_post(accept_body(harness, second)).status == 200
            assert sorted(click.lead_id for click in pending(harness)) == [first, second]
            harness.rt.clock.advance(PENDING_CLICK_GRACE + timedelta(seconds=1))
            with caplog.at_level(logging.ERROR, logger="bot.clicks"):
                run_once(harness.rt, harness.sender)
            assert failed_once.is_set()
            assert lead_of(harness, first).stage == "sal"
            assert lead_of(harness, second).stage == "sal", "the second stored click waited for the next tick"
            assert pending(harness) == []
    finally:
        event.remove(harness.rt.db.engine, "before_cursor_execute", fail_first_clock_switch)
    assert any(record.getMessage().startswith(f"click.finish_failed pending=1 lead={first}") for record in caplog.records)
    # The first lead's clocks switch on a later tick, once WAITING_SAL_CLOCKS_GRACE has passed.
    harness.rt.clock.advance(WAITING_SAL_CLOCKS_GRACE)
    run_once(harness.rt, harness.sender)
    assert lead_of(harness, first).sal_clocks_from is None
    assert len(slack.calls("chat.update")) == 2


def test_busy_process_acks_a_click_whose_user_cannot_be_stored(harness: Any, slack: Any) -> None:
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL)
    # JSON can carry this user id, and no database driver can encode it.
    body = accept_body(harness, lead_id, user_id="U0SANNE\ud800")
    with busy(harness):
        reply = harness.slack_post(body)
    assert harness.web.bolt.listener_work.wait_idle(10)
    assert reply.status == 200
    assert lead_of(harness, lead_id).stage == "mql"
    assert pending(harness) == []


def test_own_process_decides_a_stored_click_as_of_the_click(harness: Any, slack: Any) -> None:
    # A click that waited in a busy process counts as of its time, as it does when the clock process decides it.
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL)
    clicked_at = harness.rt.clock.now()
    with work_held(harness) as release:
        assert harness.slack_post(accept_body(harness, lead_id)).status == 200
        harness.rt.clock.advance(timedelta(seconds=10))
        release.set()
    lead = lead_of(harness, lead_id)
    assert (lead.stage, lead.decided_at) == ("sal", clicked_at)
