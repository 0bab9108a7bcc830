"""The PostgreSQL server that the process tests create their own schemas on."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

DEFAULT_POSTGRES_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """Return TEST_POSTGRES_URL when the server accepts a connection, else skip (or fail under HANDOFF_REQUIRE_POSTGRES=1)."""
    url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - any failure means the server cannot be used
        message = f"PostgreSQL not reachable at {url} ({type(error).__name__}); set TEST_POSTGRES_URL"
        if os.environ.get("HANDOFF_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + " (HANDOFF_REQUIRE_POSTGRES=1 makes this a failure)")
        pytest.skip(message)
    return url
