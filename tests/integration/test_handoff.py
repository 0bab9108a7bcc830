"""The handoff on real SQLite and PostgreSQL: intake, qualification, routing, decisions, history."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, text

from bot.cards import card_message
from bot.handoff import decide, ingest
from bot.lifecycle import RejectionReason
from bot.runtime import Runtime
from factories import lead_input
from storage.models import Lead, LeadTransition, OutboxItem, SlaClock

SANNE = "U0SANNEDV1"
DAAN = "U0DAANBKR1"
EVA = "U0EVAVSR01"  # Sanne's and Daan's manager


def add(rt: Runtime, number: int = 1, **overrides: object) -> int:
    with rt.db.transaction() as session:
        return ingest(session, rt, lead_input(number, at=rt.clock.now(), **overrides), actor="test").lead_id


def load(rt: Runtime, lead_id: int) -> Lead:
    with rt.db.transaction() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        session.expunge(lead)
        return lead


def history(rt: Runtime, lead_id: int) -> list[tuple[str | None, str, str, str]]:
    with rt.db.transaction() as session:
        rows = session.scalars(select(LeadTransition).where(LeadTransition.lead_id == lead_id).order_by(LeadTransition.id))
        return [(row.from_stage, row.to_stage, row.reason, row.actor) for row in rows]


def outbox(rt: Runtime) -> list[OutboxItem]:
    with rt.db.transaction() as session:
        return list(session.scalars(select(OutboxItem).where(OutboxItem.kind != "home").order_by(OutboxItem.id)))


def test_qualified_lead_becomes_mql_with_card_and_clock(runtime: Runtime) -> None:
    lead_id = add(runtime, owner_email="daan.bakker@handoff-demo.nl")
    lead = load(runtime, lead_id)
    assert lead.stage == "mql"
    assert lead.rep_email == "daan.bakker@handoff-demo.nl"
    assert lead.routing is not None and lead.routing["rule"] == "owner"
    # Friday 28 March 2025 10:00 Amsterdam + 5 working days = Friday 4 April 10:00 (08:00 UTC, after DST).
    assert lead.decision_due_at is not None
    assert lead.decision_due_at.isoformat() == "2025-04-04T08:00:00+00:00"
    assert history(runtime, lead_id) == [(None, "raw", "created", "test"), ("raw", "mql", "qualified", "test")]
    items = outbox(runtime)
    assert [(i.kind, i.method, i.payload["channel"]) for i in items] == [("card", "chat.postMessage", DAAN)]
    # The sender draws the card when it posts it, in the language of the rep.
    assert items[0].payload == {"channel": DAAN, "draw_card": True}
    with runtime.db.transaction() as session:
        card = card_message(session, runtime, lead_id, DAAN)
    assert card is not None
    assert card["text"].startswith("New MQL")  # Daan reads English
    with runtime.db.transaction() as session:
        clock = session.scalars(select(SlaClock).where(SlaClock.kind == "decision")).one()
        assert clock.status == "running"
        assert clock.due_at == lead.decision_due_at


def test_same_lead_twice_is_one_lead_updated(runtime: Runtime) -> None:
    first = add(runtime, company="Oude Naam BV")
    second = add(runtime, company="Nieuwe Naam BV")
    assert first == second
    lead = load(runtime, first)
    assert lead.company == "Nieuwe Naam BV"
    assert lead.stage == "mql"
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Lead)) == 1
        assert session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.kind == "card")) == 1
        assert session.scalar(select(func.count()).select_from(LeadTransition)) == 2


def test_fit_lead_without_engagement_goes_to_nurture(runtime: Runtime) -> None:
    lead_id = add(runtime, lead_score=None)
    lead = load(runtime, lead_id)
    assert lead.stage == "nurture"
    assert history(runtime, lead_id)[-1] == ("raw", "nurture", "not_engaged", "test")
    assert outbox(runtime) == []


def test_nurture_lead_that_engages_later_becomes_mql(runtime: Runtime) -> None:
    lead_id = add(runtime, lead_score=None)
    add(runtime, lead_score=80)
    assert load(runtime, lead_id).stage == "mql"
    assert history(runtime, lead_id)[-1][:3] == ("nurture", "mql", "qualified")


def test_non_fit_lead_stays_raw_with_explanation(runtime: Runtime) -> None:
    lead_id = add(runtime, employees=5)
    lead = load(runtime, lead_id)
    assert lead.stage == "raw"
    assert lead.qualification is not None
    failed = [r["key"] for r in lead.qualification["results"] if r["dimension"] == "fit" and not r["passed"]]
    assert failed == ["employees"]


def test_round_robin_alternates_within_territory(runtime: Runtime) -> None:
    reps = [load(runtime, add(runtime, n, country="BE")).rep_email for n in range(1, 5)]
    assert reps == [
        "pieter.janssens@handoff-demo.be", "lotte.peeters@handoff-demo.be",
        "pieter.janssens@handoff-demo.be", "lotte.peeters@handoff-demo.be",
    ]


def test_unknown_territory_goes_to_fallback_owner(runtime: Runtime) -> None:
    runtime.config.criteria.fit.countries = None  # let a German lead qualify
    lead = load(runtime, add(runtime, country="Germany"))
    assert lead.rep_email == "sanne.devries@handoff-demo.nl"
    assert lead.routing is not None and lead.routing["rule"] == "fallback"


def test_accept_moves_to_sal_and_updates_card(runtime: Runtime) -> None:
    lead_id = add(runtime)
    rep = load(runtime, lead_id).rep_email
    user = SANNE if rep.startswith("sanne") else DAAN
    with runtime.db.transaction() as session:
        outcome = decide(session, runtime, lead_id=lead_id, version=2, user_id=user, accept=True)
    assert outcome.status == "done"
    lead = load(runtime, lead_id)
    assert lead.stage == "sal"
    assert lead.decided_by == user
    assert history(runtime, lead_id)[-1] == ("mql", "sal", "accepted", user)
    assert [i.kind for i in outbox(runtime)] == ["card", "card_update"]
    with runtime.db.transaction() as session:
        statuses = {kind: status for kind, status in session.execute(select(SlaClock.kind, SlaClock.status))}
    assert statuses == {"decision": "stopped", "first_contact": "running", "cadence": "running",
                        "discovery_scheduled": "running", "discovery_completed": "running"}


def test_second_click_is_already_handled(runtime: Runtime) -> None:
    lead_id = add(runtime, owner_email="sanne.devries@handoff-demo.nl")
    with runtime.db.transaction() as session:
        assert decide(session, runtime, lead_id=lead_id, version=2, user_id=SANNE, accept=True).status == "done"
    with runtime.db.transaction() as session:
        again = decide(session, runtime, lead_id=lead_id, version=2, user_id=SANNE, accept=False,
                       reason=RejectionReason.COMPETITOR)
    assert again.status == "already_handled"
    assert again.message is not None and f"<@{SANNE}>" in again.message
    assert load(runtime, lead_id).stage == "sal"
    assert len(history(runtime, lead_id)) == 3


def test_stranger_may_not_decide_but_manager_may(runtime: Runtime) -> None:
    lead_id = add(runtime, owner_email="sanne.devries@handoff-demo.nl")
    with runtime.db.transaction() as session:
        refused = decide(session, runtime, lead_id=lead_id, version=2, user_id="U0PIETERJ1", accept=True)
    assert refused.status == "not_allowed"
    assert refused.message is not None and f"<@{SANNE}>" in refused.message
    assert load(runtime, lead_id).stage == "mql"
    with runtime.db.transaction() as session:
        assert decide(session, runtime, lead_id=lead_id, version=2, user_id=EVA, accept=True).status == "done"


def test_reject_archive_records_reason(runtime: Runtime) -> None:
    lead_id = add(runtime, owner_email="sanne.devries@handoff-demo.nl")
    with runtime.db.transaction() as session:
        decide(session, runtime, lead_id=lead_id, version=2, user_id=SANNE, accept=False, reason=RejectionReason.COMPETITOR)
    lead = load(runtime, lead_id)
    assert lead.stage == "rejected"
    assert lead.rejection_reason == "competitor"
    assert lead.next_action == "archive"
    assert history(runtime, lead_id)[-1] == ("mql", "rejected", "rejected:competitor", SANNE)


def test_reject_no_budget_returns_to_nurture_with_date(runtime: Runtime) -> None:
    lead_id = add(runtime, owner_email="sanne.devries@handoff-demo.nl")
    with runtime.db.transaction() as session:
        decide(session, runtime, lead_id=lead_id, version=2, user_id=SANNE, accept=False,
               reason=RejectionReason.NO_BUDGET_TIMING)
    lead = load(runtime, lead_id)
    assert lead.stage == "nurture"
    assert lead.nurture_until == (runtime.clock.now() + timedelta(days=90)).date()


def test_reject_bad_contact_data_reroutes_to_another_rep(runtime: Runtime) -> None:
    lead_id = add(runtime, owner_email="sanne.devries@handoff-demo.nl")
    with runtime.db.transaction() as session:
        decide(session, runtime, lead_id=lead_id, version=2, user_id=SANNE, accept=False,
               reason=RejectionReason.BAD_CONTACT_DATA)
    lead = load(runtime, lead_id)
    assert lead.stage == "mql"
    assert lead.rep_email == "daan.bakker@handoff-demo.nl"
    assert lead.routing is not None and lead.routing["rule"] == "reroute"
    assert history(runtime, lead_id)[-1] == ("mql", "mql", "rejected:bad_contact_data", SANNE)
    kinds = [(i.kind, i.payload.get("channel")) for i in outbox(runtime)]
    assert kinds == [("card", SANNE), ("card_update", None), ("card", DAAN)]
    with runtime.db.transaction() as session:
        clocks = list(session.execute(select(SlaClock.generation, SlaClock.status, SlaClock.rep_email)
                                      .where(SlaClock.kind == "decision").order_by(SlaClock.id)))
    assert clocks == [(1, "stopped", "sanne.devries@handoff-demo.nl"), (2, "running", "daan.bakker@handoff-demo.nl")]


def test_history_is_never_rewritten(runtime: Runtime) -> None:
    lead_id = add(runtime, owner_email="sanne.devries@handoff-demo.nl")
    before = history(runtime, lead_id)
    with runtime.db.transaction() as session:
        decide(session, runtime, lead_id=lead_id, version=2, user_id=SANNE, accept=True)
    add(runtime, company="Changed BV")  # a later import updates data, not history
    after = history(runtime, lead_id)
    assert after[: len(before)] == before
    assert len(after) == len(before) + 1


def test_datetimes_come_back_aware_utc(runtime: Runtime) -> None:
    lead = load(runtime, add(runtime))
    assert lead.mql_at is not None and lead.mql_at.utcoffset() == timedelta(0)
    assert lead.created_at.tzinfo is not None


def test_sqlite_runs_in_wal_mode(sqlite_db) -> None:  # type: ignore[no-untyped-def]
    with sqlite_db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
