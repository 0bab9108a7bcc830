"""ClickStore: clicks stored before their ack, in as few transactions as a burst allows."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select, text

from bot.clicks import AcceptClick, ClickStore
from bot.runtime import Runtime
from storage.db import is_sqlite
from storage.models import PendingClick

# A lone surrogate: JSON can carry it as an escape, and neither sqlite3 nor psycopg can encode it as UTF-8.
UNENCODABLE_USER = "U0BAD\ud800"
CLICKED_AT = datetime(2025, 3, 28, 8, 59, 30, tzinfo=UTC)


def click(number: int, user_id: str | None = None, team_id: str = "T0HANDOFF") -> AcceptClick:
    return AcceptClick(lead_id=number, version=2, user_id=user_id or f"U{number:09d}", team_id=team_id,
                       clicked_at=CLICKED_AT)


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
        assert row.clicked_at == CLICKED_AT


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
    assert warning.startswith("click.not_stored lead=3 error=OperationalError")


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


def store_in_one_group(runtime: Runtime, store: ClickStore, queued: list[AcceptClick]) -> dict[int, Any]:
    """Store click 1 in a held transaction, queue `queued` behind it in order, then release it.

    Returns {lead id: the id that `store` returned, or the exception it raised}.
    """
    release = threading.Event()
    first_in_transaction = threading.Event()
    results: dict[int, Any] = {}

    def hold_first(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO pending_clicks") and not first_in_transaction.is_set():
            first_in_transaction.set()
            release.wait(10)

    def send(accept: AcceptClick) -> None:
        try:
            results[accept.lead_id] = store.store(accept)
        except Exception as error:  # noqa: BLE001 - recorded for the assertions
            results[accept.lead_id] = error

    event.listen(runtime.db.engine, "before_cursor_execute", hold_first)
    try:
        leader = threading.Thread(target=send, args=(click(1),))
        leader.start()
        assert first_in_transaction.wait(10)
        threads = [threading.Thread(target=send, args=(accept,)) for accept in queued]
        deadline = time.monotonic() + 10
        position = 0
        for accept, thread in zip(queued, threads, strict=True):
            thread.start()
            # The queue is read only to start the threads in order, so that the first of them leads
            # the next group. A click that `store` turns away at once never joins the queue.
            while len(store._queue) <= position and accept.lead_id not in results and time.monotonic() < deadline:
                time.sleep(0.001)
            if accept.lead_id not in results:
                position += 1
        release.set()
        for thread in (leader, *threads):
            thread.join(15)
    finally:
        release.set()
        event.remove(runtime.db.engine, "before_cursor_execute", hold_first)
    return results


def test_unencodable_click_is_not_stored(runtime: Runtime) -> None:
    store = ClickStore(runtime)
    assert store.store(click(1, UNENCODABLE_USER)) is None
    assert store.store(click(2)) is not None
    assert sorted(stored(runtime).values()) == [2]


def test_unencodable_click_spares_its_group(runtime: Runtime) -> None:
    # Click 2 queues first, so it leads the next transaction; the unencodable click 3 queues behind it.
    results = store_in_one_group(runtime, ClickStore(runtime), [click(2), click(3, UNENCODABLE_USER)])
    assert isinstance(results[1], int)
    assert isinstance(results[2], int), f"store() of a valid click returned {results[2]!r}"
    assert results[3] is None
    assert sorted(stored(runtime).values()) == [1, 2]


def test_click_the_database_rejects_spares_its_group(runtime: Runtime) -> None:
    # PostgreSQL rejects a NUL in a text parameter, SQLite stores it. Either way click 2 must be stored.
    results = store_in_one_group(runtime, ClickStore(runtime), [click(2), click(3, team_id="T0\x00BAD")])
    assert isinstance(results[2], int), f"click 2 was not stored, store() returned {results.get(2)!r}"
    assert 2 in stored(runtime).values()


def test_group_that_fails_stores_its_clicks_one_by_one(runtime: Runtime,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    # The group's transaction fails on the row of click 3; the retry of each click alone stores the others.
    store = ClickStore(runtime)

    def fail_lead_3(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if statement.startswith("INSERT INTO pending_clicks") and 3 in _lead_ids(parameters):
            raise runtime.db.engine.dialect.dbapi.OperationalError("value rejected")

    event.listen(runtime.db.engine, "before_cursor_execute", fail_lead_3)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.clicks"):
            results = store_in_one_group(runtime, store, [click(2), click(3), click(4)])
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", fail_lead_3)
    assert results[3] is None
    assert all(isinstance(results[number], int) for number in (1, 2, 4)), results
    assert sorted(stored(runtime).values()) == [1, 2, 4]
    assert [record.getMessage().split(":")[0] for record in caplog.records] == [
        "click.not_stored lead=3 error=OperationalError"]


def _lead_ids(parameters: Any) -> set[object]:
    """Return the lead ids among a statement's parameters, whatever form the driver takes them in."""
    if isinstance(parameters, dict):
        return {value for key, value in parameters.items() if key.startswith("lead_id")}
    rows = parameters if parameters and isinstance(parameters[0], (list, tuple, dict)) else [parameters]
    found: set[object] = set()
    for row in rows:
        found |= _lead_ids(row) if isinstance(row, dict) else set(row)
    return found
