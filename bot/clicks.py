"""Accept clicks decided or stored before Slack gets its response, so that a process that dies loses none.

A web process with nothing else to do decides an Accept before it acks; the card update follows
the ack. A busy one stores the Accept in `pending_clicks` and commits before it acks, and decides
it after the ack, so that a burst of clicks gets its responses without waiting for the
decisions. The transaction that decides the click deletes that row, so a decided click has no row and an
undecided one keeps it. The clock process decides the rows older than `PENDING_CLICK_GRACE`,
whose process stopped or hung before deciding, as of the time of the click. When two processes
decide one click, only the one whose DELETE finds the row decides; the other changes nothing.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Row, bindparam, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.handoff import DecisionOutcome, decide
from bot.i18n import t
from bot.outbox import OutboxSender, Sendable
from bot.preferences import user_language
from bot.sla.clocks import start_waiting_sal_clocks
from storage.models import PendingClick

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

# How old a stored click must be before the clock process decides it. A web process decides its
# clicks within milliseconds, or seconds in a burst, so an older one belongs to a process that stopped.
PENDING_CLICK_GRACE = timedelta(seconds=30)
# Tries of the clock process per click; after them the click stays stored and is logged as given up.
MAX_CLICK_ATTEMPTS = 5
RECOVERY_BATCH = 100
# The length of the id columns of `pending_clicks`. Slack's ids are far shorter.
MAX_ID_LENGTH = 64
# How long a click waits for the transactions of the clicks before it; SQLite's busy timeout is 10 s.
STORE_WAIT_SECONDS = 12.0

_STORE = insert(PendingClick).returning(PendingClick.id, sort_by_parameter_order=True)
_FORGET = delete(PendingClick).where(PendingClick.id == bindparam("pending_id"))


@dataclass(frozen=True)
class AcceptClick:
    """A rep's click on Accept, read from Slack's payload."""

    lead_id: int
    version: int
    user_id: str
    team_id: str | None
    # The time of the click, which is the time of its decision, whichever process decides it.
    clicked_at: datetime
    # Where to send an ephemeral reply. Not stored, because a recovered click sends no ephemeral reply.
    channel_id: str | None = None


class _Waiting:
    """A click waiting in `ClickStore` for the transaction that stores it."""

    def __init__(self, row: dict[str, object]) -> None:
        self.row = row
        self.stored = threading.Event()
        self.leads = False
        self.pending_id: int | None = None


class ClickStore:
    """Store clicks in as few transactions as a burst allows, each before its ack.

    The first click to arrive writes itself and any that queued meanwhile in one transaction
    (group commit). The clicks that arrive during that transaction wait, and the first of them
    writes them all next. In a burst of 50 clicks on SQLite, a transaction per click queued the
    responses behind each other's locks: the p99 response of the `concurrent_clicks` benchmark
    rose from about 50 ms to 100 to 140 ms (benchmarks/RESULTS.md).
    """

    def __init__(self, rt: Runtime, *, wait_seconds: float = STORE_WAIT_SECONDS) -> None:
        self._rt = rt
        self._wait_seconds = wait_seconds
        self._lock = threading.Lock()
        self._queue: list[_Waiting] = []
        self._writing = False

    def store(self, click: AcceptClick) -> int | None:
        """Store `click` and return its row's id.

        Returns None when it cannot be stored: the click is then decided in memory only, and
        the failure is logged.
        """
        if not (_storable_id(click.user_id) and (click.team_id is None or _storable_id(click.team_id))):
            # Such a click could fail the transaction of the others in its group.
            return None
        waiting = _Waiting({"lead_id": click.lead_id, "version": click.version, "user_id": click.user_id,
                            "team_id": click.team_id, "clicked_at": click.clicked_at, "attempts": 0})
        with self._lock:
            self._queue.append(waiting)
            waiting.leads = not self._writing
            self._writing = True
        if not waiting.leads:
            if not waiting.stored.wait(self._wait_seconds):
                with self._lock:
                    gave_up = waiting in self._queue and not waiting.leads
                    if gave_up:
                        self._queue.remove(waiting)
                if gave_up:
                    log.warning("click.not_stored lead=%s error=Timeout: deciding it in memory only", click.lead_id)
                    return None
                # Its group is being written, or it has just been chosen to write the next one. A
                # click chosen to lead finds `stored` set at once, so giving up here stalls no queue.
                if not waiting.stored.wait(self._wait_seconds):
                    log.warning("click.not_stored lead=%s error=Timeout: deciding it in memory only",
                                click.lead_id)
                    return None
            if not waiting.leads:
                return waiting.pending_id
        self._write()
        return waiting.pending_id

    def _write(self) -> None:
        """Store every queued click in one transaction, then let the next queued click lead.

        When that transaction fails, each click gets a transaction of its own, so that one click
        the database rejects leaves the others of its group stored.
        """
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            groups = [batch] if len(batch) == 1 else [batch, *([waiting] for waiting in batch)]
            for group in groups:
                try:
                    ids = self._insert([waiting.row for waiting in group])
                except Exception as error:  # noqa: BLE001 - the click is then decided in memory, and nothing is lost
                    if len(group) == 1:
                        log.warning("click.not_stored lead=%s error=%s: deciding it in memory only",
                                    group[0].row["lead_id"], type(error).__name__)
                    continue
                for waiting, pending_id in zip(group, ids, strict=True):
                    waiting.pending_id = pending_id
                if group is batch:
                    break
        finally:
            for waiting in batch:
                waiting.leads = False
                waiting.stored.set()
            with self._lock:
                if self._queue:
                    self._queue[0].leads = True
                    self._queue[0].stored.set()
                else:
                    self._writing = False

    def _insert(self, rows: list[dict[str, object]]) -> list[int]:
        return self._rt.db.write_without_busy_sleep(lambda connection: list(connection.execute(_STORE, rows).scalars()))


@dataclass(frozen=True)
class DecidedClick:
    """A click's outcome, with the card update claimed for delivery and the Home tabs to refresh."""

    outcome: DecisionOutcome
    claimed: Sequence[Sendable]
    home_users: list[str]


def _storable_id(value: str) -> bool:
    """Check a Slack id for the `pending_clicks` columns: printable ASCII, at most MAX_ID_LENGTH characters."""
    return len(value) <= MAX_ID_LENGTH and value.isascii() and value.isprintable()


def settle_click(rt: Runtime, sender: OutboxSender, click: AcceptClick, *, pending_id: int | None,
                 client: WebClient | None = None) -> DecisionOutcome | None:
    """Decide `click`, then deliver its card update and switch its clocks; return the outcome.

    Returns None when the click was not decided here (see `decide_click`).
    """
    decided = decide_click(rt, sender, click, pending_id=pending_id, client=client)
    if decided is None:
        return None
    finish_click(rt, sender, click, decided, client)
    return decided.outcome


def decide_click(rt: Runtime, sender: OutboxSender, click: AcceptClick, *, pending_id: int | None,
                 client: WebClient | None = None) -> DecidedClick | None:
    """Decide `click` in one transaction, and claim its card update.

    With `pending_id`, the transaction deletes that stored click, and returns None without
    deciding when the row is gone: another process decided it. A failure is logged and returns
    None. With `client`, an ephemeral reply asks the rep to click again, and the stored click
    is deleted. The decision counts as of the time of the click.
    """
    try:
        with rt.db.transaction() as session:
            if pending_id is not None and not _forget(session, pending_id):
                return None
            claim = sender.new_claim()
            # An Accept's clocks switch after its card update, so that the card changes sooner.
            outcome = decide(session, rt, lead_id=click.lead_id, version=click.version, user_id=click.user_id,
                             accept=True, claim=claim, defer_clocks=True, at=click.clicked_at)
            # The card update is claimed with the decision, so that it goes to Slack right after the commit.
            # An Accept's INSERT claims it when nothing else of the lead waits; otherwise one more statement does.
            claimed: Sequence[Sendable] = ()
            if outcome.status == "done":
                claimed = claim.items or sender.claim_lead_items(session, outcome.lead_id)
    except Exception:
        reference = uuid.uuid4().hex[:8]
        log.exception("action.failed ref=%s lead=%s user=%s", reference, click.lead_id, click.user_id)
        if client is not None:
            # The rep is asked to click again, so the stored click must not be decided later as well.
            if pending_id is not None:
                forget_click(rt, pending_id)
            tell(client, click.channel_id, click.user_id,
                 user_text(rt, click.user_id, click.team_id, "action.failed", ref=reference))
        return None
    return DecidedClick(outcome, claimed, claim.home_users)


def finish_click(rt: Runtime, sender: OutboxSender, click: AcceptClick, decided: DecidedClick,
                 client: WebClient | None = None) -> None:
    """Deliver a decided click's card update, switch its clocks and refresh its Home tabs, or send the rep a refusal."""
    outcome = decided.outcome
    if outcome.status == "done":
        try:
            sender.deliver_claimed(decided.claimed)
        finally:
            # The decision is stored, so its clocks switch and its Home tabs are queued even when
            # marking the card update failed. If this process stops first, the clock process switches
            # the clocks after WAITING_SAL_CLOCKS_GRACE.
            try:
                with rt.db.transaction() as session:
                    start_waiting_sal_clocks(session, rt, outcome.lead_id)
            finally:
                sender.refresh_homes(decided.home_users)
    elif outcome.message:
        log.info("action.refused lead=%s user=%s status=%s", outcome.lead_id, click.user_id, outcome.status)
        if client is not None:
            tell(client, click.channel_id, click.user_id, outcome.message)


def _forget(session: Session, pending_id: int) -> bool:
    """Delete a stored click in the caller's transaction; return whether it was still there."""
    return bool(session.execute(_FORGET, {"pending_id": pending_id}).rowcount)


def forget_click(rt: Runtime, pending_id: int) -> None:
    """Delete a stored click that will not be decided; a failure is logged and leaves it to the clock process."""
    try:
        with rt.db.transaction() as session:
            _forget(session, pending_id)
    except SQLAlchemyError as error:
        log.warning("click.not_forgotten pending=%s error=%s", pending_id, type(error).__name__)


def recover_clicks(rt: Runtime, sender: OutboxSender) -> int:
    """Decide the stored clicks older than `PENDING_CLICK_GRACE`, as of their time; return how many were decided.

    Each gets a transaction of its own, and counts a try before it starts, so that a click whose
    decision keeps failing stops after `MAX_CLICK_ATTEMPTS` tries instead of failing every tick.
    A refusal is logged without an ephemeral reply: the rep has seen the card unchanged and may have clicked again.
    """
    cutoff = rt.clock.now() - PENDING_CLICK_GRACE
    with rt.db.transaction() as session:
        rows = session.execute(
            select(PendingClick.id, PendingClick.lead_id, PendingClick.version, PendingClick.user_id,
                   PendingClick.team_id, PendingClick.clicked_at)
            .where(PendingClick.clicked_at < cutoff, PendingClick.attempts < MAX_CLICK_ATTEMPTS)
            .order_by(PendingClick.id).limit(RECOVERY_BATCH)).all()
    decided = 0
    for row in rows:
        # One click's failure must not hold up the others, nor the rest of the clock's tick.
        try:
            decided += _recover_click(rt, sender, row)
        except Exception:  # noqa: BLE001 - logged with its trace; the click stays stored and is tried again
            log.exception("click.recovery_failed pending=%s lead=%s", row.id, row.lead_id)
    return decided


def _recover_click(rt: Runtime, sender: OutboxSender, row: Row[Any]) -> bool:
    """Decide one stored click, counting the try first; return whether this call decided it."""
    with rt.db.transaction() as session:
        attempts = session.execute(
            update(PendingClick).where(PendingClick.id == row.id).values(attempts=PendingClick.attempts + 1)
            .returning(PendingClick.attempts)).scalar_one_or_none()
    if attempts is None:
        return False  # decided meanwhile
    click = AcceptClick(lead_id=row.lead_id, version=row.version, user_id=row.user_id, team_id=row.team_id,
                        clicked_at=row.clicked_at)
    decided = decide_click(rt, sender, click, pending_id=row.id)
    if decided is None:
        if attempts >= MAX_CLICK_ATTEMPTS and _still_stored(rt, row.id):
            log.error("click.recovery_gave_up pending=%s lead=%s attempts=%s: the click stays stored, undecided",
                      row.id, row.lead_id, attempts)
        return False
    log.warning("click.recovered pending=%s lead=%s user=%s status=%s clicked_at=%s", row.id, row.lead_id,
                row.user_id, decided.outcome.status, row.clicked_at.isoformat())
    try:
        finish_click(rt, sender, click, decided)
    except Exception:  # noqa: BLE001 - the decision is stored; the outbox and the clock's next ticks finish the rest
        log.exception("click.finish_failed pending=%s lead=%s: the outbox sends the card update and the clock "
                      "process switches the clocks later", row.id, row.lead_id)
    return True


def _still_stored(rt: Runtime, pending_id: int) -> bool:
    with rt.db.transaction() as session:
        return session.get(PendingClick, pending_id) is not None


def tell(client: WebClient, channel_id: str | None, user_id: str, text: str) -> None:
    """Send a user an ephemeral message. It is transient by nature, so a failure is logged, not queued."""
    if channel_id is None:
        return
    try:
        client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
    except SlackApiError as error:
        log.warning("action.ephemeral_failed user=%s error=%s", user_id, error.response.get("error"))


def user_text(rt: Runtime, user_id: str, team_id: str | None, key: str, **values: object) -> str:
    """Return the text `key` in the language of a user."""
    with rt.db.transaction() as session:
        language = user_language(session, rt.config, rt.settings.default_language, user_id, team_id)
    return t(language, key, **values)
