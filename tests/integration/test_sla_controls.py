"""Snooze, pause and resume, automatic reassignment after a breach, and the nurture-notes clock."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.handoff import decide, ingest
from bot.outbox import Claim
from bot.runtime import Runtime
from bot.sales import return_to_nurture
from bot.sla.clocks import FIRST_CONTACT, start_waiting_sal_clocks, stop_clocks, sweep
from bot.sla.documentation import record_nurture_notes
from bot.sla.pauses import pause, resume, snooze
from factories import lead_input
from storage.models import ClockPause, ClockSnooze, Lead, LeadTransition, OutboxItem, SlaClock

SANNE = "U0SANNEDV1"
DAAN = "U0DAANBKR1"
EVA = "U0EVAVSR01"
SANNE_EMAIL = "sanne.devries@handoff-demo.nl"
DAAN_EMAIL = "daan.bakker@handoff-demo.nl"


def add_lead(rt: Runtime, *, contacted: bool = True) -> int:
    with rt.db.transaction() as session:
        lead_id = ingest(session, rt, lead_input(1, at=rt.clock.now(), owner_email=SANNE_EMAIL), actor="test").lead_id
        if contacted:
            stop_clocks(session, lead_id, now=rt.clock.now(), kinds=(FIRST_CONTACT,))
    return lead_id


def decision_clock(rt: Runtime, generation: int = 1) -> SlaClock:
    with rt.db.transaction() as session:
        clock = session.scalars(select(SlaClock).where(SlaClock.kind == "decision",
                                                       SlaClock.generation == generation)).one()
        session.expunge(clock)
        return clock


def alert_keys(rt: Runtime, kind: str = "decision") -> list[str]:
    with rt.db.transaction() as session:
        return list(session.scalars(
            select(OutboxItem.dedupe_key)
            .where(OutboxItem.kind.in_(["reminder", "escalation"]), OutboxItem.dedupe_key.like(f"%:{kind}:%"))
            .order_by(OutboxItem.id)))


# Snooze ---------------------------------------------------------------------------------------


def test_snooze_brings_reminder_back_later(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    lead_id = add_lead(runtime)
    clock.set(datetime(2025, 4, 1, 12, 0, tzinfo=UTC))  # the halfway reminder, Tuesday 14:00 Amsterdam
    assert sweep(runtime).enqueued == 1
    clock_id = decision_clock(runtime).id
    with runtime.db.transaction() as session:
        result = snooze(session, runtime, clock_id=clock_id, step=0, user_id=SANNE, choice="hour")
    assert result.status == "done"
    assert result.until == datetime(2025, 4, 1, 13, 0, tzinfo=UTC)

    clock.set(datetime(2025, 4, 1, 12, 59, tzinfo=UTC))
    assert sweep(runtime).enqueued == 0
    clock.set(datetime(2025, 4, 1, 13, 0, tzinfo=UTC))
    assert sweep(runtime).enqueued == 1
    assert alert_keys(runtime)[-1] == f"sla:{lead_id}:decision:1:1"
    # The deadline and the escalation stay where they were.
    assert decision_clock(runtime).due_at == datetime(2025, 4, 4, 8, 0, tzinfo=UTC)
    clock.set(datetime(2025, 4, 4, 8, 0, tzinfo=UTC))
    sweep(runtime)
    with runtime.db.transaction() as session:
        escalations = list(session.scalars(select(OutboxItem.dedupe_key).where(OutboxItem.kind == "escalation")))
    assert escalations == [f"sla:{lead_id}:decision:1:3"]


def test_snooze_twice_records_once(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    add_lead(runtime)
    clock.set(datetime(2025, 4, 1, 12, 0, tzinfo=UTC))
    sweep(runtime)
    clock_id = decision_clock(runtime).id
    with runtime.db.transaction() as session:
        first = snooze(session, runtime, clock_id=clock_id, step=0, user_id=SANNE, choice="hour")
    schedule = decision_clock(runtime).schedule
    clock.advance(timedelta(minutes=5))
    with runtime.db.transaction() as session:
        second = snooze(session, runtime, clock_id=clock_id, step=0, user_id=SANNE, choice="day")
    assert first.status == "done"
    assert second.status == "already"
    assert second.until == first.until
    assert decision_clock(runtime).schedule == schedule
    with runtime.db.transaction() as session:
        assert len(list(session.scalars(select(ClockSnooze)))) == 1


def test_snooze_only_by_owner(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    add_lead(runtime)
    clock_id = decision_clock(runtime).id
    for user in (DAAN, EVA):
        with runtime.db.transaction() as session:
            assert snooze(session, runtime, clock_id=clock_id, step=0, user_id=user, choice="hour").status == "not_allowed"


def test_snooze_never_passes_deadline(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    lead_id = add_lead(runtime)
    clock.set(datetime(2025, 4, 3, 12, 0, tzinfo=UTC))  # Thursday 14:00; one working day is past the deadline
    sweep(runtime)
    clock_id = decision_clock(runtime).id
    with runtime.db.transaction() as session:
        assert snooze(session, runtime, clock_id=clock_id, step=0, user_id=SANNE, choice="day").status == "done"
    clock.set(datetime(2025, 4, 4, 7, 30, tzinfo=UTC))  # the one-hour-before reminder was dropped
    assert sweep(runtime).enqueued == 0
    clock.set(datetime(2025, 4, 4, 8, 0, tzinfo=UTC))
    assert sweep(runtime).enqueued == 1
    assert alert_keys(runtime)[-1].startswith(f"sla:{lead_id}:decision:1:")
    with runtime.db.transaction() as session:
        assert session.scalar(select(OutboxItem.kind).order_by(OutboxItem.id.desc()).limit(1)) == "escalation"


def test_snooze_morning_is_next_working_day(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    add_lead(runtime)
    clock_id = decision_clock(runtime).id  # Friday 28 March 10:00 Amsterdam
    with runtime.db.transaction() as session:
        result = snooze(session, runtime, clock_id=clock_id, step=0, user_id=SANNE, choice="morning")
    assert result.until == datetime(2025, 3, 31, 7, 0, tzinfo=UTC)  # Monday 09:00, after the DST change


# Pause and resume -----------------------------------------------------------------------------


def test_paused_clock_sends_nothing(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    add_lead(runtime)
    clock_id = decision_clock(runtime).id
    with runtime.db.transaction() as session:
        result = pause(session, runtime, clock_id=clock_id, user_id=SANNE, reason="waiting_for_customer", note=None)
    assert result.status == "done"
    clock.set(datetime(2025, 4, 8, 8, 0, tzinfo=UTC))  # past the deadline and every step
    assert sweep(runtime).due == 0
    assert alert_keys(runtime) == []


def test_resume_shifts_deadline_by_paused_time(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    lead_id = add_lead(runtime)
    clock_id = decision_clock(runtime).id
    with runtime.db.transaction() as session:
        pause(session, runtime, clock_id=clock_id, user_id=SANNE, reason="customer_out_of_office", note="back Monday")
    # Friday 10:00 to Monday 10:00 Amsterdam: 7 + 1 = 8 working hours.
    clock.set(datetime(2025, 3, 31, 8, 0, tzinfo=UTC))
    with runtime.db.transaction() as session:
        result = resume(session, runtime, clock_id=clock_id, user_id=SANNE)
    assert result.status == "done"
    assert result.paused == timedelta(hours=8)
    resumed = decision_clock(runtime)
    assert resumed.status == "running"
    assert resumed.due_at == datetime(2025, 4, 7, 8, 0, tzinfo=UTC)  # Monday 7 April 10:00, a day later
    with runtime.db.transaction() as session:
        record = session.scalars(select(ClockPause)).one()
        assert (record.paused_by, record.reason, record.note) == (SANNE, "customer_out_of_office", "back Monday")
        assert record.ended_at == datetime(2025, 3, 31, 8, 0, tzinfo=UTC)
        assert record.paused_working_seconds == 8 * 3600

    clock.set(datetime(2025, 4, 4, 8, 0, tzinfo=UTC))  # the old deadline passes quietly
    sweep(runtime)
    with runtime.db.transaction() as session:
        assert list(session.scalars(select(OutboxItem).where(OutboxItem.kind == "escalation"))) == []
    clock.set(datetime(2025, 4, 7, 8, 0, tzinfo=UTC))
    sweep(runtime)
    with runtime.db.transaction() as session:
        escalations = list(session.scalars(select(OutboxItem.dedupe_key).where(OutboxItem.kind == "escalation")))
    assert len(escalations) == 1
    assert escalations[0].startswith(f"sla:{lead_id}:decision:1:")


def test_pause_refusals(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    add_lead(runtime)
    clock_id = decision_clock(runtime).id
    with runtime.db.transaction() as session:
        assert pause(session, runtime, clock_id=clock_id, user_id=DAAN, reason="other", note="x").status == "not_allowed"
        assert pause(session, runtime, clock_id=clock_id, user_id=SANNE, reason="other", note=" ").status == "invalid"
        assert pause(session, runtime, clock_id=clock_id, user_id=SANNE, reason="sleepy", note=None).status == "invalid"
    clock.set(datetime(2025, 4, 4, 8, 0, tzinfo=UTC))
    sweep(runtime)  # the breach
    with runtime.db.transaction() as session:
        assert pause(session, runtime, clock_id=clock_id, user_id=SANNE, reason="waiting_for_customer",
                     note=None).status == "breached"


def test_decision_ends_pause(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    lead_id = add_lead(runtime)
    clock_id = decision_clock(runtime).id
    with runtime.db.transaction() as session:
        pause(session, runtime, clock_id=clock_id, user_id=SANNE, reason="waiting_for_customer", note=None)
    clock.advance(timedelta(hours=2))
    with runtime.db.transaction() as session:
        assert decide(session, runtime, lead_id=lead_id, version=2, user_id=SANNE, accept=True).status == "done"
    assert decision_clock(runtime).status == "stopped"
    with runtime.db.transaction() as session:
        record = session.scalars(select(ClockPause)).one()
    assert record.ended_at == clock.now()
    assert record.ended_by == "system"


# Automatic reassignment -----------------------------------------------------------------------


def test_breach_reassigns_once_to_next_rep(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    runtime.config.sla.auto_reassign.enabled = True
    lead_id = add_lead(runtime)
    clock.set(datetime(2025, 4, 4, 8, 0, tzinfo=UTC))
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            sweep(runtime)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with runtime.db.transaction() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        assert lead.rep_email == DAAN_EMAIL
        reassignments = list(session.scalars(select(LeadTransition).where(LeadTransition.reason == "reassigned")))
        notices = sorted(session.scalars(select(OutboxItem.dedupe_key).where(OutboxItem.kind == "notice")))
        new_clock = session.scalars(select(SlaClock).where(SlaClock.kind == "decision", SlaClock.generation == 2)).one()
        cards = list(session.scalars(select(OutboxItem.payload).where(OutboxItem.kind == "card")))
        escalations = list(session.scalars(select(OutboxItem).where(OutboxItem.kind == "escalation")))
    assert [(row.actor, row.details["to_rep"]) for row in reassignments] == [("system", DAAN_EMAIL)]
    assert notices == [f"sla:{lead_id}:decision:1:2:auto_reassign:manager",
                       f"sla:{lead_id}:decision:1:2:auto_reassign:old_rep"]
    assert escalations == []
    assert (new_clock.rep_email, new_clock.status) == (DAAN_EMAIL, "running")
    assert new_clock.due_at > clock.now()
    assert cards[-1]["channel"] == DAAN


def test_auto_reassign_off_by_default(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    lead_id = add_lead(runtime)
    clock.set(datetime(2025, 4, 4, 8, 0, tzinfo=UTC))
    sweep(runtime)
    with runtime.db.transaction() as session:
        assert session.get(Lead, lead_id).rep_email == SANNE_EMAIL  # type: ignore[union-attr]
        assert len(list(session.scalars(select(OutboxItem).where(OutboxItem.kind == "escalation")))) == 1


def test_auto_reassign_only_for_listed_teams(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    runtime.config.sla.auto_reassign.enabled = True
    runtime.config.sla.auto_reassign.teams = ["benelux-be"]
    lead_id = add_lead(runtime)
    clock.set(datetime(2025, 4, 4, 8, 0, tzinfo=UTC))
    sweep(runtime)
    with runtime.db.transaction() as session:
        assert session.get(Lead, lead_id).rep_email == SANNE_EMAIL  # type: ignore[union-attr]


def test_first_contact_breach_reassigns(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    runtime.config.sla.auto_reassign.enabled = True
    runtime.config.sla.auto_reassign.clocks = ["first_contact"]
    lead_id = add_lead(runtime, contacted=False)
    clock.set(datetime(2025, 3, 31, 10, 0, tzinfo=UTC))  # four working hours after Friday 10:00, after DST
    sweep(runtime)
    with runtime.db.transaction() as session:
        assert session.get(Lead, lead_id).rep_email == DAAN_EMAIL  # type: ignore[union-attr]
        running = list(session.scalars(select(SlaClock).where(SlaClock.status == "running")))
    assert sorted((row.kind, row.generation, row.rep_email) for row in running) == [
        ("decision", 2, DAAN_EMAIL), ("first_contact", 2, DAAN_EMAIL)]


# Same-day documentation -----------------------------------------------------------------------


def returned_lead(rt: Runtime, notes: str) -> int:
    lead_id = add_lead(rt)
    with rt.db.transaction() as session:
        assert decide(session, rt, lead_id=lead_id, version=2, user_id=SANNE, accept=True).status == "done"
    with rt.db.transaction() as session:
        result = return_to_nurture(session, rt, lead_id=lead_id, user_id=SANNE, reason="no budget this year",
                                   until=date(2025, 9, 1), notes=notes)
        assert result.done
    return lead_id


def test_nurture_without_notes_escalates_same_day(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    lead_id = returned_lead(runtime, notes="")
    with runtime.db.transaction() as session:
        notes_clock = session.scalars(select(SlaClock).where(SlaClock.kind == "nurture_notes")).one()
    assert notes_clock.due_at == datetime(2025, 3, 28, 16, 0, tzinfo=UTC)  # Friday 17:00 Amsterdam
    clock.set(datetime(2025, 3, 28, 16, 0, tzinfo=UTC))
    sweep(runtime)
    with runtime.db.transaction() as session:
        rows = list(session.execute(select(OutboxItem.kind, OutboxItem.payload)
                                    .where(OutboxItem.dedupe_key.like(f"sla:{lead_id}:nurture_notes:%"))))
    assert [kind for kind, _ in rows] == ["escalation"]
    assert rows[0][1]["channel"] == EVA


def test_nurture_notes_stop_the_clock(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    lead_id = returned_lead(runtime, notes="")
    with runtime.db.transaction() as session:
        assert record_nurture_notes(session, runtime, lead_id=lead_id, user_id=DAAN, notes="x") == "not_allowed"
        assert record_nurture_notes(session, runtime, lead_id=lead_id, user_id=SANNE, notes="  ") == "invalid"
        assert record_nurture_notes(session, runtime, lead_id=lead_id, user_id=SANNE, notes="Budget in Q3") == "done"
    with runtime.db.transaction() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None and lead.discovery is not None
        assert lead.discovery["nurture_notes"] == "Budget in Q3"
        status = session.scalars(select(SlaClock.status).where(SlaClock.kind == "nurture_notes")).one()
    assert status == "stopped"
    clock.set(datetime(2025, 3, 28, 16, 0, tzinfo=UTC))
    sweep(runtime)
    assert alert_keys(runtime, "nurture_notes") == []


def test_nurture_with_notes_starts_no_clock(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    returned_lead(runtime, notes="Champion left the company")
    with runtime.db.transaction() as session:
        assert list(session.scalars(select(SlaClock).where(SlaClock.kind == "nurture_notes"))) == []


@pytest.mark.parametrize("click", [False, True], ids=["decide", "click"])
def test_pause_during_accept_is_ended(runtime: Runtime, clock, click: bool) -> None:  # type: ignore[no-untyped-def]
    # A pause commits while an Accept of the same lead waits for it, and the stop of the decision clock
    # must end that pause. A click's Accept (a claim, clocks deferred) is one statement on PostgreSQL
    # (bot.accept), and the switch of its clocks, in a transaction of its own, ends the pause.
    lead_id = add_lead(runtime)
    clock_id = decision_clock(runtime).id
    clock.advance(timedelta(minutes=5))
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def accept() -> None:
        try:
            with runtime.db.transaction() as session:
                claim = Claim(token="test-claim", clock=runtime.clock) if click else None
                outcomes.append(decide(session, runtime, lead_id=lead_id, version=2, user_id=SANNE, accept=True,
                                       claim=claim, defer_clocks=click).status)
        except BaseException as error:  # noqa: BLE001 - reported by the asserts below
            errors.append(error)

    with runtime.db.transaction() as pausing:
        assert pause(pausing, runtime, clock_id=clock_id, user_id=SANNE, reason="waiting_for_customer",
                     note=None).status == "done"
        thread = threading.Thread(target=accept)
        thread.start()
        # The Accept now waits for the lead row (PostgreSQL) or the write lock (SQLite) until the pause commits.
        time.sleep(1.0)
        assert outcomes == []
    thread.join(timeout=30)

    assert errors == []
    assert outcomes == ["done"]
    if click:
        # As the click handler does after the card update.
        with runtime.db.transaction() as session:
            assert start_waiting_sal_clocks(session, runtime, lead_id)
    assert decision_clock(runtime).status == "stopped"
    with runtime.db.transaction() as session:
        record = session.scalars(select(ClockPause).where(ClockPause.clock_id == clock_id)).one()
    assert record.ended_at is not None
    assert record.ended_by == "system"


def test_breach_reassign_and_pause_no_deadlock(runtime: Runtime, clock, monkeypatch: Any) -> None:  # type: ignore[no-untyped-def]
    # The sweep claims a first-contact breach that reassigns the lead, while Sanne pauses that clock.
    # Both lock the lead before the clock, so PostgreSQL aborts neither as a deadlock.
    import bot.sales
    import bot.sla.clocks as clocks

    runtime.config.sla.auto_reassign.enabled = True
    runtime.config.sla.auto_reassign.clocks = ["first_contact"]
    with runtime.db.transaction() as session:
        lead_id = ingest(session, runtime, lead_input(1, at=runtime.clock.now(), owner_email=SANNE_EMAIL),
                         actor="test").lead_id
        first_contact = session.scalars(select(SlaClock).where(SlaClock.lead_id == lead_id,
                                                               SlaClock.kind == FIRST_CONTACT)).one()
        clock_id, step = first_contact.id, first_contact.next_step
    clock.set(datetime(2025, 3, 31, 10, 0, tzinfo=UTC))
    claimed, go = threading.Event(), threading.Event()
    original = bot.sales.hand_over

    def slow_hand_over(*args: Any, **kwargs: Any) -> Any:
        claimed.set()
        go.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(bot.sales, "hand_over", slow_hand_over)
    errors: list[BaseException] = []
    results: list[str] = []

    def fire() -> None:
        try:
            with runtime.db.transaction() as session:
                clocks._fire_step(session, runtime, clock_id, step, runtime.clock.now())
        except BaseException as error:  # noqa: BLE001 - reported by the assert below
            errors.append(error)

    def run_pause() -> None:
        try:
            with runtime.db.transaction() as session:
                results.append(pause(session, runtime, clock_id=clock_id, user_id=SANNE,
                                     reason="waiting_for_customer", note=None).status)
        except BaseException as error:  # noqa: BLE001 - reported by the assert below
            errors.append(error)

    sweeper = threading.Thread(target=fire)
    sweeper.start()
    assert claimed.wait(10)
    pauser = threading.Thread(target=run_pause)
    pauser.start()
    time.sleep(0.5)
    go.set()
    sweeper.join(30)
    pauser.join(30)

    assert [type(error).__name__ for error in errors] == []
    assert len(results) == 1
