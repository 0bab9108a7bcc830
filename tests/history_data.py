"""A small, hand-checked lead history for the backtest and review tests; every lead is invented.

Fourteen leads arrive on Monday 10 February 2025 at 10:00 in Amsterdam and are
decided two working hours later, all through the domain functions:

| lead | score | outcome |
| --- | --- | --- |
| 1, 2, 4, 6, 11 | 52, 54, 58, 62, 85 | rejected (competitor, archived) |
| 3, 5, 8, 10 | 55, 60, 70, 80 | accepted |
| 7, 9 | 66, 75 | accepted, SQL, won |
| 12 | 90 | MQL, still waiting |
| 13 | 40 | nurture: fits, but score below 50 and no high-intent action |
| 14 | 95 | stays raw: industry Retail is no fit |

Under the example criteria (score at least 50) that is 12 MQLs, 11 decided,
6 accepted (acceptance 6/11), 2 won (win rate 2/11).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot.handoff import decide, ingest
from bot.lifecycle import RejectionReason
from bot.runtime import Runtime
from bot.sales import DiscoveryInput, close_from_crm, complete_discovery
from factories import lead_input

ARRIVAL = datetime(2025, 2, 10, 9, 0, tzinfo=UTC)  # Monday 10:00 in Amsterdam
REP_EMAIL = "sanne.devries@handoff-demo.nl"
REP_USER = "U0SANNEDV1"
SCORES = {1: 52, 2: 54, 3: 55, 4: 58, 5: 60, 6: 62, 7: 66, 8: 70, 9: 75, 10: 80, 11: 85, 12: 90, 13: 40, 14: 95}
REJECTED = (1, 2, 4, 6, 11)
ACCEPTED = (3, 5, 7, 8, 9, 10)
WON = (7, 9)


def build_history(rt: Runtime, clock: object) -> dict[int, int]:
    """Create the leads of the table above; return lead number -> lead id."""
    clock.set(ARRIVAL)  # type: ignore[attr-defined]
    ids: dict[int, int] = {}
    with rt.db.transaction() as session:
        for number, score in SCORES.items():
            overrides: dict[str, object] = {"lead_score": Decimal(score), "owner_email": REP_EMAIL}
            if number == 14:
                overrides["industry"] = "Retail"
            ids[number] = ingest(session, rt, lead_input(number, at=ARRIVAL, **overrides), actor="test").lead_id
    clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    for number in REJECTED:
        with rt.db.transaction() as session:
            outcome = decide(session, rt, lead_id=ids[number], version=2, user_id=REP_USER, accept=False,
                             reason=RejectionReason.COMPETITOR)
            assert outcome.status == "done", outcome
    for number in ACCEPTED:
        with rt.db.transaction() as session:
            outcome = decide(session, rt, lead_id=ids[number], version=2, user_id=REP_USER, accept=True)
            assert outcome.status == "done", outcome
    clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    for number in WON:
        answers = DiscoveryInput(met={"budget": True, "authority": True, "need": True}, notes={},
                                 next_steps="Offerte", opportunity_ref=f"OPP-{number}")
        with rt.db.transaction() as session:
            assert complete_discovery(session, rt, lead_id=ids[number], user_id=REP_USER, answers=answers).done
        with rt.db.transaction() as session:
            assert close_from_crm(session, rt, lead_id=ids[number], won=True, actor="crm").done
    return ids
