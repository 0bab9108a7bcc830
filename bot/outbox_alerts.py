"""Slack alerts that tell the admins about an outbox item that waits for them (parked or failed)."""

from __future__ import annotations

import logging
import re
from datetime import datetime

from sqlalchemy.orm import Session

from bot.i18n import MESSAGES, t
from bot.messages import escape_mrkdwn
from bot.outbox import ADMIN_ALERT, FAILED, Sendable, enqueue
from bot.preferences import user_language
from bot.runtime import Runtime

log = logging.getLogger(__name__)

ERROR_TEXT_MAX = 300
_FIX_ALIASES = {"user_not_found": "users_not_found"}


def describe_target(item: Sendable) -> str:
    """Return where the item was going as a Slack mention: a channel, a user or a conversation id."""
    payload = item.payload or {}
    target = str(payload.get("channel") or payload.get("user_id") or payload.get("fallback_channel") or "")
    if re.fullmatch(r"[CG][A-Z0-9]+", target):
        return f"<#{target}>"
    if re.fullmatch(r"[UW][A-Z0-9]+", target):
        return f"<@{target}>"
    return f"`{target}`" if target else "?"


def enqueue_parked_alert(session: Session, rt: Runtime, item: Sendable, reason: str, status: str,
                         now: datetime) -> int:
    """Queue one alert per configured admin and return how many were queued.

    The alert names the item, its kind, lead id and target ids, Slack's error and the fix. It
    carries no lead data such as names or e-mail addresses.
    """
    if not rt.config.admins:
        log.warning("outbox.alert_skipped id=%s: no admins in the handoff configuration to alert", item.id)
        return 0
    code = reason.split(":", 1)[0].strip()
    code = _FIX_ALIASES.get(code, code)
    fix_key = "outbox.fix.failed" if status == FAILED else f"outbox.fix.{code}"
    if fix_key not in MESSAGES:
        fix_key = "outbox.fix.other"
    error = escape_mrkdwn(reason[:ERROR_TEXT_MAX]).replace("`", "'")
    queued = 0
    for admin in rt.config.admins:
        language = user_language(session, rt.config, rt.settings.default_language, admin)
        lead = t(language, "outbox.lead", lead_id=item.lead_id) if item.lead_id is not None else ""
        text = t(language, "outbox.parked", item_id=item.id, kind=item.kind, lead=lead, target=describe_target(item),
                 error=error, fix=t(language, fix_key))
        # The attempt number is in the key, so an item parked again after a retry alerts again.
        key = f"outbox:{item.id}:alert:{item.attempts + 1}:{admin}"
        if enqueue(session, key=key, kind=ADMIN_ALERT, method="chat.postMessage",
                   payload={"channel": admin, "text": text}, now=now):
            queued += 1
    return queued
