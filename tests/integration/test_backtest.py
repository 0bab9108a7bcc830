"""The criteria backtest on a hand-checked history: replays, candidate criteria and the threshold search.

Every expected rate below is worked out by hand from the table in history_data.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.backtest import (
    BacktestError,
    ReplayResult,
    apply_overrides,
    describe_suggestion,
    last_quarter,
    load_candidate,
    load_history,
    replay,
    search_thresholds,
)
from bot.runtime import Runtime
from history_data import build_history

AFTER_QUARTER = datetime(2025, 4, 7, 8, 0, tzinfo=UTC)


@pytest.fixture
def history(runtime: Runtime, clock: Any) -> list[Any]:
    build_history(runtime, clock)
    period = last_quarter(AFTER_QUARTER, "Europe/Amsterdam")
    with runtime.db.transaction() as session:
        return load_history(session, period)


def test_last_quarter_is_previous_calendar_quarter() -> None:
    period = last_quarter(AFTER_QUARTER, "Europe/Amsterdam")
    assert (period.first_day.isoformat(), period.last_day.isoformat()) == ("2025-01-01", "2025-03-31")
    assert period.start == datetime(2024, 12, 31, 23, 0, tzinfo=UTC)


def test_history_outcomes_come_from_transitions(history: list[Any]) -> None:
    assert len(history) == 14
    assert sum(lead.accepted for lead in history) == 6
    assert sum(lead.rejected for lead in history) == 5
    assert sum(lead.won for lead in history) == 2
    assert sum(lead.sql for lead in history) == 2
    assert sum(lead.first_mql_at is not None for lead in history) == 12


def test_replay_of_current_criteria(runtime: Runtime, history: list[Any]) -> None:
    result = replay(history, runtime.config.criteria)
    assert result == ReplayResult(leads=14, mqls=12, decided=11, accepted=6, won=2)
    assert result.acceptance_rate == Decimal(6) / Decimal(11)
    assert result.win_rate == Decimal(2) / Decimal(11)


def test_replay_of_raised_score_threshold(runtime: Runtime, history: list[Any]) -> None:
    candidate = apply_overrides(runtime.config.criteria, ["engagement.min_score=65"])
    result = replay(history, candidate)
    # Scores 66, 70, 75, 80, 85 and 90 stay MQLs; 90 is undecided; 85 was rejected; 66 and 75 won.
    assert result == ReplayResult(leads=14, mqls=6, decided=5, accepted=4, won=2)
    assert result.acceptance_rate == Decimal("0.8")
    assert result.win_rate == Decimal("0.4")


def test_replay_of_loosened_fit_adds_only_undecided(runtime: Runtime, history: list[Any]) -> None:
    candidate = apply_overrides(runtime.config.criteria, ["fit.industries=Packaging,Retail"])
    result = replay(history, candidate)
    assert result.mqls == 13  # lead 14 (Retail) joins, but sales never saw it
    assert (result.decided, result.accepted) == (11, 6)


def test_search_suggests_best_score_threshold(runtime: Runtime, history: list[Any]) -> None:
    suggestions = search_thresholds(history, runtime.config.criteria, min_decided=4, min_kept_share=Decimal("0.5"))
    # Threshold 66 keeps 6 of 12 MQLs (the least allowed) with 4 of 5 accepted; 70 would keep only 5.
    assert [(item.key, item.current, item.proposed) for item in suggestions] == [
        ("engagement.min_score", Decimal(50), Decimal(66))]
    [best] = suggestions
    assert best.after.acceptance_rate == Decimal("0.8")
    text = describe_suggestion(best, "en", "last quarter's leads")
    assert text == ("Raise the score threshold from 50 to 66: acceptance would have been 80% instead of 54.5% "
                    "on last quarter's leads (n=5 decided; 6 MQLs instead of 12).")
    dutch = describe_suggestion(best, "nl", "de leads van vorig kwartaal")
    assert dutch.startswith("Verhoog de scoredrempel van 50 naar 66: de acceptatie was dan 80% geweest")


def test_search_respects_minimum_sample(runtime: Runtime, history: list[Any]) -> None:
    # The default needs 10 decided MQLs: only threshold 54 keeps that many (6 of 10 accepted).
    default = search_thresholds(history, runtime.config.criteria)
    assert [(item.proposed, item.after.accepted, item.after.decided) for item in default] == [(Decimal(54), 6, 10)]
    assert search_thresholds(history, runtime.config.criteria, min_decided=11) == []
    kept = search_thresholds(history, runtime.config.criteria, min_decided=4, min_kept_share=Decimal("0.75"))
    # Keeping 9 of 12 MQLs: threshold 55 (6 of 9 accepted) beats 58 (5 of 8).
    assert [(item.proposed, item.after.accepted, item.after.decided) for item in kept] == [(Decimal(55), 6, 9)]


@pytest.mark.parametrize(("assignment", "expected"), [
    ("engagement.min_scor=65", "unknown key 'engagement.min_scor'"),
    ("engagement.min_score", "use KEY=VALUE"),
    ("engagement.min_score=high", "engagement.min_score='high'"),
    ("fit.employees=100", "'fit.employees' is not a single value"),
    ("fit.employees.min=2000", "min 2000 is greater than max 1000"),
    ("engagement.require=maybe", "engagement.require='maybe'"),
])
def test_overrides_reject_bad_input(runtime: Runtime, assignment: str, expected: str) -> None:
    with pytest.raises(BacktestError) as error:
        apply_overrides(runtime.config.criteria, [assignment])
    assert expected in str(error.value)


def test_candidate_file_keeps_unnamed_sections(runtime: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "candidate.yml"
    path.write_text("criteria:\n  engagement:\n    min_score: 65\n", encoding="utf-8")
    candidate = load_candidate(str(path), runtime.config.criteria)
    assert candidate.engagement.min_score == Decimal(65)
    assert candidate.engagement.min_asset_downloads == 2  # keys the file leaves out keep their current values
    assert candidate.fit == runtime.config.criteria.fit


def test_candidate_file_errors_name_the_file(runtime: Runtime, tmp_path: Path) -> None:
    with pytest.raises(BacktestError, match="not found"):
        load_candidate(str(tmp_path / "missing.yml"), runtime.config.criteria)
    bad = tmp_path / "bad.yml"
    bad.write_text("criteria:\n  scoring: {}\n", encoding="utf-8")
    with pytest.raises(BacktestError, match="expected a mapping with fit"):
        load_candidate(str(bad), runtime.config.criteria)
