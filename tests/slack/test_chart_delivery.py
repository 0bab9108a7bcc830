"""Chart uploads from the outbox: paced per channel like posts, and shared once when a sender died mid-upload."""

from __future__ import annotations

from datetime import timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy import select

from bot import outbox
from bot.charts import FunnelChart, ReasonsChart, enqueue_charts
from bot.clock import FixedClock
from bot.outbox import HISTORY_MARGIN, OutboxSender, enqueue
from bot.slack_standin import SlackStandin
from storage.db import Database
from storage.models import OutboxChannelPacing, OutboxItem

SALES = "C0SALES001"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def funnel() -> FunnelChart:
    return FunnelChart(language="nl", title="Funnel maart 2025", mqls=20, accepted=12, sqls=6, won=2)


def reasons() -> ReasonsChart:
    return ReasonsChart(language="nl", title="Afwijsredenen maart 2025", reasons=[("budget", 3), ("timing", 1)])


def queue_charts(db: Database, clock: FixedClock, charts: list[FunnelChart | ReasonsChart]) -> None:
    with db.transaction() as session:
        assert enqueue_charts(session, key="review:2025-03", channel=SALES, charts=charts, now=clock.now()) == len(charts)


def chart_items(db: Database) -> list[OutboxItem]:
    with db.transaction() as session:
        return list(session.scalars(select(OutboxItem).where(OutboxItem.kind == "chart").order_by(OutboxItem.id)))


def sender_for(db: Database, slack: SlackStandin, clock: FixedClock, *, pacing_seconds: float = 1,
               timeout: int = 10) -> OutboxSender:
    client = WebClient(token="xoxb-test-token", base_url=slack.base_url, timeout=timeout)
    return OutboxSender(db, client, clock, pacing_interval=timedelta(seconds=pacing_seconds))


def upload_count(slack: SlackStandin) -> int:
    return len(slack.calls("files.getUploadURLExternal"))


def lose_upload_response(db: Database, slack: SlackStandin, clock: FixedClock, *, shared: bool) -> OutboxSender:
    """Queue a funnel chart whose upload times out at files.completeUploadExternal, and return the sender.

    With `shared`, Slack shares the file before the response is lost, as when the sender dies
    while waiting. Without it, Slack fails the call and shares nothing. The sender cannot tell
    the two cases apart.
    """
    queue_charts(db, clock, [funnel()])
    if not shared:
        slack.fail_next("files.completeUploadExternal", status=500)
    slack.set_latency(2, "files.completeUploadExternal")
    sender = sender_for(db, slack, clock, pacing_seconds=0, timeout=1)

    first = sender.deliver_due()

    assert (first.sent, first.retried) == (0, 1)
    [item] = chart_items(db)
    assert item.status == "pending"
    assert item.send_started_at is not None
    assert len(slack.files(SALES)) == (1 if shared else 0)
    slack.set_latency(0, "files.completeUploadExternal")
    clock.advance(timedelta(minutes=1))
    return sender


def test_charts_paced_with_posts(db: Database, slack: SlackStandin, clock: FixedClock) -> None:
    start = clock.now()
    with db.transaction() as session:
        assert enqueue(session, key="review:2025-03", kind="review", method="chat.postMessage",
                       payload={"channel": SALES, "text": "Maandreview maart 2025"}, now=start)
    queue_charts(db, clock, [funnel(), reasons()])

    report = sender_for(db, slack, clock).deliver_due()

    assert report.sent == 3
    assert report.deferred == 0
    items = chart_items(db)
    assert [item.paced_channel for item in items] == [SALES, SALES]
    assert [item.sent_at for item in items] == [start + timedelta(seconds=1), start + timedelta(seconds=2)]
    with db.transaction() as session:
        pacing = session.get(OutboxChannelPacing, SALES)
        assert pacing is not None
        assert pacing.next_send_at == start + timedelta(seconds=3)
    names = [shared["name"] for shared in slack.files(SALES)]
    assert names == [f"funnel-o{items[0].id}.png", f"reasons-o{items[1].id}.png"]
    assert all(shared["content"].startswith(PNG_SIGNATURE) for shared in slack.files(SALES))


def test_busy_channel_defers_chart(db: Database, slack: SlackStandin, clock: FixedClock) -> None:
    queue_charts(db, clock, [funnel(), reasons()])
    sender = sender_for(db, slack, clock)

    assert sender.deliver_due(max_wait=timedelta(0)).sent == 1
    assert len(slack.files(SALES)) == 1
    assert sender.deliver_due(max_wait=timedelta(0)).sent == 0
    assert len(slack.files(SALES)) == 1

    clock.advance(timedelta(seconds=1))
    assert sender.deliver_due(max_wait=timedelta(0)).sent == 1
    assert len(slack.files(SALES)) == 2


def test_rate_limited_upload_holds_channel(db: Database, slack: SlackStandin, clock: FixedClock) -> None:
    queue_charts(db, clock, [funnel(), reasons()])
    slack.fail_next("files.completeUploadExternal", status=429, retry_after=5)
    sender = sender_for(db, slack, clock)

    report = sender.deliver_due(max_wait=timedelta(0))

    assert (report.retried, report.sent) == (1, 0)
    assert slack.files(SALES) == []
    with db.transaction() as session:
        pacing = session.get(OutboxChannelPacing, SALES)
        assert pacing is not None
        assert pacing.next_send_at == clock.now() + timedelta(seconds=5)
    first, _ = chart_items(db)
    assert first.last_error == "ratelimited"
    assert first.send_started_at is None
    clock.advance(timedelta(seconds=4))
    assert sender.deliver_due(max_wait=timedelta(0)).sent == 0
    assert slack.files(SALES) == []
    clock.advance(timedelta(seconds=1))
    assert sender.deliver_due().sent == 2
    assert len(slack.files(SALES)) == 2
    # The 429 left nothing half shared, so the retry uploaded without searching first.
    assert slack.calls("files.list") == []


def test_shared_upload_not_shared_again(db: Database, slack: SlackStandin, clock: FixedClock) -> None:
    sender = lose_upload_response(db, slack, clock, shared=True)
    [lost] = chart_items(db)
    assert lost.send_started_at is not None

    report = sender.deliver_due()

    assert report.sent == 1
    assert upload_count(slack) == 1
    [shared] = slack.files(SALES)
    assert shared["name"] == f"funnel-o{lost.id}.png"
    [search] = slack.calls("files.list")
    assert search.params["channel"] == SALES
    assert search.params["types"] == "images"
    assert search.params["ts_from"] == str(int((lost.send_started_at - HISTORY_MARGIN).timestamp()))
    [recovered] = chart_items(db)
    assert recovered.status == "sent"
    assert recovered.send_started_at is None
    assert recovered.result_channel == SALES


def test_unshared_upload_shared_once(db: Database, slack: SlackStandin, clock: FixedClock) -> None:
    sender = lose_upload_response(db, slack, clock, shared=False)

    report = sender.deliver_due()

    assert report.sent == 1
    assert len(slack.calls("files.list")) == 1
    assert upload_count(slack) == 2
    assert len(slack.files(SALES)) == 1
    [item] = chart_items(db)
    assert item.status == "sent"
    assert item.send_started_at is None


def test_failed_file_search_does_not_upload(db: Database, slack: SlackStandin, clock: FixedClock) -> None:
    sender = lose_upload_response(db, slack, clock, shared=True)
    slack.fail_next("files.list", status=429, retry_after=20)

    report = sender.deliver_due()

    assert (report.sent, report.retried) == (0, 1)
    assert upload_count(slack) == 1
    [item] = chart_items(db)
    assert item.send_started_at is not None
    assert item.next_attempt_at == clock.now() + timedelta(seconds=20)
    clock.advance(timedelta(seconds=20))
    assert sender.deliver_due().sent == 1
    assert upload_count(slack) == 1
    assert len(slack.files(SALES)) == 1


def test_file_search_without_scope_parks(db: Database, slack: SlackStandin, clock: FixedClock) -> None:
    sender = lose_upload_response(db, slack, clock, shared=True)
    slack.fail_next("files.list", status=200, error="missing_scope", fields={"needed": "files:read"})

    report = sender.deliver_due()

    assert report.parked == 1
    assert upload_count(slack) == 1
    [item] = chart_items(db)
    assert item.status == "parked"
    assert item.last_error == "missing_scope: needed files:read"


def test_file_search_reads_later_pages(db: Database, slack: SlackStandin, clock: FixedClock,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "FILES_PAGE_SIZE", 2)
    sender = lose_upload_response(db, slack, clock, shared=True)
    # Three newer images push the lost chart to the second page of files.list.
    client = WebClient(token="xoxb-test-token", base_url=slack.base_url)
    for number in range(3):
        client.files_upload_v2(channel=SALES, content=PNG_SIGNATURE + b"other", filename=f"photo-{number}.png")
    uploads_before = upload_count(slack)

    assert sender.deliver_due().sent == 1

    assert [call.params["page"] for call in slack.calls("files.list")] == ["1", "2"]
    assert upload_count(slack) == uploads_before
    assert len(slack.files(SALES)) == 4


def test_same_name_in_other_channel_ignored(db: Database, slack: SlackStandin, clock: FixedClock) -> None:
    slack.add_channel("C0MARKET01", "marketing")
    sender = lose_upload_response(db, slack, clock, shared=False)
    [item] = chart_items(db)
    client = WebClient(token="xoxb-test-token", base_url=slack.base_url)
    client.files_upload_v2(channel="C0MARKET01", content=PNG_SIGNATURE, filename=f"funnel-o{item.id}.png")

    assert sender.deliver_due().sent == 1

    assert [shared["name"] for shared in slack.files(SALES)] == [f"funnel-o{item.id}.png"]


def test_old_chart_rows_paced_by_payload(db: Database, slack: SlackStandin, clock: FixedClock) -> None:
    # Rows queued before chart uploads were paced have no paced_channel, so the sender reads the channel
    # from the payload.
    start = clock.now()
    queue_charts(db, clock, [funnel(), reasons()])
    with db.transaction() as session:
        for item in session.scalars(select(OutboxItem)):
            item.paced_channel = None

    assert sender_for(db, slack, clock).deliver_due().sent == 2

    assert [item.sent_at for item in chart_items(db)] == [start, start + timedelta(seconds=1)]
