"""The owner's controls on a clock: snooze its next reminder, pause it with a reason, resume it.

A snooze moves only reminders: the deadline and the escalation steps stay where they are.
A paused clock sends no alert. On resume its deadline and unsent steps move later by the
working time it was paused, so the owner loses no working time to the pause.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.messages import SNOOZE_CHOICES
from bot.sla.clocks import switch_waiting_clocks_of_clock
from storage.models import ClockPause, ClockSnooze, Lead, SlaClock

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

PAUSE_REASONS = ("waiting_for_customer", "customer_out_of_office", "other")
NOTE_LIMIT = 3000

Status = Literal["done", "already", "not_allowed", "not_found", "not_running", "breached", "invalid", "nothing_due"]


@dataclass(frozen=True)
class ControlResult:
    """Outcome of a snooze, pause or resume: `until` is the snoozed reminder's new time, `paused` the resumed pause."""

    status: Status
    clock: SlaClock | None = None
    until: datetime | None = None
    paused: timedelta | None = None


def _owner_id(rt: Runtime, clock: SlaClock) -> str | None:
    rep = rt.config.rep(clock.rep_email)
    return rep.slack_user_id if rep is not None else None


def _lead_team(session: Session, clock: SlaClock) -> str | None:
    return session.scalar(select(Lead.team_id).where(Lead.id == clock.lead_id))


# Snooze -------------------------------------------------------------------------------------


def snooze_until(rt: Runtime, team_id: str | None, choice: str, now: datetime) -> datetime:
    """Return the working moment a snooze of `choice` lasts until, in the team's calendar."""
    calendar = rt.calendar(team_id)
    if choice == "hour":
        return calendar.next_working_moment(calendar.add_working_time(calendar.next_working_moment(now), timedelta(hours=1)))
    if choice == "morning":
        tomorrow = now.astimezone(calendar.zone).date() + timedelta(days=1)
        return calendar.next_working_moment(datetime.combine(tomorrow, time(0), calendar.zone))
    if choice == "day":
        return calendar.next_working_moment(calendar.add_working_days(now, 1))
    raise ValueError(f"invalid snooze choice {choice!r}: use one of {', '.join(SNOOZE_CHOICES)}")


def snoozed_schedule(schedule: list[dict[str, Any]], next_step: int, until: datetime) -> list[dict[str, Any]]:
    """Move the unsent reminders before `until` to one reminder at `until`, keeping every escalation.

    When `until` is at or after the first unsent escalation, those reminders are dropped instead:
    a snooze never pushes a reminder past the deadline.
    """
    sent = [dict(entry) for entry in schedule[:next_step]]
    pending = [dict(entry) for entry in schedule[next_step:]]
    escalations = [datetime.fromisoformat(entry["at"]) for entry in pending if entry["kind"] == "escalation"]
    first_escalation = min(escalations) if escalations else None
    kept = [entry for entry in pending
            if not (entry["kind"] == "reminder" and datetime.fromisoformat(entry["at"]) < until)]
    if first_escalation is None or until < first_escalation:
        kept.append({"at": until.isoformat(), "kind": "reminder", "target": "rep", "snoozed": True})
    kept.sort(key=lambda entry: datetime.fromisoformat(entry["at"]))
    for offset, entry in enumerate(kept):
        entry["step"] = next_step + offset
    return sent + kept


def snooze(session: Session, rt: Runtime, *, clock_id: int, step: int, user_id: str, choice: str) -> ControlResult:
    """Postpone the clock's next reminder for the owner who received reminder `step`; once per reminder."""
    if choice not in SNOOZE_CHOICES:
        return ControlResult("invalid")
    switch_waiting_clocks_of_clock(session, rt, clock_id)
    clock = session.get(SlaClock, clock_id)
    if clock is None:
        return ControlResult("not_found")
    if _owner_id(rt, clock) != user_id:
        return ControlResult("not_allowed", clock)
    existing = session.scalar(select(ClockSnooze).where(ClockSnooze.clock_id == clock_id, ClockSnooze.step == step))
    if existing is not None:
        return ControlResult("already", clock, existing.until)
    if clock.status != "running":
        return ControlResult("not_running", clock)

    now = rt.clock.now()
    until = snooze_until(rt, _lead_team(session, clock), choice, now)
    schedule = snoozed_schedule(clock.schedule, clock.next_step, until)
    following = schedule[clock.next_step]["at"] if clock.next_step < len(schedule) else None

    # The unique (clock, step) row makes a repeated click record nothing new.
    try:
        with session.begin_nested():
            session.add(ClockSnooze(clock_id=clock_id, step=step, snoozed_by=user_id, snoozed_at=now, choice=choice,
                                    until=until))
            session.flush()
    except IntegrityError:
        session.expire_all()
        again = session.scalar(select(ClockSnooze).where(ClockSnooze.clock_id == clock_id, ClockSnooze.step == step))
        return ControlResult("already", clock, again.until if again else None)

    claimed = session.execute(
        update(SlaClock)
        .where(SlaClock.id == clock_id, SlaClock.status == "running", SlaClock.next_step == clock.next_step)
        .values(schedule=schedule, next_alert_at=datetime.fromisoformat(following) if following else None)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        # A sweep sent a step meanwhile; the caller's transaction rolls back, and a new click tries again.
        raise StaleClock(f"clock {clock_id} changed while it was snoozed")
    session.refresh(clock)
    log.info("sla.snoozed clock=%s lead=%s step=%s choice=%s", clock_id, clock.lead_id, step, choice)
    return ControlResult("done", clock, until)


class StaleClock(Exception):
    """The clock changed between reading and writing it: a sweep or another click got there first."""


# Pause and resume ---------------------------------------------------------------------------


def pause(session: Session, rt: Runtime, *, clock_id: int, user_id: str, reason: str, note: str | None) -> ControlResult:
    """Pause a running clock for its owner, with a reason; a breached clock keeps escalating."""
    switch_waiting_clocks_of_clock(session, rt, clock_id)
    clock = session.get(SlaClock, clock_id)
    if clock is None:
        return ControlResult("not_found")
    if _owner_id(rt, clock) != user_id:
        return ControlResult("not_allowed", clock)
    if reason not in PAUSE_REASONS or (reason == "other" and not (note or "").strip()):
        return ControlResult("invalid", clock)
    if clock.status == "paused":
        return ControlResult("already", clock)
    if clock.status != "running":
        return ControlResult("not_running", clock)
    if clock.breached_at is not None:
        return ControlResult("breached", clock)
    now = rt.clock.now()
    # A decision, and the switch of a click's Accept, lock the lead row before they stop the lead's
    # clocks. `switch_waiting_clocks_of_clock` above has taken that lock, so a concurrent decision
    # starts its stopping UPDATE after this pause commits, and that UPDATE reads the pause and ends
    # it. Without the lock, a decision on PostgreSQL could stop the clock and leave the pause open,
    # because its snapshot predates the pause.
    claimed = session.execute(
        update(SlaClock).where(SlaClock.id == clock_id, SlaClock.status == "running")
        .values(status="paused", next_alert_at=None).execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        session.refresh(clock)
        return ControlResult("already" if clock.status == "paused" else "not_running", clock)
    session.add(ClockPause(clock_id=clock_id, lead_id=clock.lead_id, paused_by=user_id, paused_at=now, reason=reason,
                           note=(note or "").strip()[:NOTE_LIMIT] or None))
    session.flush()
    session.refresh(clock)
    log.info("sla.paused clock=%s lead=%s reason=%s", clock_id, clock.lead_id, reason)
    return ControlResult("done", clock)


def may_resume(rt: Runtime, clock: SlaClock, user_id: str) -> bool:
    """Return whether `user_id` is the clock's owner, the owner's manager or an admin."""
    if user_id in rt.config.admins or user_id == _owner_id(rt, clock):
        return True
    rep = rt.config.rep(clock.rep_email)
    manager = rt.config.manager_of(rep) if rep is not None else None
    return manager is not None and manager.slack_user_id == user_id


def resume(session: Session, rt: Runtime, *, clock_id: int, user_id: str) -> ControlResult:
    """Restart a paused clock, moving its deadline and unsent alerts on by the paused working time."""
    switch_waiting_clocks_of_clock(session, rt, clock_id)
    clock = session.get(SlaClock, clock_id)
    if clock is None:
        return ControlResult("not_found")
    if not may_resume(rt, clock, user_id):
        return ControlResult("not_allowed", clock)
    if clock.status != "paused":
        return ControlResult("already" if clock.status == "running" else "not_running", clock)
    pause_row = session.scalar(select(ClockPause).where(ClockPause.clock_id == clock_id, ClockPause.ended_at.is_(None)))
    now = rt.clock.now()
    calendar = rt.calendar(_lead_team(session, clock))
    paused = calendar.working_time_between(pause_row.paused_at, now) if pause_row is not None else timedelta(0)

    def shifted(moment: datetime) -> datetime:
        return calendar.add_working_time(moment, paused) if paused else moment

    schedule = [dict(entry) for entry in clock.schedule]
    for entry in schedule[clock.next_step:]:
        moment = shifted(datetime.fromisoformat(entry["at"]))
        entry["at"] = (calendar.next_working_moment(moment) if entry["kind"] == "reminder" else moment).isoformat()
    following = schedule[clock.next_step]["at"] if clock.next_step < len(schedule) else None
    claimed = session.execute(
        update(SlaClock).where(SlaClock.id == clock_id, SlaClock.status == "paused")
        .values(status="running", due_at=shifted(clock.due_at), schedule=schedule,
                next_alert_at=datetime.fromisoformat(following) if following and clock.acknowledged_by is None else None)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return ControlResult("already", clock)
    if pause_row is not None:
        pause_row.ended_at = now
        pause_row.ended_by = user_id
        pause_row.paused_working_seconds = int(paused.total_seconds())
    session.flush()
    session.refresh(clock)
    log.info("sla.resumed clock=%s lead=%s paused_s=%s", clock_id, clock.lead_id, int(paused.total_seconds()))
    return ControlResult("done", clock, paused=paused)


def end_pauses(session: Session, clock_ids: list[int], *, now: datetime) -> None:
    """End the pauses in progress of clocks that are being stopped, e.g. on a decision.

    `paused_working_seconds` stays empty here because no calendar is at hand; reports measure such a pause
    from `paused_at` and `ended_at`.
    """
    pauses = ClockPause.__table__
    session.execute(
        update(pauses).where(pauses.c.clock_id.in_(clock_ids), pauses.c.ended_at.is_(None))
        .values(ended_at=now, ended_by="system")
    )
    # ClockPause rows already loaded in this session would show the old values otherwise.
    for loaded in [obj for obj in session.identity_map.values() if isinstance(obj, ClockPause)]:
        session.expire(loaded, ["ended_at", "ended_by"])


def paused_working_time(rt: Runtime, team_id: str | None, pause_row: ClockPause, now: datetime) -> timedelta:
    """Return the working time of one pause, up to `now` while it lasts."""
    if pause_row.paused_working_seconds is not None:
        return timedelta(seconds=pause_row.paused_working_seconds)
    return rt.calendar(team_id).working_time_between(pause_row.paused_at, pause_row.ended_at or now)
