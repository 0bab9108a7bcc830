"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from storage.db import Database
from storage.migrate import alembic_config, current_revision, upgrade
from storage.models import Base


def test_migrations_match_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_database_is_at_head(db: Database) -> None:
    head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
    assert current_revision(db.url) == head


def test_upgrade_is_idempotent(db: Database) -> None:
    upgrade(db.url)
    tables = set(inspect(db.engine).get_table_names())
    assert {"leads", "lead_transitions", "sla_clocks", "outbox", "processed_events"} <= tables
