"""The outbox against Slack's failures: retried later, never lost, never doubled, kept in order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.handoff import decide, ingest
from bot.outbox import requeue, stuck_items
from factories import lead_input
from harness import Harness
from storage.models import OutboxItem

SANNE = "U0SANNEDV1"


def queue_lead(harness: Harness, number: int = 1) -> int:
    with harness.rt.db.transaction() as session:
        data = lead_input(number, at=harness.rt.clock.now(), owner_email="sanne.devries@handoff-demo.nl")
        return ingest(session, harness.rt, data, actor="test").lead_id


def items(harness: Harness) -> list[OutboxItem]:
    with harness.rt.db.transaction() as session:
        return list(session.scalars(select(OutboxItem).where(OutboxItem.kind != "home").order_by(OutboxItem.id)))


def test_rate_limit_waits_retry_after_then_sends_once(harness: Harness, slack: Any, clock: Any) -> None:
    queue_lead(harness)
    slack.fail_next("chat.postMessage", status=429, retry_after=7)
    report = harness.sender.deliver_due()
    assert (report.messages_sent, report.retried) == (0, 1)
    [item] = items(harness)
    assert item.status == "pending"
    assert item.last_error == "ratelimited"
    assert item.next_attempt_at == clock.now() + timedelta(seconds=7)

    clock.advance(timedelta(seconds=6))
    assert harness.sender.deliver_due().messages_sent == 0
    clock.advance(timedelta(seconds=1))
    assert harness.sender.deliver_due().messages_sent == 1
    assert harness.sender.deliver_due().messages_sent == 0
    assert len(slack.messages()) == 1
    assert items(harness)[0].status == "sent"


def test_server_error_backs_off_and_recovers(harness: Harness, slack: Any, clock: Any) -> None:
    queue_lead(harness)
    slack.fail_next("chat.postMessage", status=500, times=2)
    assert harness.sender.deliver_due().retried == 1
    clock.advance(timedelta(seconds=10))
    assert harness.sender.deliver_due().retried == 1
    second_wait = items(harness)[0].next_attempt_at - clock.now()
    assert second_wait == timedelta(seconds=20)
    clock.advance(second_wait)
    assert harness.sender.deliver_due().messages_sent == 1
    assert len(slack.messages()) == 1


def test_hour_long_outage_loses_nothing(harness: Harness, slack: Any, clock: Any) -> None:
    for number in range(1, 6):
        queue_lead(harness, number)
    slack.fail_next("chat.postMessage", status=503, times=1000)
    for _ in range(12):
        harness.sender.deliver_due()
        clock.advance(timedelta(minutes=5))
    slack.reset()
    clock.advance(timedelta(minutes=15))
    assert harness.sender.deliver_due().messages_sent == 5
    assert len(slack.messages()) == 5
    assert all(item.status == "sent" for item in items(harness))


def test_unknown_channel_is_parked_and_others_go_on(harness: Harness, slack: Any, clock: Any) -> None:
    queue_lead(harness, 1)
    queue_lead(harness, 2)
    slack.fail_next("chat.postMessage", status=200, error="channel_not_found")
    report = harness.sender.deliver_due()
    assert (report.parked, report.messages_sent) == (1, 1)
    with harness.rt.db.transaction() as session:
        stuck = stuck_items(session)
        assert [(item.status, item.last_error) for item in stuck] == [("parked", "channel_not_found")]
        assert requeue(session, [stuck[0].id], clock.now()) == 1
    assert harness.sender.deliver_due().messages_sent == 1
    assert len(slack.messages()) == 2


def test_invalid_blocks_are_not_retried(harness: Harness, slack: Any) -> None:
    queue_lead(harness)
    slack.fail_next("chat.postMessage", status=200, error="invalid_blocks")
    assert harness.sender.deliver_due().parked == 1
    assert harness.sender.deliver_due().messages_sent == 0
    assert slack.messages() == []


def test_deleted_card_is_posted_again_after_decision(harness: Harness, slack: Any) -> None:
    lead_id = queue_lead(harness)
    harness.sender.deliver_due()
    [card] = slack.messages()
    slack.fail_next("chat.update", status=200, error="message_not_found")
    with harness.rt.db.transaction() as session:
        assert decide(session, harness.rt, lead_id=lead_id, version=2, user_id=SANNE, accept=True).status == "done"
    report = harness.sender.deliver_due()
    assert (report.retried, report.messages_sent) == (1, 1)
    posts = slack.calls("chat.postMessage")
    assert len(posts) == 2
    assert "Geaccepteerd" in str(posts[-1].params["blocks"])
    assert card["ts"] != posts[-1].response["ts"]


def test_lead_messages_keep_their_order(harness: Harness, slack: Any, clock: Any) -> None:
    lead_id = queue_lead(harness)
    slack.fail_next("chat.postMessage", status=429, retry_after=30)
    harness.sender.deliver_due()
    with harness.rt.db.transaction() as session:
        decide(session, harness.rt, lead_id=lead_id, version=2, user_id=SANNE, accept=True)
    # The update waits for the card it changes, so nothing goes out before the card.
    assert harness.sender.deliver_due().messages_sent == 0
    clock.advance(timedelta(seconds=30))
    assert harness.sender.deliver_due().messages_sent == 2
    delivered = [call.method for call in slack.calls() if call.response.get("ok") and call.method.startswith("chat.")]
    assert delivered == ["chat.postMessage", "chat.update"]
