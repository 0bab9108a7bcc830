"""Time to first contact, contact attempts and traffic lights of /funnel, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.clock import FixedClock
from bot.funnel_report import funnel_report, resolve_targets
from bot.handoff import decide, ingest
from bot.lifecycle import ContactChannel
from bot.metrics import compute_funnel, light_at_least, light_at_most, parse_period
from bot.runtime import Runtime
from bot.sales import log_contact
from factories import lead_input
from storage.models import Lead

SANNE = "U0SANNEDV1"
EVA = "U0EVAVSR01"
# Monday 7 April 2025, 10:00 in Amsterdam.
MONDAY = datetime(2025, 4, 7, 8, 0, tzinfo=UTC)


def new_mql(rt: Runtime, number: int) -> int:
    with rt.db.transaction() as session:
        return ingest(session, rt, lead_input(number, at=rt.clock.now(), owner_email="sanne.devries@handoff-demo.nl"),
                      actor="test").lead_id


def contact(rt: Runtime, lead_id: int, key: str) -> None:
    with rt.db.transaction() as session:
        assert log_contact(session, rt, lead_id=lead_id, user_id=SANNE, channel=ContactChannel.CALL, note=None,
                           request_key=key).done


def accept(rt: Runtime, lead_id: int) -> None:
    with rt.db.transaction() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        assert decide(session, rt, lead_id=lead_id, version=lead.version, user_id=SANNE, accept=True).status == "done"


def stored_seconds(rt: Runtime, lead_id: int) -> int | None:
    with rt.db.transaction() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        return lead.first_contact_working_seconds


def test_first_contact_time_skips_weekend(runtime: Runtime, clock: FixedClock) -> None:
    clock.set(datetime(2025, 3, 28, 15, 0, tzinfo=UTC))  # Friday 16:00 in Amsterdam
    lead_id = new_mql(runtime, 1)
    clock.set(datetime(2025, 3, 31, 8, 30, tzinfo=UTC))  # Monday 10:30, after the switch to summer time
    contact(runtime, lead_id, "first")
    assert stored_seconds(runtime, lead_id) == int(timedelta(hours=2, minutes=30).total_seconds())
    clock.advance(timedelta(hours=3))
    contact(runtime, lead_id, "second")
    assert stored_seconds(runtime, lead_id) == int(timedelta(hours=2, minutes=30).total_seconds())


def test_average_median_and_attempts(runtime: Runtime, clock: FixedClock) -> None:
    """Four contacted leads at 1, 2, 3 and 10 working hours: average 4, median 2.5 (an even count)."""
    clock.set(MONDAY)
    leads = [new_mql(runtime, number) for number in range(1, 6)]
    # Tuesday 12:00 is 10 working hours after Monday 10:00: 7 on Monday and 3 on Tuesday.
    for elapsed, lead_id in zip((1, 2, 3, 26), leads, strict=False):
        clock.set(MONDAY + timedelta(hours=elapsed))
        contact(runtime, lead_id, f"first-{lead_id}")
    clock.set(MONDAY + timedelta(days=1, hours=5))
    accept(runtime, leads[0])
    accept(runtime, leads[4])
    for index in range(3):
        contact(runtime, leads[0], f"more-{index}")

    period = parse_period("week", clock.now(), "Europe/Amsterdam")
    with runtime.db.transaction() as session:
        funnel = compute_funnel(session, period)
    assert funnel.contacted == 4
    assert funnel.first_contact_average_hours == Decimal(4)
    assert funnel.first_contact_median_hours == Decimal("2.5")
    # Four attempts on the first accepted lead, none on the second.
    assert funnel.contact_attempts == 4
    assert funnel.attempts_per_lead == Decimal(2)


def test_report_shows_every_light(runtime: Runtime, clock: FixedClock) -> None:
    clock.set(MONDAY)
    lead_id = new_mql(runtime, 1)
    clock.set(MONDAY + timedelta(hours=5))
    contact(runtime, lead_id, "late")
    accept(runtime, lead_id)

    message, visible = funnel_report(runtime, text="week", user_id=EVA)
    text = str(message.blocks)
    assert visible
    # 5 working hours against a target of 4 with an amber band of 2.
    assert ":large_orange_circle: *Tijd tot eerste contact:* gemiddeld 5 werkuur, mediaan 5 werkuur" in text
    assert "(doel hoogstens 4 werkuur)" in text
    assert "1 van 1 MQL gecontacteerd · vorige periode n.v.t. (n.v.t.)" in text
    # One attempt against the cadence of 6 touches, amber band 2.
    assert ":red_circle: *Contactpogingen per lead:* 1 (doel 6) · 1 poging op 1 geaccepteerde lead" in text
    assert "(doel 40%) · 0 SQL's · vorige periode" in text
    assert ":large_green_circle: *MQL→SAL-acceptatie:* 100%" in text
    assert ":red_circle: *MQL→SQL:* 0% (doel 28%)" in text
    assert ":white_circle: *Nurture-heractivering:* n.v.t." in text

    english, _ = funnel_report(runtime, text="week", user_id=EVA, language="en")
    english_text = str(english.blocks)
    assert "*Time to first contact:* average 5 working hours, median 5 working hours" in english_text
    assert "1 of 1 MQL contacted" in english_text
    assert "*Contact attempts per lead:* 1 (target 6) · 1 attempt on 1 accepted lead" in english_text
    assert "(target 40%) · 0 SQLs · previous period" in english_text


def test_change_against_previous_week(runtime: Runtime, clock: FixedClock) -> None:
    clock.set(MONDAY - timedelta(days=7))
    earlier = new_mql(runtime, 1)
    clock.advance(timedelta(hours=1))
    contact(runtime, earlier, "earlier")
    clock.set(MONDAY)
    later = new_mql(runtime, 2)
    clock.advance(timedelta(hours=3))
    contact(runtime, later, "later")

    message, _ = funnel_report(runtime, text="week", user_id=EVA)
    text = str(message.blocks)
    assert "vorige periode 1 werkuur (+2 werkuur)" in text
    assert "• hubspot: 1 (gelijk)" in text

    english, _ = funnel_report(runtime, text="week", user_id=EVA, language="en")
    assert "previous period 1 working hour (+2 working hours)" in str(english.blocks)


def comparison_line(blocks: list[dict[str, Any]]) -> str:
    """Return the text of the context block that compares /funnel with the previous period."""
    [line] = [element["text"] for block in blocks if block["type"] == "context" for element in block["elements"]
              if "MQL" in element["text"]]
    return line


def test_headline_and_comparison_count_mqls(runtime: Runtime, clock: FixedClock) -> None:
    clock.set(MONDAY - timedelta(days=7))
    new_mql(runtime, 1)
    clock.set(MONDAY)
    new_mql(runtime, 2)
    new_mql(runtime, 3)

    # This week has 2 MQLs after 1. Last week has 1 after 0, and zero takes the plural.
    this_week, _ = funnel_report(runtime, text="week", user_id=EVA)
    assert this_week.text == "Funnel deze week: 2 MQL's · acceptatie n.v.t."
    assert comparison_line(this_week.blocks).startswith("Vorige periode: 1 MQL (+1), acceptatie n.v.t.")
    last_week, _ = funnel_report(runtime, text="vorige-week", user_id=EVA)
    assert last_week.text == "Funnel vorige week: 1 MQL · acceptatie n.v.t."
    assert comparison_line(last_week.blocks).startswith("Vorige periode: 0 MQL's (+1), acceptatie n.v.t.")

    this_week, _ = funnel_report(runtime, text="week", user_id=EVA, language="en")
    assert this_week.text == "Funnel this week: 2 MQLs · acceptance n/a"
    assert comparison_line(this_week.blocks).startswith("Previous period: 1 MQL (+1), acceptance n/a")
    last_week, _ = funnel_report(runtime, text="last-week", user_id=EVA, language="en")
    assert last_week.text == "Funnel last week: 1 MQL · acceptance n/a"
    assert comparison_line(last_week.blocks).startswith("Previous period: 0 MQLs (+1), acceptance n/a")


def test_traffic_light_bands() -> None:
    target, band = Decimal(4), Decimal(2)
    assert light_at_most(Decimal(4), target, band) == "green"
    assert light_at_most(Decimal(6), target, band) == "amber"
    assert light_at_most(Decimal("6.1"), target, band) == "red"
    assert light_at_most(None, target, band) == "none"
    assert light_at_least(Decimal("0.70"), Decimal("0.70"), Decimal("0.10")) == "green"
    assert light_at_least(Decimal("0.60"), Decimal("0.70"), Decimal("0.10")) == "amber"
    assert light_at_least(Decimal("0.59"), Decimal("0.70"), Decimal("0.10")) == "red"


def test_empty_targets_follow_sla_and_cadence(config: Any) -> None:
    config.targets.first_contact.working_hours = None
    config.targets.contact_attempts.attempts = None
    config.sla.first_contact_working_hours = 3
    config.sales.cadence.touches = 8
    resolved = resolve_targets(config)
    assert resolved.first_contact_hours == Decimal(3)
    assert resolved.attempts == Decimal(8)
    assert resolved.rates["acceptance"].target == Decimal("0.70")
    assert resolved.rates["sal_to_sql"].target == Decimal("0.40")
