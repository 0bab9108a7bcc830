"""Digest and review charts delivered by the outbox to the Slack stand-in through Slack's external upload flow."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from bot.config import MonthlyReview, WeeklyDigest
from bot.digest import due_weekly_digest
from bot.reviews import due_monthly_review
from bot.slack_standin import SlackStandin
from bot.slack_standin.server import UPLOAD_METHOD
from harness import Harness
from history_data import build_history
from storage.models import OutboxItem

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNEL = "C0SALES001"


def png_size(content: bytes) -> tuple[int, int]:
    """Read width and height from the PNG's IHDR chunk, which directly follows the signature."""
    assert content[12:16] == b"IHDR"
    width, height = struct.unpack(">II", content[16:24])
    return width, height


def chart_kind(shared: dict[str, Any]) -> str:
    """Return the chart kind from an uploaded file's name, e.g. funnel from funnel-o12.png."""
    return shared["name"].split("-o")[0]


def chart_items(harness: Harness) -> list[OutboxItem]:
    with harness.rt.db.transaction() as session:
        return list(session.scalars(select(OutboxItem).where(OutboxItem.kind == "chart").order_by(OutboxItem.id)))


def skip_history_messages(harness: Harness) -> None:
    """Mark the cards and reminders of the history as sent: they are not under test, and pacing would slow them."""
    with harness.rt.db.transaction() as session:
        session.execute(update(OutboxItem).where(OutboxItem.status == "pending").values(status="sent"))


def test_weekly_digest_uploads_its_charts(harness: Harness, slack: SlackStandin, clock: Any) -> None:
    harness.rt.config.digests.weekly = WeeklyDigest(channel=CHANNEL, weekday="mon", time="09:00")
    build_history(harness.rt, clock)
    skip_history_messages(harness)
    clock.set(datetime(2025, 2, 17, 8, 0, tzinfo=UTC))  # Monday 09:00 after the history's week
    assert due_weekly_digest(harness.rt) is True
    report = harness.sender.deliver_due()

    assert report.sent == 3
    [digest] = [message for message in slack.messages(CHANNEL) if "MQL" in message["text"]]
    assert digest["text"].startswith("Wekelijkse MQL-review: 12 MQL's")
    files = slack.files(CHANNEL)
    assert [chart_kind(shared) for shared in files] == ["acceptance", "reasons"]
    for shared in files:
        content = shared["content"]
        assert content.startswith(PNG_SIGNATURE)
        assert png_size(content) == (1200, 1200)
        assert 10_000 < len(content) < 500_000
        assert shared["mimetype"] == "image/png"
        assert shared["alt_txt"]
    assert files[1]["title"].startswith("Afwijsredenen: 10 februari 2025")
    assert "Concurrent 5" in files[1]["alt_txt"]
    upload_calls = [call.method for call in slack.calls() if call.method.startswith("files.") or call.method == UPLOAD_METHOD]
    assert upload_calls == ["files.getUploadURLExternal", UPLOAD_METHOD, "files.completeUploadExternal"] * 2
    assert all(item.status == "sent" for item in chart_items(harness))


def test_chart_upload_retried_after_rate_limit(harness: Harness, slack: SlackStandin, clock: Any) -> None:
    harness.rt.config.digests.monthly = MonthlyReview(channel=CHANNEL, day=3, time="09:00")
    clock.set(datetime(2025, 3, 3, 8, 0, tzinfo=UTC))
    assert due_monthly_review(harness.rt) is True
    slack.fail_next("files.completeUploadExternal", status=429, retry_after=30)

    first = harness.sender.deliver_due()
    # The 429 holds the channel, so the charts after the limited one wait for it too.
    assert (first.sent, first.retried) == (1, 1)
    waiting = [item for item in chart_items(harness) if item.status == "pending"]
    assert [item.last_error for item in waiting] == ["ratelimited", None, None]

    clock.advance(timedelta(seconds=31))
    second = harness.sender.deliver_due()
    assert second.sent == 3
    assert sorted(chart_kind(shared) for shared in slack.files(CHANNEL)) == ["acceptance", "funnel", "reasons"]
    assert len(slack.files(CHANNEL)) == 3
    assert all(item.status == "sent" for item in chart_items(harness))


def test_empty_period_still_draws_charts(harness: Harness, slack: SlackStandin, clock: Any) -> None:
    harness.rt.config.digests.monthly = MonthlyReview(channel=CHANNEL, day=1, time="09:00")
    clock.set(datetime(2025, 3, 1, 8, 0, tzinfo=UTC))
    assert due_monthly_review(harness.rt) is True
    harness.sender.deliver_due()
    files = slack.files(CHANNEL)
    assert len(files) == 3
    assert all(shared["content"].startswith(PNG_SIGNATURE) for shared in files)
    reasons = next(shared for shared in files if chart_kind(shared) == "reasons")
    assert reasons["alt_txt"] == "Geen afwijzingen in deze periode"
