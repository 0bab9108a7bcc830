"""The clock's sweep: every reminder and escalation enqueued once, whatever runs twice or dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.handoff import decide, ingest
from bot.runtime import Runtime
from bot.sla.clocks import FIRST_CONTACT, stop_clocks, sweep
from factories import lead_input
from storage.models import OutboxItem, SlaClock

SANNE = "U0SANNEDV1"
EVA = "U0EVAVSR01"
REPO = Path(__file__).resolve().parents[2]


def add_leads(rt: Runtime, count: int, *, contacted: bool = True) -> list[int]:
    """Add MQLs for Sanne; `contacted` stops their first-contact clocks, so only the decision clock runs."""
    ids = []
    with rt.db.transaction() as session:
        for number in range(1, count + 1):
            data = lead_input(number, at=rt.clock.now(), owner_email="sanne.devries@handoff-demo.nl")
            lead_id = ingest(session, rt, data, actor="test").lead_id
            if contacted:
                stop_clocks(session, lead_id, now=rt.clock.now(), kinds=(FIRST_CONTACT,))
            ids.append(lead_id)
    return ids


def alerts(rt: Runtime) -> list[tuple[str, str, str]]:
    with rt.db.transaction() as session:
        rows = session.execute(
            select(OutboxItem.kind, OutboxItem.dedupe_key, OutboxItem.payload)
            .where(OutboxItem.kind.in_(["reminder", "escalation"]), OutboxItem.dedupe_key.like("%:decision:%"))
            .order_by(OutboxItem.id)
        )
        return [(kind, key, payload["channel"]) for kind, key, payload in rows]


def test_reminders_then_escalation_each_once(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    [lead_id] = add_leads(runtime, 1)
    assert sweep(runtime).enqueued == 0

    # Halfway through 5 working days from Friday 10:00 is Tuesday 1 April 14:00 Amsterdam (12:00 UTC).
    clock.set(datetime(2025, 4, 1, 12, 0, tzinfo=UTC))
    assert sweep(runtime).enqueued == 1
    assert sweep(runtime).enqueued == 0
    assert alerts(runtime) == [("reminder", f"sla:{lead_id}:decision:1:0", SANNE)]

    # One working hour before the deadline the rep is reminded again; at the deadline the manager hears.
    clock.set(datetime(2025, 4, 4, 7, 0, tzinfo=UTC))
    assert sweep(runtime).enqueued == 1
    clock.set(datetime(2025, 4, 4, 8, 0, tzinfo=UTC))
    assert sweep(runtime).enqueued == 1
    assert alerts(runtime)[1:] == [
        ("reminder", f"sla:{lead_id}:decision:1:1", SANNE),
        ("escalation", f"sla:{lead_id}:decision:1:2", EVA),
    ]
    with runtime.db.transaction() as session:
        clock_row = session.scalars(select(SlaClock).where(SlaClock.kind == "decision")).one()
        assert clock_row.breached_at == datetime(2025, 4, 4, 8, 0, tzinfo=UTC)
        assert clock_row.next_alert_at is None
    assert sweep(runtime).enqueued == 0


def test_escalation_text_names_rep_and_lead(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    add_leads(runtime, 1)
    clock.set(datetime(2025, 4, 7, 8, 0, tzinfo=UTC))
    sweep(runtime)
    with runtime.db.transaction() as session:
        escalation = session.scalars(select(OutboxItem).where(OutboxItem.kind == "escalation")).one()
    assert f"<@{SANNE}>" in escalation.payload["text"]
    assert "Verpakkingen 1 BV" in escalation.payload["text"]
    assert escalation.payload["text"].startswith("SLA verlopen")


def test_decision_stops_the_clock(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    [lead_id] = add_leads(runtime, 1)
    with runtime.db.transaction() as session:
        decide(session, runtime, lead_id=lead_id, version=2, user_id=SANNE, accept=True)
    clock.set(datetime(2025, 4, 10, 8, 0, tzinfo=UTC))
    sweep(runtime)  # the accepted lead's own clocks (cadence, discovery) may alert; the decision's may not
    assert alerts(runtime) == []


def test_reminders_fall_in_working_hours(runtime: Runtime) -> None:
    # An MQL at Friday 16:30 Amsterdam: the halfway reminder must not land at night or in the weekend.
    runtime.clock.set(datetime(2025, 3, 28, 15, 30, tzinfo=UTC))  # type: ignore[attr-defined]
    add_leads(runtime, 1)
    calendar = runtime.calendar("benelux-nl")
    with runtime.db.transaction() as session:
        schedules = list(session.scalars(select(SlaClock.schedule)))
    for schedule in schedules:
        for entry in schedule:
            assert calendar.is_working_time(datetime.fromisoformat(entry["at"])), entry


def test_concurrent_sweeps_enqueue_each_alert_once(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    lead_ids = add_leads(runtime, 40)
    clock.set(datetime(2025, 4, 7, 8, 0, tzinfo=UTC))  # past every reminder and the first escalation
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            for _ in range(3):
                sweep(runtime)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    keys = [key for _, key, _ in alerts(runtime)]
    assert len(keys) == len(set(keys))
    # Both reminders were overtaken by the escalation, so only the escalation goes out.
    assert len(keys) == len(lead_ids)
    assert all(kind == "escalation" for kind, _, _ in alerts(runtime))


def test_overtaken_reminder_is_skipped(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    [lead_id] = add_leads(runtime, 1)
    clock.set(datetime(2025, 4, 4, 7, 30, tzinfo=UTC))  # the clock process was down since Monday
    assert sweep(runtime).enqueued == 1
    assert alerts(runtime) == [("reminder", f"sla:{lead_id}:decision:1:1", SANNE)]


CHILD = textwrap.dedent(
    """
    import sys
    import time
    from datetime import datetime, UTC
    sys.path.insert(0, {tests!r})
    from support import make_settings
    from bot.clock import FixedClock
    from bot.config import load_config
    from bot.runtime import Runtime
    from bot.sla.clocks import FIRST_CONTACT, stop_clocks, sweep
    from storage.db import Database
    settings = make_settings({url!r})
    rt = Runtime(settings=settings, config=load_config(settings.handoff_config), db=Database({url!r}),
                 clock=FixedClock(datetime(2025, 4, 7, 8, 0, tzinfo=UTC)))
    print("ready", flush=True)
    while True:
        sweep(rt, limit=5)
        time.sleep(0.02)  # keep the sweep slow enough for the parent to kill it half way
    """
)


def test_killed_sweep_loses_and_doubles_nothing(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    lead_ids = add_leads(runtime, 150)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(tests=str(REPO / "tests"), url=runtime.db.url)],
        stdout=subprocess.PIPE, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == b"ready"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with runtime.db.transaction() as session:
            done = session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.kind.in_(["reminder", "escalation"])))
        if done and done >= 5:
            break
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    with runtime.db.transaction() as session:
        partial = session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.kind.in_(["reminder", "escalation"])))
    assert partial is not None and 0 < partial < len(lead_ids), "the child should die mid-sweep"

    clock.set(datetime(2025, 4, 7, 8, 0, tzinfo=UTC))
    while sweep(runtime).due:
        pass
    keys = [key for _, key, _ in alerts(runtime)]
    assert len(keys) == len(set(keys))
    assert len(keys) == len(lead_ids)


def test_escalation_offers_reassignment(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    [lead_id] = add_leads(runtime, 1)
    clock.set(datetime(2025, 4, 7, 8, 0, tzinfo=UTC))
    sweep(runtime)
    with runtime.db.transaction() as session:
        escalation = session.scalars(select(OutboxItem).where(OutboxItem.kind == "escalation")).one()
    [picker] = [e for b in escalation.payload["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["type"] == "static_select"]
    assert picker["action_id"] == "lead_reassign"
    values = [option["value"] for option in picker["options"]]
    assert values[0] == f"{lead_id}|daan.bakker@handoff-demo.nl"  # the same team first
    assert f"{lead_id}|sanne.devries@handoff-demo.nl" not in values


def test_first_contact_clock_escalates_after_four_working_hours(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    # MQL on Friday 28 March 2025 16:00 Amsterdam: due Monday 31 March 12:00 +02:00, after the DST change.
    clock.set(datetime(2025, 3, 28, 15, 0, tzinfo=UTC))
    [lead_id] = add_leads(runtime, 1, contacted=False)
    with runtime.db.transaction() as session:
        first_contact = session.scalars(select(SlaClock).where(SlaClock.kind == "first_contact")).one()
    assert first_contact.due_at == datetime(2025, 3, 31, 10, 0, tzinfo=UTC)
    clock.set(datetime(2025, 3, 31, 10, 0, tzinfo=UTC))
    sweep(runtime)
    with runtime.db.transaction() as session:
        keys = list(session.scalars(select(OutboxItem.dedupe_key).where(OutboxItem.kind == "escalation")))
    assert keys == [f"sla:{lead_id}:first_contact:1:2"]


def test_contact_attempt_stops_first_contact_clock(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    from bot.lifecycle import ContactChannel
    from bot.sales import log_contact

    [lead_id] = add_leads(runtime, 1, contacted=False)
    with runtime.db.transaction() as session:
        log_contact(session, runtime, lead_id=lead_id, user_id=SANNE, channel=ContactChannel.CALL, note=None,
                    request_key="t1")
    with runtime.db.transaction() as session:
        status = session.scalars(select(SlaClock.status).where(SlaClock.kind == "first_contact")).one()
    assert status == "stopped"


def test_acknowledged_escalation_stops_the_chain(runtime: Runtime, clock) -> None:  # type: ignore[no-untyped-def]
    from bot.sla.clocks import acknowledge

    runtime.config.sla.escalation.chain = ["manager", "C0HEADSALE"]
    [lead_id] = add_leads(runtime, 1)
    clock.set(datetime(2025, 4, 4, 8, 0, tzinfo=UTC))  # the deadline: the manager hears
    sweep(runtime)
    with runtime.db.transaction() as session:
        escalation = session.scalars(select(OutboxItem).where(OutboxItem.kind == "escalation")).one()
        clock_id = session.scalars(select(SlaClock.id).where(SlaClock.kind == "decision")).one()
    buttons = [e for b in escalation.payload["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons[0]["action_id"] == "escalation_acknowledge"
    assert buttons[0]["value"] == str(clock_id)

    with runtime.db.transaction() as session:
        assert acknowledge(session, runtime, clock_id=clock_id, user_id="U0PIETERJ1").status == "not_allowed"
    with runtime.db.transaction() as session:
        assert acknowledge(session, runtime, clock_id=clock_id, user_id=EVA).status == "done"
    with runtime.db.transaction() as session:
        again = acknowledge(session, runtime, clock_id=clock_id, user_id=EVA)
    assert (again.status, again.by) == ("already", EVA)

    clock.set(datetime(2025, 4, 10, 8, 0, tzinfo=UTC))  # long past the second step
    sweep(runtime)
    assert [kind for kind, _, _ in alerts(runtime)] == ["escalation"]  # the head of sales never heard
