"""Personal data of leads: export per person, erasure per person, and a retention period.

Personal data here means the fields that identify the person behind a lead:
`email`, `first_name`, `last_name` and `phone`. It also covers the free-form
`extra` columns of a CSV export (any column a mapping did not name, such as a
mobile number) and the Slack messages about the lead that the outbox keeps.
Erasure empties those and keeps everything the funnel counts: stage, source,
company, routing, timestamps and the transition history.

These fields are kept on purpose:

- `job_title`, `department`, `seniority`, `industry`, `employees`, `country`
  and `region` describe the role and the company, not who has the role, and
  the fit criteria and rejection reasons are explained with them. The
  `qualification` record stores only these values, the score and the
  engagement flags, so it contains no identifier and stays as it is.
- `owner_email`, `rep_email` and the rep e-mail addresses in the transition
  details and SLA clocks belong to the company's own staff, not to the lead.
- `external_id` is the CRM's record id; it keeps a second import of the same
  record from creating a new lead.

Free text that people write about a lead can name the person, so it is
exported and erased too: rejection and nurture notes, the discovery record,
contact attempt notes and the comments of contested rejections. The notes
inside the transition history's details are emptied the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, func, inspect, or_, select, update
from sqlalchemy.orm import Session

from bot.lifecycle import Stage
from bot.outbox import PENDING
from storage.models import Base, ContactAttempt, Lead, LeadTransition, OutboxItem, RejectionContest, SlaClock

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

ERASED = "[erased]"
# The outbox status of an item that was still waiting when its lead was erased. The sender
# claims only pending items and `handoff outbox` lists only parked and failed ones, so an
# erased item is never sent or retried.
ERASED_STATUS = "erased"
PERSONAL_FIELDS = ("email", "first_name", "last_name", "phone")
# Outbox payload keys that address a Slack message. Every other key (text, blocks, …) is
# message content, which erasure replaces with ERASED.
ADDRESS_KEYS = frozenset({"channel", "ts", "fallback_channel", "lead_card", "draw_card"})
CLOSED_STAGES = (Stage.REJECTED.value, Stage.WON.value, Stage.LOST.value)
BATCH_SIZE = 500


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # a string keeps the stored precision
    return value


def _row(instance: Base) -> dict[str, Any]:
    """Return every column of a stored row as JSON-ready values."""
    return {attribute.key: _json_value(getattr(instance, attribute.key))
            for attribute in inspect(type(instance)).column_attrs}


def _email_matches(email: str) -> ColumnElement[bool]:
    # NOTE: SQLite's lower() folds only ASCII letters, so there an address that differs
    # from the stored one in the case of a non-ASCII letter is not found.
    return func.lower(Lead.email) == func.lower(email.strip())


def lead_ids_for_email(session: Session, email: str) -> list[int]:
    """Return the ids of the leads whose e-mail address is `email`, ignoring case."""
    return list(session.scalars(select(Lead.id).where(_email_matches(email)).order_by(Lead.id)))


def export_person(session: Session, email: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Collect everything stored about the person with this e-mail address as a JSON-ready dict.

    Each lead comes with every column, its whole stage history, its outbox items
    with their payloads and its SLA clocks. `now` defaults to the system time.
    """
    leads = list(session.scalars(select(Lead).where(_email_matches(email)).order_by(Lead.id)))
    exported = []
    for lead in leads:
        transitions = session.scalars(
            select(LeadTransition).where(LeadTransition.lead_id == lead.id).order_by(LeadTransition.id)
        )
        outbox = session.scalars(select(OutboxItem).where(OutboxItem.lead_id == lead.id).order_by(OutboxItem.id))
        clocks = session.scalars(select(SlaClock).where(SlaClock.lead_id == lead.id).order_by(SlaClock.id))
        contacts = session.scalars(select(ContactAttempt).where(ContactAttempt.lead_id == lead.id).order_by(ContactAttempt.id))
        contests = session.scalars(
            select(RejectionContest).where(RejectionContest.lead_id == lead.id).order_by(RejectionContest.id))
        exported.append({
            "lead": _row(lead),
            "transitions": [_row(row) for row in transitions],
            "outbox": [_row(row) for row in outbox],
            "sla_clocks": [_row(row) for row in clocks],
            "contact_attempts": [_row(row) for row in contacts],
            "rejection_contests": [_row(row) for row in contests],
        })
    log.info("privacy.exported leads=%s", len(exported))
    return {
        "generated_at": (now or datetime.now(UTC)).isoformat(),
        "email": email.strip(),
        "leads": exported,
    }


def _batches(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), BATCH_SIZE):
        yield ids[start : start + BATCH_SIZE]


def _redact(item: OutboxItem) -> None:
    payload = {key: value if key in ADDRESS_KEYS else ERASED for key, value in item.payload.items()}
    if payload != item.payload:
        item.payload = payload
    if item.status == PENDING:
        # NOTE: an item that a sender has already claimed and is sending right now goes
        # out with the text that sender read before this change.
        item.status = ERASED_STATUS
        item.claimed_by = None
        item.claimed_until = None


def _erase_leads(session: Session, lead_ids: Iterable[int], now: datetime) -> int:
    """Empty the personal fields of these leads and redact their outbox items."""
    ids = sorted(set(lead_ids))
    for batch in _batches(ids):
        session.execute(
            update(Lead)
            .where(Lead.id.in_(batch))
            .values(**dict.fromkeys(PERSONAL_FIELDS), extra={}, personal_data_erased_at=now,
                    rejection_note=None, nurture_reason=None, discovery=None)
            .execution_options(synchronize_session="fetch")
        )
        for item in session.scalars(select(OutboxItem).where(OutboxItem.lead_id.in_(batch))):
            _redact(item)
        session.execute(update(ContactAttempt).where(ContactAttempt.lead_id.in_(batch)).values(note=None))
        session.execute(update(RejectionContest).where(RejectionContest.lead_id.in_(batch)).values(comment=ERASED))
        for transition in session.scalars(select(LeadTransition).where(LeadTransition.lead_id.in_(batch))):
            if isinstance(transition.details, dict) and "note" in transition.details:
                transition.details = {**transition.details, "note": ERASED}
        session.flush()
    return len(ids)


def erase_person(session: Session, email: str, now: datetime) -> int:
    """Erase the personal data of every lead with this e-mail address, ignoring case.

    Returns the number of leads erased. The lead rows, their stages and history
    stay, so the funnel counts do not change. A second call finds no lead, because
    the e-mail address is gone, and returns 0.
    """
    ids = lead_ids_for_email(session, email)
    count = _erase_leads(session, ids, now)
    log.info("privacy.erased leads=%s ids=%s", count, ",".join(str(lead_id) for lead_id in ids))
    return count


def apply_retention(session: Session, now: datetime, days: int) -> int:
    """Erase the personal data of closed leads (rejected, won, lost) unchanged for over `days` days.

    A lead counts as not yet erased when it has no erasure time, or when a later
    import stored an e-mail address, name or phone number again. Returns the
    number of leads erased.
    """
    if days < 1:
        raise ValueError(f"retention of {days} days is invalid: use 1 or more")
    cutoff = now - timedelta(days=days)
    identifiers_present = or_(*(getattr(Lead, name).is_not(None) for name in PERSONAL_FIELDS))
    ids = list(session.scalars(
        select(Lead.id).where(
            Lead.stage.in_(CLOSED_STAGES),
            Lead.updated_at < cutoff,
            or_(Lead.personal_data_erased_at.is_(None), identifiers_present),
        )
    ))
    count = _erase_leads(session, ids, now)
    log.info("privacy.retention erased=%s days=%s", count, days)
    return count


def apply_configured_retention(rt: Runtime) -> int | None:
    """Apply PERSONAL_DATA_RETENTION_DAYS in one transaction; None when no period is set."""
    days = rt.settings.personal_data_retention_days
    if days is None:
        return None
    with rt.db.transaction() as session:
        return apply_retention(session, rt.clock.now(), days)
