"""`handoff criteria backtest` and `handoff review` as a user runs them, on the hand-checked history."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.clock import FixedClock
from bot.config import load_config
from bot.runtime import Runtime
from bot.slack_standin import SlackStandin
from history_data import ARRIVAL, build_history
from storage.db import Database
from storage.migrate import upgrade
from support import EXAMPLE_CONFIG, make_settings
from test_cli import clean_env

HANDOFF = [sys.executable, "-m", "bot.cli"]


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HANDOFF, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = clean_env(tmp_path)
    upgrade(values["DATABASE_URL"])
    db = Database(values["DATABASE_URL"])
    rt = Runtime(settings=make_settings(values["DATABASE_URL"]), config=load_config(EXAMPLE_CONFIG), db=db,
                 clock=FixedClock(ARRIVAL))
    build_history(rt, rt.clock)
    db.dispose()
    return values


def test_backtest_compares_current_and_candidate(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["criteria", "backtest", "--period", "2025-01-01..2025-03-31", "--set", "engagement.min_score=65",
                  "--min-decided", "4", "--language", "en"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "2025-01-01 .. 2025-03-31: 14 leads"
    assert lines[1] == "Current criteria: 12 MQLs of 14 leads; of the 11 decided: acceptance 54.5%, won 18.2%"
    assert lines[2] == "Candidate criteria: 6 MQLs of 14 leads; of the 5 decided: acceptance 80%, won 40%"
    # From 65, the next observed score (70) drops acceptance to 3 of 4, so nothing beats the candidate.
    assert lines[3] == "No threshold change raises acceptance with enough decided leads."


def test_backtest_suggests_from_current_criteria(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["criteria", "backtest", "--period", "2025-01-01..2025-03-31", "--min-decided", "4",
                  "--language", "en"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert ("- Raise the score threshold from 50 to 66: acceptance would have been 80% instead of 54.5% on the "
            "leads of 2025-01-01 to 2025-03-31 (n=5 decided; 6 MQLs instead of 12).") in result.stdout.splitlines()


@pytest.mark.parametrize(("args", "expected"), [
    (["--set", "engagement.min_scor=65"], "unknown key 'engagement.min_scor'"),
    (["--period", "yesterday"], "unknown period 'yesterday'"),
    (["--min-kept-share", "1.5"], "invalid share '1.5'"),
    (["--candidate", "missing.yml"], "missing.yml: candidate criteria file not found"),
])
def test_backtest_rejects_bad_input(env: dict[str, str], tmp_path: Path, args: list[str], expected: str) -> None:
    result = run(["criteria", "backtest", *args], env, tmp_path)
    assert result.returncode != 0
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_review_prints_without_post(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["review", "quarterly", "--language", "en"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Quarterly criteria review: Q" in result.stdout
    assert result.stdout.rstrip().endswith("charts: funnel, reasons, acceptance (uploaded with --post)")


def test_review_post_needs_a_channel(env: dict[str, str], tmp_path: Path) -> None:
    named = run(["review", "monthly", "--post", "--channel", "sales"], env, tmp_path)
    assert named.returncode != 0
    assert "invalid channel 'sales': use the channel id (C...)" in named.stderr
    unset = run(["review", "monthly", "--post"], env, tmp_path)
    assert unset.returncode != 0
    assert "set digests.monthly.channel" in unset.stderr


def test_review_post_uploads_message_and_charts(tmp_path: Path) -> None:
    with SlackStandin() as slack:
        slack.add_channel("C0SALES001", "sales")
        env = clean_env(tmp_path, SLACK_BOT_TOKEN="xoxb-e2e", SLACK_SIGNING_SECRET="e2e-secret",
                        SLACK_API_URL=slack.base_url)
        upgrade(env["DATABASE_URL"])
        result = run(["review", "monthly", "--post", "--channel", "C0SALES001"], env, tmp_path)
        assert result.returncode == 0, result.stderr
        assert "4 Slack calls sent (the message and 3 charts)" in result.stdout, result.stderr
        [message] = slack.messages("C0SALES001")
        assert message["text"].startswith("Maandelijkse deep dive")
        files = slack.files("C0SALES001")
        # Each file is named after its chart and outbox item, e.g. funnel-o2.png.
        assert sorted(shared["name"].split("-o")[0] for shared in files) == ["acceptance", "funnel", "reasons"]
        assert all(shared["content"].startswith(b"\x89PNG\r\n\x1a\n") for shared in files)
