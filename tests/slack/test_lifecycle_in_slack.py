"""Every stage after the MQL gate, driven through the real Bolt app as a rep would."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from bot.ids import ActionId, LeadRef
from bot.nurture import reengage_due
from bot.slack_standin.interactions import (
    block_action_body,
    button_action,
    checkbox_values,
    date_value,
    select_value,
    text_value,
)
from harness import Harness
from storage.models import ContactAttempt, Lead, LeadTransition, OutboxItem

SANNE = "U0SANNEDV1"
DAAN = "U0DAANBKR1"
EVA = "U0EVAVSR01"
PIETER = "U0PIETERJ1"


def lead_row(harness: Harness, lead_id: int) -> Lead:
    return harness.stored(Lead, lead_id)


def history(harness: Harness, lead_id: int) -> list[tuple[str | None, str, str, str]]:
    with harness.rt.db.transaction() as session:
        rows = session.scalars(select(LeadTransition).where(LeadTransition.lead_id == lead_id).order_by(LeadTransition.id))
        return [(row.from_stage, row.to_stage, row.reason, row.actor) for row in rows]


def click(harness: Harness, lead_id: int, user: str, action_id: str, **extra: Any) -> None:
    lead = lead_row(harness, lead_id)
    action = button_action(action_id, LeadRef(lead=lead_id, v=lead.version).encode())
    action.update(extra)
    body = block_action_body(user_id=user, action=action, channel_id=lead.card_channel or "D0", message_ts=lead.card_ts or "1",
                             trigger_id=harness.slack.issue_trigger_id(user))
    assert harness.slack_post(body).status == 200


def settle(harness: Harness, method: str, count: int) -> None:
    deadline = time.monotonic() + 15
    while len(harness.slack.calls(method)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(harness.slack.calls(method)) >= count, f"expected {count} {method} calls"


def drain(harness: Harness) -> None:
    """Deliver the outbox until nothing is pending; listeners deliver too, after their ack, in Bolt's threads."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        harness.sender.deliver_due()
        with harness.rt.db.transaction() as session:
            if not session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.status == "pending")):
                return
        time.sleep(0.05)
    raise AssertionError("outbox items still pending after 15 s")


def meta(lead: Lead, **extra: Any) -> str:
    return json.dumps({"lead": lead.id, "v": lead.version, **extra})


def accepted_lead(harness: Harness) -> int:
    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl")
    click(harness, lead_id, SANNE, ActionId.ACCEPT.value)
    settle(harness, "chat.update", 1)
    return lead_id


def card_actions(harness: Harness, lead_id: int) -> list[str]:
    lead = lead_row(harness, lead_id)
    [message] = [m for m in harness.slack.messages(lead.card_channel) if m["ts"] == lead.card_ts]
    return [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


def test_mql_to_won_through_slack_alone(harness: Harness) -> None:
    lead_id = accepted_lead(harness)
    drain(harness)

    # Log a call: the button opens the modal, the submission stores the touch.
    click(harness, lead_id, SANNE, ActionId.LOG_CONTACT.value)
    opened = harness.slack.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == "contact_modal"
    lead = lead_row(harness, lead_id)
    reply = harness.submit_view(SANNE, "contact_modal", meta(lead), {**select_value("channel", "call"),
                                                                    **text_value("note", "Voicemail ingesproken")})
    assert reply.status == 200
    assert lead_row(harness, lead_id).contact_attempts == 1
    assert lead_row(harness, lead_id).first_contact_at is not None

    # Schedule discovery with the date picker on the card.
    drain(harness)
    lead = lead_row(harness, lead_id)
    body = block_action_body(user_id=SANNE, channel_id=lead.card_channel or "", message_ts=lead.card_ts or "",
                             action={"type": "datepicker", "action_id": ActionId.DISCOVERY_DATE.value,
                                     "selected_date": "2025-04-02"})
    assert harness.slack_post(body).status == 200
    deadline = time.monotonic() + 15
    while lead_row(harness, lead_id).discovery_date is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lead_row(harness, lead_id).discovery_date == date(2025, 4, 2)

    # Discovery with too little: the modal shows which conditions are missing and nothing changes.
    lead = lead_row(harness, lead_id)
    thin = harness.submit_view(SANNE, "discovery_modal", meta(lead), checkbox_values("criteria", ["budget"]))
    assert thin.status == 200
    errors = thin.json()["errors"]
    assert errors["criteria"] == "1 van 4 BANT-criteria gehaald; voor een SQL zijn er 3 nodig."
    assert set(errors) == {"criteria", "next_steps", "opportunity_ref"}
    assert lead_row(harness, lead_id).stage == "sal"

    full = harness.submit_view(SANNE, "discovery_modal", meta(lead), {
        **checkbox_values("criteria", ["budget", "need", "timeline"]),
        **text_value("note_budget", "Budget goedgekeurd voor Q3"),
        **text_value("next_steps", "Demo met de productiemanager op 10 april"),
        **text_value("opportunity_ref", "CRM-OPP-4711"),
    })
    assert full.status == 200
    assert full.body == b""
    lead = lead_row(harness, lead_id)
    assert lead.stage == "sql"
    assert lead.discovery is not None
    assert lead.discovery["criteria"]["budget"] == {"met": True, "note": "Budget goedgekeurd voor Q3"}
    assert lead.opportunity_ref == "CRM-OPP-4711"

    # Opportunity, then won.
    reply = harness.submit_view(SANNE, "opportunity_modal", meta(lead), text_value("opportunity_ref", "CRM-OPP-4711"))
    assert reply.status == 200
    assert lead_row(harness, lead_id).stage == "opportunity"
    drain(harness)
    assert card_actions(harness, lead_id) == ["lead_won", "lead_lost"]
    click(harness, lead_id, SANNE, ActionId.WON.value)
    deadline = time.monotonic() + 15
    while lead_row(harness, lead_id).stage != "won" and time.monotonic() < deadline:
        time.sleep(0.05)
    drain(harness)
    assert lead_row(harness, lead_id).stage == "won"
    assert card_actions(harness, lead_id) == []

    assert [(f, t, r) for f, t, r, _ in history(harness, lead_id)] == [
        (None, "raw", "created"), ("raw", "mql", "qualified"), ("mql", "sal", "accepted"),
        ("sal", "sal", "discovery_scheduled"), ("sal", "sql", "discovery_completed"),
        ("sql", "opportunity", "opportunity_created"), ("opportunity", "won", "won"),
    ]
    with harness.rt.db.transaction() as session:
        [touch] = session.scalars(select(ContactAttempt)).all()
    assert (touch.channel, touch.actor, touch.note) == ("call", SANNE, "Voicemail ingesproken")


def test_repeated_contact_submission_counts_once(harness: Harness) -> None:
    lead_id = accepted_lead(harness)
    lead = lead_row(harness, lead_id)
    for _ in range(2):
        harness.submit_view(SANNE, "contact_modal", meta(lead), select_value("channel", "email"), view_id="V0SAME")
    assert lead_row(harness, lead_id).contact_attempts == 1


def test_each_rejection_reason_ends_where_its_action_says(harness: Harness) -> None:
    expected = {
        "incorrect_fit": ("rejected", "archive"),
        "bad_contact_data": ("mql", None),
        "competitor": ("rejected", "archive"),
        "not_decision_maker": ("mql", None),
        "no_budget_timing": ("nurture", "nurture"),
        "duplicate": ("rejected", "archive"),
        "other": ("rejected", "archive"),
    }
    original = harness.add_lead(100, owner_email="sanne.devries@handoff-demo.nl")
    for number, (reason, (stage, next_action)) in enumerate(expected.items(), start=1):
        lead_id = harness.add_lead(number, owner_email="sanne.devries@handoff-demo.nl")
        extra: dict[str, Any] = {}
        if reason == "no_budget_timing":
            extra = date_value("nurture_until", "2025-09-01")
        if reason == "duplicate":
            extra = text_value("duplicate_of", str(original))
        reply = harness.reject(lead_id, SANNE, reason, note="toelichting" if reason == "other" else None, extra=extra)
        assert reply.status == 200, reason
        assert reply.body == b"", (reason, reply.body)
        lead = lead_row(harness, lead_id)
        assert lead.stage == stage, reason
        assert history(harness, lead_id)[-1][2] == f"rejected:{reason}"
        if next_action:
            assert lead.next_action == next_action, reason
        if reason == "no_budget_timing":
            assert lead.nurture_until == date(2025, 9, 1)
        if reason == "duplicate":
            assert lead.duplicate_of_id == original
        if stage == "mql":
            assert lead.rep_email == "daan.bakker@handoff-demo.nl", reason


def test_rejection_modal_errors_change_nothing(harness: Harness) -> None:
    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl")
    other = harness.reject(lead_id, SANNE, "other")
    assert other.json() == {"response_action": "errors", "errors": {"note": "Bij 'Anders' is een toelichting verplicht."}}
    past = harness.reject(lead_id, SANNE, "no_budget_timing", extra=date_value("nurture_until", "2025-01-01"))
    assert "nurture_until" in past.json()["errors"]
    missing = harness.reject(lead_id, SANNE, "duplicate", extra=text_value("duplicate_of", "424242"))
    assert missing.json()["errors"]["duplicate_of"] == "Geen andere lead gevonden voor `424242`."
    assert lead_row(harness, lead_id).stage == "mql"
    assert len(history(harness, lead_id)) == 2


def test_reroute_to_the_rep_picked_in_the_modal(harness: Harness) -> None:
    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl")
    reply = harness.reject(lead_id, SANNE, "not_decision_maker", extra=select_value("rep", "pieter.janssens@handoff-demo.be"))
    assert reply.status == 200
    assert lead_row(harness, lead_id).rep_email == "pieter.janssens@handoff-demo.be"
    drain(harness)
    assert harness.slack.messages(f"D{PIETER}")


def test_return_to_nurture_then_reengage_on_date(harness: Harness, clock: Any) -> None:
    lead_id = accepted_lead(harness)
    lead = lead_row(harness, lead_id)
    no_date = harness.submit_view(SANNE, "nurture_modal", meta(lead), text_value("nurture_reason", "Geen budget"))
    assert "nurture_until" in no_date.json()["errors"]
    reply = harness.submit_view(SANNE, "nurture_modal", meta(lead), {
        **text_value("nurture_reason", "Geen budget dit jaar"), **date_value("nurture_until", "2025-04-15"),
        **text_value("notes", "Terugbellen na de begroting")})
    assert reply.status == 200
    lead = lead_row(harness, lead_id)
    assert (lead.stage, lead.nurture_reason, lead.nurture_until) == ("nurture", "Geen budget dit jaar", date(2025, 4, 15))
    assert lead.discovery is not None and lead.discovery["nurture_notes"] == "Terugbellen na de begroting"

    assert reengage_due(harness.rt).due == 0
    clock.set(clock.now() + timedelta(days=18))
    # The lead's engagement is recent again, so it qualifies and is announced like a new MQL.
    with harness.rt.db.transaction() as session:
        session.get(Lead, lead_id).last_activity_at = clock.now()  # type: ignore[union-attr]
    report = reengage_due(harness.rt)
    assert (report.due, report.requalified) == (1, 1)
    assert lead_row(harness, lead_id).stage == "mql"
    assert history(harness, lead_id)[-1][:3] == ("nurture", "mql", "reengaged")


def test_nurture_lead_that_does_not_qualify_stays(harness: Harness, clock: Any) -> None:
    harness.rt.config.marketing_channel = "C0SALES001"
    lead_id = accepted_lead(harness)
    lead = lead_row(harness, lead_id)
    harness.submit_view(SANNE, "nurture_modal", meta(lead), {
        **text_value("nurture_reason", "Te vroeg"), **date_value("nurture_until", "2025-04-15")})
    clock.set(clock.now() + timedelta(days=60))  # the last activity is now too old
    report = reengage_due(harness.rt)
    assert (report.due, report.still_nurture) == (1, 1)
    lead = lead_row(harness, lead_id)
    assert (lead.stage, lead.nurture_until) == ("nurture", None)
    assert history(harness, lead_id)[-1][:3] == ("nurture", "nurture", "rescored_not_qualified")
    drain(harness)
    notice = [m for m in harness.slack.messages("C0SALES001") if "nog geen MQL" in m["text"]]
    assert len(notice) == 1


def test_only_owner_manager_or_admin_may_act(harness: Harness) -> None:
    lead_id = accepted_lead(harness)
    lead = lead_row(harness, lead_id)
    reply = harness.submit_view(PIETER, "contact_modal", meta(lead), select_value("channel", "call"))
    assert "Alleen <@U0SANNEDV1>, <@U0EVAVSR01>" in reply.json()["errors"]["note"]
    click(harness, lead_id, PIETER, ActionId.LOG_CONTACT.value)
    refusal = harness.slack.wait_for("chat.postEphemeral")
    assert refusal.params["user"] == PIETER
    assert harness.slack.calls("views.open") == []
    manager = harness.submit_view(EVA, "contact_modal", meta(lead), select_value("channel", "linkedin"))
    assert manager.body == b""
    assert lead_row(harness, lead_id).contact_attempts == 1


def test_manager_reassigns_from_a_message(harness: Harness) -> None:
    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl")
    refused = block_action_body(user_id=SANNE, channel_id="D0", message_ts="1", action={
        "type": "static_select", "action_id": ActionId.REASSIGN.value,
        "selected_option": {"value": f"{lead_id}|daan.bakker@handoff-demo.nl"}})
    harness.slack_post(refused)
    assert "Alleen de manager" in harness.slack.wait_for("chat.postEphemeral").params["text"]
    body = block_action_body(user_id=EVA, channel_id="D0", message_ts="1", action={
        "type": "static_select", "action_id": ActionId.REASSIGN.value,
        "selected_option": {"value": f"{lead_id}|daan.bakker@handoff-demo.nl"}})
    assert harness.slack_post(body).status == 200
    deadline = time.monotonic() + 15
    while lead_row(harness, lead_id).rep_email != "daan.bakker@handoff-demo.nl" and time.monotonic() < deadline:
        time.sleep(0.05)
    lead = lead_row(harness, lead_id)
    assert lead.rep_email == "daan.bakker@handoff-demo.nl"
    assert history(harness, lead_id)[-1] == ("mql", "mql", "reassigned", EVA)
    drain(harness)
    assert harness.slack.messages(f"D{DAAN}")


def test_bad_contact_data_is_corrected_and_rerouted(harness: Harness) -> None:
    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl")
    invalid = harness.reject(lead_id, SANNE, "bad_contact_data", extra=text_value("contact_email", "geen adres"))
    assert "contact_email" in invalid.json()["errors"]
    reply = harness.reject(lead_id, SANNE, "bad_contact_data", extra={
        **text_value("contact_email", "Inkoop@Verpakking-Fictief.nl"), **text_value("contact_phone", "+31 30 000 0000")})
    assert reply.body == b""
    lead = lead_row(harness, lead_id)
    assert (lead.email, lead.phone, lead.stage) == ("inkoop@verpakking-fictief.nl", "+31 30 000 0000", "mql")
    assert lead.rep_email == "daan.bakker@handoff-demo.nl"
    with harness.rt.db.transaction() as session:
        last = session.scalars(select(LeadTransition).order_by(LeadTransition.id.desc()).limit(1)).one()
    assert last.details["contact_data_updated"] == ["email", "phone"]


def test_funnel_counts_conversions_and_reengagement(harness: Harness, clock: Any) -> None:
    from bot.funnel_report import funnel_report

    won = accepted_lead(harness)
    lead = lead_row(harness, won)
    harness.submit_view(SANNE, "discovery_modal", meta(lead), {
        **checkbox_values("criteria", ["budget", "authority", "need"]), **text_value("next_steps", "Offerte"),
        **text_value("opportunity_ref", "OPP-1")})
    harness.submit_view(SANNE, "opportunity_modal", meta(lead_row(harness, won)), text_value("opportunity_ref", "OPP-1"))
    with harness.rt.db.transaction() as session:
        from bot.sales import record_outcome

        record_outcome(session, harness.rt, lead_id=won, user_id=SANNE, won=True)
    nurtured = harness.add_lead(2, owner_email="sanne.devries@handoff-demo.nl")
    harness.reject(nurtured, SANNE, "no_budget_timing", extra=date_value("nurture_until", "2025-03-31"))
    clock.set(clock.now() + timedelta(days=3))
    with harness.rt.db.transaction() as session:
        session.get(Lead, nurtured).last_activity_at = clock.now()  # type: ignore[union-attr]
    assert reengage_due(harness.rt).requalified == 1

    message, _ = funnel_report(harness.rt, text="2025-03-01..2025-04-30", user_id=EVA)
    text = str(message.blocks)
    assert "*SAL→SQL:* 100%" in text
    assert "*MQL→SQL:* 50%" in text
    assert "*MQL→gewonnen:* 50% (1 gewonnen)" in text
    assert "*Nurture-heractivering:* 100% (1 van 1" in text
