"""Property tests: no sequence of actions reaches a forbidden stage or loses a history entry.

A hypothesis state machine drives random leads through intake, decisions, the sales steps,
reassignment, outcomes from the CRM, contested rejections, clock advances and re-engagement,
on SQLite and on PostgreSQL. After every
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
the leads and checks it against what the action returns. On PostgreSQL one rule also races
two requests on the same lead, so that the second one hits the guarded UPDATE with a stale
version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any

from factories import lead_input
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
from sqlalchemy.orm import Session
from support import START

from bot.clock import FixedClock
from bot.contests import open_contest, rule_on_contest
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
    close_from_crm,
    complete_discovery,
    log_contact,
    mark_opportunity,
    reassign,
    record_outcome,
    return_to_nurture,
    schedule_discovery,
)
from storage.db import Database
from storage.models import Base, Lead, LeadTransition, RejectionContest

# External ids HS-1 … HS-3: few enough that later actions often hit a lead that already exists.
LEAD_POOL = 3
LEAD_INDEX = st.integers(0, LEAD_POOL - 1)
UNKNOWN_USER = "U0NOBODY01"
MARKETER = "U0MARKETER"  # a marketer who contests rejections, absent from the configuration
MARKETING_CHANNEL = "C0MARKETING"
# How an ingested lead compares with the example criteria. Fit is 50–1000 employees in Packaging in NL, BE
# or LU. Engagement is a score of 50 or one high-intent action, with activity in the last 30 days.
INGEST_KINDS = ("qualifying", "not_engaged", "stale_activity", "not_fit")
# Mostly qualifying leads, so that most sequences have MQLs to act on.
INGEST_KIND = st.sampled_from(["qualifying", "qualifying", "qualifying", *INGEST_KINDS[1:]])
# Who performs an action, relative to the lead's assigned rep. The rep and the manager come up most,
# so that sequences get past the MQL gate. The other three may not act on the lead.
ROLES = st.sampled_from(["rep", "rep", "rep", "rep", "manager", "manager", "peer", "other_manager", "unknown"])
CLOCK_STEPS = (
    timedelta(minutes=30), timedelta(hours=4), timedelta(hours=15), timedelta(days=1), timedelta(days=3),
    timedelta(days=10), timedelta(days=31), timedelta(days=91),
)
OPEN_STAGES = {Stage.MQL.value, Stage.SAL.value, Stage.SQL.value, Stage.OPPORTUNITY.value}
# `criteria.engagement.recent_days` of the example configuration.
RECENT_DAYS = 30

SETTINGS = settings(
    max_examples=40,
    stateful_step_count=50,
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
    discovery_date: date | None
    history: tuple[Row, ...]


@dataclass(frozen=True)
class Step:
    """A step that the lead's stage allows, as a call in a given session by a given user, with its target stage."""

    name: str
    target: str
    by_manager: bool
    run: Callable[[Session, str], str]


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
                               lead.opportunity_ref, lead.discovery_date, tuple(rows.get(lead.id, ())))
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
    """State machine of random actions on a few leads. The test that runs it sets `rt`."""

    rt: Runtime

    def __init__(self) -> None:
        super().__init__()
        assert self.rt.config.criteria.engagement.recent_days == RECENT_DAYS
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

    def number_of(self, lead: LeadState) -> int:
        return next(number for number, lead_id in self.lead_ids.items() if lead_id == lead.id)

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

    def check_step(
        self, before: dict[int, LeadState], expected: dict[int, frozenset[str] | tuple[str, ...]], *,
        created: int | None = None,
    ) -> dict[int, LeadState]:
        """Check that exactly the leads in `expected` gained history rows, and no other lead changed.

        A set of stages means one new row to one of them, and a tuple means exactly these rows in this
        order. Every other lead keeps its stage, version and history, which is what a refused action
        must do. No lead appears except `created`.
        """
        after = read_state(self.rt.db)
        assert set(before) <= set(after), f"leads disappeared: {sorted(set(before) - set(after))}"
        new_leads = set(after) - set(before)
        assert new_leads <= {created}, f"unexpected new leads {sorted(new_leads - {created})}"
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
            stages = tuple(row.to_stage for row in added)
            wanted = expected[lead_id]
            if isinstance(wanted, tuple):
                assert stages == wanted, f"lead {lead_id}: new rows to {stages}, expected {wanted}"
            else:
                assert len(stages) == 1, f"lead {lead_id}: expected one new history row, got {added}"
                assert stages[0] in wanted, f"lead {lead_id}: moved to {stages[0]}, expected one of {sorted(wanted)}"
            for row in added:
                assert row.at == now, f"lead {lead_id}: row time {row.at} is not the clock's {now}"
            assert new.version == old.version + len(added), f"lead {lead_id}: version {old.version} -> {new.version}"
        return after

    # Intake ---------------------------------------------------------------------------------

    @rule(number=st.integers(1, LEAD_POOL), kind=INGEST_KIND, country=st.sampled_from(["NL", "BE", "LU"]),
          owner=st.sampled_from([None, "sanne.devries@handoff-demo.nl", "pieter.janssens@handoff-demo.be"]))
    def ingest_lead(self, number: int, kind: str, country: str, owner: str | None) -> None:
        self.send_lead(number, kind, country, owner)

    def send_lead(self, number: int, kind: str, country: str, owner: str | None) -> None:
        before = read_state(self.rt.db)
        now = self.clock.now()
        with self.rt.db.transaction() as session:
            result = ingest(session, self.rt, build_input(number, kind, now, country, owner), actor="test")
        self.ingested[result.lead_id] = Ingested(kind, now)

        if number not in self.lead_ids:
            assert result.created, f"HS-{number} was never ingested, yet ingest updated lead {result.lead_id}"
            assert result.lead_id not in before
            self.lead_ids[number] = result.lead_id
            after = self.check_step(before, {}, created=result.lead_id)
            history = after[result.lead_id].history
            assert history[0].from_stage is None
            assert history[0].to_stage == Stage.RAW.value
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

    # Actions by people, with random and often invalid arguments -----------------------------------

    @precondition(lambda self: self.lead_ids)
    @rule(index=LEAD_INDEX, role=ROLES, version_offset=st.sampled_from([0, 0, 0, -1, 1]), accept=st.booleans(),
          reason=st.sampled_from(list(RejectionReason)), note=st.sampled_from([None, "Zie CRM"]),
          reroute_to=st.sampled_from([None, "sanne.devries@handoff-demo.nl", "daan.bakker@handoff-demo.nl",
                                      "lotte.peeters@handoff-demo.be"]),
          nurture_days=st.sampled_from([None, 1, 5, 40]), duplicate_index=LEAD_INDEX)
    def decide_lead(self, index: int, role: str, version_offset: int, accept: bool, reason: RejectionReason,
                    note: str | None, reroute_to: str | None, nurture_days: int | None, duplicate_index: int) -> None:
        lead = self.pick(index)
        rejection = None
        if not accept:
            others = sorted(set(self.lead_ids.values()) - {lead.id})
            duplicate_of = None
            if reason is RejectionReason.DUPLICATE and others:
                duplicate_of = others[duplicate_index % len(others)]
            rejection = RejectionInput(
                reason=reason,
                note="Geen interesse meer" if reason is RejectionReason.OTHER else note,
                reroute_to=reroute_to,
                nurture_until=None if nurture_days is None else self.clock.now().date() + timedelta(days=nurture_days),
                duplicate_of=duplicate_of,
            )
        self.try_decide(lead, role, version_offset, rejection)

    @precondition(lambda self: self.lead_ids)
    @rule(index=LEAD_INDEX, role=ROLES, channel=st.sampled_from(list(ContactChannel)), repeat=st.booleans())
    def log_contact_attempt(self, index: int, role: str, channel: ContactChannel, repeat: bool) -> None:
        self.try_log_contact(self.pick(index), role, channel, repeat)

    @precondition(lambda self: self.lead_ids)
    @rule(index=LEAD_INDEX, role=ROLES, offset=st.sampled_from([-2, -1, 0, 1, 7]))
    def schedule_discovery_call(self, index: int, role: str, offset: int) -> None:
        self.try_schedule_discovery(self.pick(index), role, offset)

    @precondition(lambda self: self.lead_ids)
    @rule(index=LEAD_INDEX, role=ROLES,
          met=st.lists(st.sampled_from([True, True, True, False]), min_size=len(MEDDIC_CRITERIA),
                       max_size=len(MEDDIC_CRITERIA)),
          next_steps=st.sampled_from(["Demo op kantoor", "Demo op kantoor", "", "  "]),
          reference=st.sampled_from(["OPP-1", "OPP-1", "", " "]))
    def complete_discovery_call(self, index: int, role: str, met: list[bool], next_steps: str, reference: str) -> None:
        self.try_complete_discovery(self.pick(index), role, met, next_steps, reference)

    @precondition(lambda self: self.lead_ids)
    @rule(index=LEAD_INDEX, role=ROLES, offset=st.sampled_from([-1, 0, 1, 3, 20, 60]),
          reason=st.sampled_from(["Budget pas volgend jaar", "Budget pas volgend jaar", ""]))
    def return_lead_to_nurture(self, index: int, role: str, offset: int, reason: str) -> None:
        self.try_return_to_nurture(self.pick(index), role, offset, reason)

    @precondition(lambda self: self.lead_ids)
    @rule(index=LEAD_INDEX, role=ROLES, reference=st.sampled_from([None, "OPP-2"]))
    def create_opportunity(self, index: int, role: str, reference: str | None) -> None:
        self.try_mark_opportunity(self.pick(index), role, reference)

    @precondition(lambda self: self.lead_ids)
    @rule(index=LEAD_INDEX, role=ROLES, won=st.booleans())
    def close_opportunity(self, index: int, role: str, won: bool) -> None:
        self.try_record_outcome(self.pick(index), role, won)

    @precondition(lambda self: self.lead_ids)
    @rule(index=LEAD_INDEX, role=ROLES, rep_index=st.integers(0, 3))
    def reassign_lead(self, index: int, role: str, rep_index: int) -> None:
        self.try_reassign(self.pick(index), role, rep_index)

    @precondition(lambda self: self.lead_ids)
    @rule(index=LEAD_INDEX, role=st.sampled_from(["rep", "manager"]), choice=st.integers(0, 5),
          reason=st.sampled_from(list(RejectionReason)), country=st.sampled_from(["NL", "BE", "LU"]))
    def move_forward(self, index: int, role: str, choice: int, reason: RejectionReason, country: str) -> None:
        """Take a step that the lead's stage allows, with valid input, so that sequences reach the later stages.

        With random arguments alone, a lead seldom gets past SAL within one sequence.
        """
        lead = self.pick(index)
        stage = Stage(lead.stage)
        if stage is Stage.MQL and choice % 2 == 0:
            self.try_decide(lead, role, 0, None)
        elif stage is Stage.MQL:
            others = sorted(set(self.lead_ids.values()) - {lead.id})
            duplicate_of = others[0] if reason is RejectionReason.DUPLICATE and others else None
            self.try_decide(lead, role, 0, RejectionInput(reason=reason, note="Zie CRM", duplicate_of=duplicate_of))
        elif stage is Stage.SAL and choice < 2:
            self.try_schedule_discovery(lead, role, choice)
        elif stage is Stage.SAL and choice < 5:
            self.try_complete_discovery(lead, role, [True] * len(MEDDIC_CRITERIA), "Demo op kantoor", "OPP-1")
        elif stage in (Stage.SAL, Stage.SQL) and choice == 5:
            self.try_return_to_nurture(lead, role, 2, "Budget pas volgend jaar")
        elif stage in (Stage.SQL, Stage.OPPORTUNITY) and choice == 4:
            self.report_crm_outcome(index, won=True, reference=None)
        elif stage is Stage.SQL:
            self.try_mark_opportunity(lead, role, None)
        elif stage is Stage.OPPORTUNITY:
            self.try_record_outcome(lead, role, won=choice % 2 == 0)
        elif stage is Stage.REJECTED and choice % 2 == 0:
            self.contest_rejection(index, latest=True, comment="Past wel: zie website")
        elif stage is Stage.REJECTED:
            self.rule_on_rejection_contest(contest_index=-1, role="judge", overturn=choice != 1)
        elif stage is Stage.NURTURE and lead.nurture_until is not None:
            due = datetime.combine(lead.nurture_until, time(8, 0), tzinfo=UTC)
            self.clock.set(max(self.clock.now(), due))
            if choice % 2 == 0:
                # Fresh activity while in nurture: intake keeps the stage, re-engagement then qualifies the lead.
                self.send_lead(self.number_of(lead), "qualifying", country, None)
            self.reengage()
        elif stage in (Stage.RAW, Stage.NURTURE):
            self.send_lead(self.number_of(lead), "qualifying", country, None)

    # Outcomes from the CRM and contested rejections -------------------------------------------

    @precondition(lambda self: self.lead_ids)
    @rule(index=LEAD_INDEX, won=st.booleans(), reference=st.sampled_from([None, "OPP-9"]))
    def report_crm_outcome(self, index: int, won: bool, reference: str | None) -> None:
        lead = self.pick(index)
        before = read_state(self.rt.db)

        with self.rt.db.transaction() as session:
            result = close_from_crm(session, self.rt, lead_id=lead.id, won=won, actor="crm", reference=reference)

        event(f"outcome from the CRM: {result.status}")
        outcome = Stage.WON.value if won else Stage.LOST.value
        expected: dict[int, frozenset[str] | tuple[str, ...]] = {}
        if lead.stage == Stage.SQL.value and (reference or lead.opportunity_ref or "").strip():
            expected[lead.id] = (Stage.OPPORTUNITY.value, outcome)
        elif lead.stage == Stage.OPPORTUNITY.value:
            expected[lead.id] = (outcome,)
        assert result.done == bool(expected), f"outcome from the CRM on a {lead.stage} lead: {result.status}"
        self.check_step(before, expected)

    @precondition(lambda self: self.lead_ids)
    @rule(index=LEAD_INDEX, latest=st.booleans(), comment=st.sampled_from(["Past wel: zie website", "Past wel", " "]))
    def contest_rejection(self, index: int, latest: bool, comment: str) -> None:
        """Contest the lead's latest history row, or its latest rejection, which may be older."""
        lead = self.pick(index)
        rejections = [row for row in lead.history if row.reason.startswith("rejected:")]
        target = lead.history[-1] if latest or not rejections else rejections[-1]
        with self.rt.db.transaction() as session:
            contested = set(session.scalars(select(RejectionContest.rejection_id)))
        before = read_state(self.rt.db)

        with self.rt.db.transaction() as session:
            result = open_contest(session, self.rt, rejection_id=target.id, user_id=MARKETER, comment=comment)

        event(f"contest: {result.status}")
        should_open = (target.reason.startswith("rejected:") and target == lead.history[-1]
                       and bool(comment.strip()) and target.id not in contested)
        assert (result.status == "done") == should_open, (
            f"contest of {target.reason} (latest: {target == lead.history[-1]}), comment {comment!r}: {result.status}"
        )
        # Opening a contest records an objection but does not move the lead.
        self.check_step(before, {})

    @precondition(lambda self: self.lead_ids)
    @rule(contest_index=st.integers(0, 3), role=st.sampled_from(["judge", "judge", "rep", "unknown"]),
          overturn=st.booleans())
    def rule_on_rejection_contest(self, contest_index: int, role: str, overturn: bool) -> None:
        with self.rt.db.transaction() as session:
            contests = [(contest.id, contest.lead_id, contest.rejection_id, contest.status)
                        for contest in session.scalars(select(RejectionContest).order_by(RejectionContest.id))]
        if not contests:
            return
        contest_id, lead_id, rejection_id, status = contests[contest_index % len(contests)]
        before = read_state(self.rt.db)
        lead = before[lead_id]
        rejection = next(row for row in lead.history if row.id == rejection_id)

        # The judge is the manager of the rep who rejected, else of the lead's current rep.
        config = self.rt.config
        rejecter = config.person_by_slack_id(rejection.actor)
        rep = (config.rep(rejecter.email) if rejecter else None) or config.rep(lead.rep_email)
        judge = config.manager_of(rep) if rep is not None else None
        if role == "judge" and judge is not None:
            user = judge.slack_user_id
        elif role == "rep" and rep is not None:
            user = rep.slack_user_id
        else:
            user = UNKNOWN_USER

        with self.rt.db.transaction() as session:
            result = rule_on_contest(session, self.rt, contest_id=contest_id, user_id=user, overturn=overturn)

        event(f"ruling: {result.status}")
        should_rule = judge is not None and user == judge.slack_user_id and status == "open"
        assert (result.status == "done") == should_rule, (
            f"ruling by {role} on a {status} contest of a {lead.stage} lead: {result.status}"
        )
        reopens = {Stage.REJECTED.value, Stage.NURTURE.value, Stage.MQL.value}
        moves = should_rule and overturn and rep is not None and lead.stage in reopens
        self.check_step(before, {lead_id: frozenset({Stage.MQL.value})} if moves else {})

    # Two requests at once ---------------------------------------------------------------------

    def forward_steps(self, lead: LeadState, reason: RejectionReason, rep_index: int) -> list[Step]:
        """List the steps that the lead's stage allows, with valid input, as calls in a given session."""
        stage = Stage(lead.stage)
        lead_id = lead.id
        today = self.local_today(lead)
        steps: list[Step] = []

        if stage is Stage.MQL:
            others = sorted(set(self.lead_ids.values()) - {lead_id})
            duplicate_of = others[0] if reason is RejectionReason.DUPLICATE and others else None
            rejection = RejectionInput(reason=reason, note="Zie CRM", duplicate_of=duplicate_of)
            rejected_to = NEXT_ACTION_STAGE[self.rt.config.rejections.next_actions[reason]].value
            steps.append(Step("accept", Stage.SAL.value, False, lambda session, user: decide(
                session, self.rt, lead_id=lead_id, version=lead.version, user_id=user, accept=True).status))
            steps.append(Step(f"reject {reason.value}", rejected_to, False, lambda session, user: decide(
                session, self.rt, lead_id=lead_id, version=lead.version, user_id=user, accept=False,
                rejection=rejection).status))

        if stage is Stage.SAL:
            # A date other than the lead's, which would change nothing.
            day = today + timedelta(days=2 if lead.discovery_date == today + timedelta(days=1) else 1)
            steps.append(Step("schedule discovery", Stage.SAL.value, False, lambda session, user: schedule_discovery(
                session, self.rt, lead_id=lead_id, user_id=user, day=day).status))
            answers = DiscoveryInput(met=dict.fromkeys(MEDDIC_CRITERIA + BANT_CRITERIA, True), notes={},
                                     next_steps="Demo op kantoor", opportunity_ref="OPP-1")
            steps.append(Step("complete discovery", Stage.SQL.value, False, lambda session, user: complete_discovery(
                session, self.rt, lead_id=lead_id, user_id=user, answers=answers).status))

        if stage in (Stage.SAL, Stage.SQL):
            steps.append(Step("return to nurture", Stage.NURTURE.value, False, lambda session, user: return_to_nurture(
                session, self.rt, lead_id=lead_id, user_id=user, reason="Budget pas volgend jaar",
                until=today + timedelta(days=2), notes="").status))

        if stage is Stage.SQL:
            steps.append(Step("create opportunity", Stage.OPPORTUNITY.value, False, lambda session, user:
                              mark_opportunity(session, self.rt, lead_id=lead_id, user_id=user).status))

        if stage is Stage.OPPORTUNITY:
            for won in (True, False):
                steps.append(Step("won" if won else "lost", Stage.WON.value if won else Stage.LOST.value, False,
                                  lambda session, user, won=won: record_outcome(
                                      session, self.rt, lead_id=lead_id, user_id=user, won=won).status))

        if stage.value in OPEN_STAGES:
            other_reps = [rep for rep in self.rt.config.reps if rep.email != lead.rep_email]
            rep = other_reps[rep_index % len(other_reps)]
            steps.append(Step(f"reassign to {rep.email}", stage.value, True, lambda session, user: reassign(
                session, self.rt, lead_id=lead_id, user_id=user, rep=rep).status))

        return steps

    @precondition(lambda self: self.lead_ids and self.rt.db.engine.dialect.name == "postgresql")
    @rule(index=LEAD_INDEX, first=st.integers(0, 5), second=st.integers(0, 5),
          reason=st.sampled_from(list(RejectionReason)), rep_index=st.integers(0, 2))
    def race_two_requests(self, index: int, first: int, second: int, reason: RejectionReason, rep_index: int) -> None:
        """Check that of two requests that read the same lead, the one that commits second changes nothing.

        The late request reads the lead, the early one commits a step, and then the late one
        runs with the version it read, as after a double click or two people clicking at once.
        SQLite takes the write lock when a transaction begins (BEGIN IMMEDIATE), so there the
        early request would wait for the late one instead of racing it: this rule runs on PostgreSQL.
        """
        lead = self.pick(index)
        steps = self.forward_steps(lead, reason, rep_index)
        if not steps:
            return
        early, late = steps[first % len(steps)], steps[second % len(steps)]
        rep_user, _, _ = self.actor(lead, "rep")
        manager_user, _, _ = self.actor(lead, "manager")
        before = read_state(self.rt.db)

        with self.rt.db.transaction() as late_session:
            stale = late_session.get(Lead, lead.id)
            assert stale is not None
            assert stale.version == lead.version
            with self.rt.db.transaction() as early_session:
                early_status = early.run(early_session, manager_user if early.by_manager else rep_user)
            assert early_status == "done", f"{early.name} on a {lead.stage} lead: {early_status}"
            middle = self.check_step(before, {lead.id: frozenset({early.target})})
            late_status = late.run(late_session, manager_user)

        event(f"race: {late_status}")
        assert late_status in ("already_handled", "wrong_stage", "not_allowed"), (
            f"{late.name} after {early.name} on the same {lead.stage} lead: {late_status}"
        )
        self.check_step(middle, {})

    # Action helpers: run one action, check its outcome against the model and what it changed ---------

    def try_decide(self, lead: LeadState, role: str, version_offset: int, rejection: RejectionInput | None) -> None:
        user, allowed, _ = self.actor(lead, role)
        version = lead.version + version_offset
        before = read_state(self.rt.db)

        with self.rt.db.transaction() as session:
            outcome = decide(session, self.rt, lead_id=lead.id, version=version, user_id=user,
                             accept=rejection is None, rejection=rejection)

        event(f"decide: {outcome.status}")
        should_act = allowed and lead.stage == Stage.MQL.value and version_offset == 0
        assert (outcome.status == "done") == should_act, (
            f"decide by {role} on a {lead.stage} lead, card version {version} of {lead.version}: {outcome.status}"
        )
        if not should_act:
            self.check_step(before, {})
            return
        if rejection is None:
            target = Stage.SAL.value
        else:
            target = NEXT_ACTION_STAGE[self.rt.config.rejections.next_actions[rejection.reason]].value
        after = self.check_step(before, {lead.id: frozenset({target})})
        assert after[lead.id].stage == target

    def try_log_contact(self, lead: LeadState, role: str, channel: ContactChannel, repeat: bool) -> None:
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

        event(f"log contact: {result.status}")
        should_act = allowed and lead.stage in (Stage.MQL.value, Stage.SAL.value)
        assert result.done == should_act, f"log contact by {role} on a {lead.stage} lead: {result.status}"
        # A contact attempt is not a stage event: it leaves the version and the history alone.
        self.check_step(before, {})

    def try_schedule_discovery(self, lead: LeadState, role: str, offset: int) -> None:
        user, allowed, _ = self.actor(lead, role)
        day = self.local_today(lead) + timedelta(days=offset)
        before = read_state(self.rt.db)

        with self.rt.db.transaction() as session:
            result = schedule_discovery(session, self.rt, lead_id=lead.id, user_id=user, day=day)

        event(f"schedule discovery: {result.status}")
        # The date the lead has already changes nothing, as a repeated click must not.
        should_act = allowed and lead.stage == Stage.SAL.value and offset >= 0 and lead.discovery_date != day
        assert result.done == should_act, (
            f"schedule discovery by {role} on a {lead.stage} lead, day {offset:+}: {result.status}"
        )
        self.check_step(before, {lead.id: frozenset({Stage.SAL.value})} if should_act else {})

    def try_complete_discovery(
        self, lead: LeadState, role: str, met: list[bool], next_steps: str, reference: str,
    ) -> None:
        user, allowed, _ = self.actor(lead, role)
        methodology = self.rt.config.methodology(lead.team_id)
        criteria = BANT_CRITERIA if methodology == "bant" else MEDDIC_CRITERIA
        needed = self.rt.config.sales.bant_min_met if methodology == "bant" else self.rt.config.sales.meddic_min_met
        met_count = sum(met[: len(criteria)])
        answers = DiscoveryInput(met=dict(zip(criteria, met, strict=False)), notes={}, next_steps=next_steps,
                                 opportunity_ref=reference)
        before = read_state(self.rt.db)

        with self.rt.db.transaction() as session:
            result = complete_discovery(session, self.rt, lead_id=lead.id, user_id=user, answers=answers)

        event(f"complete discovery: {result.status}")
        valid = met_count >= needed and bool(next_steps.strip()) and bool(reference.strip())
        should_act = allowed and lead.stage == Stage.SAL.value and valid
        assert result.done == should_act, (
            f"complete discovery by {role} on a {lead.stage} lead, {met_count} of {len(criteria)} met, "
            f"next steps {next_steps!r}, reference {reference!r}: {result.status}"
        )
        self.check_step(before, {lead.id: frozenset({Stage.SQL.value})} if should_act else {})

    def try_return_to_nurture(self, lead: LeadState, role: str, offset: int, reason: str) -> None:
        user, allowed, _ = self.actor(lead, role)
        until = self.local_today(lead) + timedelta(days=offset)
        before = read_state(self.rt.db)

        with self.rt.db.transaction() as session:
            result = return_to_nurture(session, self.rt, lead_id=lead.id, user_id=user, reason=reason, until=until,
                                       notes="Notities van discovery")

        event(f"return to nurture: {result.status}")
        should_act = allowed and lead.stage in (Stage.SAL.value, Stage.SQL.value) and offset > 0 and bool(reason)
        assert result.done == should_act, (
            f"return to nurture by {role} on a {lead.stage} lead, date {offset:+}, reason {reason!r}: {result.status}"
        )
        self.check_step(before, {lead.id: frozenset({Stage.NURTURE.value})} if should_act else {})

    def try_mark_opportunity(self, lead: LeadState, role: str, reference: str | None) -> None:
        user, allowed, _ = self.actor(lead, role)
        before = read_state(self.rt.db)

        with self.rt.db.transaction() as session:
            result = mark_opportunity(session, self.rt, lead_id=lead.id, user_id=user, reference=reference)

        event(f"create opportunity: {result.status}")
        valid = bool((reference or lead.opportunity_ref or "").strip())
        should_act = allowed and lead.stage == Stage.SQL.value and valid
        assert result.done == should_act, f"create opportunity by {role} on a {lead.stage} lead: {result.status}"
        self.check_step(before, {lead.id: frozenset({Stage.OPPORTUNITY.value})} if should_act else {})

    def try_record_outcome(self, lead: LeadState, role: str, won: bool) -> None:
        user, allowed, _ = self.actor(lead, role)
        before = read_state(self.rt.db)

        with self.rt.db.transaction() as session:
            result = record_outcome(session, self.rt, lead_id=lead.id, user_id=user, won=won)

        event(f"record outcome: {result.status}")
        should_act = allowed and lead.stage == Stage.OPPORTUNITY.value
        assert result.done == should_act, f"record outcome by {role} on a {lead.stage} lead: {result.status}"
        target = Stage.WON.value if won else Stage.LOST.value
        self.check_step(before, {lead.id: frozenset({target})} if should_act else {})

    def try_reassign(self, lead: LeadState, role: str, rep_index: int) -> None:
        user, _, manages = self.actor(lead, role)
        rep = self.rt.config.reps[rep_index]
        before = read_state(self.rt.db)

        with self.rt.db.transaction() as session:
            result = reassign(session, self.rt, lead_id=lead.id, user_id=user, rep=rep)

        event(f"reassign: {result.status}")
        should_act = manages and lead.stage in OPEN_STAGES and rep.email != lead.rep_email
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
            if lead.stage != Stage.NURTURE.value or lead.nurture_until is None:
                continue
            # The sweep selects on the UTC date. Both team zones (Amsterdam, Brussels) are ahead of UTC,
            # so the local date that `_reengage` checks is never earlier.
            if lead.nurture_until <= now.date():
                data = self.ingested[lead.id]
                engaged = data.kind == "qualifying" and data.at >= now - timedelta(days=RECENT_DAYS)
                expected[lead.id] = frozenset({Stage.MQL.value if engaged else Stage.NURTURE.value})

        report = reengage_due(self.rt)

        event(f"re-engagement: {report.requalified} to mql, {report.still_nurture} stay in nurture")
        assert report.failed == 0, f"re-engagement failed for {report.failed} leads"
        assert report.due == len(expected)
        self.check_step(before, expected)

    # Invariants -----------------------------------------------------------------------------

    @invariant()
    def history_matches_lifecycle(self) -> None:
        state = read_state(self.rt.db)
        assert set(self.seen) <= set(state), f"leads disappeared: {sorted(set(self.seen) - set(state))}"
        for lead in state.values():
            history = lead.history
            assert history, f"lead {lead.id} has no history"
            assert history[0].from_stage is None, f"lead {lead.id} starts with {history[0]}"
            assert history[0].reason == "created", f"lead {lead.id} starts with {history[0]}"
            assert history[0].to_stage == Stage.RAW.value, f"lead {lead.id} starts with {history[0]}"
            for previous, row in pairwise(history):
                assert row.from_stage == previous.to_stage, f"lead {lead.id}: {row} does not follow {previous}"
                source = Stage(row.from_stage)
                target = Stage(row.to_stage)
                assert target in ALLOWED_TRANSITIONS[source] or source == target, (
                    f"lead {lead.id}: forbidden change {source} -> {target} ({row.reason})"
                )
                assert row.at >= previous.at, f"lead {lead.id}: {row} is older than {previous}"
            assert history[-1].to_stage == lead.stage, (
                f"lead {lead.id}: stage {lead.stage}, history ends at {history[-1]}"
            )
            assert lead.version == len(history), (
                f"lead {lead.id}: version {lead.version}, but {len(history) - 1} events after creation"
            )
            seen = self.seen.get(lead.id, ())
            assert history[: len(seen)] == seen, f"lead {lead.id}: history lost or changed rows"
        self.seen = {lead.id: lead.history for lead in state.values()}
        for lead in state.values():
            event(f"stage reached: {lead.stage}")


def test_lifecycle_properties_hold(runtime: Runtime) -> None:
    # With a marketing channel, rejections and re-scorings also send their notices.
    runtime.config.marketing_channel = MARKETING_CHANNEL
    machine = type("LifecycleOnDatabase", (LifecycleMachine,), {"rt": runtime})
    run_state_machine_as_test(machine, settings=SETTINGS)
