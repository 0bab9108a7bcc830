"""SLA clocks: deadlines stored when a clock starts, and alerts swept from the database.

Each alert is enqueued once under a unique outbox key, however many sweeps run.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Insert, Row, Update, bindparam, func, insert, literal_column, null, select, union_all, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot import messages
from bot.lifecycle import Stage
from bot.outbox import enqueue
from storage.models import ClockPause, Lead, SlaClock

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

DECISION = "decision"
FIRST_CONTACT = "first_contact"
CADENCE = "cadence"
DISCOVERY_SCHEDULED = "discovery_scheduled"
DISCOVERY_COMPLETED = "discovery_completed"
SQL_DECISION = "sql_decision"
# The discovery notes of a lead returned to nurture without them, due the same working day.
NURTURE_NOTES = "nurture_notes"
MQL_CLOCKS = (DECISION, FIRST_CONTACT)
SAL_CLOCKS = (CADENCE, DISCOVERY_SCHEDULED, DISCOVERY_COMPLETED, SQL_DECISION)
SCHEDULE_CACHE_SIZE = 1024
# How long the clocks of an Accept may wait to switch (`start_waiting_sal_clocks`) before the clock process switches them.
WAITING_SAL_CLOCKS_GRACE = timedelta(seconds=60)
RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"
OPEN_STATUSES = (RUNNING, PAUSED)


def _hours(value: Decimal) -> timedelta:
    return timedelta(seconds=float(value) * 3600)


def decision_schedule(rt: Runtime, team_id: str | None, start: datetime, due: datetime) -> list[dict[str, Any]]:
    """Reminders before `due` and escalation steps after it, each at a working moment."""
    # An import starts many clocks at the same moment; the schedule depends only on these three.
    key = (team_id, start, due)
    cached = rt.schedule_cache.get(key)
    if cached is None:
        cached = _decision_schedule(rt, team_id, start, due)
        if len(rt.schedule_cache) >= SCHEDULE_CACHE_SIZE:
            rt.schedule_cache.clear()
        rt.schedule_cache[key] = cached
    return [dict(entry) for entry in cached]


def _decision_schedule(rt: Runtime, team_id: str | None, start: datetime, due: datetime) -> list[dict[str, Any]]:
    calendar = rt.calendar(team_id)
    policy = rt.config.sla
    total = calendar.working_time_between(start, due)
    reminder_times: set[datetime] = set()
    if policy.reminders.halfway and total > timedelta(0):
        reminder_times.add(calendar.add_working_time(start, total / 2))
    for hours in policy.reminders.before_due_working_hours:
        before = _hours(hours)
        if total > before:
            reminder_times.add(calendar.add_working_time(start, total - before))

    entries: list[dict[str, Any]] = []
    for at in sorted(reminder_times):
        entries.append({"at": calendar.next_working_moment(at).isoformat(), "kind": "reminder", "target": "rep"})
    escalate_at = due
    for target in policy.escalation.chain:
        entries.append({"at": escalate_at.isoformat(), "kind": "escalation", "target": target})
        escalate_at = calendar.add_working_time(escalate_at, _hours(policy.escalation.delay_working_hours))
    entries.sort(key=lambda entry: entry["at"])
    for step, entry in enumerate(entries):
        entry["step"] = step
    return entries


def start_clock(session: Session, rt: Runtime, lead: Lead, kind: str, *, start: datetime, due: datetime,
                first: bool = False) -> SlaClock:
    """Start one SLA clock of the lead with its alert schedule; a restart of the same kind is a new generation.

    Pass `first` when the lead has never had a clock of this kind; it saves two queries per lead in a large import.
    """
    generation = 1
    if not first:
        stop_clocks(session, lead.id, now=start, kinds=(kind,))
        generation += session.scalar(
            select(func.max(SlaClock.generation)).where(SlaClock.lead_id == lead.id, SlaClock.kind == kind)
        ) or 0
    clock = SlaClock(**clock_values(rt, lead_id=lead.id, team_id=lead.team_id, rep_email=lead.rep_email, kind=kind,
                                    start=start, due=due, generation=generation))
    session.add(clock)
    session.flush()
    return clock


def clock_values(rt: Runtime, *, lead_id: int, team_id: str | None, rep_email: str | None, kind: str,
                 start: datetime, due: datetime, generation: int = 1) -> dict[str, Any]:
    """Build the column values of a new running clock with its alert schedule, for a batched insert."""
    schedule = decision_schedule(rt, team_id, start, due)
    return {
        "lead_id": lead_id, "kind": kind, "generation": generation, "rep_email": rep_email, "started_at": start,
        "due_at": due, "status": RUNNING, "schedule": schedule, "next_step": 0,
        "next_alert_at": datetime.fromisoformat(schedule[0]["at"]) if schedule else None,
    }


def start_decision_clock(session: Session, rt: Runtime, lead: Lead, *, now: datetime, first: bool = False) -> SlaClock:
    """Start the clocks of a new MQL: the accept/reject decision and the first contact attempt."""
    assert lead.decision_due_at is not None
    if not first:
        stop_clocks(session, lead.id, now=now)
    if lead.first_contact_at is None:
        start_first_contact_clock(session, rt, lead, now=now, first=first)
    return start_clock(session, rt, lead, DECISION, start=now, due=lead.decision_due_at, first=first)


def start_first_contact_clock(session: Session, rt: Runtime, lead: Lead, *, now: datetime, first: bool = False) -> SlaClock:
    """Start, or restart for a new owner, the clock of the first contact attempt."""
    due = first_contact_due(rt, lead.team_id, now)
    return start_clock(session, rt, lead, FIRST_CONTACT, start=now, due=due, first=first)


def first_contact_due(rt: Runtime, team_id: str | None, now: datetime) -> datetime:
    return rt.calendar(team_id).add_working_time(now, _hours(rt.config.sla.first_contact_working_hours))


def end_of_working_day(rt: Runtime, team_id: str | None, now: datetime) -> datetime:
    """Return the end of the working day that `now` falls in, or of the next one when `now` is after hours."""
    calendar = rt.calendar(team_id)
    day = calendar.next_working_moment(now).astimezone(calendar.zone).date()
    return calendar.working_intervals(day)[-1][1]


def start_sal_clocks(session: Session, rt: Runtime, lead: Lead | Row[Any], *, now: datetime,
                     stop_kinds: tuple[str, ...] = ()) -> None:
    """Start the clocks of an accepted lead: touch cadence, discovery scheduled and discovery completed.

    The clocks of `stop_kinds` (e.g. the decision clock on Accept) are stopped in the same statement
    as the earlier generations of these clocks, because a click should cost as few statements as possible.
    """
    calendar = rt.calendar(lead.team_id)
    policy = rt.config.sla
    due: dict[str, datetime] = {}
    if (lead.contact_attempts or 0) < rt.config.sales.cadence.touches:
        due[CADENCE] = calendar.add_working_days(now, policy.cadence_working_days)
    if lead.discovery_date is None:
        due[DISCOVERY_SCHEDULED] = calendar.add_working_days(now, policy.discovery_scheduled_working_days)
    due[DISCOVERY_COMPLETED] = calendar.add_working_days(now, policy.discovery_completed_working_days)

    stop_clocks(session, lead.id, now=now, kinds=(*stop_kinds, *due))
    rows = [clock_values(rt, lead_id=lead.id, team_id=lead.team_id, rep_email=lead.rep_email, kind=kind, start=now,
                         due=deadline)
            for kind, deadline in due.items()]
    parameters = {
        f"new_{name}_{index}": value
        for index, row in enumerate(rows) for name, value in row.items() if name != "generation"
    }
    session.execute(_insert_next_generations(len(rows)), parameters)


def start_waiting_sal_clocks(session: Session, rt: Runtime, lead_id: int) -> bool:
    """Switch the clocks of an Accept that left them waiting (`Lead.sal_clocks_from`), as of the Accept's time.

    The Accept's decision clock stops and its SAL clocks start. Returns whether any waited. The
    lead row is locked first, also when nothing waits, so that of two processes only one switches
    them and a caller that goes on to change the lead or its clocks holds the lock. A lead that has
    left SAL meanwhile gets no SAL clocks, and a decision clock that it started after the Accept
    (it went back to MQL through nurture) keeps running.
    """
    # Locked by id alone: on PostgreSQL a condition on `sal_clocks_from` would be checked in this
    # transaction's snapshot, and so would neither wait for nor see an Accept that commits meanwhile.
    # Read as a row, so that a `Lead` the caller loaded keeps the version it read for its guarded UPDATE.
    lead = session.execute(select(*_SWITCH_COLUMNS).where(Lead.id == lead_id).with_for_update()).one_or_none()
    if lead is None or lead.sal_clocks_from is None:
        return False
    accepted_at = lead.sal_clocks_from
    # Not through `move`: the lead keeps its version, so the buttons on its card stay valid.
    session.execute(_CLEAR_WAITING, {"of_lead": lead_id})
    loaded = session.identity_map.get(session.identity_key(Lead, lead_id))
    if loaded is not None:
        set_committed_value(loaded, "sal_clocks_from", None)
    if lead.stage == Stage.SAL.value:
        # Any decision clock is older than this Accept: a newer one would have needed another Accept,
        # which sets `sal_clocks_from` anew.
        start_sal_clocks(session, rt, lead, now=accepted_at, stop_kinds=(DECISION,))
    else:
        stop_clocks(session, lead_id, now=accepted_at, kinds=(DECISION,), started_by=accepted_at)
    return True


def switch_waiting_clocks_of_clock(session: Session, rt: Runtime, clock_id: int) -> None:
    """Switch the clocks that an Accept left waiting on the lead of `clock_id`, before a control changes that clock.

    Otherwise a pause, resume or snooze could act on a decision clock that already stops as of the Accept.
    """
    lead_id = session.scalar(select(SlaClock.lead_id).where(SlaClock.id == clock_id))
    if lead_id is not None:
        start_waiting_sal_clocks(session, rt, lead_id)


def start_overdue_sal_clocks(rt: Runtime, *, limit: int = 500) -> int:
    """Switch the clocks of Accepts that have waited longer than WAITING_SAL_CLOCKS_GRACE, each lead in a transaction of its own.

    The click that leaves them waiting switches them right after its card update, so clocks wait
    longer only when the process stopped in between. The clock process calls this before every sweep.
    """
    cutoff = rt.clock.now() - WAITING_SAL_CLOCKS_GRACE
    with rt.db.transaction() as session:
        lead_ids = list(session.scalars(select(Lead.id).where(Lead.sal_clocks_from < cutoff)
                                        .order_by(Lead.sal_clocks_from).limit(limit)))
    started = 0
    for lead_id in lead_ids:
        try:
            with rt.db.transaction() as session:
                if start_waiting_sal_clocks(session, rt, lead_id):
                    started += 1
        except Exception:  # noqa: BLE001 - one lead's failure must not hold up the others or the sweep
            log.exception("sla.sal_clocks_failed lead=%s", lead_id)
    return started


def start_sql_decision_clock(session: Session, rt: Runtime, lead: Lead, *, now: datetime) -> None:
    """Start, or restart for a new date, the clock of the SQL decision after the discovery date."""
    assert lead.discovery_date is not None
    calendar = rt.calendar(lead.team_id)
    discovery_day = datetime.combine(lead.discovery_date, time(0), calendar.zone)
    due = calendar.add_working_days(calendar.next_working_moment(discovery_day), rt.config.sla.sql_decision_working_days)
    start_clock(session, rt, lead, SQL_DECISION, start=now, due=due)


def stop_clocks(session: Session, lead_id: int, *, now: datetime, kinds: tuple[str, ...] | None = None,
                started_by: datetime | None = None) -> None:
    """Stop the lead's running and paused clocks, or only those of `kinds`; a pause in progress ends with it.

    With `started_by` (and `kinds`), only the clocks started at or before that moment stop.
    """
    from bot.sla.pauses import end_pauses

    # A pause added in this session must be in the database for the UPDATE to see it.
    session.flush()
    # A Core UPDATE, cheaper than the ORM's bulk UPDATE. SlaClock objects loaded in the session keep their old status.
    if kinds is None:
        stopped = session.execute(_STOP_ALL, {"of_lead": lead_id, "now": now})
    elif started_by is not None:
        stopped = session.execute(_STOP_OF_KINDS_STARTED_BY,
                                  {"of_lead": lead_id, "now": now, "kinds": list(kinds), "started_by": started_by})
    else:
        stopped = session.execute(_STOP_OF_KINDS, {"of_lead": lead_id, "now": now, "kinds": list(kinds)})
    # Most stopped clocks have no pause in progress, and then the pauses need no statement of their own.
    paused = [clock_id for clock_id, pause_open in stopped if pause_open]
    if paused:
        end_pauses(session, paused, now=now)


def _stop_statement(*, of_kinds: bool, started_by: bool = False) -> Update:
    clocks, pauses = SlaClock.__table__, ClockPause.__table__
    conditions = [clocks.c.lead_id == bindparam("of_lead"), clocks.c.status.in_(OPEN_STATUSES)]
    if of_kinds:
        conditions.append(clocks.c.kind.in_(bindparam("kinds", expanding=True)))
    if started_by:
        conditions.append(clocks.c.started_at <= bindparam("started_by"))
    # Written out, because SQLAlchemy renders the columns of a RETURNING clause without their table,
    # and an unqualified `id` in the subquery would be the pause's own.
    pause_open = literal_column(
        f"EXISTS (SELECT 1 FROM {pauses.name} WHERE {pauses.name}.clock_id = {clocks.name}.id "
        f"AND {pauses.name}.ended_at IS NULL)"
    ).label("pause_open")
    return (
        update(clocks).where(*conditions).values(status=STOPPED, stopped_at=bindparam("now"), next_alert_at=null())
        .returning(clocks.c.id, pause_open)
    )


# Statements of every decision, built once: building one costs more than running it (see bot.transitions).
_STOP_ALL = _stop_statement(of_kinds=False)
_STOP_OF_KINDS = _stop_statement(of_kinds=True)
_STOP_OF_KINDS_STARTED_BY = _stop_statement(of_kinds=True, started_by=True)
_CLOCKS = SlaClock.__table__
# The lead columns that `start_waiting_sal_clocks` and `start_sal_clocks` read.
_SWITCH_COLUMNS = (Lead.id, Lead.stage, Lead.team_id, Lead.rep_email, Lead.contact_attempts, Lead.discovery_date,
                   Lead.sal_clocks_from)
# Clears the waiting SAL clocks of a lead, for `start_waiting_sal_clocks`.
_CLEAR_WAITING = update(Lead.__table__).where(Lead.__table__.c.id == bindparam("of_lead")).values(sal_clocks_from=None)


@functools.lru_cache(maxsize=8)
def _insert_next_generations(count: int) -> Insert:
    """Build one INSERT of `count` clocks, each of generation one more than the lead's latest of its kind.

    The values of row i are bound as `new_<column>_<i>`, so that no name clashes with a column of
    the INSERT. One statement instead of an executemany saves PostgreSQL a round trip per clock.
    """
    columns = [column for column in _CLOCKS.c if column.name not in ("id", "generation", "stopped_at", "breached_at",
                                                                      "acknowledged_by", "acknowledged_at")]
    rows = []
    for index in range(count):
        latest = (
            select(func.coalesce(func.max(_CLOCKS.c.generation), 0) + 1)
            .where(_CLOCKS.c.lead_id == bindparam(f"new_lead_id_{index}"),
                   _CLOCKS.c.kind == bindparam(f"new_kind_{index}"))
            .scalar_subquery()
        )
        values = [bindparam(f"new_{column.name}_{index}", type_=column.type) for column in columns]
        rows.append(select(*values, latest))
    source = rows[0] if count == 1 else union_all(*rows)
    return insert(_CLOCKS).from_select([*(column.name for column in columns), "generation"], source)


@dataclass
class SweepReport:
    due: int = 0
    enqueued: int = 0
    skipped: int = 0
    failed: int = 0


def sweep(rt: Runtime, *, limit: int = 500) -> SweepReport:
    """Turn every due alert into an outbox item, once, whatever else runs at the same time.

    Each clock is handled in its own transaction: a guarded UPDATE claims the
    step, and the outbox key (lead, clock, generation, step) is unique, so a
    second process or a restarted sweep cannot enqueue the same alert again.
    """
    now = rt.clock.now()
    report = SweepReport()
    with rt.db.transaction() as session:
        due = list(session.execute(
            select(SlaClock.id, SlaClock.next_step)
            .where(SlaClock.status == RUNNING, SlaClock.next_alert_at <= now, SlaClock.acknowledged_by.is_(None))
            .order_by(SlaClock.next_alert_at)
            .limit(limit)
        ))
    report.due = len(due)
    for clock_id, step in due:
        try:
            with rt.db.transaction() as session:
                enqueued = _fire_step(session, rt, clock_id, step, now)
            if enqueued:
                report.enqueued += 1
            else:
                report.skipped += 1
        except Exception:  # noqa: BLE001 - one lead's failure must not stop the sweep
            report.failed += 1
            log.exception("sla.sweep_failed clock=%s step=%s", clock_id, step)
    return report


def _fire_step(session: Session, rt: Runtime, clock_id: int, step: int, now: datetime) -> bool:
    """Claim every due step of one clock from `step` on and enqueue its alerts.

    A reminder that is already overtaken by a later due step (the clock process
    was down, or the night held it back) is skipped: the owner gets the newest
    alert, not a burst of stale ones. Escalations are never skipped.
    """
    clock = session.get(SlaClock, clock_id)
    if clock is None or clock.status != RUNNING or clock.next_step != step:
        return False
    # The lead is locked before the clock's claim below, as everywhere else. So on PostgreSQL an
    # Accept that commits meanwhile (it holds this lock) is seen here.
    lead = session.get(Lead, clock.lead_id, with_for_update=True)
    if lead is None:
        return False
    if clock.kind == DECISION and lead.sal_clocks_from is not None and clock.started_at <= lead.sal_clocks_from:
        # The lead was accepted. This clock stops as of the Accept when the lead's clocks switch: right
        # after the card update, or by the clock process after WAITING_SAL_CLOCKS_GRACE.
        return False
    schedule = clock.schedule
    due_steps = [entry for entry in schedule[step:] if datetime.fromisoformat(entry["at"]) <= now]
    if not due_steps:
        return False
    last = due_steps[-1]["step"]
    following = schedule[last + 1]["at"] if last + 1 < len(schedule) else None
    values: dict[str, Any] = {
        "next_step": last + 1,
        "next_alert_at": datetime.fromisoformat(following) if following else None,
    }
    if clock.breached_at is None and any(entry["kind"] == "escalation" for entry in due_steps):
        values["breached_at"] = now
    claimed = session.execute(
        update(SlaClock)
        .where(SlaClock.id == clock_id, SlaClock.next_step == step, SlaClock.status == RUNNING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return False
    if "breached_at" in values and rt.config.sla.auto_reassigns(lead.team_id, clock.kind):
        from bot.sla.reassign import auto_reassign

        # The claim above lets one sweep only get here for this step, so the lead changes hands once.
        if auto_reassign(session, rt, lead, clock, due_steps, now=now):
            return True
    enqueued = False
    for entry in due_steps:
        overtaken = entry["kind"] == "reminder" and entry["step"] != last
        if not overtaken:
            enqueued = _enqueue_alert(session, rt, lead, clock, entry, now) or enqueued
    return enqueued


def _enqueue_alert(session: Session, rt: Runtime, lead: Lead, clock: SlaClock, entry: dict[str, Any], now: datetime) -> bool:
    from bot.preferences import user_language
    from bot.views import lead_view

    rep = rt.config.rep(clock.rep_email)
    if rep is None:
        log.warning("sla.no_rep lead=%s clock=%s: the rep is no longer configured", lead.id, clock.id)
        return False
    key = f"sla:{lead.id}:{clock.kind}:{clock.generation}:{entry['step']}"
    if entry["kind"] == "reminder":
        language = user_language(session, rt.config, rt.settings.default_language, rep.slack_user_id)
        message = messages.reminder(lead_view(lead, rt.config, language), language, rt.timezone_of(rep),
                                    kind=clock.kind, due=clock.due_at, clock_id=clock.id, step=entry["step"])
        channel = rep.slack_user_id
    else:
        channel, person = _escalation_target(rt, rep, entry["target"])
        if channel is None:
            log.warning("sla.no_escalation_target lead=%s target=%s", lead.id, entry["target"])
            return False
        language = user_language(session, rt.config, rt.settings.default_language, person.slack_user_id if person else None)
        step_number = 1 + sum(1 for e in clock.schedule[: entry["step"]] if e["kind"] == "escalation")
        others = [(r.name, r.email) for r in rt.config.reps if r.active and r.email != rep.email and r.team == rep.team]
        others += [(r.name, r.email) for r in rt.config.reps if r.active and r.email != rep.email and r.team != rep.team]
        message = messages.escalation(lead_view(lead, rt.config, language), rep.slack_user_id, step_number, language,
                                      rt.timezone_of(person or rep), reassign_to=others, kind=clock.kind,
                                      due=clock.due_at, clock_id=clock.id)
    return enqueue(session, key=key, kind=entry["kind"], method="chat.postMessage",
                   payload={"channel": channel, **message.to_payload()}, now=now, lead_id=lead.id)


def _escalation_target(rt: Runtime, rep: Any, target: str) -> tuple[str | None, Any]:
    if target == "manager":
        manager = rt.config.manager_of(rep)
        return (manager.slack_user_id, manager) if manager else (None, None)
    person = rt.config.person(target)
    if person is not None:
        return person.slack_user_id, person
    if target.startswith(("C", "G")):
        return target, None
    return None, None


@dataclass(frozen=True)
class AcknowledgeResult:
    status: str  # done, already, not_allowed, not_found
    by: str | None = None


def acknowledge(session: Session, rt: Runtime, *, clock_id: int, user_id: str) -> AcknowledgeResult:
    """Record that a manager saw a breach; the escalation chain then stops rising, once.

    The rep's manager, a person named in the chain, or an admin may acknowledge.
    """
    clock = session.get(SlaClock, clock_id)
    if clock is None:
        return AcknowledgeResult("not_found")
    rep = rt.config.rep(clock.rep_email)
    manager = rt.config.manager_of(rep) if rep else None
    chain_people = {rt.config.person(target).slack_user_id for target in rt.config.sla.escalation.chain
                    if rt.config.person(target) is not None}
    allowed = set(rt.config.admins) | chain_people | ({manager.slack_user_id} if manager else set())
    if user_id not in allowed:
        return AcknowledgeResult("not_allowed")
    claimed = session.execute(
        update(SlaClock).where(SlaClock.id == clock_id, SlaClock.acknowledged_by.is_(None))
        .values(acknowledged_by=user_id, acknowledged_at=rt.clock.now(), next_alert_at=None)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        session.refresh(clock)
        return AcknowledgeResult("already", clock.acknowledged_by)
    log.info("sla.acknowledged clock=%s lead=%s by=%s", clock_id, clock.lead_id, user_id)
    return AcknowledgeResult("done", user_id)
