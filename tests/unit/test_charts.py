"""Chart drawing: valid PNGs of phone-friendly size, alternative texts in the reader's language, checked specs."""

from __future__ import annotations

import struct
import subprocess
import sys

import pytest
from pydantic import ValidationError

from bot.charts import AcceptanceChart, ChartError, FunnelChart, ReasonsChart, render_chart, render_chart_in_subprocess

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def size(content: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", content[16:24])
    return width, height


@pytest.mark.parametrize("spec", [
    FunnelChart(language="nl", title="Funnel: maart 2025", mqls=40, accepted=24, sqls=10, won=3),
    FunnelChart(language="en", title="Funnel: March 2025", mqls=0, accepted=0, sqls=0, won=0),
    AcceptanceChart(language="en", title="Acceptance", weeks=["W10", "W11", "W12"], rates=[0.5, None, 0.8], target=0.7),
    ReasonsChart(language="nl", title="Afwijsredenen", reasons=[("competitor", 3), ("incorrect_fit", 1)]),
    ReasonsChart(language="en", title="Rejection reasons", reasons=[]),
], ids=["funnel", "empty-funnel", "acceptance", "reasons", "no-reasons"])
def test_chart_is_phone_sized_png(spec: FunnelChart | AcceptanceChart | ReasonsChart) -> None:
    content, alt_text = render_chart(spec.model_dump(mode="json"))
    assert content.startswith(PNG_SIGNATURE)
    assert size(content) == (1200, 1200)
    assert 5_000 < len(content) < 500_000
    assert alt_text


def test_alt_text_follows_language() -> None:
    spec = {"kind": "funnel", "language": "nl", "title": "Funnel", "mqls": 10, "accepted": 7, "sqls": 3, "won": 1}
    assert render_chart(spec)[1] == "Funnel: 10 MQL's, 7 geaccepteerd, 3 SQL's, 1 gewonnen."
    assert render_chart({**spec, "language": "en"})[1] == "Funnel: 10 MQLs, 7 accepted, 3 SQLs, 1 won."
    reasons = {"kind": "reasons", "language": "en", "title": "Reasons", "reasons": [["no_budget_timing", 2]]}
    assert render_chart(reasons)[1] == "Rejection reasons: No budget / timing 2."


def test_alt_text_counts_one_in_singular() -> None:
    spec = {"kind": "funnel", "language": "nl", "title": "Funnel", "mqls": 1, "accepted": 1, "sqls": 1, "won": 0}
    assert render_chart(spec)[1] == "Funnel: 1 MQL, 1 geaccepteerd, 1 SQL, 0 gewonnen."
    assert render_chart({**spec, "language": "en"})[1] == "Funnel: 1 MQL, 1 accepted, 1 SQL, 0 won."
    weekly = {"kind": "acceptance", "language": "en", "title": "Acceptance", "weeks": ["W10"], "rates": [0.5],
              "target": 0.7}
    assert render_chart(weekly)[1] == "Acceptance per week over 1 week; latest week 50%, target 70%."
    assert render_chart({**weekly, "language": "nl"})[1] == (
        "Acceptatie per week over 1 week; laatste week 50%, doel 70%.")


@pytest.mark.parametrize("spec", [
    {"kind": "pie", "language": "nl", "title": "x"},
    {"kind": "funnel", "language": "de", "title": "x", "mqls": 1, "accepted": 0, "sqls": 0, "won": 0},
    {"kind": "funnel", "language": "nl", "title": "x", "mqls": -1, "accepted": 0, "sqls": 0, "won": 0},
    {"kind": "acceptance", "language": "nl", "title": "x", "weeks": ["W1"] * 14, "rates": [0.1] * 14, "target": 0.7},
    {"kind": "acceptance", "language": "nl", "title": "x", "weeks": ["W1", "W2"], "rates": [0.1], "target": 0.7},
])
def test_invalid_spec_is_rejected(spec: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        render_chart(spec)


def test_child_process_draws_the_same_chart() -> None:
    spec = {"kind": "funnel", "language": "en", "title": "Funnel", "mqls": 10, "accepted": 7, "sqls": 3, "won": 1}
    png, alt = render_chart_in_subprocess(spec)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert alt == render_chart(spec)[1]


def test_child_process_keeps_matplotlib_out_of_the_caller() -> None:
    code = ("import sys; from bot.charts import render_chart_in_subprocess; "
            "render_chart_in_subprocess({'kind': 'funnel', 'language': 'nl', 'title': 'F', "
            "'mqls': 1, 'accepted': 1, 'sqls': 0, 'won': 0}); print('matplotlib' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_child_process_error_is_named() -> None:
    with pytest.raises(ChartError, match="drawing the chart failed"):
        render_chart_in_subprocess({"kind": "pie", "language": "en", "title": "X"})
