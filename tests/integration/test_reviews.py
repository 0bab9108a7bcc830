"""The monthly deep dive and quarterly criteria review: content on a hand-checked history, and once per period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.config import MonthlyReview, QuarterlyReview
from bot.reviews import due_monthly_review, due_quarterly_review, monthly_review, quarterly_review
from bot.runtime import Runtime
from history_data import build_history
from storage.models import OutboxItem


def outbox(rt: Runtime) -> list[OutboxItem]:
    with rt.db.transaction() as session:
        return list(session.scalars(select(OutboxItem).where(OutboxItem.kind.in_(["review", "chart"]))
                                    .order_by(OutboxItem.id)))


def review_text(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(str(block.get("text", {}).get("text", "")) for block in blocks)


def test_monthly_review_content(runtime: Runtime, clock: Any) -> None:
    build_history(runtime, clock)
    review = monthly_review(runtime, datetime(2025, 3, 3, 8, 0, tzinfo=UTC), "en")
    text = review_text(review.message.blocks)

    assert "*Monthly deep dive: February 2025*" in text
    assert "12 MQLs · 6 accepted · 5 rejected · 1 open · 2 SQLs · 2 won" in text
    assert "• *hubspot*: 12 MQLs · acceptance 54.5% · 2 SQLs · 2 won" in text
    assert "• *(no campaign)*: 12 MQLs" in text
    assert "First contact: no data yet." in text
    assert "Accept/reject decision: median 2 h (n=11)" in text  # decided 2 working hours after arrival
    # Bands from the threshold 50: scores 52-62 (2 of 6 accepted), 66-75 (3 of 3, 2 won), 80-85 (1 of 2).
    assert "• Score < 50: 0 decided · acceptance n/a · won n/a" in text
    assert "• Score 50–64: 6 decided · acceptance 33.3% · won 0%" in text
    assert "• Score 65–79: 3 decided · acceptance 100% · won 66.7%" in text
    assert "• Score ≥ 80: 2 decided · acceptance 50% · won 0%" in text
    assert review.message.text == "Monthly deep dive February 2025: 12 MQLs, acceptance 54.5%."
    assert [chart.kind for chart in review.charts] == ["funnel", "reasons", "acceptance"]
    funnel = review.charts[0]
    assert (funnel.mqls, funnel.accepted, funnel.sqls, funnel.won) == (12, 6, 2, 2)  # type: ignore[union-attr]
    assert review.charts[1].reasons == [("competitor", 5)]  # type: ignore[union-attr]


def test_monthly_review_in_dutch(runtime: Runtime, clock: Any) -> None:
    build_history(runtime, clock)
    review = monthly_review(runtime, datetime(2025, 3, 3, 8, 0, tzinfo=UTC))
    text = review_text(review.message.blocks)
    assert "*Maandelijkse deep dive: februari 2025*" in text
    assert "• Score 65–79: 3 beslist · acceptatie 100% · gewonnen 66,7%" in text
    assert review.charts[0].title == "Funnel: februari 2025"


def test_quarterly_review_content(runtime: Runtime, clock: Any) -> None:
    build_history(runtime, clock)
    review = quarterly_review(runtime, datetime(2025, 4, 7, 8, 0, tzinfo=UTC), "en")
    text = review_text(review.message.blocks)

    assert "*Quarterly criteria review: Q1 2025*" in text
    assert "Current criteria: 12 MQLs of 14 leads; of the 11 decided: acceptance 54.5%, won 18.2%" in text
    # Barely = within 10 % of the threshold 50, so scores 50 to 54.99: leads 1 and 2, both rejected.
    assert "*Lead score* (≥ 50)" in text
    assert "barely passed: acceptance 0% · won 0% (n=2)" in text
    assert "passed comfortably: acceptance 66.7% · won 22.2% (n=9)" in text
    # Every accepted MQL passed the score comfortably, against 3 of 5 rejected ones.
    assert "• Lead score: passed comfortably by 100% of accepted and 60% of rejected MQLs" in text
    assert ("• Raise the score threshold from 50 to 54: acceptance would have been 60% instead of 54.5% "
            "on the leads of Q1 2025 (n=10 decided; 11 MQLs instead of 12).") in text
    assert review.message.text == "Quarterly criteria review Q1 2025; suggested threshold changes: 1."
    assert [chart.kind for chart in review.charts] == ["funnel", "reasons", "acceptance"]
    assert len(review.charts[2].weeks) == 13  # type: ignore[union-attr]


def test_monthly_review_goes_out_once_per_month(runtime: Runtime, clock: Any) -> None:
    runtime.config.digests.monthly = MonthlyReview(channel="C0REVIEW01", day=3, time="09:00")
    clock.set(datetime(2025, 3, 3, 7, 59, tzinfo=UTC))  # 08:59 in Amsterdam: too early
    assert due_monthly_review(runtime) is False
    clock.set(datetime(2025, 3, 3, 8, 0, tzinfo=UTC))
    assert due_monthly_review(runtime) is True
    assert due_monthly_review(runtime) is False
    clock.advance(timedelta(days=20))
    assert due_monthly_review(runtime) is False
    clock.set(datetime(2025, 4, 3, 7, 0, tzinfo=UTC))  # 09:00 in Amsterdam, summer time
    assert due_monthly_review(runtime) is True

    keys = [item.dedupe_key for item in outbox(runtime)]
    assert keys == [
        "review:monthly:2025-02", "review:monthly:2025-02:chart:funnel", "review:monthly:2025-02:chart:reasons",
        "review:monthly:2025-02:chart:acceptance",
        "review:monthly:2025-03", "review:monthly:2025-03:chart:funnel", "review:monthly:2025-03:chart:reasons",
        "review:monthly:2025-03:chart:acceptance",
    ]
    first = outbox(runtime)[0]
    assert first.payload["channel"] == "C0REVIEW01"
    assert first.payload["text"].startswith("Maandelijkse deep dive februari 2025")


def test_quarterly_review_goes_out_once_per_quarter(runtime: Runtime, clock: Any) -> None:
    runtime.config.digests.quarterly = QuarterlyReview(channel="C0REVIEW01", day=2, time="09:00")
    clock.set(datetime(2025, 4, 2, 6, 59, tzinfo=UTC))
    assert due_quarterly_review(runtime) is False
    clock.set(datetime(2025, 4, 2, 7, 0, tzinfo=UTC))
    assert due_quarterly_review(runtime) is True
    assert due_quarterly_review(runtime) is False
    clock.set(datetime(2025, 5, 2, 7, 0, tzinfo=UTC))  # same quarter
    assert due_quarterly_review(runtime) is False
    clock.set(datetime(2025, 7, 2, 7, 0, tzinfo=UTC))
    assert due_quarterly_review(runtime) is True

    reviews = [item for item in outbox(runtime) if item.kind == "review"]
    assert [item.dedupe_key for item in reviews] == ["review:quarterly:2025-Q1", "review:quarterly:2025-Q2"]
    charts = [item for item in outbox(runtime) if item.kind == "chart"]
    assert len(charts) == 6
    assert all(item.payload["channel"] == "C0REVIEW01" for item in charts)
    assert all(len(str(item.payload)) < 2000 for item in charts)  # numbers only, the PNG is drawn at send time


def test_no_review_without_configuration(runtime: Runtime, clock: Any) -> None:
    clock.set(datetime(2025, 4, 2, 12, 0, tzinfo=UTC))
    assert due_monthly_review(runtime) is False
    assert due_quarterly_review(runtime) is False
    assert outbox(runtime) == []
