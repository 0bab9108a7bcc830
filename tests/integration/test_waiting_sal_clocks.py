"""Clocks that an Accept leaves waiting: switched once, as of the Accept, also after a stopped process."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import bot.sla.clocks as clocks
from bot.handoff import decide, ingest
from bot.runtime import Runtime
from bot.sla.clocks import (
    CADENCE,
    DECISION,
    DISCOVERY_COMPLETED,
    DISCOVERY_SCHEDULED,
    FIRST_CONTACT,
    WAITING_SAL_CLOCKS_GRACE,
    start_decision_clock,
    start_overdue_sal_clocks,
    start_waiting_sal_clocks,
    stop_clocks,
    sweep,
)
from bot.lifecycle import ContactChannel, Stage
from bot.sales import log_contact, reassign, return_to_nurture
from bot.sla.pauses import pause, resume
from bot.transitions import move
from factories import lead_input
from storage.models import ClockPause, Lead, OutboxItem, SlaClock

SANNE = "U0SANNEDV1"
DAAN = "U0DAANBKR1"
EVA = "U0EVAVSR01"
SAL_KINDS = {CADENCE, DISCOVERY_SCHEDULED, DISCOVERY_COMPLETED}


def accept_deferred(rt: Runtime, number: int = 1) -> int:
    """Add an MQL for Sanne and accept it as a click does, leaving its clocks waiting."""
    with rt.db.transaction() as session:
        data = lead_input(number, at=rt.clock.now(), owner_email="sanne.devries@handoff-demo.nl")
        lead_id = ingest(session, rt, data, actor="test").lead_id
    with rt.db.transaction() as session:
        outcome = decide(session, rt, lead_id=lead_id, version=2, user_id=SANNE, accept=True, defer_clocks=True)
    assert outcome.status == "done"
    return lead_id


def moved(session: Session, rt: Runtime, lead_id: int, *steps: tuple[Stage, str]) -> Lead:
    """Load the lead and move it through `steps` (stage, reason), leaving its clocks as they are."""
    lead = session.get(Lead, lead_id)
    assert lead is not None
    for stage, reason in steps:
        move(session, lead, stage, actor="test", reason=reason, now=rt.clock.now())
    return lead


def decision_clocks(rt: Runtime, lead_id: int) -> list[SlaClock]:
    with rt.db.transaction() as session:
        return list(session.scalars(select(SlaClock).where(SlaClock.lead_id == lead_id, SlaClock.kind == DECISION)
                                    .order_by(SlaClock.generation)))


def running_clocks(rt: Runtime, lead_id: int) -> dict[str, SlaClock]:
    with rt.db.transaction() as session:
        clocks = session.scalars(select(SlaClock).where(SlaClock.lead_id == lead_id, SlaClock.status == "running"))
        return {clock.kind: clock for clock in clocks}


def waiting_since(rt: Runtime, lead_id: int) -> object:
    with rt.db.transaction() as session:
        return session.scalar(select(Lead.sal_clocks_from).where(Lead.id == lead_id))


def test_deferred_accept_leaves_clocks_waiting(runtime: Runtime) -> None:
    accepted_at = runtime.clock.now()
    lead_id = accept_deferred(runtime)

    assert waiting_since(runtime, lead_id) == accepted_at
    assert DECISION in running_clocks(runtime, lead_id), "the decision clock stopped before the clocks switched"
    assert not SAL_KINDS & set(running_clocks(runtime, lead_id))


def test_waiting_clocks_start_as_of_accept(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    accepted_at = runtime.clock.now()
    lead_id = accept_deferred(runtime)
    clock.advance(timedelta(seconds=5))

    with runtime.db.transaction() as session:
        assert start_waiting_sal_clocks(session, runtime, lead_id)
    with runtime.db.transaction() as session:
        assert not start_waiting_sal_clocks(session, runtime, lead_id), "the clocks started a second time"

    clocks = running_clocks(runtime, lead_id)
    assert SAL_KINDS <= set(clocks)
    assert {clocks[kind].started_at for kind in SAL_KINDS} == {accepted_at}
    assert [(clock.status, clock.stopped_at) for clock in decision_clocks(runtime, lead_id)] == [("stopped", accepted_at)]
    assert waiting_since(runtime, lead_id) is None


def test_clock_process_starts_overdue_clocks(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    # The web process stopped between the Accept and starting its clocks.
    accepted_at = runtime.clock.now()
    lead_id = accept_deferred(runtime)

    assert start_overdue_sal_clocks(runtime) == 0, "clocks started before their grace time"
    assert not SAL_KINDS & set(running_clocks(runtime, lead_id))

    clock.advance(WAITING_SAL_CLOCKS_GRACE + timedelta(seconds=1))
    assert start_overdue_sal_clocks(runtime) == 1
    assert start_overdue_sal_clocks(runtime) == 0
    clocks = running_clocks(runtime, lead_id)
    assert SAL_KINDS <= set(clocks)
    assert {clocks[kind].started_at for kind in SAL_KINDS} == {accepted_at}
    assert [(clock.status, clock.stopped_at) for clock in decision_clocks(runtime, lead_id)] == [("stopped", accepted_at)]


def test_lead_that_left_sal_gets_no_clocks(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    # A qualification moves a lead from SAL to SQL without touching its decision clock.
    accepted_at = runtime.clock.now()
    lead_id = accept_deferred(runtime)
    clock.advance(timedelta(minutes=5))
    with runtime.db.transaction() as session:
        moved(session, runtime, lead_id, (Stage.SQL, "qualified"))

    with runtime.db.transaction() as session:
        assert start_waiting_sal_clocks(session, runtime, lead_id)

    assert not SAL_KINDS & set(running_clocks(runtime, lead_id))
    assert [(clock.status, clock.stopped_at) for clock in decision_clocks(runtime, lead_id)] == [("stopped", accepted_at)]
    assert waiting_since(runtime, lead_id) is None


def test_newer_decision_clock_keeps_running(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    # Before the clocks switched, the lead went back to nurture and became an MQL again, with a new decision clock.
    lead_id = accept_deferred(runtime)
    clock.advance(timedelta(minutes=5))
    with runtime.db.transaction() as session:
        lead = moved(session, runtime, lead_id, (Stage.NURTURE, "return_to_nurture"), (Stage.MQL, "reengaged"))
        start_decision_clock(session, runtime, lead, now=runtime.clock.now())

    with runtime.db.transaction() as session:
        assert start_waiting_sal_clocks(session, runtime, lead_id)

    assert [clock.status for clock in decision_clocks(runtime, lead_id)] == ["stopped", "running"]
    assert not SAL_KINDS & set(running_clocks(runtime, lead_id))


def test_sweep_skips_accepted_decision_clock(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    # The decision clock of an accepted lead runs until its clocks switch. Its alerts must not go out meanwhile.
    lead_id = accept_deferred(runtime)
    [decision] = decision_clocks(runtime, lead_id)
    assert decision.next_alert_at is not None
    clock.set(decision.next_alert_at + timedelta(seconds=1))

    assert sweep(runtime).due >= 1
    with runtime.db.transaction() as session:
        keys = list(session.scalars(select(OutboxItem.dedupe_key)
                                    .where(OutboxItem.dedupe_key.like(f"sla:{lead_id}:{DECISION}:%"))))
    assert keys == []
    assert [clock.next_step for clock in decision_clocks(runtime, lead_id)] == [0], "the sweep claimed the alert"


def test_concurrent_starts_start_once(runtime: Runtime) -> None:
    # Two processes find the same waiting clocks, e.g. the web process and a late clock process.
    lead_id = accept_deferred(runtime)
    barrier = threading.Barrier(2)
    results: list[bool] = []
    lock = threading.Lock()

    def start() -> None:
        barrier.wait(timeout=10)
        with runtime.db.transaction() as session:
            started = start_waiting_sal_clocks(session, runtime, lead_id)
        with lock:
            results.append(started)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert sorted(results) == [False, True]
    with runtime.db.transaction() as session:
        kinds = list(session.scalars(select(SlaClock.kind).where(SlaClock.lead_id == lead_id,
                                                                  SlaClock.kind.in_(SAL_KINDS))))
    assert sorted(kinds) == sorted(SAL_KINDS)


def test_failing_lead_does_not_stop_others(runtime: Runtime, clock, monkeypatch: Any, caplog: Any) -> None:  # type: ignore[no-untyped-def]
    # A failure is injected for the first lead: the clock process logs it and starts the next lead's clocks.
    first = accept_deferred(runtime, 1)
    clock.advance(timedelta(seconds=1))
    second = accept_deferred(runtime, 2)
    clock.advance(WAITING_SAL_CLOCKS_GRACE + timedelta(seconds=5))
    working = clocks.start_sal_clocks

    def fail_for_first(session: Any, rt: Runtime, lead: Lead, **options: Any) -> None:
        if lead.id == first:
            raise RuntimeError("injected failure")
        working(session, rt, lead, **options)

    monkeypatch.setattr(clocks, "start_sal_clocks", fail_for_first)

    assert start_overdue_sal_clocks(runtime) == 1
    assert waiting_since(runtime, second) is None
    assert SAL_KINDS <= set(running_clocks(runtime, second))
    assert waiting_since(runtime, first) is not None, "the failed lead's clocks must stay waiting for the next tick"
    assert f"sla.sal_clocks_failed lead={first}" in caplog.text


def test_sweep_waits_for_accept_in_progress(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    # A sweep that reaches a due decision alert while an Accept of its lead is being written must
    # wait for it (the lead's row lock on PostgreSQL, the write lock on SQLite), then send nothing.
    with runtime.db.transaction() as session:
        data = lead_input(1, at=runtime.clock.now(), owner_email="sanne.devries@handoff-demo.nl")
        lead_id = ingest(session, runtime, data, actor="test").lead_id
        # Only the decision alert falls due: another one could make the sweep wait before it reads the lead.
        stop_clocks(session, lead_id, now=runtime.clock.now(), kinds=(FIRST_CONTACT,))
    [decision] = decision_clocks(runtime, lead_id)
    assert decision.next_alert_at is not None
    clock.set(decision.next_alert_at + timedelta(seconds=1))
    errors: list[BaseException] = []

    def run_sweep() -> None:
        try:
            sweep(runtime)
        except BaseException as error:  # noqa: BLE001 - reported by the assert below
            errors.append(error)

    sweeper = threading.Thread(target=run_sweep)
    with runtime.db.transaction() as session:
        outcome = decide(session, runtime, lead_id=lead_id, version=2, user_id=SANNE, accept=True, defer_clocks=True)
        assert outcome.status == "done"
        sweeper.start()
        sweeper.join(timeout=1.0)
        assert sweeper.is_alive(), "the sweep did not wait for the Accept"
    sweeper.join(timeout=20)

    assert errors == []
    with runtime.db.transaction() as session:
        keys = list(session.scalars(select(OutboxItem.dedupe_key)
                                    .where(OutboxItem.dedupe_key.like(f"sla:{lead_id}:{DECISION}:%"))))
    assert keys == []


def test_pause_after_accept_is_refused(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    # A pause of the decision clock switches the waiting clocks first, which stops that clock as of the Accept.
    accepted_at = runtime.clock.now()
    lead_id = accept_deferred(runtime)
    [decision] = decision_clocks(runtime, lead_id)
    clock.advance(timedelta(seconds=10))

    with runtime.db.transaction() as session:
        result = pause(session, runtime, clock_id=decision.id, user_id=SANNE, reason="waiting_for_customer", note=None)

    assert result.status == "not_running"
    assert [(clock.status, clock.stopped_at) for clock in decision_clocks(runtime, lead_id)] == [("stopped", accepted_at)]
    assert SAL_KINDS <= set(running_clocks(runtime, lead_id))
    with runtime.db.transaction() as session:
        assert list(session.scalars(select(ClockPause).where(ClockPause.clock_id == decision.id))) == []


def test_resume_after_accept_ends_pause(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    # Paused before the Accept and resumed after it: the pause ends with its clock, as of the Accept.
    with runtime.db.transaction() as session:
        data = lead_input(1, at=runtime.clock.now(), owner_email="sanne.devries@handoff-demo.nl")
        lead_id = ingest(session, runtime, data, actor="test").lead_id
    [decision] = decision_clocks(runtime, lead_id)
    with runtime.db.transaction() as session:
        assert pause(session, runtime, clock_id=decision.id, user_id=SANNE, reason="waiting_for_customer",
                     note=None).status == "done"
    clock.advance(timedelta(minutes=5))
    accepted_at = runtime.clock.now()
    with runtime.db.transaction() as session:
        assert decide(session, runtime, lead_id=lead_id, version=2, user_id=SANNE, accept=True,
                      defer_clocks=True).status == "done"
    clock.advance(timedelta(seconds=30))

    with runtime.db.transaction() as session:
        result = resume(session, runtime, clock_id=decision.id, user_id=SANNE)

    assert result.status == "not_running"
    assert [(clock.status, clock.stopped_at) for clock in decision_clocks(runtime, lead_id)] == [("stopped", accepted_at)]
    with runtime.db.transaction() as session:
        record = session.scalars(select(ClockPause).where(ClockPause.clock_id == decision.id)).one()
    assert record.ended_at == accepted_at


def test_nurture_switches_waiting_clocks(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    # A sales action switches the waiting clocks before it changes the lead.
    accepted_at = runtime.clock.now()
    lead_id = accept_deferred(runtime)
    clock.advance(timedelta(seconds=30))

    with runtime.db.transaction() as session:
        result = return_to_nurture(session, runtime, lead_id=lead_id, user_id=SANNE, reason="budget",
                                   until=date(2025, 6, 1), notes="later")

    assert result.status == "done"
    assert [(clock.status, clock.stopped_at) for clock in decision_clocks(runtime, lead_id)] == [("stopped", accepted_at)]
    assert waiting_since(runtime, lead_id) is None
    assert not SAL_KINDS & set(running_clocks(runtime, lead_id))


def test_pause_waits_for_accept_in_progress(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    # Sanne pauses the decision clock while her Accept is being written. The pause waits for the
    # Accept's lead lock, then finds the clock stopped as of the Accept instead of pausing it.
    with runtime.db.transaction() as session:
        data = lead_input(1, at=runtime.clock.now(), owner_email="sanne.devries@handoff-demo.nl")
        lead_id = ingest(session, runtime, data, actor="test").lead_id
    [decision] = decision_clocks(runtime, lead_id)
    results: list[str] = []

    def run_pause() -> None:
        with runtime.db.transaction() as session:
            results.append(pause(session, runtime, clock_id=decision.id, user_id=SANNE,
                                 reason="waiting_for_customer", note=None).status)

    with runtime.db.transaction() as session:
        assert decide(session, runtime, lead_id=lead_id, version=2, user_id=SANNE, accept=True,
                      defer_clocks=True).status == "done"
        clock.advance(timedelta(seconds=10))
        pauser = threading.Thread(target=run_pause)
        pauser.start()
        pauser.join(timeout=1.0)
        assert pauser.is_alive(), "the pause did not wait for the Accept"
    pauser.join(timeout=20)
    with runtime.db.transaction() as session:
        start_waiting_sal_clocks(session, runtime, lead_id)

    assert results == ["not_running"]
    with runtime.db.transaction() as session:
        assert list(session.scalars(select(ClockPause).where(ClockPause.clock_id == decision.id))) == []


def test_refused_action_switches_nothing(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    # Daan may not act on Sanne's lead, so his refused action leaves her waiting clocks alone.
    lead_id = accept_deferred(runtime)
    clock.advance(timedelta(seconds=5))

    with runtime.db.transaction() as session:
        result = log_contact(session, runtime, lead_id=lead_id, user_id=DAAN, channel=ContactChannel.CALL,
                             note=None, request_key="refused-1")

    assert result.status == "not_allowed"
    assert waiting_since(runtime, lead_id) is not None


def test_reassign_switches_clocks_first(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    # The decision clock that stopped at Sanne's Accept stays hers when her manager reassigns the lead.
    accepted_at = runtime.clock.now()
    lead_id = accept_deferred(runtime)
    clock.advance(timedelta(seconds=5))
    daan = runtime.config.rep("daan.bakker@handoff-demo.nl")
    assert daan is not None

    with runtime.db.transaction() as session:
        assert reassign(session, runtime, lead_id=lead_id, user_id=EVA, rep=daan).status == "done"

    assert waiting_since(runtime, lead_id) is None
    [stopped] = decision_clocks(runtime, lead_id)
    assert stopped.rep_email == "sanne.devries@handoff-demo.nl"
    assert stopped.stopped_at == accepted_at
