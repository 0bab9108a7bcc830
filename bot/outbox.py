"""The Slack outbox: calls written with the state change that causes them, delivered with retries."""

from __future__ import annotations

import functools
import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse
from sqlalchemy import CTE, Insert, and_, bindparam, case, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from bot.clock import Clock, FixedClock
from storage.db import Database
from storage.models import Lead, OutboxChannelPacing, OutboxItem

log = logging.getLogger(__name__)

PENDING = "pending"
SENT = "sent"
PARKED = "parked"
FAILED = "failed"
# A card update whose card was deleted while the lead is closed: nothing is left to show it on.
DROPPED = "dropped"

# Errors that another attempt cannot fix: the item waits for an admin.
PARK_ERRORS = frozenset(
    {"channel_not_found", "not_in_channel", "users_not_found", "user_not_found", "invalid_blocks",
     "invalid_auth", "not_authed", "account_inactive", "is_archived", "msg_too_long", "no_text",
     # The app was installed before manifest.yml asked for a scope that this call needs.
     "missing_scope"}
)
# Kind of the Slack messages that tell the admins about a parked item; they are never alerted on.
ADMIN_ALERT = "admin_alert"
# Kind of the chart uploads: the payload contains the numbers, and the PNG is drawn when it is sent.
CHART_KIND = "chart"
# Payload flag of a new lead card: the sender draws the card from the lead when it posts it.
DRAW_CARD = "draw_card"
# File name of a chart upload, e.g. funnel-o1234.png. A file cannot carry message metadata, so the
# outbox item's id in the name is what finds an upload whose sender died before storing the result.
CHART_FILENAME = "{kind}-o{item_id}.png"
CLAIM_SECONDS = 60
MAX_BACKOFF_SECONDS = 15 * 60

# Methods under Slack's limit of about one message per second per channel (the "special" rate
# limit of chat.postMessage). A chart upload ends in files.completeUploadExternal, which shares the
# file as a message in the channel, so it is paced too. chat.update and views.publish have ordinary
# per-method tiers.
PACED_METHODS = frozenset({"chat.postMessage", "files.completeUploadExternal"})
# How long one deliver_due call may wait in total for busy channels before it leaves the rest to
# the next call.
MAX_PACING_WAIT = timedelta(seconds=10)
# Message metadata that marks a message as the delivery of one outbox item, so that a sender can
# find it in the channel's history when the process that posted it died before storing the result.
METADATA_EVENT_TYPE = "handoff_outbox_item"
# The history search starts this long before the lost attempt, to allow for clock skew with Slack.
HISTORY_MARGIN = timedelta(minutes=10)
# NOTE: only this many pages of messages after the lost attempt are searched. A channel busier
# than that between the crash and the retry gets the message a second time.
HISTORY_PAGES = 5
HISTORY_PAGE_SIZE = 200
# Files per page of the files.list search for a lost chart upload, which reads at most HISTORY_PAGES pages.
FILES_PAGE_SIZE = 100
# Stages in which a lead still waits for someone's decision, so a deleted card is posted again.
OPEN_STAGES = frozenset({"mql", "sal", "sql", "opportunity"})
_USER_ID = re.compile(r"[UW][A-Z0-9]+")


@dataclass
class ClaimedItem:
    """An outbox item that an INSERT has just claimed, built from the inserted values.

    The sender only reads its items, so a plain object does. Building it costs less than an ORM
    `OutboxItem`, which sets each attribute through SQLAlchemy's instrumentation.
    """

    id: int
    dedupe_key: str
    lead_id: int | None
    kind: str
    method: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    paced_channel: str | None
    claimed_by: str | None
    claimed_until: datetime | None
    send_started_at: datetime | None = None


# An item for the sender: one it loaded (`OutboxItem`) or one that an INSERT claimed (`ClaimedItem`).
Sendable = OutboxItem | ClaimedItem


@dataclass
class Claim:
    """A claim that `enqueue` takes on the item it adds, for `OutboxSender.deliver_claimed` after the commit.

    A lead's items go out in order, so the item is claimed only when no other item of its
    lead is pending, and `items` then contains it. Otherwise `items` stays empty, and the caller
    claims the lead's items with `OutboxSender.claim_lead_items` instead.

    `bot.cards.refresh_card` leaves the Home tabs to a caller with a claim, which queues them
    after the card update has gone out. That keeps their statements out of the click's way.
    A process that dies in between leaves a Home tab as it was until it is opened again,
    which draws it anew.
    """

    token: str
    clock: Clock
    items: list[Sendable] = field(default_factory=list)
    # Users whose Home tab the caller refreshes once the claimed items are sent (`OutboxSender.refresh_homes`).
    home_users: list[str] = field(default_factory=list)

    def until(self) -> datetime:
        """Return the end of a claim taken now."""
        return self.clock.now() + timedelta(seconds=CLAIM_SECONDS)

    def record_insert(self, row: dict[str, Any], item_id: int, claimed_by: str | None, until: datetime) -> None:
        """Record the item that an INSERT of `row` added, if the INSERT claimed it (`claimed_by` is set)."""
        if claimed_by is not None:
            # Built from the values just inserted: reading the payload back would decode its JSON again.
            self.items.append(ClaimedItem(id=item_id, claimed_by=claimed_by, claimed_until=until, **row))


def enqueue(
    session: Session,
    *,
    key: str,
    kind: str,
    method: str,
    payload: dict[str, Any],
    now: datetime,
    lead_id: int | None = None,
    key_is_new: bool = False,
    claim: Claim | None = None,
    claimed_payload: dict[str, Any] | None = None,
) -> bool:
    """Add a Slack call to the outbox in the caller's transaction.

    Returns False, and adds nothing, when an item with the same key exists: the
    unique key is what makes a reminder or escalation go out once. A caller whose
    key cannot exist yet (it contains a version that only this transaction could
    reach) passes `key_is_new`, which saves the savepoint that guards the INSERT.
    Such a caller may also pass a `claim`. The same INSERT then claims the item of
    a lead, and the caller needs no `OutboxSender.claim_lead_items` statement. The
    claimed item is sent with `claimed_payload` when given, e.g. a drawn card whose
    stored `payload` only describes what to draw.
    """
    row = outbox_row(key, kind, method, payload, now, lead_id)
    if key_is_new and claim is not None and lead_id is not None:
        # The claim runs from the INSERT, not from new_claim(): the decision may have waited for a lock in between.
        until = claim.until()
        item_id, claimed_by = session.execute(_OUTBOX_INSERT_CLAIMED, {**row, "token": claim.token, "until": until}).one()
        claim.record_insert({**row, "payload": claimed_payload or payload}, item_id, claimed_by, until)
        return True
    if key_is_new:
        session.execute(_OUTBOX_INSERT, row)
        return True
    item = OutboxItem(**row)
    savepoint = session.begin_nested()
    try:
        session.add(item)
        session.flush()
    except IntegrityError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def outbox_row(key: str, kind: str, method: str, payload: dict[str, Any], now: datetime,
               lead_id: int | None) -> dict[str, Any]:
    """Return the column values of a new pending item, for `enqueue` and for bulk inserts."""
    return {"dedupe_key": key, "lead_id": lead_id, "kind": kind, "method": method, "payload": payload,
            "status": PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now,
            "paced_channel": payload.get("channel") if method in PACED_METHODS else None}


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    parked: int = 0
    deferred: int = 0  # postponed to a later call because their channel was busy
    dropped: int = 0
    homes: int = 0  # Home tab updates among the sent items

    @property
    def messages_sent(self) -> int:
        return self.sent - self.homes


class OutboxSender:
    """Deliver due outbox items to Slack, one lead's items in order, retrying what can succeed later."""

    def __init__(self, db: Database, client: WebClient, clock: Clock, *, give_up_after: timedelta | None = None,
                 pacing_interval: timedelta | None = None, max_pacing_wait: timedelta = MAX_PACING_WAIT,
                 sleep: Callable[[float], None] | None = None, runtime: Any = None) -> None:
        settings = getattr(runtime, "settings", None)
        if give_up_after is None:
            give_up_after = timedelta(hours=settings.outbox_give_up_hours if settings else 24)
        if pacing_interval is None:
            pacing_interval = timedelta(seconds=settings.outbox_channel_interval_seconds if settings else 1)
        self.runtime = runtime
        self.db = db
        self.client = client
        self.clock = clock
        self.give_up_after = give_up_after
        self.pacing_interval = pacing_interval
        self.max_pacing_wait = max_pacing_wait
        self.sleep = sleep or _default_sleep(clock)
        self.worker_id = uuid.uuid4().hex[:16]

    def _claim(self, *, limit: int, lead_id: int | None, now: datetime,
               per_channel: int | None = None) -> list[OutboxItem]:
        """Claim the items due at `now` in id order, at most `per_channel` of each paced channel."""
        earlier = aliased(OutboxItem)
        # A lead's item waits while an older item of the same lead is still pending.
        blocked = exists().where(
            and_(earlier.lead_id == OutboxItem.lead_id, earlier.status == PENDING, earlier.id < OutboxItem.id)
        )
        busy_channels = select(OutboxChannelPacing.channel).where(OutboxChannelPacing.next_send_at > now)
        candidates = (
            select(OutboxItem.id, OutboxItem.paced_channel)
            .where(OutboxItem.status == PENDING, OutboxItem.next_attempt_at <= now, ~blocked,
                   OutboxItem.paced_channel.is_(None) | OutboxItem.paced_channel.not_in(busy_channels))
            .order_by(OutboxItem.id)
            .limit(limit)
        )
        if lead_id is not None:
            candidates = candidates.where(OutboxItem.lead_id == lead_id)
        token = self._claim_token()
        with self.db.transaction() as session:
            ids: list[int] = []
            claimed_per_channel: dict[str, int] = {}
            for item_id, channel in session.execute(candidates):
                if channel is not None and per_channel is not None:
                    if claimed_per_channel.get(channel, 0) >= per_channel:
                        continue
                    claimed_per_channel[channel] = claimed_per_channel.get(channel, 0) + 1
                ids.append(item_id)
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

    def deliver_due(self, *, limit: int = 100, lead_id: int | None = None,
                    max_wait: timedelta | None = None) -> DeliveryReport:
        """Send what is due now and return the counts.

        One item's failure never stops the others. Items of one channel go out one pacing
        interval apart, interleaved with other channels, and the call sleeps between them at
        most `max_wait` (default `max_pacing_wait`) in all. What does not fit is released for
        the next call.
        """
        report = DeliveryReport()
        wait_budget = (self.max_pacing_wait if max_wait is None else max_wait).total_seconds()
        handled = 0
        # A lead's next item becomes claimable only once the one before it is sent, so claim in rounds.
        while handled < limit:
            # Claim no more of one channel than this call can send in its remaining wait.
            per_channel = None
            if self.pacing_interval > timedelta(0):
                per_channel = int(wait_budget / self.pacing_interval.total_seconds()) + 1
            now = self.clock.now()
            claimed = self._claim(limit=limit - handled, lead_id=lead_id, now=now, per_channel=per_channel)
            if not claimed:
                # The slot is read as of the claim's moment, so a channel busy at the claim is waited for
                # even if it has become free since. Read later, it would count as having nothing to wait for.
                wake_at = self._next_channel_slot(lead_id, now)
                pause = (wake_at - self.clock.now()).total_seconds() if wake_at is not None else None
                if pause is None or pause > wait_budget:
                    break
                if pause > 0:
                    self.sleep(pause)
                    wait_budget -= pause
                continue
            start = self.clock.now()
            released: list[OutboxItem] = []
            for planned_at, item in self._plan(claimed, start):
                pause = (planned_at - self.clock.now()).total_seconds()
                if pause > wait_budget:
                    released.append(item)
                    continue
                if pause > 0:
                    self.sleep(pause)
                    wait_budget -= pause
                outcome = self._deliver(item)
                setattr(report, outcome, getattr(report, outcome) + 1)
                if outcome == "deferred":
                    continue
                if outcome == "sent" and item.kind == "home":
                    report.homes += 1
                handled += 1
            if released:
                self._release(released)
                report.deferred += len(released)
        return report

    def _plan(self, claimed: list[OutboxItem], start: datetime) -> list[tuple[datetime, OutboxItem]]:
        """Order claimed items by the moment each may go out: one pacing interval apart per channel."""
        free_at: dict[str, datetime] = {}
        planned: list[tuple[datetime, OutboxItem]] = []
        for item in claimed:
            moment = start
            channel = _paced_channel_of(item)
            if channel and self.pacing_interval > timedelta(0):
                moment = free_at.get(channel, start)
                free_at[channel] = moment + self.pacing_interval
            planned.append((moment, item))
        planned.sort(key=lambda entry: (entry[0], entry[1].id))
        return planned

    def _release(self, items: Sequence[Sendable]) -> None:
        # The items stay due, so the next claim takes them once their channel is free. Rows not
        # written by enqueue get their paced_channel here, so that the claim can skip them meanwhile.
        by_channel: dict[str | None, list[int]] = {}
        for item in items:
            by_channel.setdefault(_paced_channel_of(item), []).append(item.id)
        with self.db.transaction() as session:
            for channel, item_ids in by_channel.items():
                session.execute(
                    update(OutboxItem)
                    .where(OutboxItem.id.in_(item_ids))
                    .values(claimed_by=None, claimed_until=None, paced_channel=channel)
                    .execution_options(synchronize_session=False)
                )

    def _next_channel_slot(self, lead_id: int | None, now: datetime) -> datetime | None:
        """Return when the first channel busy at `now` with a due item becomes free, or None if none waits."""
        waiting = select(OutboxItem.id).where(
            OutboxItem.paced_channel == OutboxChannelPacing.channel, OutboxItem.status == PENDING,
            OutboxItem.next_attempt_at <= now,
        )
        if lead_id is not None:
            waiting = waiting.where(OutboxItem.lead_id == lead_id)
        with self.db.transaction() as session:
            return session.scalar(
                select(func.min(OutboxChannelPacing.next_send_at))
                .where(OutboxChannelPacing.next_send_at > now, waiting.exists())
            )

    def deliver_lead(self, lead_id: int) -> DeliveryReport:
        """Try a lead's pending items at once, e.g. right after a click; the clock retries the rest."""
        return self.deliver_due(limit=20, lead_id=lead_id, max_wait=min(self.max_pacing_wait, timedelta(seconds=2)))

    def refresh_homes(self, user_ids: list[str]) -> None:
        """Queue Home tab updates for `user_ids` in a transaction of their own, e.g. those of a `Claim`."""
        if user_ids:
            with self.db.transaction() as session:
                enqueue_home_refresh(session, user_ids, self.clock.now())

    def new_claim(self) -> Claim:
        """Return a claim for `enqueue`. The item it claims stays claimed for CLAIM_SECONDS from its INSERT."""
        return Claim(token=self._claim_token(), clock=self.clock)

    def _claim_token(self) -> str:
        return f"{self.worker_id}:{uuid.uuid4().hex[:8]}"

    def claim_lead_items(self, session: Session, lead_id: int, *, limit: int = 20) -> list[OutboxItem]:
        """Claim the lead's due items in the caller's transaction, for `deliver_claimed` after it commits.

        A click claims the items it has just queued in the same transaction that queued them, so
        that no second transaction runs between the commit and the call to Slack. Only the
        leading run of the lead's pending items is claimed: an item that is not due yet or is
        claimed by another sender holds back the items after it, as in `deliver_due`.
        """
        now = self.clock.now()
        token = self._claim_token()
        # The items are rebuilt from the rows RETURNING gives, detached from the session: the sender
        # only reads them and writes through its own statements.
        claimed = session.execute(_CLAIM_LEAD_ITEMS, {
            "of_lead": lead_id, "now": now, "token": token, "until": now + timedelta(seconds=CLAIM_SECONDS),
        }).mappings().all()
        leading = sorted((OutboxItem(**row) for row in claimed), key=lambda item: item.id)
        if len(leading) > limit:
            items = OutboxItem.__table__
            session.execute(
                update(items).where(items.c.id.in_([item.id for item in leading[limit:]]))
                .values(claimed_by=None, claimed_until=None)
            )
            leading = leading[:limit]
        return leading

    def deliver_claimed(self, items: Sequence[Sendable]) -> DeliveryReport:
        """Send items claimed by `claim_lead_items`, in order, and release the rest at the first that is not sent."""
        report = DeliveryReport()
        for index, item in enumerate(items):
            outcome = self._deliver(item)
            setattr(report, outcome, getattr(report, outcome) + 1)
            if outcome == "sent" and item.kind == "home":
                report.homes += 1
            if outcome not in ("sent", "dropped"):
                # A retried, parked or deferred item must not be overtaken by the lead's later items.
                rest = items[index + 1:]
                if rest:
                    self._release(rest)
                    report.deferred += len(rest)
                break
        return report

    def _resolve_arguments(self, item: Sendable) -> dict[str, Any]:
        arguments = dict(item.payload)
        if arguments.pop("home", False):
            # The Home tab is drawn when it is sent, so it shows the state of that moment.
            from bot.home import home_view

            with self.db.transaction() as session:
                return {"user_id": arguments["user_id"], "view": home_view(session, self.runtime, arguments["user_id"])}
        if arguments.pop(DRAW_CARD, False):
            from bot.cards import card_message

            # A new card goes to the rep's user id as its channel. An update names the rep as fallback_channel.
            reader = arguments.get("fallback_channel") or arguments.get("channel")
            with self.db.transaction() as session:
                message = card_message(session, self.runtime, item.lead_id, str(reader))
            if message is None:
                raise _NothingToSend("the lead of this card no longer exists")
            arguments.update(message)
        if arguments.pop("lead_card", False):
            with self.db.transaction() as session:
                lead = session.get(Lead, item.lead_id)
                if lead is None or lead.card_ts is None or lead.card_channel is None:
                    raise SlackApiError("lead card not delivered yet", {"ok": False, "error": "message_not_found"})
                arguments["channel"] = lead.card_channel
                arguments["ts"] = lead.card_ts
        return arguments

    def _deliver(self, item: Sendable) -> str:
        now = self.clock.now()
        channel: str | None = None
        try:
            arguments = self._resolve_arguments(item)
            if item.method in PACED_METHODS:
                channel = arguments.get("channel")
            if item.method == "chat.postMessage":
                if item.send_started_at is not None:
                    try:
                        earlier = self._find_earlier_post(item, arguments)
                    except SlackApiError as error:
                        # Without the search a new post could be a second copy, so the attempt stays unknown.
                        return self._handle_error(item, error, now, result_unknown=True)
                    if earlier is not None:
                        self._mark_sent(item, earlier, now)
                        log.info("outbox.recovered id=%s kind=%s lead=%s channel=%s ts=%s: found in the "
                                 "channel's history, not posted again", item.id, item.kind, item.lead_id,
                                 earlier["channel"], earlier["ts"])
                        return "sent"
                arguments.setdefault("metadata", delivery_metadata(item.dedupe_key))
            if item.kind == CHART_KIND:
                arguments["filename"] = CHART_FILENAME.format(kind=arguments["chart"]["kind"], item_id=item.id)
                if item.send_started_at is not None:
                    try:
                        shared = self._find_earlier_upload(item, str(arguments["channel"]), arguments["filename"])
                    except SlackApiError as error:
                        # Without the search a new upload could be a second copy, so the attempt stays unknown.
                        return self._handle_error(item, error, now, result_unknown=True)
                    if shared is not None:
                        self._mark_sent(item, shared, now)
                        log.info("outbox.recovered id=%s kind=%s channel=%s file=%s: found in the channel's "
                                 "files, not uploaded again", item.id, item.kind, shared["channel"], shared["id"])
                        return "sent"
            busy_until = self._start_send(item, channel, now)
            if busy_until is not None:
                return self._defer(item, str(channel), busy_until)
            if item.kind == CHART_KIND:
                response = upload_chart(self.client, arguments)
            else:
                response = self.client.api_call(item.method, json=arguments)
        except SlackApiError as error:
            return self._handle_error(item, error, now, channel)
        except _NothingToSend as reason:
            return self._drop(item, str(reason))
        except Exception as error:  # noqa: BLE001 - network errors of any kind mean "try later"
            # Slack may have accepted the call before the connection failed, so send_started_at stays.
            return self._retry(item, f"{type(error).__name__}: {error}", now, None, result_unknown=True)
        self._mark_sent(item, response.data if isinstance(response.data, dict) else {}, now)
        return "sent"

    def _start_send(self, item: Sendable, channel: str | None, now: datetime) -> datetime | None:
        """Reserve the channel's next slot and mark the attempt as started, or return when the channel is free."""
        paced = bool(channel) and self.pacing_interval > timedelta(0)
        if not paced and not _searched_after_crash(item):
            # Nothing reads the start of this attempt, so it costs no transaction (a click's chat.update).
            return None
        with self.db.transaction() as session:
            if paced and channel:
                busy_until = reserve_channel_slot(session, channel, now, self.pacing_interval)
                if busy_until is not None:
                    return busy_until
            session.execute(update(OutboxItem).where(OutboxItem.id == item.id).values(send_started_at=now))
        return None

    def _defer(self, item: Sendable, channel: str, until: datetime) -> str:
        # The item stays due, and its paced_channel (missing on rows not written by enqueue) keeps
        # the claim away from it until the channel is free.
        with self.db.transaction() as session:
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id)
                .values(paced_channel=channel, claimed_by=None, claimed_until=None)
            )
        log.debug("outbox.deferred id=%s kind=%s lead=%s until=%s", item.id, item.kind, item.lead_id, until.isoformat())
        return "deferred"

    def _find_earlier_post(self, item: Sendable, arguments: dict[str, Any]) -> dict[str, Any] | None:
        """Return the channel and ts of this item's message if an earlier attempt posted it, else None.

        Raises SlackApiError when Slack cannot be searched, so that the caller retries or parks
        the item instead of risking a second copy.
        """
        assert item.send_started_at is not None
        channel = str(arguments.get("channel") or "")
        if _USER_ID.fullmatch(channel):
            # chat.postMessage takes a user id for the DM, but conversations.history needs the DM's id.
            channel = self.client.conversations_open(users=channel)["channel"]["id"]
        oldest = f"{(item.send_started_at - HISTORY_MARGIN).timestamp():.6f}"
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            page = self.client.conversations_history(
                channel=channel, oldest=oldest, include_all_metadata=True, limit=HISTORY_PAGE_SIZE, cursor=cursor
            )
            for message in page.get("messages") or []:
                if _delivery_key(message) == item.dedupe_key:
                    return {"channel": channel, "ts": message.get("ts")}
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                break
        return None

    def _find_earlier_upload(self, item: Sendable, channel: str, filename: str) -> dict[str, Any] | None:
        """Return the channel and file id of this chart if an earlier attempt shared it, else None.

        Slack's files.list finds the file by its name, which contains the item's id (CHART_FILENAME).
        Raises SlackApiError when Slack cannot be searched, as `_find_earlier_post` does.
        files.list needs the files:read scope. An app installed before manifest.yml asked for it gets
        missing_scope, and the item is parked with an alert to the admins to reinstall the app.
        """
        assert item.send_started_at is not None
        # Slack's files.list reference: ts_from keeps files created at or after it, in Unix seconds.
        ts_from = str(int((item.send_started_at - HISTORY_MARGIN).timestamp()))
        for page_number in range(1, HISTORY_PAGES + 1):
            page = self.client.files_list(channel=channel, ts_from=ts_from, types="images", count=FILES_PAGE_SIZE,
                                          page=page_number)
            for shared in page.get("files") or []:
                if shared.get("name") == filename:
                    return {"channel": channel, "id": shared.get("id")}
            if page_number >= int((page.get("paging") or {}).get("pages") or 0):
                break
        return None

    def _mark_sent(self, item: Sendable, data: dict[str, Any], now: datetime) -> None:
        channel = data.get("channel")
        ts = data.get("ts") or data.get("message_ts")
        with self.db.transaction() as session:
            session.execute(_MARK_SENT, {"item": item.id, "now": now, "channel": channel, "ts": ts})
            if item.kind == "card" and item.lead_id is not None and channel and ts:
                session.execute(_STORE_CARD, {"lead": item.lead_id, "now": now, "channel": channel, "ts": ts})
        log.info("outbox.sent id=%s kind=%s method=%s lead=%s", item.id, item.kind, item.method, item.lead_id)

    def _handle_error(self, item: Sendable, error: SlackApiError, now: datetime, channel: str | None = None, *,
                      result_unknown: bool = False) -> str:
        response = error.response
        status = getattr(response, "status_code", 200)
        code = response.get("error") if hasattr(response, "get") else None
        # A server error does not say whether the message was posted before it happened.
        result_unknown = result_unknown or status >= 500
        if status == 429:
            retry_after = _retry_after_seconds(response)
            if channel and self.pacing_interval > timedelta(0):
                with self.db.transaction() as session:
                    hold_channel(session, channel, now + timedelta(seconds=retry_after))
            return self._retry(item, "ratelimited", now, retry_after, result_unknown=result_unknown)
        if code == "message_not_found" and item.kind == "card_update":
            return self._repost_card(item, now)
        if code == "invalid_blocks":
            # Slack names each invalid field with a JSON pointer; the pointers carry no lead data.
            details = _error_details(response)
            log.error("outbox.invalid_blocks id=%s kind=%s lead=%s fields=%s", item.id, item.kind, item.lead_id,
                      "; ".join(details) or "(Slack named none)")
            return self._park(item, "invalid_blocks: " + "; ".join(details) if details else "invalid_blocks", now)
        if code == "missing_scope":
            # Slack names the scope the call needed; the admin alert passes it on.
            needed = response.get("needed") if hasattr(response, "get") else None
            reason = f"missing_scope: needed {needed}" if needed else "missing_scope"
            return self._park(item, reason, now, result_unknown=result_unknown)
        if code in PARK_ERRORS:
            return self._park(item, str(code), now, result_unknown=result_unknown)
        return self._retry(item, str(code or f"HTTP {status}"), now, None, result_unknown=result_unknown)

    def _repost_card(self, item: Sendable, now: datetime) -> str:
        # The card was deleted or never delivered: post the current state as a new card, unless the
        # lead is closed, because then no one needs the card any more.
        channel = item.payload.get("fallback_channel")
        with self.db.transaction() as session:
            lead = session.get(Lead, item.lead_id) if item.lead_id is not None else None
            if lead is None or not channel:
                # Parked after this transaction ends: on SQLite it holds the write lock that `_park` needs.
                park = True
            elif lead.stage not in OPEN_STAGES:
                session.execute(
                    update(OutboxItem)
                    .where(OutboxItem.id == item.id)
                    .values(status=DROPPED, attempts=item.attempts + 1, claimed_by=None, claimed_until=None,
                            send_started_at=None, last_error="message_not_found: card deleted and the lead is closed")
                )
                log.info("outbox.card_missing id=%s lead=%s stage=%s action=drop", item.id, item.lead_id, lead.stage)
                return "dropped"
            else:
                park = False
                payload = {k: v for k, v in item.payload.items() if k not in {"lead_card", "fallback_channel"}}
                payload["channel"] = channel
                session.execute(
                    update(OutboxItem)
                    .where(OutboxItem.id == item.id)
                    .values(method="chat.postMessage", kind="card", payload=payload, claimed_by=None,
                            claimed_until=None, paced_channel=channel, send_started_at=None,
                            last_error="message_not_found: posting a new card", next_attempt_at=now)
                )
        if park:
            return self._park(item, "message_not_found", now)
        log.warning("outbox.card_missing id=%s lead=%s action=repost", item.id, item.lead_id)
        return "retried"

    def _drop(self, item: Sendable, reason: str) -> str:
        with self.db.transaction() as session:
            session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id)
                .values(status=DROPPED, claimed_by=None, claimed_until=None, send_started_at=None, last_error=reason)
            )
        log.warning("outbox.dropped id=%s kind=%s lead=%s reason=%s", item.id, item.kind, item.lead_id, reason)
        return "dropped"

    def _retry(self, item: Sendable, reason: str, now: datetime, retry_after: float | None, *,
               result_unknown: bool = False) -> str:
        attempts = item.attempts + 1
        if now - item.created_at > self.give_up_after:
            return self._park(item, f"gave up after {attempts} attempts: {reason}", now, status=FAILED,
                              result_unknown=result_unknown)
        delay = retry_after if retry_after is not None else min(2 ** attempts * 5, MAX_BACKOFF_SECONDS)
        values: dict[str, Any] = {"attempts": attempts, "last_error": reason[:500], "claimed_by": None,
                                  "claimed_until": None, "next_attempt_at": now + timedelta(seconds=delay)}
        if not result_unknown:
            values["send_started_at"] = None
        with self.db.transaction() as session:
            session.execute(update(OutboxItem).where(OutboxItem.id == item.id).values(**values))
        log.warning("outbox.retry id=%s kind=%s lead=%s attempt=%s delay_s=%s error=%s",
                    item.id, item.kind, item.lead_id, attempts, delay, reason)
        return "retried"

    def _park(self, item: Sendable, reason: str, now: datetime, status: str = PARKED, *,
              result_unknown: bool = False) -> str:
        values: dict[str, Any] = {"status": status, "attempts": item.attempts + 1, "last_error": reason[:500],
                                  "claimed_by": None, "claimed_until": None}
        if not result_unknown:
            values["send_started_at"] = None
        with self.db.transaction() as session:
            session.execute(update(OutboxItem).where(OutboxItem.id == item.id).values(**values))
            if self.runtime is not None and item.kind != ADMIN_ALERT:
                from bot.outbox_alerts import enqueue_parked_alert

                enqueue_parked_alert(session, self.runtime, item, reason, status, now)
        log.error("outbox.parked id=%s kind=%s method=%s lead=%s error=%s: run 'handoff outbox' to see and retry it",
                  item.id, item.kind, item.method, item.lead_id, reason)
        return "parked"


def reserve_channel_slot(session: Session, channel: str, now: datetime, interval: timedelta) -> datetime | None:
    """Take the channel's next send slot for this moment, or return when the channel is free again.

    The conditional UPDATE is what keeps two sender processes from taking one slot: on
    PostgreSQL the second waits for the first's row lock and then no longer matches, and
    SQLite allows one writer at a time.
    """
    reserved = session.execute(
        update(OutboxChannelPacing)
        .where(OutboxChannelPacing.channel == channel, OutboxChannelPacing.next_send_at <= now)
        .values(next_send_at=now + interval)
        .execution_options(synchronize_session=False)
    )
    if reserved.rowcount == 1:
        return None
    busy_until = session.scalar(select(OutboxChannelPacing.next_send_at).where(OutboxChannelPacing.channel == channel))
    if busy_until is not None:
        return busy_until
    savepoint = session.begin_nested()
    try:
        session.add(OutboxChannelPacing(channel=channel, next_send_at=now + interval))
        session.flush()
    except IntegrityError:
        # Another process sent the channel's first message at this moment.
        savepoint.rollback()
        return now + interval
    savepoint.commit()
    return None


def hold_channel(session: Session, channel: str, until: datetime) -> None:
    """Keep every sender away from a channel until `until`, e.g. after Slack returned 429 for it."""
    moved = session.execute(
        update(OutboxChannelPacing)
        .where(OutboxChannelPacing.channel == channel, OutboxChannelPacing.next_send_at < until)
        .values(next_send_at=until)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount == 0 and session.get(OutboxChannelPacing, channel) is None:
        session.add(OutboxChannelPacing(channel=channel, next_send_at=until))


class _NothingToSend(Exception):
    """An item whose message can no longer be drawn, e.g. the card of a lead that was deleted."""


def _searched_after_crash(item: Sendable) -> bool:
    """Return whether a retry of `item` looks for an earlier delivery, which needs the start of each attempt stored."""
    return item.method == "chat.postMessage" or item.kind == CHART_KIND


def _claim_lead_items_statement() -> Any:
    items = OutboxItem.__table__
    earlier = items.alias("earlier")
    held_back = exists().where(
        earlier.c.lead_id == bindparam("of_lead"), earlier.c.status == PENDING, earlier.c.id < items.c.id,
        (earlier.c.next_attempt_at > bindparam("now")) | (earlier.c.claimed_until >= bindparam("now")),
    )
    return (
        update(items)
        .where(items.c.lead_id == bindparam("of_lead"), items.c.status == PENDING,
               items.c.next_attempt_at <= bindparam("now"),
               items.c.claimed_until.is_(None) | (items.c.claimed_until < bindparam("now")), ~held_back)
        .values(claimed_by=bindparam("token"), claimed_until=bindparam("until"))
        .returning(*items.c)
    )


# Statements of every click, built once: building a statement costs more than SQLite takes to
# run it, and a statement object that is used again keeps its cache key (see bot.transitions).
_CLAIM_LEAD_ITEMS = _claim_lead_items_statement()
_MARK_SENT = (
    update(OutboxItem.__table__)
    .where(OutboxItem.__table__.c.id == bindparam("item"))
    .values(status=SENT, sent_at=bindparam("now"), attempts=OutboxItem.__table__.c.attempts + 1,
            result_channel=bindparam("channel"), result_ts=bindparam("ts"), claimed_by=None, claimed_until=None,
            last_error=None, send_started_at=None)
)
_STORE_CARD = (
    update(Lead.__table__)
    .where(Lead.__table__.c.id == bindparam("lead"))
    .values(card_channel=bindparam("channel"), card_ts=bindparam("ts"), card_delivered_at=bindparam("now"))
)
_OUTBOX_INSERT = insert(OutboxItem.__table__)


def _insert_claimed_statement() -> Any:
    """Build the INSERT of one item that claims it when no other item of its lead is pending."""
    values = _claimed_values()
    return insert(OutboxItem.__table__).values(values).returning(*_CLAIM_RESULT)


def insert_claimed_for_moved(moved: CTE) -> Insert:
    """Build the INSERT of `enqueue` with a `claim`, run only when the CTE `moved` returns the lead.

    Its parameters come from `claimed_insert_parameters`, named `item_<column>` so that none is
    named like a column (see `bot.transitions.moved_lead`). It returns the item's id and
    `claimed_by`, as `enqueue` reads them.
    """
    values = _claimed_values(prefix="item_")
    source = select(*values.values()).select_from(moved)
    return insert(OutboxItem.__table__).from_select(list(values), source).returning(*_CLAIM_RESULT)


def claimed_insert_parameters(row: dict[str, Any], token: str, until: datetime) -> dict[str, Any]:
    """Return the parameters of `insert_claimed_for_moved` for an outbox row (`outbox_row`) and its claim."""
    return {**{f"item_{name}": value for name, value in row.items()}, "item_token": token, "item_until": until}


def _claimed_values(prefix: str = "") -> dict[str, Any]:
    """Return the bound values of a new item, with a claim when no other item of its lead is pending."""
    items = OutboxItem.__table__
    other = items.alias("other")
    waiting = exists().where(other.c.lead_id == bindparam(f"{prefix}lead_id"), other.c.status == PENDING)
    columns = ("dedupe_key", "lead_id", "kind", "method", "payload", "status", "attempts", "next_attempt_at",
               "created_at", "paced_channel")
    return {
        **{name: bindparam(f"{prefix}{name}", type_=items.c[name].type) for name in columns},
        "claimed_by": case((waiting, None), else_=bindparam(f"{prefix}token")),
        "claimed_until": case((waiting, None),
                              else_=bindparam(f"{prefix}until", type_=items.c.claimed_until.type)),
    }


_CLAIM_RESULT = (OutboxItem.__table__.c.id, OutboxItem.__table__.c.claimed_by)
_OUTBOX_INSERT_CLAIMED = _insert_claimed_statement()


def delivery_metadata(key: str) -> dict[str, Any]:
    """Return the message metadata that ties a posted message to its outbox item."""
    return {"event_type": METADATA_EVENT_TYPE, "event_payload": {"outbox_key": key}}


def _paced_channel_of(item: Sendable) -> str | None:
    if item.paced_channel:
        return item.paced_channel
    channel = item.payload.get("channel") if item.method in PACED_METHODS else None
    return str(channel) if channel else None


def _delivery_key(message: dict[str, Any]) -> str | None:
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != METADATA_EVENT_TYPE:
        return None
    payload = metadata.get("event_payload")
    return payload.get("outbox_key") if isinstance(payload, dict) else None


def _error_details(response: Any) -> list[str]:
    metadata = response.get("response_metadata") if hasattr(response, "get") else None
    messages = metadata.get("messages") if isinstance(metadata, dict) else None
    return [str(message) for message in messages] if isinstance(messages, list) else []


def _default_sleep(clock: Clock) -> Callable[[float], None]:
    # A FixedClock (tests, the demo) does not move by itself, so waiting for a channel advances it instead.
    if isinstance(clock, FixedClock):
        fixed = clock
        return lambda seconds: fixed.advance(timedelta(seconds=seconds))
    return time.sleep


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
    """Queue a Home tab update for each user, unless one is already waiting for that user.

    One query finds the users with a waiting update and one INSERT queues the rest. The keys are
    random, so no savepoint guards against a duplicate key as in `enqueue`.
    """
    users = list(dict.fromkeys(user_ids))
    if not users:
        return
    waiting = set(session.scalars(_waiting_homes_statement(len(users)),
                                  {f"prefix_{index}": f"home:{user_id}:%" for index, user_id in enumerate(users)}))
    rows = []
    for user_id in users:
        if any(key.startswith(f"home:{user_id}:") for key in waiting):
            continue
        rows.append(outbox_row(f"home:{user_id}:{uuid.uuid4().hex}", "home", "views.publish",
                               {"user_id": user_id, "home": True}, now, None))
    if rows:
        session.execute(_OUTBOX_INSERT, rows)


@functools.lru_cache(maxsize=8)
def _waiting_homes_statement(users: int) -> Any:
    """Build the query for the keys of pending Home tab updates that match one of `users` key prefixes."""
    items = OutboxItem.__table__
    return select(items.c.dedupe_key).where(
        items.c.kind == "home", items.c.status == PENDING,
        or_(*(items.c.dedupe_key.like(bindparam(f"prefix_{index}")) for index in range(users))),
    )


def home_refresh_waiting(session: Session, user_id: str) -> bool:
    """Return whether a Home tab update for the user is queued and not sent yet."""
    waiting = session.scalar(
        select(OutboxItem.id).where(OutboxItem.kind == "home", OutboxItem.status == PENDING,
                                    OutboxItem.dedupe_key.like(f"home:{user_id}:%")).limit(1)
    )
    return waiting is not None


def retrying_items(session: Session, limit: int = 200) -> list[OutboxItem]:
    """Return pending items that failed at least once, oldest first: the sender retries them on its own."""
    return list(session.scalars(
        select(OutboxItem).where(OutboxItem.status == PENDING, OutboxItem.attempts > 0, OutboxItem.last_error.is_not(None))
        .order_by(OutboxItem.id).limit(limit)
    ))


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
    """Draw the chart in `arguments["chart"]` and share it in `arguments["channel"]` as `arguments["filename"]`.

    slack_sdk's files_upload_v2 uses Slack's external upload flow: files.getUploadURLExternal,
    a POST of the bytes to the returned upload_url, then files.completeUploadExternal.
    """
    from bot.charts import render_chart_in_subprocess

    chart = arguments["chart"]
    png, alt_text = render_chart_in_subprocess(chart)
    return client.files_upload_v2(channel=arguments["channel"], file=png, filename=arguments["filename"],
                                  title=chart["title"], alt_txt=alt_text,
                                  initial_comment=arguments.get("initial_comment"))
