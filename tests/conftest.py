"""Shared fixtures: real SQLite and PostgreSQL databases, a fixed clock, the Slack stand-in."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.clock import FixedClock
from bot.config import HandoffConfig, load_config
from bot.runtime import Runtime
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Base
from support import EXAMPLE_CONFIG, START, make_settings

DEFAULT_POSTGRES_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"


def postgres_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _postgres_problem() -> str | None:
    try:
        engine = create_engine(postgres_url(), connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"
    return None


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str]:
    """A PostgreSQL schema of its own for this test run, migrated to the newest revision."""
    problem = _postgres_problem()
    if problem is not None:
        message = f"PostgreSQL not reachable at {postgres_url()} ({problem}); set TEST_POSTGRES_URL"
        if os.environ.get("HANDOFF_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + " (HANDOFF_REQUIRE_POSTGRES=1 makes this a failure)")
        pytest.skip(message)
    schema = f"handoff_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url())
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in postgres_url() else "?"
    url = f"{postgres_url()}{separator}options=-csearch_path%3D{schema}"
    upgrade(url)
    yield url
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def _truncate_postgres(db: Database) -> None:
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with db.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """The URL of an empty, migrated database: once SQLite, once PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "handoff.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_schema_url")
    db = Database(url)
    _truncate_postgres(db)
    db.dispose()
    yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    path = tmp_path / "handoff.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture
def config() -> HandoffConfig:
    return load_config(EXAMPLE_CONFIG)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def runtime(db: Database, config: HandoffConfig, clock: FixedClock) -> Runtime:
    return Runtime(settings=make_settings(db.url), config=config, db=db, clock=clock)
