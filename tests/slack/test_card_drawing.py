"""A new card is drawn when the sender posts it: the lead's state, version and the rep's language of that moment."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from bot.handoff import ingest
from bot.ids import ActionId, LeadRef
from bot.preferences import set_user_language
from factories import lead_input
from storage.models import Lead, OutboxItem

SANNE = "U0SANNEDV1"
SANNE_EMAIL = "sanne.devries@handoff-demo.nl"


def queue_lead(harness: Any) -> int:
    with harness.rt.db.transaction() as session:
        return ingest(session, harness.rt, lead_input(1, at=harness.rt.clock.now(), owner_email=SANNE_EMAIL),
                      actor="test").lead_id


def card_item(harness: Any, lead_id: int | None) -> OutboxItem:
    with harness.rt.db.transaction() as session:
        return session.scalars(select(OutboxItem).where(OutboxItem.kind == "card",
                                                        OutboxItem.dedupe_key.like("lead:%:card:%"))).one()


def test_card_uses_language_at_delivery(harness: Any, slack: Any) -> None:
    lead_id = queue_lead(harness)
    # Sanne switches to English after the lead qualified and before her card goes out.
    with harness.rt.db.transaction() as session:
        set_user_language(session, SANNE, "en", harness.rt.clock.now())

    harness.sender.deliver_due()

    [message] = slack.messages()
    assert message["text"].startswith("New MQL")
    buttons = [element for block in message["blocks"] if block["type"] == "actions" for element in block["elements"]
               if element.get("action_id") == ActionId.ACCEPT.value]
    assert [LeadRef.decode(button["value"]) for button in buttons] == [LeadRef(lead=lead_id, v=2)]
    assert card_item(harness, lead_id).status == "sent"


def test_card_of_deleted_lead_is_dropped(harness: Any, slack: Any) -> None:
    lead_id = queue_lead(harness)
    with harness.rt.db.transaction() as session:
        session.execute(delete(Lead).where(Lead.id == lead_id))

    report = harness.sender.deliver_due()

    assert report.dropped == 1
    assert slack.calls("chat.postMessage") == []
    item = card_item(harness, None)
    assert item.status == "dropped"
    assert item.last_error == "the lead of this card no longer exists"
