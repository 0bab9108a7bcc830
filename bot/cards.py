"""The rep's lead card: posted when a lead becomes an MQL, updated in place as it moves on."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot import messages
from bot.config import Rep
from bot.outbox import DRAW_CARD, Claim, enqueue, enqueue_home_refresh
from bot.preferences import user_language
from bot.runtime import Runtime
from bot.views import lead_view
from storage.models import Lead


def enqueue_card(session: Session, rt: Runtime, lead: Lead, rep: Rep, *, now: datetime, key_suffix: str = "") -> None:
    """Queue a new card for `rep`; the sender records where it lands so that later changes update it."""
    key, payload = new_card(lead.id, lead.version, rep, key_suffix=key_suffix)
    enqueue(session, key=key, kind="card", method="chat.postMessage", payload=payload, now=now, lead_id=lead.id)
    refresh_homes(session, rt, rep)


def new_card(lead_id: int, version: int, rep: Rep, *, key_suffix: str = "") -> tuple[str, dict[str, object]]:
    """Return the outbox key and payload of a new card for `rep` of the lead at `version`.

    The payload names only the rep's DM. The sender draws the card when it posts it
    (`card_message`), so the card shows the lead as it is then, with the buttons of its
    version at that moment, in the language that the rep reads by then. Cards of a large
    import can wait minutes for their turn in a rep's DM, one post per second.
    """
    suffix = f":{key_suffix}" if key_suffix else ""
    return f"lead:{lead_id}:card:v{version}{suffix}", {"channel": rep.slack_user_id, DRAW_CARD: True}


def card_message(session: Session, rt: Runtime, lead_id: int | None, user_id: str) -> dict[str, Any] | None:
    """Draw the lead's card for the Slack user `user_id` as message arguments, or return None if the lead is gone."""
    lead = session.get(Lead, lead_id) if lead_id is not None else None
    if lead is None:
        return None
    language = user_language(session, rt.config, rt.settings.default_language, user_id)
    timezone = rt.timezone_of(rt.config.person_by_slack_id(user_id), lead.team_id)
    return messages.lead_card(lead_view(lead, rt.config, language), language, timezone).to_payload()


def refresh_homes(session: Session, rt: Runtime, rep: Rep | None) -> None:
    """Queue Home tab updates for the rep and the rep's manager."""
    enqueue_home_refresh(session, home_users(rt, rep), rt.clock.now())


def home_users(rt: Runtime, rep: Rep | None) -> list[str]:
    """Return the Slack ids of the rep and the rep's manager, whose Home tabs show the rep's leads."""
    if rep is None:
        return []
    manager = rt.config.manager_of(rep)
    return [rep.slack_user_id, *([manager.slack_user_id] if manager else [])]


def card_update_key(lead: Lead, key: str | None) -> str:
    """Return the outbox key of a card update of the lead at its current version; without `key`, a random one."""
    return f"lead:{lead.id}:card_update:v{lead.version}:{key or uuid.uuid4().hex}"


def card_update_payload(
    session: Session, rt: Runtime, lead: Lead, rep: Rep | None, *, decision: messages.Decision | None = None,
    note: str | None = None, final: bool = False, card: tuple[str | None, str | None] | None = None,
    language: str | None = None,
) -> dict[str, object]:
    """Draw the chat.update arguments of the lead's card in its current state, for `refresh_card`."""
    user: str | None = None
    if rep is not None:
        user = rep.slack_user_id
    elif decision is not None:
        user = decision.user_id
    if language is None:
        language = user_language(session, rt.config, rt.settings.default_language, user)
    message = messages.lead_card(lead_view(lead, rt.config, language), language, rt.timezone_of(rep), decision,
                                 note=note, final=final)
    payload: dict[str, object] = {**message.to_payload(), "fallback_channel": user}
    channel, ts = card if card is not None else (lead.card_channel, lead.card_ts)
    if channel and ts:
        payload.update(channel=channel, ts=ts)
    else:
        payload["lead_card"] = True
    return payload


def card_update_recipe(payload: dict[str, object]) -> dict[str, object]:
    """Return the outbox payload that draws the card update `payload` when it is sent, without its blocks.

    The sender draws the lead's card in its state at that moment for the reader in `fallback_channel`
    (OutboxSender._resolve_arguments), so only a card without a decision, note or `final` may use it.
    """
    place = {name: payload[name] for name in ("channel", "ts", "fallback_channel", "lead_card") if name in payload}
    return {**place, DRAW_CARD: True}


def refresh_card(
    session: Session, rt: Runtime, lead: Lead, *, key: str | None = None, decision: messages.Decision | None = None,
    note: str | None = None, final: bool = False, card: tuple[str | None, str | None] | None = None,
    language: str | None = None, key_is_new: bool = False, claim: Claim | None = None,
) -> None:
    """Queue an update of the lead's card to its current state.

    The card's place is taken now when known, so that a later reassignment or
    reroute does not send this update to the next rep's card. A caller that
    has looked up the language of the card's reader passes it as `language`.
    `key_is_new` and `claim` are passed on to `enqueue`. With a `claim`, the Home tabs
    are left to the caller (`Claim.home_users`).
    """
    rep = rt.config.rep(lead.rep_email)
    payload = card_update_payload(session, rt, lead, rep, decision=decision, note=note, final=final, card=card,
                                  language=language)
    # With a claim the drawn card goes out right after the commit. The outbox keeps only what to
    # draw, which saves encoding and storing the blocks, and a later retry draws the card anew.
    drawn_when_sent = claim is not None and decision is None and note is None and not final
    stored = card_update_recipe(payload) if drawn_when_sent else payload
    enqueue(session, key=card_update_key(lead, key), kind="card_update", method="chat.update", payload=stored,
            now=rt.clock.now(), lead_id=lead.id, key_is_new=key_is_new, claim=claim, claimed_payload=payload)
    if claim is not None:
        claim.home_users.extend(home_users(rt, rep))
    else:
        refresh_homes(session, rt, rep)
