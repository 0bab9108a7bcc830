"""Property tests: no sequence of actions reaches a forbidden stage or loses a history entry.

A hypothesis state machine drives random leads through intake, decisions, the sales steps,
reassignment, clock advances and re-engagement, on SQLite and on PostgreSQL. After every
step it reads every lead with its `lead_transitions` history and checks that:

1. consecutive history rows chain (a row's `from_stage` is the previous row's `to_stage`);
2. every row is a change that `ALLOWED_TRANSITIONS` allows or a same-stage event;
3. the last row's `to_stage` is the lead's `stage`;
4. every row seen before is still there, unchanged, in the same order;
5. `version` is 1 plus the number of rows after the creation row, because
   `bot.transitions.move` adds 1 to the version on every call (same-stage events
   included) and writes exactly one row, while creation writes a row at version 1;
6. a refused action (not allowed, wrong stage, stale version, invalid input) changes no
   lead's stage, version or history, and a successful one appends exactly the row the
   step expects, to the lead it acted on and no other.

The machine also predicts each action's outcome (done or refused) from its own model of
the leads and checks it against what the action returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from bot.clock import FixedClock
from bot.handoff import RejectionInput, decide, ingest
from bot.intake.model import LeadInput
from bot.lifecycle import (
    ALLOWED_TRANSITIONS,
    BANT_CRITERIA,
    MEDDIC_CRITERIA,
    NEXT_ACTION_STAGE,
    ContactChannel,
    RejectionReason,
    Stage,
)
from bot.nurture import reengage_due
from bot.runtime import Runtime
from bot.sales import (
    DiscoveryInput,
    complete_discovery,
    log_contact,
    mark_opportunity,
    record_outcome,
    reassign,
    return_to_nurture,
    schedule_discovery,
)
from factories import lead_input
from storage.db import Database
from storage.models import Base, Lead, LeadTransition
from support import START

# External ids HS-1 … HS-4: few enough that later actions often hit a lead that already exists.
LEAD_POOL = 4
UNKNOWN_USER = "U0NOBODY01"
# How an ingested lead looks against the example criteria (fit: 50–1000 employees, Packaging, NL/BE/LU;
# engagement: score 50 or one high-intent action, with activity in the last 30 days).
INGEST_KINDS = ("qualifying", "not_engaged", "stale_activity", "not_fit")
# Who performs an action, relative to the lead's assigned rep.
ROLES = ("rep", "manager", "peer", "other_manager", "unknown")
CLOCK_STEPS = (
    timedelta(minutes=30), timedelta(hours=4), timedelta(hours=15), timedelta(days=1), timedelta(days=3),
    timedelta(days=10), timedelta(days=31), timedelta(days=91),
)
OPEN_STAGES = {Stage.MQL.value, Stage.SAL.value, Stage.SQL.value, Stage.OPPORTUNITY.value}
RECENT_DAYS = 30

SETTINGS = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Row:
    """One `lead_transitions` row, with every column the history must keep unchanged."""

    id: int
    at: datetime
    actor: str
    from_stage: str | None
    to_stage: str
    reason: str
    details: dict[str, Any]


@dataclass(frozen=True)
class LeadState:
    """A lead's columns that the actions read or change, with its whole history."""

    id: int
    stage: str
    version: int
    rep_email: str | None
    team_id: str | None
    nurture_until: date | None
    opportunity_ref: str | None
    history: tuple[Row, ...]


@dataclass(frozen=True)
class Ingested:
    """The last data sent for a lead: what kind it was and when, which decides re-engagement."""

    kind: str
    at: datetime


def read_state(db: Database) -> dict[int, LeadState]:
    with db.transaction() as session:
        rows: dict[int, list[Row]] = {}
        for item in session.scalars(select(LeadTransition).order_by(LeadTransition.id)):
            rows.setdefault(item.lead_id, []).append(
                Row(item.id, item.at, item.actor, item.from_stage, item.to_stage, item.reason, dict(item.details))
            )
        return {
            lead.id: LeadState(lead.id, lead.stage, lead.version, lead.rep_email, lead.team_id, lead.nurture_until,
                               lead.opportunity_ref, tuple(rows.get(lead.id, ())))
            for lead in session.scalars(select(Lead).order_by(Lead.id))
        }


def reset_database(db: Database) -> None:
    with db.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


def build_input(number: int, kind: str, now: datetime, country: str, owner: str | None) -> LeadInput:
    if kind == "qualifying":
        return lead_input(number, at=now, country=country, owner_email=owner)
    if kind == "not_engaged":
        return lead_input(number, at=now, country=country, owner_email=owner, lead_score=None)
    if kind == "stale_activity":
        return lead_input(number, at=now - timedelta(days=RECENT_DAYS + 30), country=country, owner_email=owner)
    return lead_input(number, at=now, country=country, owner_email=owner, employees=5)


class LifecycleMachine(RuleBasedStateMachine):
    """Random actions on a few leads; the runtime is set by the test that runs the machine."""

    rt: Runtime

    def __init__(self) -> None:
        super().__init__()
        reset_database(self.rt.db)
        assert isinstance(self.rt.clock, FixedClock)
        self.clock: FixedClock = self.rt.clock
        self.clock.set(START)
        self.lead_ids: dict[int, int] = {}  # external number -> lead id
        self.ingested: dict[int, Ingested] = {}  # lead id -> last data sent
        self.seen: dict[int, tuple[Row, ...]] = {}  # lead id -> history at the previous check
        self.contact_keys: list[str] = []

    # Helpers --------------------------------------------------------------------------------

    def pick(self, index: int) -> LeadState:
        ids = sorted(self.lead_ids.values())
        return read_state(self.rt.db)[ids[index % len(ids)]]

    def actor(self, lead: LeadState, role: str) -> tuple[str, bool, bool]:
        """Return the Slack user for `role` on `lead`, whether they may act, and whether they manage the rep."""
        config = self.rt.config
        rep = config.rep(lead.rep_email)
        manager = config.manager_of(rep) if rep is not None else None
        if role == "rep" and rep is not None:
            return rep.slack_user_id, True, False
        if role == "manager" and manager is not None:
            return manager.slack_user_id, True, True
        if role == "peer":
            peer = next(r for r in config.reps if rep is None or r.email != rep.email)
            return peer.slack_user_id, False, False
        if role == "other_manager":
            other = next(m for m in config.managers if manager is None or m.email != manager.email)
            return other.slack_user_id, False, False
        return UNKNOWN_USER, False, False

    def local_today(self, lead: LeadState) -> date:
        return self.clock.now().astimezone(self.rt.calendar(lead.team_id).zone).date()

    def check_step(self, before: dict[int, LeadState], expected: dict[int, frozenset[str]]) -> dict[int, LeadState]:
        """Check that exactly the leads in `expected` gained one row each, to one of the given stages.

        Every other lead keeps its stage, version and history, which is what a refused action must do.
        """
        after = read_state(self.rt.db)
        assert set(before) <= set(after), f"leads disappeared: {sorted(set(before) - set(after))}"
        now = self.clock.now()
        for lead_id, old in before.items():
            new = after[lead_id]
            if lead_id not in expected:
                assert new.stage == old.stage, f"lead {lead_id}: stage {old.stage} -> {new.stage} without a change"
                assert new.version == old.version, f"lead {lead_id}: version {old.version} -> {new.version}"
                assert new.history == old.history, f"lead {lead_id}: history changed: {new.history[len(old.history):]}"
                continue
            added = new.history[len(old.history):]
            assert new.history[: len(old.history)] == old.history, f"lead {lead_id}: earlier history rewritten"
            assert len(added) == 1, f"lead {lead_id}: expected one new history row, got {added}"
            assert added[0].to_stage in expected[lead_id], (
                f"lead {lead_id}: moved to {added[0].to_stage}, expected one of {sorted(expected[lead_id])}"
            )
            assert added[0].at == now, f"lead {lead_id}: row time {added[0].at} is not the clock's {now}"
            assert new.version == old.version + 1, f"lead {lead_id}: version {old.version} -> {new.version}"
        return after

    # Intake ---------------------------------------------------------------------------------

    @rule(number=st.integers(1, LEAD_POOL), kind=st.sampled_from(INGEST_KINDS),
          country=st.sampled_from(["NL", "BE", "LU"]),
          owner=st.sampled_from([None, "sanne.devries@handoff-demo.nl", "pieter.janssens@handoff-demo.be"]))
    def ingest_lead(self, number: int, kind: str, country: str, owner: str | None) -> None:
        before = read_state(self.rt.db)
        now = self.clock.now()
        with self.rt.db.transaction() as session:
            result = ingest(session, self.rt, build_input(number, kind, now, country, owner), actor="test")
        self.ingested[result.lead_id] = Ingested(kind, now)

        if number not in self.lead_ids:
            assert result.created, f"HS-{number} was never ingested, yet ingest updated lead {result.lead_id}"
            assert result.lead_id not in before
            self.lead_ids[number] = result.lead_id
            after = self.check_step(before, {})
            history = after[result.lead_id].history
            assert history[0].from_stage is None and history[0].to_stage == Stage.RAW.value
            assert history[0].reason == "created"
            expected_stage = {"qualifying": "mql", "not_engaged": "nurture", "stale_activity": "nurture",
                              "not_fit": "raw"}[kind]
            assert after[result.lead_id].stage == expected_stage
            assert len(history) == (1 if expected_stage == "raw" else 2)
            return

        assert not result.created, f"HS-{number} is lead {self.lead_ids[number]}, yet ingest created another"
        assert result.lead_id == self.lead_ids[number]
        old = before[result.lead_id]
        awaiting = old.stage == Stage.RAW.value or (old.stage == Stage.NURTURE.value and old.nurture_until is None)
        expected: dict[int, frozenset[str]] = {}
        if awaiting and kind == "qualifying":
            expected[result.lead_id] = frozenset({Stage.MQL.value})
        elif awaiting and kind in ("not_engaged", "stale_activity") and old.stage == Stage.RAW.value:
            expected[result.lead_id] = frozenset({Stage.NURTURE.value})
        self.check_step(before, expected)

    # The MQL decision -----------------------------------------------------------------------

    @precondition(lambda self: self.lead_ids)
    @rule(index=st.integers(0, LEAD_POOL - 1), role=st.sampled_from(ROLES), version_offset=st.sampled_from([0, 0, -1, 1]),
          accept=st.booleans(), reason=st.sampled_from(list(RejectionReason)), note=st.sampled_from([None, "Zie CRM"]),
          reroute_to=st.sampled_from([None, "sanne.devries@handoff-demo.nl", "daan.bakker@handoff-demo.nl",
                                      "lotte.peeters@handoff-demo.be"]),
          nurture_days=st.sampled_from([None, 1, 5, 40]), duplicate_index=st.integers(0, LEAD_POOL - 1))
    def decide_lead(self, index: int, role: str, version_offset: int, accept: bool, reason: RejectionReason,
                    note: str | None, reroute_to: str | None, nurture_days: int | None, duplicate_index: int) -> None:
        lead = self.pick(index)
        user, allowed, _ = self.actor(lead, role)
        version = lead.version + version_offset
        rejection = None
        if not accept:
            others = sorted(set(self.lead_ids.values()) - {lead.id})
            rejection = RejectionInput(
                reason=reason,
                note=note if reason is not RejectionReason.OTHER else "Geen interesse meer",
                reroute_to=reroute_to,
                nurture_until=None if nurture_days is None else self.clock.now().date() + timedelta(days=nurture_days),
                duplicate_of=others[duplicate_index % len(others)] if reason is RejectionReason.DUPLICATE and others else None,
            )
        before = read_state(self.rt.db)

        with self.rt.db.transaction() as session:
            outcome = decide(session, self.rt, lead_id=lead.id, version=version, user_id=user, accept=accept,
                             rejection=rejection)

        should_act = allowed and lead.stage == Stage.MQL.value and version_offset == 0
        event(f"decide: {outcome.status}")
        assert (outcome.status == "done") == should_act, (
            f"decide by {role} on a {lead.stage} lead, card version {version} of {lead.version}: {outcome.status}"
        )
        if not should_act:
            self.check_step(before, {})
            return
        if accept:
            target = Stage.SAL.value
        else:
            target = NEXT_ACTION_STAGE[self.rt.config.rejections.next_actions[reason]].value
        after = self.check_step(before, {lead.id: frozenset({target})})
        assert after[lead.id].stage == target

    # Sales steps ----------------------------------------------------------------------------

    @precondition(lambda self: self.lead_ids)
    @rule(index=st.integers(0, LEAD_POOL - 1), role=st.sampled_from(ROLES), channel=st.sampled_from(list(ContactChannel)),
          repeat=st.booleans())
    def log_contact_attempt(self, index: int, role: str, channel: ContactChannel, repeat: bool) -> None:
        lead = self.pick(index)
        user, allowed, _ = self.actor(lead, role)
        if repeat and self.contact_keys:
            key = self.contact_keys[-1]
        else:
            key = f"contact-{len(self.contact_keys) + 1}"
            self.contact_keys.append(key)
        before = read_state(self.rt.db)

        with self.rt.db.transaction() as session:
            result = log_contact(session, self.rt, lead_id=lead.id, user_id=user, channel=channel, note=None,
                                 request_key=key)

        should_act = allowed and lead.stage in (Stage.MQL.value, Stage.SAL.value)
        event(f"log contact: {result.status}")
        assert result.done == should_act, f"log contact by {role} on a {lead.stage} lead: {result.status}"
        # A contact attempt is not a stage event: it leaves the version and the history alone.
        self.check_step(before, {})

    @precondition(lambda self: self.lead_ids)
    @rule(index=st.integers(0, LEAD_POOL - 1), role=st.sampled_from(ROLES), offset=st.integers(-2, 14))
    def schedule_discovery_call(self, index: int, role: str, offset: int) -> None:
        lead = self.pick(index)
        user, allowed, _ = self.actor(lead, role)
        day = self.local_today(lead) + timedelta(days=offset)
        before = read_state(self.rt.db)

        with self.rt.db.transaction() as session:
            result = schedule_discovery(session, self.rt, lead_id=lead.id, user_id=user, day=day)

        should_act = allowed and lead.stage == Stage.SAL.value and offset >= 0
        event(f"schedule discovery: {result.status}")
        assert result.done == should_act, f"schedule discovery by {role} on a {lead.stage} lead, day {offset:+}: {result.status}"
        self.check_step(before, {lead.id: frozenset({Stage.SAL.value})} if should_act else {})

    @precondition(lambda self: self.lead_ids)
    @rule(index=st.integers(0, LEAD_POOL - 1), role=st.sampled_from(ROLES),
          met=st.lists(st.booleans(), min_size=len(MEDDIC_CRITERIA), max_size=len(MEDDIC_CRITERIA)),
          next_steps=st.sampled_from(["", "  ", "Demo op kantoor"]), reference=st.sampled_from(["", " ", "OPP-1"]))
    def complete_discovery_call(self, index: int, role: str, met: list[bool], next_steps: str, reference: str) -> None:
        lead = self.pick(index)
        user, allowed, _ = self.actor(lead, role)
        methodology = self.rt.config.methodology(lead.team_id)
        criteria = BANT_CRITERIA if methodology == "bant" else MEDDIC_CRITERIA
        needed = self.rt.config.sales.bant_min_met if methodology == "bant" else self.rt.config.sales.meddic_min_met
        answers = DiscoveryInput(met=dict(zip(criteria, met, strict=False)), notes={}, next_steps=next_steps,
                                 opportunity_ref=reference)
        before = read_state(self.rt.db)

        with self.rt.db.transaction() as session:
            result = complete_discovery(session, self.rt, lead_id=lead.id, user_id=user, answers=answers)

        valid = sum(met[: len(criteria)]) >= needed and bool(next_steps.strip()) and bool(reference.strip())
        should_act = allowed and lead.stage == Stage.SAL.value and valid
        event(f"complete discovery: {result.status}")
        assert result.done == should_act, (
            f"complete discovery by {role} on a {lead.stage} lead, {sum(met[: len(criteria)])} met, "
            f"next steps {next_steps!r}, reference {reference!r}: {result.status}"
        )
        self.check_step(before, {lead.id: frozenset({Stage.SQL.value})} if should_act else {})

    @precondition(lambda self: self.lead_ids)
    @rule(index=st.integers(0, LEAD_POOL - 1), role=st.sampled_from(ROLES), offset=st.integers(-1, 60),
          reason=st.sampled_from(["", "Budget pas volgend jaar"]))
    def return_lead_to_nurture(self, index: int, role: str, offset: int, reason: str) -> None:
        lead = self.pick(index)
        user, allowed, _ = self.actor(lead, role)
        until = self.local_today(lead) + timedelta(days=offset)
        before = read_state(self.rt.db)

        with self.rt.db.transaction() as session:
            result = return_to_nurture(session, self.rt, lead_id=lead.id, user_id=user, reason=reason, until=until,
                                       notes="Notities van discovery")

        should_act = allowed and lead.stage in (Stage.SAL.value, Stage.SQL.value) and offset > 0 and bool(reason)
        event(f"return to nurture: {result.status}")
        assert result.done == should_act, (
            f"return to nurture by {role} on a {lead.stage} lead, date {offset:+}, reason {reason!r}: {result.status}"
        )
        self.check_step(before, {lead.id: frozenset({Stage.NURTURE.value})} if should_act else {})

    @precondition(lambda self: self.lead_ids)
    @rule(index=st.integers(0, LEAD_POOL - 1), role=st.sampled_from(ROLES), reference=st.sampled_from([None, "OPP-2"]))
    def create_opportunity(self, index: int, role: str, reference: str | None) -> None:
        lead = self.pick(index)
        user, allowed, _ = self.actor(lead, role)
        before = read_state(self.rt.db)

        with self.rt.db.transaction() as session:
            result = mark_opportunity(session, self.rt, lead_id=lead.id, user_id=user, reference=reference)

        valid = bool((reference or lead.opportunity_ref or "").strip())
        should_act = allowed and lead.stage == Stage.SQL.value and valid
        event(f"create opportunity: {result.status}")
        assert result.done == should_act, f"create opportunity by {role} on a {lead.stage} lead: {result.status}"
        self.check_step(before, {lead.id: frozenset({Stage.OPPORTUNITY.value})} if should_act else {})

    @precondition(lambda self: self.lead_ids)
    @rule(index=st.integers(0, LEAD_POOL - 1), role=st.sampled_from(ROLES), won=st.booleans())
    def close_opportunity(self, index: int, role: str, won: bool) -> None:
        lead = self.pick(index)
        user, allowed, _ = self.actor(lead, role)
        before = read_state(self.rt.db)

        with self.rt.db.transaction() as session:
            result = record_outcome(session, self.rt, lead_id=lead.id, user_id=user, won=won)

        should_act = allowed and lead.stage == Stage.OPPORTUNITY.value
        event(f"record outcome: {result.status}")
        assert result.done == should_act, f"record outcome by {role} on a {lead.stage} lead: {result.status}"
        target = Stage.WON.value if won else Stage.LOST.value
        self.check_step(before, {lead.id: frozenset({target})} if should_act else {})

    @precondition(lambda self: self.lead_ids)
    @rule(index=st.integers(0, LEAD_POOL - 1), role=st.sampled_from(ROLES), rep_index=st.integers(0, 3))
    def reassign_lead(self, index: int, role: str, rep_index: int) -> None:
        lead = self.pick(index)
        user, _, manages = self.actor(lead, role)
        rep = self.rt.config.reps[rep_index]
        before = read_state(self.rt.db)

        with self.rt.db.transaction() as session:
            result = reassign(session, self.rt, lead_id=lead.id, user_id=user, rep=rep)

        should_act = manages and lead.stage in OPEN_STAGES and rep.email != lead.rep_email
        event(f"reassign: {result.status}")
        assert result.done == should_act, (
            f"reassign by {role} of a {lead.stage} lead from {lead.rep_email} to {rep.email}: {result.status}"
        )
        after = self.check_step(before, {lead.id: frozenset({lead.stage})} if should_act else {})
        if should_act:
            assert after[lead.id].rep_email == rep.email

    # Time -----------------------------------------------------------------------------------

    @rule(step=st.sampled_from(CLOCK_STEPS))
    def advance_clock(self, step: timedelta) -> None:
        self.clock.advance(step)

    @rule()
    def reengage(self) -> None:
        before = read_state(self.rt.db)
        now = self.clock.now()
        expected: dict[int, frozenset[str]] = {}
        for lead in before.values():
            # The sweep selects on the UTC date; the teams' zones are ahead of UTC, so their date is never earlier.
            if lead.stage == Stage.NURTURE.value and lead.nurture_until is not None and lead.nurture_until <= now.date():
                data = self.ingested[lead.id]
                engaged = data.kind == "qualifying" and data.at >= now - timedelta(days=RECENT_DAYS)
                expected[lead.id] = frozenset({Stage.MQL.value if engaged else Stage.NURTURE.value})

        report = reengage_due(self.rt)

        assert report.failed == 0, f"re-engagement failed for {report.failed} leads"
        assert report.due == len(expected)
        event(f"re-engagement: {report.requalified} to mql, {report.still_nurture} stay in nurture")
        self.check_step(before, expected)

    # Invariants -----------------------------------------------------------------------------

    @invariant()
    def history_matches_lifecycle(self) -> None:
        state = read_state(self.rt.db)
        assert set(self.seen) <= set(state), f"leads disappeared: {sorted(set(self.seen) - set(state))}"
        for lead in state.values():
            history = lead.history
            assert history, f"lead {lead.id} has no history"
            assert history[0].from_stage is None and history[0].reason == "created", f"lead {lead.id}: {history[0]}"
            assert history[0].to_stage == Stage.RAW.value
            for previous, row in zip(history, history[1:], strict=False):
                assert row.from_stage == previous.to_stage, f"lead {lead.id}: {row} does not follow {previous}"
                source = Stage(row.from_stage)
                target = Stage(row.to_stage)
                assert target in ALLOWED_TRANSITIONS[source] or source == target, (
                    f"lead {lead.id}: forbidden change {source} -> {target} ({row.reason})"
                )
                assert row.at >= previous.at, f"lead {lead.id}: {row} is older than {previous}"
            assert history[-1].to_stage == lead.stage, f"lead {lead.id}: stage {lead.stage}, history ends at {history[-1]}"
            assert lead.version == len(history), (
                f"lead {lead.id}: version {lead.version}, but {len(history) - 1} events after creation"
            )
            seen = self.seen.get(lead.id, ())
            assert history[: len(seen)] == seen, f"lead {lead.id}: history lost or changed rows"
        self.seen = {lead.id: lead.history for lead in state.values()}
        for lead in state.values():
            event(f"stage reached: {lead.stage}")


def test_lifecycle_properties_hold(runtime: Runtime) -> None:
    machine = type("LifecycleOnDatabase", (LifecycleMachine,), {"rt": runtime})
    run_state_machine_as_test(machine, settings=SETTINGS)
