"""Paths, the start moment and settings shared by the tests and their helper processes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.settings import Settings

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = REPO / "examples" / "handoff.example.yml"
SHARED_DATA = REPO.parent / "shared" / "data"
# Friday 28 March 2025, 10:00 in Amsterdam: a working moment with a weekend and a DST change ahead.
START = datetime(2025, 3, 28, 9, 0, tzinfo=UTC)


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "slack_bot_token": "xoxb-test-token",
        "slack_signing_secret": "test-signing-secret",
        "database_url": database_url,
        "handoff_config": EXAMPLE_CONFIG,
        "webhook_secret": "test-webhook-secret",
        "default_language": "nl",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]
