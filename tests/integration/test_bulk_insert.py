"""storage.bulk stores what SQLAlchemy Core's insert() stores, on SQLite and PostgreSQL.

Each test writes the same rows twice, once with `session.execute(insert(table), rows)`
and once with `insert_rows`, and compares the stored values as the database returns
them, JSON as text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import JSON, Table, bindparam, insert, select, text

from storage.bulk import insert_rows, pairs_in
from storage.db import Database
from storage.models import Lead, OutboxItem

NOW = datetime(2025, 3, 28, 9, 0, tzinfo=UTC)
AMSTERDAM_TIME = datetime(2025, 3, 28, 11, 30, tzinfo=timezone(timedelta(hours=1)))
LEADS: Table = Lead.__table__  # type: ignore[assignment]
# A None routing must be SQL NULL, as in bot.handoff, not JSON null.
ROUTING_NULL = {"routing": JSON(none_as_null=True)}


def _lead_rows(prefix: str) -> list[dict[str, Any]]:
    shared_routing = {"rep": "sanne@example.nl", "team": "benelux-nl", "rule": "territory", "detail": "NL"}
    rows = []
    for number in range(6):
        rows.append({
            "source": "hubspot" if number % 2 else "webinar", "external_id": f"{prefix}-{number}",
            "company": None if number == 3 else f"Bakkerij {number} & Zn",
            "lead_score": [Decimal("72.50"), Decimal("72.5"), None][number % 3],
            "employees": number * 100, "visited_pricing": number % 2 == 0, "requested_demo": False,
            "asset_downloads": number, "last_activity_at": AMSTERDAM_TIME if number % 2 else None,
            "extra": {"Tags": "Will revert", "Score": None, "Visits": number},
            "stage": "mql" if number % 3 else "raw", "version": 2, "created_at": NOW, "updated_at": NOW,
            "routing": shared_routing if number % 3 else None,
            "qualification": {"fit": True, "results": [{"key": "employees", "passed": True}]},
        })
    return rows


def _stored(db: Database, table: str, columns: str) -> list[tuple[Any, ...]]:
    with db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(f"SELECT {columns} FROM {table} ORDER BY id"))]


def _lead_columns(db: Database) -> str:
    cast = "::text" if db.engine.dialect.name == "postgresql" else ""
    plain = [column.name for column in LEADS.columns if column.name != "id" and not isinstance(column.type, JSON)]
    json_columns = [f"{column.name}{cast}" for column in LEADS.columns if isinstance(column.type, JSON)]
    return ", ".join(plain + json_columns)


def _empty_leads(db: Database) -> None:
    with db.engine.begin() as connection:
        connection.execute(LEADS.delete())


def test_insert_rows_stores_what_insert_stores(db: Database) -> None:
    with db.transaction() as session:
        session.execute(insert(LEADS).values(routing=bindparam("routing", type_=ROUTING_NULL["routing"])),
                        _lead_rows("a"))
    expected = _stored(db, "leads", _lead_columns(db))
    _empty_leads(db)

    with db.transaction() as session:
        insert_rows(session, LEADS, _lead_rows("a"), types=ROUTING_NULL)
    assert _stored(db, "leads", _lead_columns(db)) == expected
    assert len(expected) == 6
    # contact_attempts is not in the rows, so its scalar default applies, as with insert().
    assert {row[0] for row in _stored(db, "leads", "contact_attempts")} == {0}
    # A None routing is SQL NULL, through the type given in `types`.
    with db.engine.connect() as connection:
        nulls = connection.execute(select(Lead.external_id).where(Lead.routing.is_(None))).scalars().all()
    assert sorted(nulls) == ["a-0", "a-3"]


def test_insert_rows_outbox_with_shared_payload(db: Database) -> None:
    table: Table = OutboxItem.__table__  # type: ignore[assignment]
    payload = {"channel": "U0SANNEDV1", "text": "Nieuwe lead: Bakkerij & Zn <b>", "blocks": [{"type": "divider"}]}
    rows = [{"dedupe_key": f"lead:{number}:card:v2", "lead_id": None, "kind": "card", "method": "chat.postMessage",
             "payload": payload, "status": "pending", "attempts": 0, "next_attempt_at": NOW + timedelta(minutes=number),
             "created_at": NOW, "paced_channel": "U0SANNEDV1"} for number in range(4)]
    cast = "::text" if db.engine.dialect.name == "postgresql" else ""
    columns = f"dedupe_key, kind, method, payload{cast}, status, attempts, next_attempt_at, created_at, paced_channel"
    with db.transaction() as session:
        session.execute(insert(table), rows)
    expected = _stored(db, "outbox", columns)
    with db.engine.begin() as connection:
        connection.execute(table.delete())

    with db.transaction() as session:
        insert_rows(session, table, rows)
    assert _stored(db, "outbox", columns) == expected
    assert len(expected) == 4


def test_insert_rows_rejects_rows_with_different_keys(db: Database) -> None:
    rows = _lead_rows("b")
    del rows[2]["company"]
    with db.transaction() as session, pytest.raises(ValueError, match="different keys"):
        insert_rows(session, LEADS, rows)


def test_insert_rows_rejects_renamed_key(db: Database) -> None:
    # As many keys as the first row, but one of them differs.
    rows = _lead_rows("e")
    rows[4]["employee_count"] = rows[4].pop("employees")
    with db.transaction() as session, pytest.raises(ValueError, match="different keys"):
        insert_rows(session, LEADS, rows)


def test_pairs_in_finds_only_the_given_pairs(db: Database) -> None:
    with db.transaction() as session:
        insert_rows(session, LEADS, _lead_rows("c"), types=ROUTING_NULL)
    requested = [("webinar", "c-0"), ("hubspot", "c-1"), ("webinar", "c-4"), ("hubspot", "c-9")]
    # ("hubspot", "c-0") and ("webinar", "c-1") share one value each with a requested pair, but are not requested.
    with db.transaction() as session:
        found = set(session.execute(select(Lead.source, Lead.external_id).where(
            pairs_in(Lead.source, Lead.external_id, requested, dialect=session.get_bind().dialect))).all())
    assert found == {("webinar", "c-0"), ("hubspot", "c-1"), ("webinar", "c-4")}


def test_pairs_in_with_no_pairs_matches_nothing(db: Database) -> None:
    with db.transaction() as session:
        insert_rows(session, LEADS, _lead_rows("d"), types=ROUTING_NULL)
        found = session.execute(select(Lead.id).where(
            pairs_in(Lead.source, Lead.external_id, [], dialect=session.get_bind().dialect))).all()
    assert found == []
