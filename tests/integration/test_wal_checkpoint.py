"""WAL checkpoints on a thread of their own: commits no longer copy the WAL into the database file."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from storage.db import Database

# Rows of about 4 kB, so that 3,000 of them fill far more than the 1,000 pages of SQLite's automatic checkpoint.
ROW = "x" * 4000
ROWS = 3000


def _fill(db: Database) -> None:
    with db.transaction() as session:
        session.execute(text("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
    for start in range(0, ROWS, 100):
        with db.transaction() as session:
            session.execute(text("INSERT INTO filler (body) VALUES (:body)"), [{"body": ROW}] * 100)


def _page_size(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(connection.exec_driver_sql("PRAGMA page_size").scalar_one())


def test_commits_skip_checkpoint_when_in_background(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'handoff.db'}")
    # A long interval, so that only the commits could have checkpointed during the fill.
    db.checkpoint_in_background(interval_seconds=3600)
    _fill(db)

    wal = tmp_path / "handoff.db-wal"
    assert wal.stat().st_size > 2000 * _page_size(db), "a commit checkpointed and restarted the WAL"
    db.dispose()


def test_commits_checkpoint_by_default(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'handoff.db'}")
    _fill(db)

    wal = tmp_path / "handoff.db-wal"
    assert wal.stat().st_size < 1200 * _page_size(db), "the WAL grew past SQLite's automatic checkpoint"
    db.dispose()


def test_background_thread_checkpoints_wal(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'handoff.db'}")
    db.checkpoint_in_background(interval_seconds=0.05)
    checkpointer = db.checkpointer
    assert checkpointer is not None
    _fill(db)

    deadline = time.monotonic() + 10
    result = checkpointer.last_result
    while time.monotonic() < deadline:
        result = checkpointer.last_result
        if result is not None and result[1] > 0 and result[2] == result[1]:
            break
        time.sleep(0.05)
    assert result is not None, "the checkpoint thread never ran"
    busy, frames, copied = result
    assert busy == 0
    assert frames > 0
    assert copied == frames
    assert checkpointer.failures == 0

    db.dispose()
    assert not checkpointer.is_alive()


def test_background_checkpoint_only_on_sqlite(database_url: str) -> None:
    db = Database(database_url)
    db.checkpoint_in_background()

    if db.engine.dialect.name == "sqlite":
        assert db.checkpointer is not None
    else:
        assert db.checkpointer is None
    db.dispose()
