"""The Slack outbox: calls written with the state change that causes them, delivered with retries."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse
from sqlalchemy import and_, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from bot.clock import Clock
from storage.db import Database
from storage.models import Lead, OutboxItem

log = logging.getLogger(__name__)

PENDING = "pending"
SENT = "sent"
PARKED = "parked"
FAILED = "failed"
# Kind of the chart uploads: the payload contains the numbers, and the PNG is drawn when it is sent.
CHART_KIND = "chart"

# Errors that another attempt cannot fix: the item waits for an admin.
PARK_ERRORS = frozenset(
    {"channel_not_found", "not_in_channel", "users_not_found", "user_not_found", "invalid_blocks",
     "invalid_auth", "not_authed", "account_inactive", "is_archived", "msg_too_long", "no_text"}
)
CLAIM_SECONDS = 60
MAX_BACKOFF_SECONDS = 15 * 60


def enqueue(
    session: Session,
    *,
    key: str,
    kind: str,
    method: str,
    payload: dict[str, Any],
    now: datetime,
    lead_id: int | None = None,
) -> bool:
    """Add a Slack call to the outbox in the caller's transaction.

    Returns False, and adds nothing, when an item with the same key exists: the
    unique key is what makes a reminder or escalation go out once.
    """
    item = OutboxItem(
        dedupe_key=key,
        lead_id=lead_id,
        kind=kind,
        method=method,
        payload=payload,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    savepoint = session.begin_nested()
    try:
        session.add(item)
        session.flush()
    except IntegrityError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    parked: int = 0
    homes: int = 0  # Home tab updates among the sent items

    @property
    def messages_sent(self) -> int:
        return self.sent - self.homes


class OutboxSender:
    """Deliver due outbox items to Slack, one lead's items in order, retrying what can succeed later."""

    def __init__(self, db: Database, client: WebClient, clock: Clock, *, give_up_after: timedelta = timedelta(hours=24),
                 runtime: Any = None) -> None:
        self.runtime = runtime
        self.db = db
        self.client = client
        self.clock = clock
        self.give_up_after = give_up_after
        self.worker_id = uuid.uuid4().hex[:16]

    def _claim(self, *, limit: int, lead_id: int | None) -> list[OutboxItem]:
        now = self.clock.now()
        earlier = aliased(OutboxItem)
        # A lead's item waits while an older item of the same lead is still pending.
        blocked = exists().where(
            and_(earlier.lead_id == OutboxItem.lead_id, earlier.status == PENDING, earlier.id < OutboxItem.id)
        )
        candidates = (
            select(OutboxItem.id)
            .where(OutboxItem.status == PENDING, OutboxItem.next_attempt_at <= now, ~blocked)
            .order_by(OutboxItem.id)
            .limit(limit)
        )
        if lead_id is not None:
            candidates = candidates.where(OutboxItem.lead_id == lead_id)
        token = f"{self.worker_id}:{uuid.uuid4().hex[:8]}"
        with self.db.transaction() as session:
            ids = list(session.scalars(candidates))
            if not ids:
                return []
            session.execute(
                update(OutboxItem)
                .where(
                    OutboxItem.id.in_(ids),
                    OutboxItem.status == PENDING,
                    (OutboxItem.claimed_until.is_(None)) | (OutboxItem.claimed_until < now),
                )
                .values(claimed_by=token, claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
                .execution_options(synchronize_session=False)
            )
            return list(session.scalars(select(OutboxItem).where(OutboxItem.claimed_by == token).order_by(OutboxItem.id)))

    def deliver_due(self, *, limit: int = 100, lead_id: int | None = None) -> DeliveryReport:
        """Send what is due now; returns counts. One item's failure never stops the others."""
        report = DeliveryReport()
        handled = 0
        # A lead's next item becomes claimable only once the one before it is sent, so claim in rounds.
        while handled < limit:
            claimed = self._claim(limit=limit - handled, lead_id=lead_id)
            if not claimed:
                break
            for item in claimed:
                outcome = self._deliver(item)
                setattr(report, outcome, getattr(report, outcome) + 1)
                if outcome == "sent" and item.kind == "home":
                    report.homes += 1
            handled += len(claimed)
        return report

    def deliver_lead(self, lead_id: int) -> DeliveryReport:
        """Try a lead's pending items at once, e.g. right after a click; the clock retries the rest."""
        return self.deliver_due(limit=20, lead_id=lead_id)

    def _resolve_arguments(self, item: OutboxItem) -> dict[str, Any]:
        arguments = dict(item.payload)
        if arguments.pop("home", False):
            # The Home tab is drawn when it is sent, so it shows the state of that moment.
            from bot.home import home_view

            with self.db.transaction() as session:
                return {"user_id": arguments["user_id"], "view": home_view(session, self.runtime, arguments["user_id"])}
        if arguments.pop("lead_card", False):
            with self.db.transaction() as session:
                lead = session.get(Lead, item.lead_id)
                if lead is None or lead.card_ts is None or lead.card_channel is None:
                    raise SlackApiError("lead card not delivered yet", {"ok": False, "error": "message_not_found"})
                arguments["channel"] = lead.card_channel
                arguments["ts"] = lead.card_ts
        return arguments

    def _deliver(self, item: OutboxItem) -> str:
        now = self.clock.now()
        try:
            arguments = self._resolve_arguments(item)
            if item.kind == CHART_KIND:
                response = upload_chart(self.client, arguments)
            else:
                response = self.client.api_call(item.method, json=arguments)
        except SlackApiError as error:
            return self._handle_error(item, error, now)
        except Exception as error:  # noqa: BLE001 - network errors of any kind mean "try later"
            return self._retry(item, f"{type(error).__name__}: {error}", now, None)
        self._mark_sent(item, response.data if isinstance(response.data, dict) else {}, now)
        return "sent"

    def _mark_sent(self, item: OutboxItem, data: dict[str, Any], now: datetime) -> None:
        channel = data.get("channel")
        ts = data.get("ts") or data.get("message_ts")
        with self.db.transaction() as session:
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id)
                .values(status=SENT, sent_at=now, attempts=OutboxItem.attempts + 1, result_channel=channel,
                        result_ts=ts, claimed_by=None, claimed_until=None, last_error=None)
            )
            if item.kind == "card" and item.lead_id is not None and channel and ts:
                session.execute(
                    update(Lead).where(Lead.id == item.lead_id).values(card_channel=channel, card_ts=ts, card_delivered_at=now)
                )
        log.info("outbox.sent id=%s kind=%s method=%s lead=%s", item.id, item.kind, item.method, item.lead_id)

    def _handle_error(self, item: OutboxItem, error: SlackApiError, now: datetime) -> str:
        response = error.response
        status = getattr(response, "status_code", 200)
        code = response.get("error") if hasattr(response, "get") else None
        if status == 429:
            retry_after = _retry_after_seconds(response)
            return self._retry(item, "ratelimited", now, retry_after)
        if code == "message_not_found" and item.kind == "card_update":
            return self._repost_card(item, now)
        if code in PARK_ERRORS:
            return self._park(item, str(code), now)
        return self._retry(item, str(code or f"HTTP {status}"), now, None)

    def _repost_card(self, item: OutboxItem, now: datetime) -> str:
        # The card was deleted or never delivered: post the current state as a new card.
        with self.db.transaction() as session:
            lead = session.get(Lead, item.lead_id)
            channel = item.payload.get("fallback_channel")
            if lead is None or not channel:
                return self._park(item, "message_not_found", now)
            payload = {k: v for k, v in item.payload.items() if k not in {"lead_card", "fallback_channel"}}
            payload["channel"] = channel
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id)
                .values(method="chat.postMessage", kind="card", payload=payload, claimed_by=None, claimed_until=None,
                        last_error="message_not_found: posting a new card", next_attempt_at=now)
            )
        log.warning("outbox.card_missing id=%s lead=%s action=repost", item.id, item.lead_id)
        return "retried"

    def _retry(self, item: OutboxItem, reason: str, now: datetime, retry_after: float | None) -> str:
        attempts = item.attempts + 1
        if now - item.created_at > self.give_up_after:
            return self._park(item, f"gave up after {attempts} attempts: {reason}", now, status=FAILED)
        delay = retry_after if retry_after is not None else min(2 ** attempts * 5, MAX_BACKOFF_SECONDS)
        with self.db.transaction() as session:
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id)
                .values(attempts=attempts, last_error=reason[:500], next_attempt_at=now + timedelta(seconds=delay),
                        claimed_by=None, claimed_until=None)
            )
        log.warning("outbox.retry id=%s kind=%s lead=%s attempt=%s delay_s=%s error=%s",
                    item.id, item.kind, item.lead_id, attempts, delay, reason)
        return "retried"

    def _park(self, item: OutboxItem, reason: str, now: datetime, status: str = PARKED) -> str:
        with self.db.transaction() as session:
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id)
                .values(status=status, attempts=item.attempts + 1, last_error=reason[:500], claimed_by=None, claimed_until=None)
            )
        log.error("outbox.parked id=%s kind=%s method=%s lead=%s error=%s: run 'handoff outbox' to see and retry it",
                  item.id, item.kind, item.method, item.lead_id, reason)
        return "parked"


def _retry_after_seconds(response: Any) -> float:
    headers = getattr(response, "headers", {}) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return max(1.0, float(value if not isinstance(value, list) else value[0]))
            except ValueError:
                break
    return 30.0


def enqueue_home_refresh(session: Session, user_ids: list[str], now: datetime) -> None:
    """Queue a Home tab update for each user, unless one is already waiting for that user."""
    for user_id in dict.fromkeys(user_ids):
        if not home_refresh_waiting(session, user_id):
            enqueue(session, key=f"home:{user_id}:{uuid.uuid4().hex}", kind="home", method="views.publish",
                    payload={"user_id": user_id, "home": True}, now=now)


def home_refresh_waiting(session: Session, user_id: str) -> bool:
    """Whether a Home tab update for the user is queued and not sent yet."""
    waiting = session.scalar(
        select(OutboxItem.id).where(OutboxItem.kind == "home", OutboxItem.status == PENDING,
                                    OutboxItem.dedupe_key.like(f"home:{user_id}:%")).limit(1)
    )
    return waiting is not None


def stuck_items(session: Session) -> list[OutboxItem]:
    return list(session.scalars(select(OutboxItem).where(OutboxItem.status.in_([PARKED, FAILED])).order_by(OutboxItem.id)))


def requeue(session: Session, item_ids: list[int], now: datetime) -> int:
    result = session.execute(
        update(OutboxItem)
        .where(OutboxItem.id.in_(item_ids), OutboxItem.status.in_([PARKED, FAILED]))
        .values(status=PENDING, next_attempt_at=now, claimed_by=None, claimed_until=None)
    )
    return result.rowcount or 0


def upload_chart(client: WebClient, arguments: dict[str, Any]) -> SlackResponse:
    """Draw the chart in `arguments["chart"]` and share it in `arguments["channel"]`.

    slack_sdk's files_upload_v2 uses Slack's external upload flow: files.getUploadURLExternal,
    a POST of the bytes to the returned upload_url, then files.completeUploadExternal.
    """
    from bot.charts import render_chart

    chart = arguments["chart"]
    png, alt_text = render_chart(chart)
    return client.files_upload_v2(channel=arguments["channel"], file=png, filename=f"{chart['kind']}.png",
                                  title=chart["title"], alt_txt=alt_text,
                                  initial_comment=arguments.get("initial_comment"))
