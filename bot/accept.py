"""An Accept from a click as one statement on PostgreSQL.

A click's Accept changes the lead, appends its history row and queues the card update with a
claim. Its clocks switch after the card update (`bot.sla.clocks.start_waiting_sal_clocks`). On
SQLite that takes three statements (`move` and `enqueue`). PostgreSQL runs them as one statement
of data-modifying CTEs, which saves round trips of about 0.4 ms each in the click benchmark
(benchmarks/RESULTS.md).
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.cards import card_update_key, card_update_payload, card_update_recipe, home_users
from bot.lifecycle import Stage, check_transition
from bot.outbox import Claim, claimed_insert_parameters, insert_claimed_for_moved, outbox_row
from bot.runtime import Runtime
from bot.transitions import StaleLead, history_insert, history_parameters, move_values, moved_lead, moved_parameters
from storage.models import Lead


def accept_in_one_statement(session: Session, rt: Runtime, lead: Lead, *, user_id: str, now: datetime,
                            claim: Claim, language: str | None) -> None:
    """Accept `lead` for `user_id` and leave its clocks waiting, as `decide` does with `defer_clocks`.

    Raises StaleLead, and writes nothing, when the lead changed since it was read.
    """
    check_transition(Stage(lead.stage), Stage.SAL)
    values = move_values(lead, Stage.SAL, reason="accepted", now=now, decided_at=now, decided_by=user_id,
                         sal_clocks_from=now)
    read_version = lead.version
    lead_parameters = moved_parameters(lead, values)
    transition = {"at": now, "actor": user_id, "from_stage": lead.stage, "to_stage": Stage.SAL.value,
                  "reason": "accepted", "details": {}}
    # The card shows the lead as the statement leaves it. On StaleLead the caller loads the lead again.
    for name, value in values.items():
        set_committed_value(lead, name, value)
    rep = rt.config.rep(lead.rep_email)
    payload = card_update_payload(session, rt, lead, rep, language=language)
    # As in `refresh_card` with a claim: the drawn card is sent, and the outbox keeps what to draw.
    row = outbox_row(card_update_key(lead, "accepted"), "card_update", "chat.update", card_update_recipe(payload),
                     now, lead.id)
    until = claim.until()
    # No parameter is named like a column (see `moved_lead`).
    parameters: dict[str, Any] = {
        **lead_parameters, **history_parameters(transition),
        **claimed_insert_parameters(row, claim.token, until),
    }
    result = session.execute(_accept_statement(tuple(values)), parameters).one_or_none()
    if result is None:
        raise StaleLead(f"lead {lead.id} changed since version {read_version}")
    item_id, claimed_by = result
    claim.record_insert({**row, "payload": payload}, item_id, claimed_by, until)
    claim.home_users.extend(home_users(rt, rep))


@functools.lru_cache(maxsize=8)
def _accept_statement(columns: tuple[str, ...]) -> Select[Any]:
    """Build the statement of `accept_in_one_statement` for the lead columns it sets.

    It returns one row when the lead matched its version: the card update's id and `claimed_by`.
    It returns no row otherwise.
    """
    moved = moved_lead(columns)
    history = history_insert(moved).cte("history")
    card = insert_claimed_for_moved(moved).cte("card")
    return select(card.c.id, card.c.claimed_by).add_cte(moved, history, card)
