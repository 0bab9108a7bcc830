"""Slack errors by kind: parked with an admin alert, logged with the field, or a fresh card."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.handoff import decide, ingest
from bot.lifecycle import RejectionReason
from bot.outbox import enqueue
from bot.preferences import set_user_language
from factories import lead_input
from harness import Harness
from storage.models import Lead, OutboxItem

ADMIN = "U0EVAVSR01"
SECOND_ADMIN = "U0PIETERJ1"
SANNE = "U0SANNEDV1"
SALES = "C0SALES001"


def queue_lead(harness: Harness, number: int = 1) -> int:
    with harness.rt.db.transaction() as session:
        data = lead_input(number, at=harness.rt.clock.now(), owner_email="sanne.devries@handoff-demo.nl")
        return ingest(session, harness.rt, data, actor="test").lead_id


def queue_notice(harness: Harness, channel: str, key: str = "notice:1") -> None:
    with harness.rt.db.transaction() as session:
        enqueue(session, key=key, kind="notice", method="chat.postMessage",
                payload={"channel": channel, "text": "Afwijzing gemeld"}, now=harness.rt.clock.now())


def item_by_key(harness: Harness, key: str) -> OutboxItem:
    with harness.rt.db.transaction() as session:
        item = session.scalar(select(OutboxItem).where(OutboxItem.dedupe_key == key))
        assert item is not None
        return item


def alerts(harness: Harness, user: str = ADMIN) -> list[str]:
    return [message["text"] for message in harness.slack.messages(user)]


@pytest.fixture
def admins(harness: Harness) -> Harness:
    harness.rt.config.admins = [ADMIN]
    return harness


@pytest.mark.parametrize(
    ("error", "fix"),
    [
        ("channel_not_found", "Controleer of het kanaal nog bestaat"),
        ("not_in_channel", "/invite @Lead Handoff"),
        ("missing_scope", "Installeer de app opnieuw"),
    ],
)
def test_channel_error_parks_and_alerts(admins: Harness, error: str, fix: str) -> None:
    harness = admins
    queue_notice(harness, SALES)
    queue_notice(harness, "C0OTHER001", key="notice:2")
    harness.slack.add_channel("C0OTHER001", "other")
    harness.slack.fail_next("chat.postMessage", status=200, error=error)

    report = harness.sender.deliver_due()

    assert report.parked == 1
    assert item_by_key(harness, "notice:1").status == "parked"
    assert item_by_key(harness, "notice:2").status == "sent"
    [alert] = alerts(harness)
    parked_id = item_by_key(harness, "notice:1").id
    assert f"*Item:* {parked_id} (notice) naar <#{SALES}>" in alert
    assert f"`{error}`" in alert
    assert fix in alert
    assert f"handoff outbox --retry {parked_id}" in alert


def test_unknown_user_alert_names_the_member_id(admins: Harness) -> None:
    harness = admins
    lead_id = queue_lead(harness)
    harness.slack.fail_next("chat.postMessage", status=200, error="users_not_found")

    assert harness.sender.deliver_due().parked == 1

    [alert] = alerts(harness)
    card = item_by_key(harness, f"lead:{lead_id}:card:v2")
    assert f"{card.id} (card, lead {lead_id}) naar <@{SANNE}>" in alert
    assert "Slack-lid-ID (U…)" in alert
    # The alert names ids only: no company, contact name or e-mail address of the lead.
    assert "Verpakkingen" not in alert
    assert "Contact 1" not in alert
    assert "@verpakking" not in alert


def test_alert_in_each_admins_language(admins: Harness) -> None:
    harness = admins
    harness.rt.config.admins = [ADMIN, SECOND_ADMIN]
    with harness.rt.db.transaction() as session:
        set_user_language(session, SECOND_ADMIN, "en", harness.rt.clock.now())
    queue_notice(harness, SALES)
    harness.slack.fail_next("chat.postMessage", status=200, error="not_in_channel")

    harness.sender.deliver_due()

    [dutch] = alerts(harness, ADMIN)
    [english] = alerts(harness, SECOND_ADMIN)
    assert "Wat te doen:" in dutch
    assert "What to do:* Invite the bot to the channel" in english


def test_failed_alert_raises_no_alert(admins: Harness) -> None:
    harness = admins
    queue_notice(harness, SALES)
    harness.slack.fail_next("chat.postMessage", status=200, error="channel_not_found")
    harness.slack.fail_next("chat.postMessage", status=200, error="users_not_found")

    report = harness.sender.deliver_due()

    assert report.parked == 2
    with harness.rt.db.transaction() as session:
        kinds = [item.kind for item in session.scalars(select(OutboxItem).order_by(OutboxItem.id))]
    assert kinds == ["notice", "admin_alert"]


def test_failed_item_alerts_after_give_up(admins: Harness) -> None:
    harness = admins
    harness.sender.give_up_after = timedelta(minutes=30)
    queue_notice(harness, SALES)
    harness.slack.fail_next("chat.postMessage", status=503, times=50)
    for _ in range(8):
        harness.sender.deliver_due()
        harness.rt.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    harness.slack.reset()

    harness.sender.deliver_due()

    assert item_by_key(harness, "notice:1").status == "failed"
    [alert] = alerts(harness)
    assert "gave up after" in alert
    assert "statuspagina van Slack" in alert


def test_invalid_blocks_logged_with_field(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    with harness.rt.db.transaction() as session:
        enqueue(session, key="notice:blocks", kind="notice", method="chat.postMessage", now=harness.rt.clock.now(),
                payload={"channel": SALES, "text": "te lang",
                         "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]})

    with caplog.at_level(logging.ERROR, logger="bot.outbox"):
        assert harness.sender.deliver_due().parked == 1
    harness.rt.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    assert harness.sender.deliver_due().sent == 0

    assert len(harness.slack.calls("chat.postMessage")) == 1
    item = item_by_key(harness, "notice:blocks")
    assert item.status == "parked"
    assert item.last_error is not None
    assert "[json-pointer:/blocks/0/text/text]" in item.last_error
    assert any("outbox.invalid_blocks" in line and "/blocks/0/text/text" in line for line in caplog.messages)


def test_deleted_card_of_closed_lead_is_not_posted(harness: Harness) -> None:
    lead_id = queue_lead(harness)
    harness.sender.deliver_due()
    harness.slack.fail_next("chat.update", status=200, error="message_not_found")
    with harness.rt.db.transaction() as session:
        outcome = decide(session, harness.rt, lead_id=lead_id, version=2, user_id=SANNE, accept=False,
                         reason=RejectionReason.COMPETITOR)
        assert outcome.status == "done"

    report = harness.sender.deliver_due()

    assert report.dropped == 1
    assert len(harness.slack.calls("chat.postMessage")) == 1
    with harness.rt.db.transaction() as session:
        update = session.scalar(select(OutboxItem).where(OutboxItem.kind == "card_update"))
        assert update is not None
        assert update.status == "dropped"
        lead = session.get(Lead, lead_id)
        assert lead is not None
        assert lead.stage == "rejected"


def test_deleted_card_without_lead_is_parked(admins: Harness) -> None:
    # A card update whose lead is gone (erased) cannot post a fresh card, so it waits for an admin.
    with admins.rt.db.transaction() as session:
        enqueue(session, key="card_update:erased", kind="card_update", method="chat.update",
                payload={"channel": f"D{SANNE}", "ts": "1.000001", "fallback_channel": SANNE, "text": "Lead"},
                now=admins.rt.clock.now())
    admins.slack.fail_next("chat.update", status=200, error="message_not_found")

    report = admins.sender.deliver_due()

    assert report.parked == 1
    item = item_by_key(admins, "card_update:erased")
    assert item.status == "parked"
    assert item.last_error is not None
    assert "message_not_found" in item.last_error
