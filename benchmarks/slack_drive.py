"""Leads with delivered cards, and signed Accept clicks on them, as Slack would send them."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import func, select

from benchmarks.common import BOT_TOKEN, SANNE, SIGNING_SECRET
from bot.handoff import ingest
from bot.ids import ActionId, LeadRef
from bot.intake.model import LeadInput
from bot.outbox import OutboxSender
from bot.runtime import Runtime
from bot.slack_standin.interactions import block_action_body, button_action, signed_headers
from storage.models import Lead, OutboxItem

SANNE_EMAIL = "sanne.devries@handoff-demo.nl"


@dataclass(frozen=True)
class Card:
    """A lead whose card reached the rep: where the card is and which version it shows."""

    lead_id: int
    channel: str
    ts: str
    version: int


def lead_input(number: int, rt: Runtime, *, prefix: str = "BENCH") -> LeadInput:
    """Build a lead that qualifies under the example configuration and is owned by Sanne."""
    return LeadInput(
        source="hubspot", external_id=f"{prefix}-{number}", email=f"contact{number}@bench-{number}.example",
        first_name="Bench", last_name=f"Contact {number}", company=f"Bench {number} BV", industry="Packaging",
        employees=250, country="NL", lead_score=Decimal(75), last_activity_at=rt.clock.now(), owner_email=SANNE_EMAIL,
    )


def add_leads(rt: Runtime, count: int, *, prefix: str = "BENCH", batch: int = 200) -> list[int]:
    """Ingest `count` MQLs through the bot's own intake, `batch` per transaction."""
    ids: list[int] = []
    for first in range(0, count, batch):
        with rt.db.transaction() as session:
            for number in range(first, min(count, first + batch)):
                ids.append(ingest(session, rt, lead_input(number + 1, rt, prefix=prefix), actor="bench").lead_id)
    return ids


def deliver_cards(rt: Runtime, base_url: str, lead_ids: list[int]) -> list[Card]:
    """Send the queued cards to the stand-in at `base_url` and return where each one landed."""
    sender = OutboxSender(rt.db, WebClient(token=BOT_TOKEN, base_url=base_url), rt.clock, runtime=rt)
    while sender.deliver_due(limit=500).sent:
        pass
    with rt.db.transaction() as session:
        rows = session.execute(
            select(Lead.id, Lead.card_channel, Lead.card_ts, Lead.version).where(Lead.id.in_(lead_ids)).order_by(Lead.id)
        ).all()
    cards = [Card(lead_id, channel, ts, version) for lead_id, channel, ts, version in rows if channel and ts]
    if len(cards) != len(lead_ids):
        raise RuntimeError(f"{len(lead_ids) - len(cards)} of {len(lead_ids)} cards were not delivered to the stand-in")
    return cards


def accept_body(card: Card, user_id: str = SANNE) -> str:
    action = button_action(ActionId.ACCEPT.value, LeadRef(lead=card.lead_id, v=card.version).encode())
    return block_action_body(user_id=user_id, action=action, channel_id=card.channel, message_ts=card.ts)


def signed(body: str) -> dict[str, str]:
    return signed_headers(SIGNING_SECRET, body)


def wsgi_post(app: Any, path: str, body: bytes, headers: dict[str, str],
              responded: Callable[[], None] | None = None) -> tuple[int, bytes]:
    """Call a WSGI app in process, as gunicorn would, and return the status and body.

    As gunicorn does, the body's close() runs in this thread after the whole body has been read,
    and `responded` is called in between: that is when a client would have the response.
    """
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": "",
        "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        else:
            environ[f"HTTP_{key}"] = value
    status: list[int] = []

    def start_response(line: str, _headers: list[tuple[str, str]]) -> None:
        status.append(int(line.split()[0]))

    chunks = app(environ, start_response)
    try:
        payload = b"".join(chunks)
        if responded is not None:
            responded()
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return status[0], payload


def count_stages(rt: Runtime, lead_ids: list[int]) -> dict[str, int]:
    with rt.db.transaction() as session:
        rows = session.execute(
            select(Lead.stage, func.count()).where(Lead.id.in_(lead_ids)).group_by(Lead.stage)
        ).all()
    return {stage: count for stage, count in rows}


def count_outbox(rt: Runtime, lead_ids: list[int]) -> dict[str, int]:
    with rt.db.transaction() as session:
        rows = session.execute(
            select(OutboxItem.status, func.count()).where(OutboxItem.lead_id.in_(lead_ids)).group_by(OutboxItem.status)
        ).all()
    return {status: count for status, count in rows}
