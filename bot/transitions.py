"""Guarded stage changes that append to the lead's history in the same transaction."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import CTE, Insert, Update, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.lifecycle import Stage, check_transition
from storage.db import is_postgresql
from storage.models import Lead, LeadTransition


# The lead column that keeps the first time the lead reached each of these stages.
REACHED_COLUMNS: dict[Stage, str] = {
    Stage.SAL: "reached_sal_at",
    Stage.SQL: "reached_sql_at",
    Stage.OPPORTUNITY: "reached_opportunity_at",
    Stage.WON: "won_at",
}
REJECTION_PREFIX = "rejected:"


class StaleLead(Exception):
    """The lead changed since it was read: another click, retry or process got there first."""


def move(
    session: Session,
    lead: Lead,
    to_stage: Stage,
    *,
    actor: str,
    reason: str,
    now: datetime,
    details: dict[str, Any] | None = None,
    same_stage: bool = False,
    **fields: Any,
) -> None:
    """Change `lead` to `to_stage` only if it is unchanged since it was read, and record why.

    The UPDATE matches on the version the caller read, so of two concurrent
    requests exactly one changes the row; the other raises `StaleLead`. With
    `same_stage`, a change that keeps the stage (such as a reassignment) is
    recorded the same way. The same UPDATE fills the lead's outcome times
    (`reached_sal_at` and the like, `first_rejected_at`) the first time the
    lead gets there, so they always agree with the history.
    """
    from_stage = Stage(lead.stage)
    if not (same_stage and from_stage == to_stage):
        check_transition(from_stage, to_stage)
    session.flush()
    values = move_values(lead, to_stage, reason=reason, now=now, **fields)
    transition = {"at": now, "actor": actor, "from_stage": from_stage.value, "to_stage": to_stage.value,
                  "reason": reason, "details": details or {}}
    one_statement = is_postgresql(session.get_bind())
    if one_statement:
        # One statement instead of two saves PostgreSQL a round trip. The history row is inserted
        # only when the guarded UPDATE changed the lead, so its row count detects a stale lead as well.
        parameters = {**moved_parameters(lead, values), **history_parameters(transition)}
        result = session.execute(_guarded_move(tuple(values)), parameters)
    else:
        result = session.execute(_guarded_update(tuple(values)),
                                 {**values, "lead_id": lead.id, "read_version": lead.version})
    if result.rowcount != 1:
        raise StaleLead(f"lead {lead.id} changed since version {lead.version}")
    # The row now has these values, so record them on the object without marking it dirty.
    for name, value in values.items():
        set_committed_value(lead, name, value)
    if not one_statement:
        session.execute(_TRANSITION_INSERT, {"lead_id": lead.id, **transition})


# Core statements built once: building a statement costs more than SQLite takes to run it, and a
# statement object that is used again keeps its cache key, so SQLAlchemy compiles it once.
_LEADS = Lead.__table__
_TRANSITION_INSERT = insert(LeadTransition.__table__)


@functools.lru_cache(maxsize=64)
def _guarded_update(columns: tuple[str, ...]) -> Update:
    """Build the UPDATE of `columns` that matches the lead's id and the version the caller read."""
    return (
        update(_LEADS)
        .where(_LEADS.c.id == bindparam("lead_id"), _LEADS.c.version == bindparam("read_version"))
        .values({name: bindparam(name) for name in columns})
    )


def move_values(lead: Lead, to_stage: Stage, *, reason: str, now: datetime, **fields: Any) -> dict[str, Any]:
    """Return the lead columns that a move to `to_stage` sets, `fields` included, with the version it takes."""
    return {"stage": to_stage.value, "version": lead.version + 1, "updated_at": now,
            **_first_outcome_times(lead, to_stage, reason, now), **fields}


def moved_lead(columns: tuple[str, ...]) -> CTE:
    """Build, for PostgreSQL, the guarded UPDATE of `columns` as a CTE that returns the lead's id when it matched.

    Its parameters come from `moved_parameters`. None of them is named like a column: SQLAlchemy 2.1.9
    adds a parameter named like a column to the SET clause of each UPDATE in the statement, CTEs included.
    """
    return (
        update(_LEADS)
        .where(_LEADS.c.id == bindparam("moved_lead_id"), _LEADS.c.version == bindparam("moved_read_version"))
        .values({name: bindparam(f"set_{name}") for name in columns})
        .returning(_LEADS.c.id)
        .cte("moved")
    )


def moved_parameters(lead: Lead, values: dict[str, Any]) -> dict[str, Any]:
    """Return the parameters of `moved_lead` for the move of `lead`, as read, to `values` (`move_values`)."""
    return {"moved_lead_id": lead.id, "moved_read_version": lead.version,
            **{f"set_{name}": value for name, value in values.items()}}


def history_insert(moved: CTE) -> Insert:
    """Build the INSERT of a history row for the lead that `moved` returns, with values from `history_parameters`.

    The values are bound as `transition_<column>`, so that no name clashes with a lead column.
    """
    history = LeadTransition.__table__
    source = select(moved.c.id, *(bindparam(f"transition_{name}", type_=history.c[name].type) for name in _HISTORY_COLUMNS))
    return insert(history).from_select(["lead_id", *_HISTORY_COLUMNS], source)


def history_parameters(transition: dict[str, Any]) -> dict[str, Any]:
    """Return the parameters of `history_insert` for the history row `transition` (at, actor, stages, reason, details)."""
    return {f"transition_{name}": transition[name] for name in _HISTORY_COLUMNS}


@functools.lru_cache(maxsize=64)
def _guarded_move(columns: tuple[str, ...]) -> Insert:
    """Build, for PostgreSQL, the guarded UPDATE of `columns` and the INSERT of its history row as one statement."""
    moved = moved_lead(columns)
    # SQLAlchemy keeps the row count of an INSERT only when asked to.
    return history_insert(moved).add_cte(moved).execution_options(preserve_rowcount=True)


_HISTORY_COLUMNS = ("at", "actor", "from_stage", "to_stage", "reason", "details")


def _first_outcome_times(lead: Lead, to_stage: Stage, reason: str, now: datetime) -> dict[str, datetime]:
    """Return the outcome times this move sets for the first time.

    The lead was read at the version the UPDATE matches, and only `move` writes
    these columns, so a column that is empty here is empty in the row it changes.
    """
    names = [REACHED_COLUMNS[to_stage]] if to_stage in REACHED_COLUMNS else []
    if reason.startswith(REJECTION_PREFIX):
        names.append("first_rejected_at")
    return {name: now for name in names if getattr(lead, name) is None}


def record_creation(session: Session, lead: Lead, *, actor: str, now: datetime) -> None:
    session.add(
        LeadTransition(lead_id=lead.id, at=now, actor=actor, from_stage=None, to_stage=lead.stage, reason="created", details={})
    )
