"""ClickStore: clicks stored before their ack, in as few transactions as a burst allows."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from sqlalchemy import event, select, text

from bot.clicks import AcceptClick, ClickStore
from bot.runtime import Runtime
from storage.db import is_sqlite
from storage.models import PendingClick


def click(number: int) -> AcceptClick:
    return AcceptClick(lead_id=number, version=2, user_id=f"U{number:09d}", team_id="T0HANDOFF")


def stored(runtime: Runtime) -> dict[int, int]:
    """Return the stored clicks as {row id: lead id}."""
    with runtime.db.transaction() as session:
        return {row.id: row.lead_id for row in session.execute(select(PendingClick.id, PendingClick.lead_id))}


def test_a_click_is_stored_with_its_time(runtime: Runtime) -> None:
    pending_id = ClickStore(runtime).store(click(7))
    assert pending_id is not None
    with runtime.db.transaction() as session:
        row = session.get(PendingClick, pending_id)
        assert row is not None
        assert (row.lead_id, row.version, row.user_id, row.team_id, row.attempts) == (7, 2, "U000000007", "T0HANDOFF", 0)
        assert row.clicked_at == runtime.clock.now()


def test_a_burst_is_stored_in_fewer_transactions_than_clicks(runtime: Runtime) -> None:
    store = ClickStore(runtime)
    commits: list[int] = []

    def record(_connection: Any) -> None:
        commits.append(1)

    event.listen(runtime.db.engine, "commit", record)
    # Each transaction waits a little, so that the clicks of the burst queue behind it.
    slow = threading.Event()

    def slow_insert(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO pending_clicks"):
            slow.wait(0.05)

    event.listen(runtime.db.engine, "before_cursor_execute", slow_insert)
    results: dict[int, int | None] = {}
    barrier = threading.Barrier(30)

    def send(number: int) -> None:
        barrier.wait(10)
        results[number] = store.store(click(number))

    threads = [threading.Thread(target=send, args=(number,)) for number in range(1, 31)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", slow_insert)
        event.remove(runtime.db.engine, "commit", record)
    assert None not in results.values()
    # Every click has a row of its own, and each caller got the id of its own click's row.
    assert stored(runtime) == {pending_id: number for number, pending_id in results.items() if pending_id is not None}
    assert len(results) == 30
    assert 1 < len(commits) < 30, f"{len(commits)} transactions for 30 clicks"


def test_a_failed_transaction_returns_none_for_its_clicks_and_the_next_one_still_stores(
        runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    store = ClickStore(runtime)
    failing = threading.Event()
    failing.set()

    def fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if failing.is_set() and statement.startswith("INSERT INTO pending_clicks"):
            raise runtime.db.engine.dialect.dbapi.OperationalError("disk I/O error")

    event.listen(runtime.db.engine, "before_cursor_execute", fail)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.clicks"):
            assert store.store(click(3)) is None
        failing.clear()
        assert store.store(click(4)) is not None
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", fail)
    assert list(stored(runtime).values()) == [4]
    [warning] = [record.getMessage() for record in caplog.records if record.getMessage().startswith("click.not_stored")]
    assert warning.startswith("click.not_stored leads=3 error=OperationalError")


def test_a_click_waiting_too_long_is_decided_in_memory_and_the_queue_goes_on(runtime: Runtime) -> None:
    store = ClickStore(runtime, wait_seconds=0.1)
    release = threading.Event()
    first_in_transaction = threading.Event()

    def hold_first(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO pending_clicks") and not first_in_transaction.is_set():
            first_in_transaction.set()
            release.wait(10)

    event.listen(runtime.db.engine, "before_cursor_execute", hold_first)
    try:
        first: dict[str, int | None] = {}
        leader = threading.Thread(target=lambda: first.update(id=store.store(click(1))))
        leader.start()
        assert first_in_transaction.wait(10)
        # The second click queues behind the held transaction and gives up after 0.1 s.
        assert store.store(click(2)) is None
        release.set()
        leader.join(10)
        assert first["id"] is not None
        # The queue is not stuck: the next click leads a transaction of its own.
        assert store.store(click(3)) is not None
    finally:
        release.set()
        event.remove(runtime.db.engine, "before_cursor_execute", hold_first)
    assert sorted(stored(runtime).values()) == [1, 3]


def test_sqlite_click_waits_for_another_writer_and_is_stored_once_it_commits(runtime: Runtime) -> None:
    if not is_sqlite(runtime.db.engine):
        pytest.skip("the write lock of a whole database is SQLite's")
    store = ClickStore(runtime)
    other = runtime.db.engine.connect()
    writing = other.begin()  # BEGIN IMMEDIATE: the write lock until the commit
    results: dict[str, Any] = {}

    def send() -> None:
        started = time.monotonic()
        results["id"] = store.store(click(5))
        results["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=send)
    try:
        thread.start()
        time.sleep(0.3)
        assert thread.is_alive(), "the click was stored while another connection held the write lock"
        writing.commit()
        thread.join(10)
    finally:
        other.close()
    assert results["id"] is not None
    assert results["seconds"] >= 0.3
    assert list(stored(runtime).values()) == [5]
    # The connection's own busy timeout is back for the transactions that come next.
    with runtime.db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA busy_timeout")).scalar_one() == 10_000
