"""Engine and session handling for SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 10_000
# How often `Database.write_without_busy_sleep` tries again for SQLite's write lock while another connection holds it.
SQLITE_LOCK_POLL_SECONDS = 0.0002
# Seconds between the WAL checkpoints of `Database.checkpoint_in_background`.
WAL_CHECKPOINT_SECONDS = 1.0
# A checkpoint that keeps failing is logged the first time and then once per this many failures.
CHECKPOINT_FAILURE_LOG_EVERY = 60


def normalise_url(url: str) -> str:
    """Return `url` with the psycopg 3 driver chosen for plain PostgreSQL URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def display_url(url: str) -> str:
    """Return a database URL for output and logs, with its password replaced by ***."""
    return make_url(normalise_url(url)).render_as_string(hide_password=True)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers go on while one writer commits; the busy timeout makes a
    # second writer wait for the lock instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # SQLite upgrades a deferred read transaction to a write lock lazily, which
    # fails with "database is locked" when two writers race; BEGIN IMMEDIATE
    # takes the write lock up front so the busy timeout applies.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and immediate transactions.

    Statement parameters are left out of error messages, because they hold lead
    data and errors end up in logs.
    """
    url = normalise_url(url)
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **kwargs,
        )
        # Let SQLAlchemy, not pysqlite, emit BEGIN, so that it can be IMMEDIATE.
        event.listen(engine, "connect", _configure_sqlite)

        @event.listens_for(engine, "connect")
        def _disable_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        event.listen(engine, "begin", _begin_immediate)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def is_postgresql(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "postgresql"


class Database:
    """An engine with its session factory; `transaction()` is the unit of work."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalise_url(url)
        self.engine = create_db_engine(self.url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.checkpointer: WalCheckpointer | None = None

    def checkpoint_in_background(self, interval_seconds: float = WAL_CHECKPOINT_SECONDS) -> None:
        """On SQLite, run the WAL checkpoints on a thread of their own instead of in the commits.

        By default the commit that brings the WAL over 1,000 pages also copies them into the
        database file and syncs it. In a probe of the Accept click that commit took 10 to 15 ms
        instead of 0.1 to 0.2 ms. The web process calls this, so that no click waits for a
        checkpoint. Does nothing on PostgreSQL or an in-memory database.
        """
        if not is_sqlite(self.engine) or self.checkpointer is not None:
            return
        if self.engine.url.database in (None, "", ":memory:"):
            return
        event.listen(self.engine, "connect", _disable_autocheckpoint)
        # Connections already in the pool were opened with automatic checkpoints.
        self.engine.dispose()
        self.checkpointer = WalCheckpointer(self.engine, interval_seconds)
        self.checkpointer.start()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Open a session in one transaction: commit on success, roll back on error."""
        with self.sessions() as session, session.begin():
            yield session

    def write_without_busy_sleep(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in a Core transaction and return its result; on SQLite, poll for the write lock.

        SQLite's own wait for a busy database sleeps 1, 2, 5, 10 ms and longer between tries, so
        a transaction that finds another process writing waits tens of milliseconds. This one
        tries again every SQLITE_LOCK_POLL_SECONDS instead, for as long as the busy timeout.
        """
        if not is_sqlite(self.engine):
            with self.engine.begin() as connection:
                return work(connection)
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        with self.engine.connect() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None
            driver.execute("PRAGMA busy_timeout=0")
            try:
                while True:
                    try:
                        with connection.begin():
                            return work(connection)
                    except OperationalError as error:
                        if "locked" not in str(error.orig) or time.monotonic() > deadline:
                            raise
                    time.sleep(SQLITE_LOCK_POLL_SECONDS)
            finally:
                driver.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
            self.checkpointer = None
        self.engine.dispose()


def _disable_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


class WalCheckpointer(threading.Thread):
    """Run a PASSIVE WAL checkpoint of a SQLite database every `interval_seconds`.

    A PASSIVE checkpoint waits for no reader or writer, so commits go on while it runs. It copies
    what no reader still needs, and the next one copies the rest.
    """

    def __init__(self, engine: Engine, interval_seconds: float) -> None:
        super().__init__(name="sqlite-wal-checkpoint", daemon=True)
        self.engine = engine
        self.interval_seconds = interval_seconds
        self._stopping = threading.Event()
        # (busy, frames in the WAL, frames checkpointed) of the last run, as PRAGMA wal_checkpoint returns them.
        self.last_result: tuple[int, int, int] | None = None
        self.failures = 0

    def run(self) -> None:
        while not self._stopping.wait(self.interval_seconds):
            self.checkpoint()

    def checkpoint(self) -> None:
        try:
            # A pooled DBAPI connection in autocommit mode: SQLAlchemy's transaction would
            # begin with BEGIN IMMEDIATE and take the write lock.
            connection = self.engine.raw_connection()
            try:
                row = connection.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            finally:
                connection.close()
            self.last_result = (int(row[0]), int(row[1]), int(row[2]))
        except Exception as error:  # noqa: BLE001 - the next run tries again; commits do not depend on it
            self.failures += 1
            if self.failures == 1 or self.failures % CHECKPOINT_FAILURE_LOG_EVERY == 0:
                log.warning("db.checkpoint_failed error=%s failures=%s", type(error).__name__, self.failures)

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=5)
