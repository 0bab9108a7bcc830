"""An outbox item whose sender died while Slack handled it is delivered once, not twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import select

from bot.clock import FixedClock
from bot.handoff import ingest
from bot.outbox import METADATA_EVENT_TYPE, OutboxSender, enqueue
from bot.runtime import Runtime
from bot.slack_standin import SlackStandin
from factories import lead_input
from storage.db import Database
from storage.models import Lead, OutboxItem
from support import REPO

SALES = "C0SALES001"

# A sender process on the real clock, as the clock process runs it.
SENDER_SCRIPT = """
import sys
from datetime import timedelta
from slack_sdk import WebClient
from bot.clock import SystemClock
from bot.config import load_config
from bot.outbox import OutboxSender
from bot.runtime import Runtime
from storage.db import Database
from support import EXAMPLE_CONFIG, make_settings

database_url, base_url = sys.argv[1], sys.argv[2]
db = Database(database_url)
# The sender draws new cards, so it needs the configuration, as the clock process has it.
runtime = Runtime(settings=make_settings(database_url), config=load_config(EXAMPLE_CONFIG), db=db, clock=SystemClock())
client = WebClient(token="xoxb-test-token", base_url=base_url, timeout=60)
OutboxSender(db, client, SystemClock(), pacing_interval=timedelta(0), runtime=runtime).deliver_due()
"""


def queue_card(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        data = lead_input(1, at=runtime.clock.now(), owner_email="sanne.devries@handoff-demo.nl")
        return ingest(session, runtime, data, actor="test").lead_id


def card_item(db: Database) -> OutboxItem:
    with db.transaction() as session:
        item = session.scalar(select(OutboxItem).where(OutboxItem.kind == "card"))
        assert item is not None
        return item


def sender_for(runtime: Runtime, slack: SlackStandin, clock: Any, *, timeout: int = 10) -> OutboxSender:
    client = WebClient(token="xoxb-test-token", base_url=slack.base_url, timeout=timeout)
    return OutboxSender(runtime.db, client, clock, pacing_interval=timedelta(0), runtime=runtime)


def test_post_carries_the_outbox_key(runtime: Runtime, slack: SlackStandin, clock: FixedClock) -> None:
    queue_card(runtime)
    sender_for(runtime, slack, clock).deliver_due()
    [call] = slack.calls("chat.postMessage")
    assert call.params["metadata"] == {
        "event_type": METADATA_EVENT_TYPE, "event_payload": {"outbox_key": card_item(runtime.db).dedupe_key},
    }
    assert card_item(runtime.db).send_started_at is None


def test_killed_sender_does_not_post_twice(runtime: Runtime, slack: SlackStandin) -> None:
    lead_id = queue_card(runtime)
    # Slack stores the message at once but delays the response, so the sender dies waiting for it.
    slack.set_latency(30, "chat.postMessage")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    process = subprocess.Popen([sys.executable, "-c", SENDER_SCRIPT, runtime.db.url, slack.base_url],
                               cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        slack.wait_for("chat.postMessage", timeout=30)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    slack.set_latency(0, "chat.postMessage")
    [message] = slack.messages()
    unknown = card_item(runtime.db)
    assert unknown.status == "pending"
    assert unknown.send_started_at is not None

    # The dead process's claim lasts a minute on the real clock.
    clock = FixedClock(datetime.now(UTC) + timedelta(minutes=2))
    report = sender_for(runtime, slack, clock).deliver_due()

    assert report.messages_sent == 1  # and the two Home tabs that the card refreshed
    assert len(slack.calls("chat.postMessage")) == 1
    assert [m["ts"] for m in slack.messages()] == [message["ts"]]
    recovered = card_item(runtime.db)
    assert (recovered.status, recovered.result_ts, recovered.send_started_at) == ("sent", message["ts"], None)
    with runtime.db.transaction() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        assert (lead.card_channel, lead.card_ts) == ("D" + "U0SANNEDV1", message["ts"])


def test_lost_response_is_found_in_history(runtime: Runtime, db: Database, slack: SlackStandin, clock: FixedClock) -> None:
    with db.transaction() as session:
        enqueue(session, key="notice:1", kind="notice", method="chat.postMessage",
                payload={"channel": SALES, "text": "hallo"}, now=clock.now())
    slack.set_latency(2, "chat.postMessage")
    sender = sender_for(runtime, slack, clock, timeout=1)

    first = sender.deliver_due()

    assert (first.sent, first.retried) == (0, 1)
    assert len(slack.messages(SALES)) == 1
    slack.set_latency(0, "chat.postMessage")
    clock.advance(timedelta(minutes=1))
    second = sender.deliver_due()
    assert second.sent == 1
    assert len(slack.calls("chat.postMessage")) == 1
    assert len(slack.calls("conversations.history")) == 1
    assert slack.calls("conversations.history")[0].params["channel"] == SALES


def test_unsent_attempt_is_posted_after_the_search(runtime: Runtime, db: Database, slack: SlackStandin, clock: FixedClock) -> None:
    with db.transaction() as session:
        enqueue(session, key="notice:2", kind="notice", method="chat.postMessage",
                payload={"channel": SALES, "text": "hallo"}, now=clock.now())
    # Slack fails the call, but the sender times out before the response arrives, so the result is unknown.
    slack.fail_next("chat.postMessage", status=500)
    slack.set_latency(2, "chat.postMessage")
    sender = sender_for(runtime, slack, clock, timeout=1)
    assert sender.deliver_due().retried == 1
    assert slack.messages(SALES) == []

    slack.set_latency(0, "chat.postMessage")
    clock.advance(timedelta(minutes=1))
    assert sender.deliver_due().sent == 1
    assert len(slack.messages(SALES)) == 1
    assert len(slack.calls("conversations.history")) == 1


def test_failed_search_does_not_post(runtime: Runtime, db: Database, slack: SlackStandin, clock: FixedClock) -> None:
    with db.transaction() as session:
        enqueue(session, key="notice:3", kind="notice", method="chat.postMessage",
                payload={"channel": SALES, "text": "hallo"}, now=clock.now())
    slack.set_latency(2, "chat.postMessage")
    sender = sender_for(runtime, slack, clock, timeout=1)
    sender.deliver_due()
    slack.set_latency(0, "chat.postMessage")
    slack.fail_next("conversations.history", status=429, retry_after=20)
    clock.advance(timedelta(minutes=1))

    report = sender.deliver_due()

    assert (report.sent, report.retried) == (0, 1)
    assert len(slack.calls("chat.postMessage")) == 1
    with db.transaction() as session:
        item = session.scalar(select(OutboxItem))
        assert item is not None
        assert item.send_started_at is not None
        assert item.next_attempt_at == clock.now() + timedelta(seconds=20)
    clock.advance(timedelta(seconds=20))
    assert sender.deliver_due().sent == 1
    assert len(slack.messages(SALES)) == 1
