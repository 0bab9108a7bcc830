"""The handoff itself: a lead arrives, qualifies, is routed and announced; the rep decides."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from operator import attrgetter
from typing import Literal

from sqlalchemy import JSON, Table, bindparam, func, select, text
from sqlalchemy.orm import Session, load_only

from bot import messages
from bot.accept import accept_in_one_statement
from bot.cards import enqueue_card, new_card, refresh_card
from bot.config import Person, Rep
from bot.i18n import format_day, t
from bot.intake.model import LeadInput
from bot.lifecycle import NEXT_ACTION_STAGE, NextAction, RejectionReason, Stage
from bot.outbox import Claim, enqueue, home_refresh_waiting, outbox_row
from bot.preferences import language_with_choice, user_language, user_language_column
from bot.qualification import QualificationMemo, evaluate
from bot.routing import RoutePlan, RoutingDecision, plan_route, route, take_positions
from bot.runtime import Runtime
from bot.sla.clocks import (
    DECISION,
    FIRST_CONTACT,
    clock_values,
    first_contact_due,
    start_decision_clock,
    start_sal_clocks,
    stop_clocks,
)
from bot.transitions import StaleLead, move, record_creation
from bot.views import lead_view
from storage.bulk import insert_rows, pairs_in
from storage.db import is_postgresql
from storage.models import Lead, LeadTransition, OutboxItem, SlaClock

log = logging.getLogger(__name__)

LEAD_FIELDS = (
    "email", "first_name", "last_name", "phone", "company", "job_title", "department", "seniority", "industry",
    "employees", "annual_revenue", "country", "region", "lead_score", "visited_pricing", "requested_demo",
    "asset_downloads", "last_activity_at", "owner_email", "campaign", "extra",
)


@dataclass(frozen=True)
class IngestResult:
    lead_id: int
    created: bool
    stage: str


def _apply_input(lead: Lead, data: LeadInput) -> None:
    for name in LEAD_FIELDS:
        setattr(lead, name, getattr(data, name))
    lead.source_created_at = data.created_at


def ingest(session: Session, rt: Runtime, data: LeadInput, *, actor: str) -> IngestResult:
    """Store or update the lead (source, external id) and move it on if it now qualifies."""
    now = rt.clock.now()
    lead = session.scalar(select(Lead).where(Lead.source == data.source, Lead.external_id == data.external_id))
    created = lead is None
    if lead is None:
        lead = Lead(source=data.source, external_id=data.external_id, stage=Stage.RAW.value, version=1,
                    created_at=now, updated_at=now)
        _apply_input(lead, data)
        session.add(lead)
        session.flush()
        record_creation(session, lead, actor=actor, now=now)
    else:
        _apply_input(lead, data)
        lead.updated_at = now
        session.flush()

    # Leads past the MQL gate keep their stage; intake only refreshes their data.
    awaiting = lead.stage == Stage.RAW.value or (lead.stage == Stage.NURTURE.value and lead.nurture_until is None)
    if awaiting:
        _qualify(session, rt, lead, actor=actor, now=now)
    return IngestResult(lead_id=lead.id, created=created, stage=lead.stage)


def ingest_many(session: Session, rt: Runtime, inputs: Sequence[LeadInput], *, actor: str) -> list[IngestResult]:
    """Do what `ingest` does for each input in turn, with the writes of new leads batched.

    The leads of `inputs` that are new are stored with a few multi-row INSERTs (leads,
    history, clocks, outbox) instead of an ORM unit of work each. A lead that exists
    already, or that comes a second time in `inputs`, goes through `ingest` after the
    new leads before it are stored, so lead ids and round-robin turns follow the input order.
    """
    if not inputs:
        return []
    keys = dict.fromkeys((data.source, data.external_id) for data in inputs)
    existing = set(_lead_ids(session, list(keys)))
    now = rt.clock.now()
    results: list[IngestResult] = []
    pending: list[LeadInput] = []
    seen: set[tuple[str, str]] = set()
    for data in inputs:
        key = (data.source, data.external_id)
        if key in existing or key in seen:
            results.extend(_insert_new(session, rt, pending, actor=actor, now=now))
            pending = []
            results.append(ingest(session, rt, data, actor=actor))
        else:
            pending.append(data)
        seen.add(key)
    results.extend(_insert_new(session, rt, pending, actor=actor, now=now))
    return results


@dataclass
class _NewLead:
    values: dict[str, object]
    plan: RoutePlan | None = None
    decision: RoutingDecision | None = None


def _insert_new(session: Session, rt: Runtime, inputs: list[LeadInput], *, actor: str, now: datetime) -> list[IngestResult]:
    """Store leads that do not exist yet with the same rows that `ingest` would write one by one."""
    if not inputs:
        return []
    config = rt.config
    leads: list[_NewLead] = []
    turns: dict[str, int] = {}
    qualifications = QualificationMemo(config.criteria, now)
    # plan_route depends only on the configuration and these three values, which few leads differ in.
    plans: dict[tuple[str | None, str | None, str | None], RoutePlan] = {}
    lead_fields = attrgetter(*LEAD_FIELDS)
    raw_values = {"stage": Stage.RAW.value, "version": 1, "created_at": now, "updated_at": now, "team_id": None,
                  "rep_email": None, "routing": None, "mql_at": None, "first_mql_at": None, "decision_due_at": None}
    for data in inputs:
        values: dict[str, object] = dict(zip(LEAD_FIELDS, lead_fields(data), strict=True))
        values.update(raw_values)
        values.update(source=data.source, external_id=data.external_id, source_created_at=data.created_at)
        result, values["qualification"] = qualifications.evaluate(data)
        new = _NewLead(values)
        if result.is_mql:
            route_key = (data.owner_email, data.country, data.region)
            if route_key not in plans:
                plans[route_key] = plan_route(config, owner_email=data.owner_email, country=data.country, region=data.region)
            new.plan = plans[route_key]
            if new.plan.decision is None:
                assert new.plan.team_id is not None
                turns[new.plan.team_id] = turns.get(new.plan.team_id, 0) + 1
        elif result.needs_nurture:
            values.update(stage=Stage.NURTURE.value, version=2)
        leads.append(new)

    # One cursor update per team hands out this batch's round-robin turns in input order.
    positions = {team_id: take_positions(session, team_id, count) for team_id, count in turns.items()}
    decision_due: dict[str, datetime] = {}
    # Rows share equal JSON values as one object, which the bulk insert serialises once.
    routings: dict[tuple[str, ...], dict[str, str]] = {}
    for new in leads:
        if new.plan is None:
            continue
        if new.plan.decision is None:
            assert new.plan.team_id is not None
            new.decision = new.plan.decide(positions[new.plan.team_id])
            positions[new.plan.team_id] += 1
        else:
            new.decision = new.plan.decision
        team_id = new.decision.team_id
        if team_id not in decision_due:
            decision_due[team_id] = rt.calendar(team_id).add_working_days(now, config.sla.decision_working_days)
        routing = new.decision.to_json()
        routing = routings.setdefault(tuple(routing.values()), routing)
        new.values.update(
            stage=Stage.MQL.value, version=2, rep_email=new.decision.rep.email, team_id=team_id,
            routing=routing, mql_at=now, first_mql_at=now, decision_due_at=decision_due[team_id],
        )

    lead_table: Table = Lead.__table__  # type: ignore[assignment]
    # A bulk insert returns no ids (SQLite would need one INSERT per row to return them in
    # order), so the ids are reserved before it, in input order.
    ids = _next_lead_ids(session, len(leads))
    for lead_id, new in zip(ids, leads, strict=True):
        new.values["id"] = lead_id
    # A None routing must be SQL NULL, as when the one-row path leaves the column out, not JSON null.
    insert_rows(session, lead_table, [new.values for new in leads], types={"routing": JSON(none_as_null=True)})

    transitions: list[dict[str, object]] = []
    clocks: list[dict[str, object]] = []
    outbox: list[dict[str, object]] = []
    homes_waiting: set[str] = set()
    home_owners: set[tuple[str, str | None]] = set()
    contact_due: dict[str, datetime] = {}
    no_details: dict[str, object] = {}
    qualified_details: dict[int, dict[str, object]] = {}
    # clock_values depends on the lead only for its "lead_id", so one set of values per team, rep and
    # kind serves every lead of the batch, with one alert schedule object to serialise.
    clock_templates: dict[tuple[str, str, str], dict[str, object]] = {}
    results: list[IngestResult] = []
    raw, nurture = Stage.RAW.value, Stage.NURTURE.value
    for lead_id, new in zip(ids, leads, strict=True):
        stage = str(new.values["stage"])
        results.append(IngestResult(lead_id=lead_id, created=True, stage=stage))
        transitions.append({"lead_id": lead_id, "at": now, "actor": actor, "from_stage": None,
                            "to_stage": raw, "reason": "created", "details": no_details})
        if stage == nurture:
            transitions.append({"lead_id": lead_id, "at": now, "actor": actor, "from_stage": raw,
                                "to_stage": stage, "reason": "not_engaged", "details": no_details})
        if new.decision is None:
            continue
        decision = new.decision
        routing = new.values["routing"]
        if id(routing) not in qualified_details:
            qualified_details[id(routing)] = {"routing": routing}
        transitions.append({"lead_id": lead_id, "at": now, "actor": actor, "from_stage": raw,
                            "to_stage": stage, "reason": "qualified", "details": qualified_details[id(routing)]})
        team_id = decision.team_id
        if team_id not in contact_due:
            contact_due[team_id] = first_contact_due(rt, team_id, now)
        for kind, due in ((FIRST_CONTACT, contact_due[team_id]), (DECISION, decision_due[team_id])):
            template_key = (team_id, decision.rep.email, kind)
            if template_key not in clock_templates:
                clock_templates[template_key] = clock_values(rt, lead_id=0, team_id=team_id, rep_email=decision.rep.email,
                                                             kind=kind, start=now, due=due)
            clocks.append({**clock_templates[template_key], "lead_id": lead_id})
        rep = decision.rep
        key, payload = new_card(lead_id, int(new.values["version"]), rep)
        outbox.append(outbox_row(key, "card", "chat.postMessage", payload, now, lead_id))
        # The Home tabs to refresh depend only on the rep and their manager, so the first lead of
        # each rep queues them and the rep's later leads find them queued.
        if (rep.slack_user_id, rep.manager) not in home_owners:
            home_owners.add((rep.slack_user_id, rep.manager))
            manager = config.manager_of(rep)
            for user_id in dict.fromkeys([rep.slack_user_id, *([manager.slack_user_id] if manager else [])]):
                if user_id in homes_waiting:
                    continue
                homes_waiting.add(user_id)
                if not home_refresh_waiting(session, user_id):
                    outbox.append(outbox_row(f"home:{user_id}:{uuid.uuid4().hex}", "home", "views.publish",
                                              {"user_id": user_id, "home": True}, now, None))
        log.info("lead.mql lead=%s rep=%s team=%s rule=%s", lead_id, rep.slack_user_id, team_id, decision.rule)

    for model, rows in ((LeadTransition, transitions), (SlaClock, clocks), (OutboxItem, outbox)):
        insert_rows(session, model.__table__, rows)  # type: ignore[arg-type]
    return results


def _next_lead_ids(session: Session, count: int) -> list[int]:
    """Reserve `count` ids for new leads, ascending: the ids that inserting them one by one would give.

    On PostgreSQL they come from the sequence of leads.id. On SQLite, which gives a new row
    the highest id plus one, they follow the highest stored id, which stays the highest
    because the transaction holds the write lock (BEGIN IMMEDIATE). A transaction without
    that lock fails at its first write if another writer committed in between.
    """
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        reserved_ids = session.execute(
            text("SELECT nextval(pg_get_serial_sequence('leads', 'id')) FROM generate_series(1, :count)"),
            {"count": count},
        ).scalars()
        return sorted(reserved_ids)
    highest = session.scalar(select(func.max(Lead.id))) or 0
    return list(range(highest + 1, highest + 1 + count))


def _lead_ids(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Return the ids of the stored leads among the (source, external id) `keys`."""
    if session.get_bind().dialect.name != "sqlite":
        rows = session.execute(select(Lead.id, Lead.source, Lead.external_id).where(
            pairs_in(Lead.source, Lead.external_id, keys, dialect=session.get_bind().dialect)))
        return {(source, external_id): lead_id for lead_id, source, external_id in rows}
    # Plain SQL with one placeholder per id: SQLAlchemy's expanding IN took longer to render
    # thousands of parameters than SQLite took to search the (source, external_id) index.
    by_source: dict[str, list[str]] = {}
    for source, external_id in keys:
        by_source.setdefault(source, []).append(external_id)
    found: dict[tuple[str, str], int] = {}
    connection = session.connection()
    for source, external_ids in by_source.items():
        for start in range(0, len(external_ids), SQLITE_IDS_PER_QUERY):
            chunk = external_ids[start:start + SQLITE_IDS_PER_QUERY]
            placeholders = ", ".join("?" * len(chunk))
            rows = connection.exec_driver_sql(
                f"SELECT id, source, external_id FROM leads WHERE source = ? AND external_id IN ({placeholders})",
                (source, *chunk),
            )
            found.update({(row_source, external_id): lead_id for lead_id, row_source, external_id in rows})
    return found


# SQLite allows 32,766 parameters per statement since 3.32; a batch stays well below.
SQLITE_IDS_PER_QUERY = 10_000


def _qualify(session: Session, rt: Runtime, lead: Lead, *, actor: str, now: datetime) -> None:
    result = evaluate(lead, rt.config.criteria, now)
    lead.qualification = result.to_json()
    session.flush()
    if result.is_mql:
        decision = route(session, rt.config, owner_email=lead.owner_email, country=lead.country, region=lead.region)
        become_mql(session, rt, lead, decision, actor=actor, reason="qualified", now=now)
    elif result.needs_nurture and lead.stage != Stage.NURTURE.value:
        move(session, lead, Stage.NURTURE, actor=actor, reason="not_engaged", now=now)


def become_mql(
    session: Session, rt: Runtime, lead: Lead, decision: RoutingDecision, *, actor: str, reason: str, now: datetime,
    details: dict[str, object] | None = None,
) -> None:
    """Make the lead an MQL owned by the routed rep, start the decision clock and send the card."""
    calendar = rt.calendar(decision.team_id)
    due = calendar.add_working_days(now, rt.config.sla.decision_working_days)
    first_mql = lead.mql_at is None
    move(
        session, lead, Stage.MQL, actor=actor, reason=reason, now=now,
        details={"routing": decision.to_json(), **(details or {})},
        rep_email=decision.rep.email, team_id=decision.team_id, routing=decision.to_json(), mql_at=now,
        first_mql_at=lead.first_mql_at or now,
        decision_due_at=due, decided_at=None, decided_by=None, rejection_reason=None, next_action=None,
        nurture_until=None, card_channel=None, card_ts=None, card_delivered_at=None,
    )
    start_decision_clock(session, rt, lead, now=now, first=first_mql)
    enqueue_card(session, rt, lead, decision.rep, now=now)
    log.info("lead.mql lead=%s rep=%s team=%s rule=%s", lead.id, decision.rep.slack_user_id, decision.team_id, decision.rule)


# Decisions from Slack -------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionOutcome:
    status: Literal["done", "already_handled", "not_allowed", "not_found"]
    lead_id: int
    message: str | None = None  # ephemeral text for the user when status is not "done"


def allowed_users(rt: Runtime, lead: Lead) -> list[Person]:
    rep = rt.config.rep(lead.rep_email)
    people: list[Person] = []
    if rep is not None:
        people.append(rep)
        manager = rt.config.manager_of(rep)
        if manager is not None:
            people.append(manager)
    return people


def may_act(rt: Runtime, lead: Lead, user_id: str) -> bool:
    if user_id in rt.config.admins:
        return True
    return any(person.slack_user_id == user_id for person in allowed_users(rt, lead))


def _refusal(session: Session, rt: Runtime, lead: Lead, user_id: str, language: str) -> DecisionOutcome:
    if not may_act(rt, lead, user_id):
        names = [f"<@{p.slack_user_id}>" for p in allowed_users(rt, lead)] or ["–"]
        return DecisionOutcome("not_allowed", lead.id, t(language, "action.not_allowed", allowed=", ".join(names)))
    last = session.scalar(
        select(LeadTransition).where(LeadTransition.lead_id == lead.id).order_by(LeadTransition.id.desc()).limit(1)
    )
    actor = last.actor if last is not None else "?"
    who = f"<@{actor}>" if actor.startswith(("U", "W")) else actor
    return DecisionOutcome("already_handled", lead.id, t(language, "action.already_handled", user=who, stage=lead.stage.upper()))


@dataclass(frozen=True)
class RejectionInput:
    """The rejection modal's values: the reason and what its next action needs."""

    reason: RejectionReason
    note: str | None = None
    reroute_to: str | None = None  # rep e-mail; None lets routing choose
    nurture_until: date | None = None
    duplicate_of: int | None = None
    corrected_email: str | None = None
    corrected_phone: str | None = None


# The lead and the clicking user's own language choice, in one statement. The lead row is locked
# (on PostgreSQL; SQLite's BEGIN IMMEDIATE has locked the database). That orders concurrent
# decisions and pauses of the lead, and a sweep waits for it to see an Accept's waiting clocks.
_LEAD_WITH_LANGUAGE = (select(Lead, user_language_column("user")).where(Lead.id == bindparam("of_lead"))
                       .with_for_update(of=Lead.__table__))
# The columns that an Accept, its card and its refusals read. Building the `Lead` from about half of
# its columns saves converting the others (dates, JSON, decimals) on every click. A column read
# that is not listed still works, with a SELECT of its own.
_ACCEPT_COLUMNS = (
    Lead.id, Lead.version, Lead.stage, Lead.rep_email, Lead.team_id, Lead.source, Lead.company, Lead.first_name,
    Lead.last_name, Lead.job_title, Lead.country, Lead.employees, Lead.lead_score, Lead.qualification,
    Lead.routing, Lead.decision_due_at, Lead.decided_by, Lead.decided_at, Lead.contact_attempts,
    Lead.discovery_date, Lead.opportunity_ref, Lead.nurture_until, Lead.card_channel, Lead.card_ts,
    Lead.reached_sal_at,
)
_LEAD_FOR_ACCEPT = _LEAD_WITH_LANGUAGE.options(load_only(*_ACCEPT_COLUMNS))


def decide(
    session: Session, rt: Runtime, *, lead_id: int, version: int, user_id: str,
    accept: bool, reason: RejectionReason | None = None, rejection: RejectionInput | None = None,
    claim: Claim | None = None, defer_clocks: bool = False, at: datetime | None = None,
) -> DecisionOutcome:
    """Accept or reject an MQL for `user_id`; a second click or a stale card changes nothing.

    An Accept takes `claim` on its card update, the only Slack call of the lead that it queues.
    With `defer_clocks`, an Accept leaves its clocks waiting: its decision clock runs on and its SAL
    clocks wait. The caller switches them with `start_waiting_sal_clocks` after the card update has
    gone out, as of the Accept's time. `at` is the time of the decision when it is not now: a
    click that a stopped process left undecided counts as of the click.
    """
    now = at or rt.clock.now()
    row = session.execute(_LEAD_FOR_ACCEPT if accept else _LEAD_WITH_LANGUAGE,
                          {"of_lead": lead_id, "user": user_id}).one_or_none()
    if row is None:
        language = user_language(session, rt.config, rt.settings.default_language, user_id)
        return DecisionOutcome("not_found", lead_id, t(language, "action.lead_not_found"))
    lead, chosen = row
    language = language_with_choice(session, rt.config, rt.settings.default_language, user_id, chosen)
    if not may_act(rt, lead, user_id) or lead.stage != Stage.MQL.value or lead.version != version:
        return _refusal(session, rt, lead, user_id, language)
    if not accept and rejection is None:
        if reason is None:
            raise ValueError("a rejection needs a reason")
        rejection = RejectionInput(reason=reason)

    rep = rt.config.rep(lead.rep_email)
    try:
        if accept:
            rep_language = language if rep is not None and rep.slack_user_id == user_id else None
            if defer_clocks and claim is not None and is_postgresql(session.get_bind()):
                accept_in_one_statement(session, rt, lead, user_id=user_id, now=now, claim=claim, language=rep_language)
            else:
                # The guarded UPDATE in `move` is the first write, so losing the race leaves nothing to undo.
                move(session, lead, Stage.SAL, actor=user_id, reason="accepted", now=now, decided_at=now,
                     decided_by=user_id, sal_clocks_from=now if defer_clocks else None)
                # The first-contact clock runs on until the first touch, accepted or not.
                if not defer_clocks:
                    start_sal_clocks(session, rt, lead, now=now, stop_kinds=(DECISION,))
                # The key contains the version that this accept's guarded UPDATE just took, so it is new.
                refresh_card(session, rt, lead, key="accepted", language=rep_language, key_is_new=True, claim=claim)
        else:
            assert rejection is not None
            # A savepoint, so that losing the race undoes this rejection but not the caller's transaction.
            with session.begin_nested():
                _reject(session, rt, lead, rep, user_id, rejection, now=now)
    except StaleLead:
        session.expire_all()
        fresh = session.get(Lead, lead_id)
        assert fresh is not None
        return _refusal(session, rt, fresh, user_id, language)
    log.info("lead.decided lead=%s by=%s accept=%s reason=%s", lead.id, user_id, accept,
             rejection.reason.value if rejection else None)
    return DecisionOutcome("done", lead.id)


def _reject(
    session: Session, rt: Runtime, lead: Lead, rep: Rep | None, user_id: str, rejection: RejectionInput, *,
    now: datetime,
) -> None:
    reason = rejection.reason
    action = rt.config.rejections.next_actions[reason]
    # The modal validates these; a caller that did not gets the defaults instead of bad links or dates.
    today = now.astimezone(rt.calendar(lead.team_id).zone).date()
    if rejection.nurture_until is not None and rejection.nurture_until <= today:
        rejection = dataclasses.replace(rejection, nurture_until=None)
    if rejection.duplicate_of is not None and (rejection.duplicate_of == lead.id
                                               or session.get(Lead, rejection.duplicate_of) is None):
        rejection = dataclasses.replace(rejection, duplicate_of=None)
    details: dict[str, object] = {"rejection_reason": reason.value, "next_action": action.value}
    if rejection.note:
        details["note"] = rejection.note
    if rejection.duplicate_of is not None:
        details["duplicate_of"] = rejection.duplicate_of
    language = user_language(session, rt.config, rt.settings.default_language, rep.slack_user_id if rep else None)
    # Like the accept path, this locks the lead row (in move) before it touches the clocks, so that
    # concurrent decisions on one lead take their locks in the same order and cannot deadlock.

    if action is NextAction.REROUTE:
        chosen = rt.config.rep(rejection.reroute_to)
        if chosen is not None and chosen.email != lead.rep_email:
            routed = RoutingDecision(rep=chosen, team_id=chosen.team, rule="reroute", detail="chosen by the rep")
        else:
            exclude = {lead.rep_email} if lead.rep_email else set()
            found = route(session, rt.config, owner_email=None, country=lead.country, region=lead.region, exclude=exclude)
            routed = RoutingDecision(rep=found.rep, team_id=found.team_id, rule="reroute", detail=found.detail)
        next_text = t(language, "next.reroute", rep=f"<@{routed.rep.slack_user_id}>")
        decision = messages.Decision(False, user_id, now, reason.value, next_text)
        # Update the old card before the lead becomes a new MQL with a new card.
        refresh_card(session, rt, lead, key="rejected", decision=decision, card=(lead.card_channel, lead.card_ts))
        lead.rejection_note = rejection.note
        if rejection.corrected_email:
            lead.email = rejection.corrected_email
        if rejection.corrected_phone:
            lead.phone = rejection.corrected_phone
        if rejection.corrected_email or rejection.corrected_phone:
            details["contact_data_updated"] = [name for name, value in (
                ("email", rejection.corrected_email), ("phone", rejection.corrected_phone)) if value]
        become_mql(session, rt, lead, routed, actor=user_id, reason=f"rejected:{reason.value}", now=now,
                   details={**details, "from_rep": lead.rep_email})
    else:
        nurture_until = None
        if action is NextAction.NURTURE:
            nurture_until = rejection.nurture_until or (now + timedelta(days=rt.config.rejections.nurture_days)).date()
            next_text = t(language, "next.nurture", date=format_day(datetime.combine(nurture_until, datetime.min.time()), language))
        elif rejection.duplicate_of is not None:
            next_text = t(language, "next.duplicate", id=rejection.duplicate_of)
        else:
            next_text = t(language, "next.archive")
        move(session, lead, NEXT_ACTION_STAGE[action], actor=user_id, reason=f"rejected:{reason.value}", now=now,
             details=details, decided_at=now, decided_by=user_id, rejection_reason=reason.value,
             next_action=action.value, nurture_until=nurture_until, rejection_note=rejection.note,
             duplicate_of_id=rejection.duplicate_of)
        stop_clocks(session, lead.id, now=now)
        decision = messages.Decision(False, user_id, now, reason.value, next_text)
        refresh_card(session, rt, lead, key="rejected", decision=decision)
    _announce_rejection(session, rt, lead, user_id, reason, now=now)


def _announce_rejection(session: Session, rt: Runtime, lead: Lead, user_id: str, reason: RejectionReason, *, now: datetime) -> None:
    """Tell marketing in its channel, with the reason, the note and a button to contest the rejection."""
    from bot.contests import rejection_notice

    channel = rt.config.marketing_channel
    if channel is None:
        return
    rejection = session.scalars(
        select(LeadTransition).where(LeadTransition.lead_id == lead.id, LeadTransition.reason == f"rejected:{reason.value}")
        .order_by(LeadTransition.id.desc()).limit(1)
    ).one()
    message = rejection_notice(rt, lead, rejection, rt.settings.default_language)
    enqueue(session, key=f"lead:{lead.id}:rejection_notice:{rejection.id}", kind="notice", method="chat.postMessage",
            payload={"channel": channel, **message.to_payload()}, now=now, lead_id=lead.id)
