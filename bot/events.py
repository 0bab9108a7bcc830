"""Events API deliveries already handled, kept so that Slack's retries change nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from bot.runtime import Runtime
from storage.models import ProcessedEvent

# Slack retries an unacknowledged delivery up to three times with backoff; a day covers that with room to spare.
EVENT_MEMORY = timedelta(days=1)


def first_delivery(rt: Runtime, event_id: str) -> bool:
    """Record `event_id`; return False when it was recorded before, i.e. this is a retry of a handled event."""
    try:
        with rt.db.transaction() as session:
            session.add(ProcessedEvent(event_id=event_id[:64], received_at=rt.clock.now()))
            session.flush()
    except IntegrityError:
        return False
    return True


def forget_old_events(rt: Runtime) -> int:
    with rt.db.transaction() as session:
        result = session.execute(delete(ProcessedEvent).where(ProcessedEvent.received_at < rt.clock.now() - EVENT_MEMORY))
        return result.rowcount or 0
