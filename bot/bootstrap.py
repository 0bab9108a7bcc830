"""Build a `Runtime` from the settings: configuration checked, database ready."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import make_url

from bot.channels import resolve_configured_channels
from bot.clock import Clock, SystemClock
from bot.config import load_config
from bot.runtime import Runtime
from bot.settings import Settings
from storage.db import Database, normalise_url
from storage.migrate import current_revision, head_revision, upgrade

log = logging.getLogger(__name__)


class DatabaseNotReady(Exception):
    """The database schema is older than this code. The message names the command that fixes it."""


def prepare_database(url: str) -> None:
    """Upgrade an embedded SQLite database; require an explicit upgrade for a server database.

    A SQLite file that does not exist yet is created. That is logged as `db.created` with the
    path, because a mistyped DATABASE_URL otherwise starts the bot on an empty database.
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        database = make_url(url).database
        path = Path(database).expanduser() if database and database != ":memory:" else None
        new_file = path if path is not None and not path.exists() else None
        before = None if new_file is not None else current_revision(url)
        upgrade(url)
        if new_file is not None:
            log.info("db.created path=%s: a new, empty SQLite database; if you expected existing data, "
                     "check DATABASE_URL", new_file.resolve())
            return
        after = current_revision(url)
        # An in-memory database is new on every connection, so it has nothing to report.
        if path is not None and before != after:
            log.info("db.upgraded path=%s from=%s to=%s", path.resolve(), before or "none", after)
        return
    head = head_revision()
    current = current_revision(url)
    if current != head:
        raise DatabaseNotReady(
            f"database schema is at revision {current or 'none'}, this version needs {head}: run 'handoff db upgrade'"
        )


def build_runtime(settings: Settings | None = None, *, clock: Clock | None = None, prepare: bool = True) -> Runtime:
    """Load the configuration, prepare the database and resolve the configured Slack channels to ids.

    Raises ConfigError (ChannelError for a channel) or DatabaseNotReady with the fix.
    """
    settings = settings or Settings()
    clock = clock or SystemClock()
    config = load_config(settings.handoff_config)
    if prepare:
        prepare_database(settings.database_url)
    db = Database(settings.database_url)
    config = resolve_configured_channels(config, settings, db, clock.now())
    return Runtime(settings=settings, config=config, db=db, clock=clock)
