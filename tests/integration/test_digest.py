"""The weekly MQL review digest: its content, its moment, and once per week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import WeeklyDigest
from bot.digest import due_weekly_digest
from bot.handoff import decide, ingest
from bot.lifecycle import RejectionReason
from bot.runtime import Runtime
from factories import lead_input
from storage.models import OutboxItem
from support import make_settings


def digests(rt: Runtime) -> list[OutboxItem]:
    with rt.db.transaction() as session:
        return list(session.scalars(select(OutboxItem).where(OutboxItem.kind == "digest")))


def test_digest_goes_out_once_after_its_moment(runtime: Runtime, clock: Any) -> None:
    runtime.config.digests.weekly = WeeklyDigest(channel="C0REVIEW01", weekday="mon", time="09:00")
    with runtime.db.transaction() as session:
        for number in (1, 2, 3):
            ingest(session, runtime, lead_input(number, at=clock.now(), owner_email="sanne.devries@handoff-demo.nl"),
                   actor="test")
    with runtime.db.transaction() as session:
        decide(session, runtime, lead_id=1, version=2, user_id="U0SANNEDV1", accept=True)
    with runtime.db.transaction() as session:
        decide(session, runtime, lead_id=2, version=2, user_id="U0SANNEDV1", accept=False,
               reason=RejectionReason.COMPETITOR)

    clock.set(datetime(2025, 3, 31, 6, 59, tzinfo=UTC))  # Monday 08:59 Amsterdam: too early
    assert due_weekly_digest(runtime) is False
    clock.set(datetime(2025, 3, 31, 7, 0, tzinfo=UTC))
    assert due_weekly_digest(runtime) is True
    assert due_weekly_digest(runtime) is False
    clock.advance(timedelta(days=2))
    assert due_weekly_digest(runtime) is False

    [digest] = digests(runtime)
    text = str(digest.payload["blocks"])
    assert digest.payload["channel"] == "C0REVIEW01"
    assert digest.dedupe_key == "digest:weekly:2025-W14"
    assert "totaal 3" in text
    assert "Concurrent: 1 (was 0)" in text
    assert "*Wachten op een beslissing* (1)" in text
    assert digest.payload["text"].startswith("Wekelijkse MQL-review: 3 MQL's")


@pytest.mark.parametrize(("language", "leads", "expected"), [
    ("nl", 1, "Wekelijkse MQL-review: 1 MQL, acceptatie n.v.t., 1 SLA-overschrijding."),
    ("nl", 2, "Wekelijkse MQL-review: 2 MQL's, acceptatie n.v.t., 2 SLA-overschrijdingen."),
    ("en", 1, "Weekly MQL review: 1 MQL, acceptance n/a, 1 SLA breach."),
    ("en", 2, "Weekly MQL review: 2 MQLs, acceptance n/a, 2 SLA breaches."),
])
def test_digest_counts_in_singular_and_plural(runtime: Runtime, clock: Any, language: str, leads: int,
                                              expected: str) -> None:
    rt = Runtime(settings=make_settings(runtime.db.url, default_language=language), config=runtime.config,
                 db=runtime.db, clock=clock)
    rt.config.digests.weekly = WeeklyDigest(channel="C0REVIEW01", weekday="mon", time="09:00")
    with rt.db.transaction() as session:
        for number in range(1, leads + 1):
            ingest(session, rt, lead_input(number, at=clock.now(), owner_email="sanne.devries@handoff-demo.nl"),
                   actor="test")

    # By Monday 09:00 every lead's first-contact clock is past due, but its decision clock is not.
    clock.set(datetime(2025, 3, 31, 7, 0, tzinfo=UTC))
    assert due_weekly_digest(rt) is True

    [digest] = digests(rt)
    assert digest.payload["text"] == expected


def test_no_digest_without_configuration(runtime: Runtime, clock: Any) -> None:
    clock.set(datetime(2025, 3, 31, 12, 0, tzinfo=UTC))
    assert due_weekly_digest(runtime) is False
    assert digests(runtime) == []
