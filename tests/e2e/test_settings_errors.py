"""Invalid environment settings stop the CLI with one line per variable, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_cli import clean_env, run

CASES = [
    ("LOG_LEVEL", "verbose", "LOG_LEVEL: unknown level 'verbose'; use one of DEBUG, INFO"),
    ("DATABASE_URL", "garbage", "DATABASE_URL: not a SQLAlchemy URL (no scheme); use sqlite:///path.db"),
    ("SLACK_APP_TOKEN", "xoxb-not-an-app-token", "SLACK_APP_TOKEN: an app-level token starts with xapp-"),
    ("SLACK_API_URL", "http://127.0.0.1:9/", "SLACK_API_URL: 'http://127.0.0.1:9/' is not an http(s) URL ending in /api/"),
    ("DEFAULT_LANGUAGE", "fr", "DEFAULT_LANGUAGE: Input should be 'nl' or 'en'"),
]


@pytest.mark.parametrize(("variable", "value", "expected"), CASES, ids=[case[0] for case in CASES])
def test_invalid_setting_is_named(tmp_path: Path, variable: str, value: str, expected: str) -> None:
    result = run(["config", "check"], clean_env(tmp_path, **{variable: value}), tmp_path)
    assert result.returncode != 0
    assert "invalid environment settings:" in result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_database_password_stays_out_of_the_error(tmp_path: Path) -> None:
    result = run(["config", "check"], clean_env(tmp_path, DATABASE_URL="postgresql://bot:hunter2@127.0.0.1:99999x/db"),
                 tmp_path)
    assert "hunter2" not in result.stderr + result.stdout
