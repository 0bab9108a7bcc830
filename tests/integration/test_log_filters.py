"""Database errors in the logs: the failing values that PostgreSQL quotes are cut out."""

from __future__ import annotations

import io
import logging
from datetime import datetime, timezone

import pytest
from sqlalchemy import Table

from bot.log_filters import DatabaseErrorValues
from storage.bulk import insert_rows
from storage.db import Database
from storage.models import Lead

EMAIL = "jan.jansen@voorbeeld-fictief.nl"
NOW = datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc)


def _lead_row() -> dict[str, object]:
    # The external id of some exports is the contact's e-mail address.
    return {"source": "csv", "external_id": EMAIL, "email": EMAIL, "stage": "raw", "version": 1, "extra": {},
            "created_at": NOW, "updated_at": NOW}


def _logged_failure(db: Database, *, bulk: bool) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(DatabaseErrorValues())
    logger = logging.getLogger("test.log_filters")
    logger.addHandler(handler)
    table: Table = Lead.__table__  # type: ignore[assignment]
    try:
        with pytest.raises(Exception) as caught:
            with db.transaction() as session:
                if bulk:
                    insert_rows(session, table, [_lead_row(), _lead_row()])
                else:
                    session.execute(table.insert(), [_lead_row(), _lead_row()])
        try:
            raise caught.value
        except Exception:
            logger.exception("import.row_failed line=%s", 2)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "orm"])
def test_duplicate_key_logged_without_value(db: Database, bulk: bool) -> None:
    logged = _logged_failure(db, bulk=bulk)

    assert "import.row_failed line=2" in logged
    assert "Traceback" in logged
    assert "unique" in logged.lower()
    assert EMAIL not in logged
    assert "jan.jansen" not in logged


def test_filter_keeps_other_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(DatabaseErrorValues())
    logger = logging.getLogger("test.log_filters.other")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("lead id 'abc' is not a number")
        except ValueError:
            logger.exception("action.failed")
    finally:
        logger.removeHandler(handler)

    logged = stream.getvalue()
    assert "action.failed" in logged
    assert "ValueError: lead id 'abc' is not a number" in logged


def test_configured_logging_installs_filter() -> None:
    from bot.cli import configure_logging

    root = logging.getLogger()
    before = {handler: list(handler.filters) for handler in root.handlers}
    configure_logging("INFO")
    try:
        assert root.handlers
        for handler in root.handlers:
            assert any(isinstance(item, DatabaseErrorValues) for item in handler.filters), handler
    finally:
        for handler in root.handlers:
            handler.filters = before.get(handler, [])
