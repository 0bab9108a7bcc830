"""The outcome times on the lead row agree with its history, on SQLite and PostgreSQL.

/funnel counts accepted, SQL, won and rejected leads from `leads.reached_sal_at`,
`reached_sql_at`, `won_at` and `first_rejected_at` instead of grouping the
history. These tests drive leads through the domain functions and check that
each column contains the time of the first matching history row. A later move
never overwrites it, a stale move writes none, and migration 0010 fills the
same values for leads that existed before it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import event, inspect, select, update

from bot.lifecycle import Stage
from bot.privacy import erase_person
from bot.runtime import Runtime
from bot.transitions import StaleLead, move
from history_data import ACCEPTED, REJECTED, WON, build_history
from storage.migrate import alembic_config, current_revision, upgrade
from storage.models import Lead, LeadTransition

OUTCOME_COLUMNS = ("reached_sal_at", "reached_sql_at", "reached_opportunity_at", "won_at", "first_rejected_at")
STAGE_COLUMNS = {"reached_sal_at": "sal", "reached_sql_at": "sql", "reached_opportunity_at": "opportunity",
                 "won_at": "won"}


def outcome_times(runtime: Runtime) -> dict[int, dict[str, datetime | None]]:
    with runtime.db.transaction() as session:
        return {lead.id: {name: getattr(lead, name) for name in OUTCOME_COLUMNS}
                for lead in session.scalars(select(Lead).order_by(Lead.id))}


def history_rows(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        return len(session.scalars(select(LeadTransition.id)).all())


def times_from_history(runtime: Runtime) -> dict[int, dict[str, datetime | None]]:
    """Return the time of the first matching history row of each lead, worked out in Python."""
    expected: dict[int, dict[str, datetime | None]] = {}
    with runtime.db.transaction() as session:
        lead_ids = session.scalars(select(Lead.id)).all()
        rows = session.scalars(select(LeadTransition).order_by(LeadTransition.at, LeadTransition.id)).all()
        for lead_id in lead_ids:
            expected[lead_id] = dict.fromkeys(OUTCOME_COLUMNS)
        for row in rows:
            times = expected[row.lead_id]
            for name, stage in STAGE_COLUMNS.items():
                if row.to_stage == stage and times[name] is None:
                    times[name] = row.at
            if row.reason.startswith("rejected:") and times["first_rejected_at"] is None:
                times["first_rejected_at"] = row.at
    return expected


def test_outcome_times_match_history(runtime: Runtime, clock: Any) -> None:
    ids = build_history(runtime, clock)
    stored = outcome_times(runtime)
    assert stored == times_from_history(runtime)
    for number in ACCEPTED:
        assert stored[ids[number]]["reached_sal_at"] is not None
        assert stored[ids[number]]["first_rejected_at"] is None
    for number in REJECTED:
        assert stored[ids[number]]["first_rejected_at"] is not None
        assert stored[ids[number]]["reached_sal_at"] is None
    for number in WON:
        won = stored[ids[number]]
        assert won["reached_sal_at"] < won["reached_sql_at"]
        assert won["reached_sql_at"] <= won["reached_opportunity_at"]
        assert won["reached_opportunity_at"] <= won["won_at"]


def test_first_times_survive_later_moves(runtime: Runtime, clock: Any) -> None:
    ids = build_history(runtime, clock)
    lead_id = ids[ACCEPTED[0]]
    with runtime.db.transaction() as session:
        first_sal = session.get(Lead, lead_id).reached_sal_at  # type: ignore[union-attr]
    assert first_sal is not None
    # SAL -> nurture -> MQL -> SAL again: the second acceptance keeps the first time.
    for stage, reason in ((Stage.NURTURE, "nurture"), (Stage.MQL, "reengaged"), (Stage.SAL, "accepted")):
        clock.advance(timedelta(days=3))
        with runtime.db.transaction() as session:
            lead = session.get(Lead, lead_id)
            assert lead is not None
            move(session, lead, stage, actor="test", reason=reason, now=clock.now())
            assert lead.reached_sal_at == first_sal  # the object agrees with the row
    assert outcome_times(runtime)[lead_id]["reached_sal_at"] == first_sal
    assert outcome_times(runtime) == times_from_history(runtime)


def test_stale_move_writes_no_outcome_time(runtime: Runtime, clock: Any) -> None:
    ids = build_history(runtime, clock)
    lead_id = ids[12]  # still an MQL, waiting for a decision
    with runtime.db.transaction() as session:
        stale = session.get(Lead, lead_id)
        assert stale is not None
        session.expunge(stale)
    with runtime.db.transaction() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        move(session, lead, Stage.MQL, actor="test", reason="reassigned", now=clock.now(), same_stage=True)
    with pytest.raises(StaleLead), runtime.db.transaction() as session:
        move(session, session.merge(stale, load=False), Stage.SAL, actor="test", reason="accepted", now=clock.now())
    assert outcome_times(runtime)[lead_id]["reached_sal_at"] is None


def test_stale_move_writes_no_history(runtime: Runtime, clock: Any) -> None:
    # In a savepoint, as a rejection runs it: the caller's transaction goes on after the StaleLead.
    ids = build_history(runtime, clock)
    lead_id = ids[12]
    before = history_rows(runtime)
    with runtime.db.transaction() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        read_version = lead.version
        # Another process moved the lead on; the loaded object keeps the version it read.
        session.execute(update(Lead).where(Lead.id == lead_id).values(version=read_version + 1)
                        .execution_options(synchronize_session=False))
        with pytest.raises(StaleLead), session.begin_nested():
            move(session, lead, Stage.SAL, actor="test", reason="accepted", now=clock.now())

    assert history_rows(runtime) == before


def test_move_statements_per_database(runtime: Runtime, clock: Any) -> None:
    # PostgreSQL changes the lead and appends its history row in one statement.
    ids = build_history(runtime, clock)
    statements: list[str] = []

    def seen(_connection: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement)

    with runtime.db.transaction() as session:
        lead = session.get(Lead, ids[12])
        assert lead is not None
        event.listen(runtime.db.engine, "before_cursor_execute", seen)
        try:
            move(session, lead, Stage.SAL, actor="test", reason="accepted", now=clock.now())
        finally:
            event.remove(runtime.db.engine, "before_cursor_execute", seen)

    expected = 1 if runtime.db.engine.dialect.name == "postgresql" else 2
    assert len(statements) == expected, statements
    with runtime.db.transaction() as session:
        last = session.scalars(select(LeadTransition).where(LeadTransition.lead_id == ids[12])
                               .order_by(LeadTransition.id.desc()).limit(1)).one()
    assert (last.from_stage, last.to_stage, last.reason, last.actor) == ("mql", "sal", "accepted", "test")


def test_erasure_keeps_outcome_times(runtime: Runtime, clock: Any) -> None:
    ids = build_history(runtime, clock)
    before = outcome_times(runtime)
    with runtime.db.transaction() as session:
        email = session.get(Lead, ids[WON[0]]).email  # type: ignore[union-attr]
        assert email is not None
        assert erase_person(session, email, clock.now()) >= 1
    assert outcome_times(runtime) == before


def test_migration_fills_existing_outcome_times(runtime: Runtime, clock: Any) -> None:
    build_history(runtime, clock)
    written_by_move = outcome_times(runtime)
    history = history_rows(runtime)
    url = runtime.db.url
    head = current_revision(url)
    runtime.db.dispose()
    try:
        command.downgrade(alembic_config(url), "0009")
        columns = {column["name"] for column in inspect(runtime.db.engine).get_columns("leads")}
        runtime.db.dispose()
        assert columns.isdisjoint(OUTCOME_COLUMNS)
    finally:
        upgrade(url)  # also leaves the shared schema at the newest revision when the downgrade failed
    assert current_revision(url) == head
    # The downgrade dropped the columns without touching the history (no table copy on SQLite).
    assert history_rows(runtime) == history
    filled = outcome_times(runtime)
    assert filled == written_by_move
    assert sum(1 for times in filled.values() if times["won_at"] is not None) == len(WON)
