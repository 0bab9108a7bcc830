"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from bot.bootstrap import prepare_database
from storage.db import Database, create_db_engine, display_url
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


def test_sqlite_downgrade_keeps_child_rows(tmp_path: Path) -> None:
    # Batch mode copies `leads` and drops the original; with foreign keys on, that drop
    # would cascade into the history of every lead.
    url = f"sqlite:///{tmp_path / 'downgrade.db'}"
    upgrade(url)
    engine = create_db_engine(url)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO leads (id, source, external_id, stage, version, extra, visited_pricing, requested_demo, "
            "asset_downloads, contact_attempts, created_at, updated_at) "
            "VALUES (1, 'website', 'W-1', 'raw', 1, '{}', 0, 0, 0, 0, '2025-01-01', '2025-01-01')"))
        connection.execute(text(
            "INSERT INTO lead_transitions (lead_id, at, actor, to_stage, reason, details) "
            "VALUES (1, '2025-01-01', 'import', 'raw', 'created', '{}')"))
    engine.dispose()
    command.downgrade(alembic_config(url), "0001")
    engine = create_db_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM lead_transitions")).scalar() == 1
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1, "foreign keys are on again"
    engine.dispose()
    upgrade(url)
    assert current_revision(url) == ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def test_new_sqlite_file_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # A mistyped DATABASE_URL creates a new file; the log names it, so the operator sees the empty database.
    url = f"sqlite:///{tmp_path / 'handof.db'}"
    with caplog.at_level(logging.INFO, logger="bot.bootstrap"):
        prepare_database(url)
    created = [record.getMessage() for record in caplog.records if record.getMessage().startswith("db.created")]
    assert created == [f"db.created path={tmp_path / 'handof.db'}: a new, empty SQLite database; "
                       "if you expected existing data, check DATABASE_URL"]

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bot.bootstrap"):
        prepare_database(url)
    assert not [record for record in caplog.records if record.getMessage().startswith("db.created")]


def test_upgraded_sqlite_file_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # An existing file at an older revision is upgraded at start, and the log names both revisions.
    path = tmp_path / "older.db"
    url = f"sqlite:///{path}"
    command.upgrade(alembic_config(url), "0010")
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    with caplog.at_level(logging.INFO, logger="bot.bootstrap"):
        prepare_database(url)
    upgraded = [record.getMessage() for record in caplog.records if record.getMessage().startswith("db.")]
    assert upgraded == [f"db.upgraded path={path} from=0010 to={head}"]

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bot.bootstrap"):
        prepare_database(url)
    assert not [record for record in caplog.records if record.getMessage().startswith("db.")]


def test_display_url_hides_password() -> None:
    displayed = display_url("postgresql://handoff:s3cret-pw@db.internal:5432/handoff")
    assert "s3cret-pw" not in displayed
    assert displayed == "postgresql+psycopg://handoff:***@db.internal:5432/handoff"
