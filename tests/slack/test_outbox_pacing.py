"""Outbox pacing per channel, shared by several senders through the database."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import select

from bot.clock import FixedClock, SystemClock
from bot.handoff import decide, ingest
from bot.outbox import OutboxSender, enqueue
from bot.runtime import Runtime
from bot.slack_standin import SlackStandin
from factories import lead_input
from storage.db import Database
from storage.models import OutboxChannelPacing, OutboxItem

SALES = "C0SALES001"
MARKETING = "C0MARKET01"
SANNE = "U0SANNEDV1"


def post(db: Database, clock: Any, key: str, channel: str, text: str = "hallo") -> None:
    with db.transaction() as session:
        assert enqueue(session, key=key, kind="notice", method="chat.postMessage",
                       payload={"channel": channel, "text": text}, now=clock.now())


def sender_for(db: Database, slack: SlackStandin, clock: Any, **options: Any) -> OutboxSender:
    client = WebClient(token="xoxb-test-token", base_url=slack.base_url)
    return OutboxSender(db, client, clock, pacing_interval=timedelta(seconds=1), **options)


def sent_at(db: Database) -> dict[str, datetime | None]:
    with db.transaction() as session:
        return {item.dedupe_key: item.sent_at for item in session.scalars(select(OutboxItem))}


def posted_channels(slack: SlackStandin) -> list[str]:
    return [call.params["channel"] for call in slack.calls("chat.postMessage") if call.response.get("ok")]


def test_channel_gets_one_message_per_interval(db: Database, slack: SlackStandin, clock: FixedClock) -> None:
    slack.add_channel(MARKETING, "marketing")
    start = clock.now()
    for number in range(3):
        post(db, clock, f"sales-{number}", SALES)
    post(db, clock, "marketing-0", MARKETING)

    report = sender_for(db, slack, clock).deliver_due()

    assert report.sent == 4
    assert report.deferred == 0
    times = sent_at(db)
    assert [times[f"sales-{number}"] for number in range(3)] == [start + timedelta(seconds=n) for n in range(3)]
    assert times["marketing-0"] == start
    # The other channel did not wait behind the busy one.
    assert posted_channels(slack) == [SALES, MARKETING, SALES, SALES]


def test_busy_channel_defers_without_wait_budget(db: Database, slack: SlackStandin, clock: FixedClock) -> None:
    post(db, clock, "first", SALES)
    post(db, clock, "second", SALES)
    sender = sender_for(db, slack, clock)

    report = sender.deliver_due(max_wait=timedelta(0))

    assert (report.sent, report.deferred) == (1, 0)
    with db.transaction() as session:
        second = session.scalar(select(OutboxItem).where(OutboxItem.dedupe_key == "second"))
        assert second is not None
        assert second.status == "pending"
        assert second.attempts == 0
        assert second.claimed_by is None
    assert sender.deliver_due(max_wait=timedelta(milliseconds=999)).sent == 0
    clock.advance(timedelta(seconds=1))
    assert sender.deliver_due(max_wait=timedelta(0)).sent == 1
    assert len(slack.messages(SALES)) == 2


def test_two_senders_share_the_pacing(db: Database, slack: SlackStandin, clock: FixedClock) -> None:
    first = sender_for(db, slack, clock)
    second = sender_for(db, slack, clock)
    post(db, clock, "one", SALES)
    assert first.deliver_due(max_wait=timedelta(0)).sent == 1

    post(db, clock, "two", SALES)
    assert second.deliver_due(max_wait=timedelta(0)).sent == 0

    clock.advance(timedelta(milliseconds=999))
    assert second.deliver_due(max_wait=timedelta(0)).sent == 0
    clock.advance(timedelta(milliseconds=1))
    assert second.deliver_due(max_wait=timedelta(0)).sent == 1
    with db.transaction() as session:
        pacing = session.get(OutboxChannelPacing, SALES)
        assert pacing is not None
        assert pacing.next_send_at == clock.now() + timedelta(seconds=1)


def test_concurrent_senders_keep_the_interval(db: Database, slack: SlackStandin) -> None:
    clock = SystemClock()
    interval = timedelta(milliseconds=300)
    for number in range(6):
        post(db, clock, f"message-{number}", SALES, text=f"bericht {number}")
    senders = [
        OutboxSender(db, WebClient(token="xoxb-test-token", base_url=slack.base_url), clock,
                     pacing_interval=interval, max_pacing_wait=timedelta(seconds=10))
        for _ in range(2)
    ]
    threads = [threading.Thread(target=sender.deliver_due) for sender in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    texts = sorted(message["text"] for message in slack.messages(SALES))
    assert texts == [f"bericht {number}" for number in range(6)]
    moments = sorted(sent for sent in sent_at(db).values() if sent is not None)
    assert len(moments) == 6
    gaps = [later - earlier for earlier, later in zip(moments, moments[1:], strict=False)]
    assert min(gaps) >= interval


def test_rate_limit_holds_the_whole_channel(db: Database, slack: SlackStandin, clock: FixedClock) -> None:
    post(db, clock, "limited", SALES)
    post(db, clock, "next", SALES)
    slack.fail_next("chat.postMessage", status=429, retry_after=5)
    sender = sender_for(db, slack, clock)

    report = sender.deliver_due(max_wait=timedelta(0))

    assert (report.retried, report.sent, report.deferred) == (1, 0, 0)
    with db.transaction() as session:
        pacing = session.get(OutboxChannelPacing, SALES)
        assert pacing is not None
        assert pacing.next_send_at == clock.now() + timedelta(seconds=5)
    clock.advance(timedelta(seconds=4))
    assert sender.deliver_due(max_wait=timedelta(0)).sent == 0
    clock.advance(timedelta(seconds=1))
    assert sender.deliver_due().sent == 2


def test_lead_order_kept_under_pacing(runtime: Runtime, slack: SlackStandin, clock: FixedClock) -> None:
    lead_ids = []
    with runtime.db.transaction() as session:
        for number in (1, 2):
            data = lead_input(number, at=clock.now(), owner_email="sanne.devries@handoff-demo.nl")
            lead_ids.append(ingest(session, runtime, data, actor="test").lead_id)
    with runtime.db.transaction() as session:
        assert decide(session, runtime, lead_id=lead_ids[0], version=2, user_id=SANNE, accept=True).status == "done"
    sender = sender_for(runtime.db, slack, clock, runtime=runtime)

    report = sender.deliver_due()

    assert report.messages_sent == 3
    chat = [call for call in slack.calls() if call.method.startswith("chat.") and call.response.get("ok")]
    # The second card waits a second for the first, and the first lead's update follows its card.
    assert [call.method for call in chat] == ["chat.postMessage", "chat.postMessage", "chat.update"]
    assert [call.params.get("channel") for call in chat] == [SANNE, SANNE, "D" + SANNE]
    assert chat[2].params["ts"] == chat[0].response["ts"]
    assert clock.now() == datetime(2025, 3, 28, 9, 0, 1, tzinfo=UTC)
    with runtime.db.transaction() as session:
        cards = session.scalars(select(OutboxItem).where(OutboxItem.kind == "card").order_by(OutboxItem.id)).all()
        assert [card.sent_at for card in cards] == [datetime(2025, 3, 28, 9, 0, second, tzinfo=UTC) for second in (0, 1)]


def test_give_up_time_comes_from_settings(runtime: Runtime, slack: SlackStandin, clock: FixedClock) -> None:
    runtime.settings.outbox_give_up_hours = 1
    sender = sender_for(runtime.db, slack, clock, runtime=runtime)
    assert sender.give_up_after == timedelta(hours=1)
    post(runtime.db, clock, "doomed", SALES)
    slack.fail_next("chat.postMessage", status=503, times=100)
    for _ in range(12):
        sender.deliver_due(max_wait=timedelta(0))
        clock.advance(timedelta(minutes=10))
    with runtime.db.transaction() as session:
        item = session.scalar(select(OutboxItem).where(OutboxItem.dedupe_key == "doomed"))
        assert item is not None
        assert item.status == "failed"
        assert item.last_error is not None and item.last_error.startswith("gave up after")


def test_backlog_drains_over_calls(db: Database, slack: SlackStandin, clock: FixedClock) -> None:
    start = clock.now()
    for number in range(30):
        post(db, clock, f"backlog-{number}", SALES)
    sender = sender_for(db, slack, clock)

    calls = 0
    while sender.deliver_due().sent:
        calls += 1

    assert len(slack.messages(SALES)) == 30
    assert calls == 3  # 11 within the first call's 10 s of waiting, then 11 and 8
    assert clock.now() == start + timedelta(seconds=29)


def test_rows_without_channel_column_are_paced(db: Database, slack: SlackStandin, clock: FixedClock) -> None:
    # A bulk insert that bypasses enqueue leaves paced_channel empty.
    start = clock.now()
    with db.transaction() as session:
        for number in range(3):
            session.add(OutboxItem(dedupe_key=f"bulk-{number}", kind="notice", method="chat.postMessage",
                                   payload={"channel": SALES, "text": f"bulk {number}"}, status="pending",
                                   attempts=0, next_attempt_at=start, created_at=start))
    sender = sender_for(db, slack, clock)

    sender.deliver_due()

    times = sent_at(db)
    assert [times[f"bulk-{number}"] for number in range(3)] == [start + timedelta(seconds=n) for n in range(3)]


class TickingClock(FixedClock):
    """A clock that moves `tick` on every reading, as a real one moves between two statements."""

    def __init__(self, start: datetime, tick: timedelta) -> None:
        super().__init__(start)
        self.tick = tick

    def now(self) -> datetime:
        moment = super().now()
        self.advance(self.tick)
        return moment


def test_channel_freed_after_claim_still_sends(db: Database, slack: SlackStandin, clock: FixedClock) -> None:
    # The channel's slot ends between the claim, which finds the channel busy, and the query for
    # when the channel is free again. The deferred item must still go out in this call.
    start = clock.now()
    post(db, clock, "waiting", SALES)
    with db.transaction() as session:
        session.add(OutboxChannelPacing(channel=SALES, next_send_at=start + timedelta(milliseconds=1.5)))
        item = session.scalar(select(OutboxItem).where(OutboxItem.dedupe_key == "waiting"))
        assert item is not None
        item.paced_channel = SALES
    ticking = TickingClock(start + timedelta(milliseconds=1), tick=timedelta(milliseconds=1))

    report = sender_for(db, slack, ticking).deliver_due()

    assert report.sent == 1, f"the item waits for the next call: {report}"
    assert len(slack.messages(SALES)) == 1
