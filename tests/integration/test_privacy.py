"""Export, erasure and retention of personal data on real SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.handoff import RejectionInput, decide, ingest
from bot.lifecycle import ContactChannel, RejectionReason, Stage
from bot.metrics import compute_funnel, parse_period
from bot.privacy import (
    ERASED,
    ERASED_STATUS,
    apply_configured_retention,
    apply_retention,
    erase_person,
    export_person,
)
from bot.runtime import Runtime
from bot.sales import log_contact
from bot.transitions import move
from factories import lead_input
from storage.models import ContactAttempt, Lead, LeadTransition, OutboxItem
from support import START, make_settings

SANNE = "U0SANNEDV1"
SANNE_EMAIL = "sanne.devries@handoff-demo.nl"
MARKETING_CHANNEL = "C0MARKETNG1"

# One invented person with two leads (two sources), and an invented second person.
ANOUK = {
    "email": "anouk.verhoeven@fictief-bouw.nl",
    "first_name": "Anouk",
    "last_name": "Verhoeven",
    "phone": "+31 6 1234 5678",
    "extra": {"Mobile Phone Number": "+31 6 8765 4321"},
}
ANOUK_SECRETS = ("anouk", "verhoeven", "1234 5678", "8765 4321")
BRAM = {"email": "bram.smit@fictief-staal.nl", "first_name": "Bram", "last_name": "Smit", "phone": "+31 6 5555 0000"}


def add(rt: Runtime, number: int, **overrides: object) -> int:
    values: dict[str, Any] = {"owner_email": SANNE_EMAIL, **overrides}
    with rt.db.transaction() as session:
        return ingest(session, rt, lead_input(number, at=rt.clock.now(), **values), actor="test").lead_id


def load(rt: Runtime, lead_id: int) -> Lead:
    with rt.db.transaction() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        session.expunge(lead)
        return lead


def reject(rt: Runtime, lead_id: int, reason: RejectionReason = RejectionReason.COMPETITOR) -> None:
    version = load(rt, lead_id).version
    with rt.db.transaction() as session:
        outcome = decide(session, rt, lead_id=lead_id, version=version, user_id=SANNE, accept=False, reason=reason)
    assert outcome.status == "done"


def accept(rt: Runtime, lead_id: int) -> None:
    version = load(rt, lead_id).version
    with rt.db.transaction() as session:
        assert decide(session, rt, lead_id=lead_id, version=version, user_id=SANNE, accept=True).status == "done"


def advance(rt: Runtime, lead_id: int, *stages: Stage) -> None:
    with rt.db.transaction() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        for stage in stages:
            move(session, lead, stage, actor="test", reason="crm_update", now=rt.clock.now())


def history(rt: Runtime, lead_id: int) -> list[tuple[Any, ...]]:
    with rt.db.transaction() as session:
        rows = session.scalars(
            select(LeadTransition).where(LeadTransition.lead_id == lead_id).order_by(LeadTransition.id))
        return [(row.id, row.at, row.actor, row.from_stage, row.to_stage, row.reason, row.details) for row in rows]


def outbox_of(rt: Runtime, lead_id: int) -> list[OutboxItem]:
    with rt.db.transaction() as session:
        return list(session.scalars(select(OutboxItem).where(OutboxItem.lead_id == lead_id).order_by(OutboxItem.id)))


def mark_sent(rt: Runtime, lead_id: int) -> None:
    """Record the lead's outbox items as delivered, as the sender would after Slack accepted them."""
    with rt.db.transaction() as session:
        session.execute(
            update(OutboxItem).where(OutboxItem.lead_id == lead_id)
            .values(status="sent", sent_at=rt.clock.now(), attempts=1, result_channel="D0SANNE001", result_ts="1.0")
        )


def funnel(rt: Runtime) -> Any:
    period = parse_period("2025-03-01..2025-04-30", rt.clock.now(), "Europe/Amsterdam")
    with rt.db.transaction() as session:
        return compute_funnel(session, period)


@pytest.fixture
def people(runtime: Runtime) -> dict[str, int]:
    """Anouk's rejected hubspot lead (delivered), her open webinar MQL (not delivered) and Bram's accepted lead."""
    runtime.config.marketing_channel = MARKETING_CHANNEL  # rejections also post a notice
    anouk_rejected = add(runtime, 1, job_title="Inkoper", **ANOUK)
    anouk_open = add(runtime, 2, source="webinar", **ANOUK)
    bram = add(runtime, 3, **BRAM)
    reject(runtime, anouk_rejected)
    accept(runtime, bram)
    mark_sent(runtime, anouk_rejected)
    return {"anouk_rejected": anouk_rejected, "anouk_open": anouk_open, "bram": bram}


def test_export_contains_that_person_only(runtime: Runtime, people: dict[str, int]) -> None:
    with runtime.db.transaction() as session:
        exported = export_person(session, "  Anouk.Verhoeven@FICTIEF-bouw.nl ", now=runtime.clock.now())

    document = json.dumps(exported)  # JSON-ready: this raises on datetimes, Decimals and dates
    assert exported["generated_at"] == START.isoformat()
    assert exported["email"] == "Anouk.Verhoeven@FICTIEF-bouw.nl"
    assert [entry["lead"]["id"] for entry in exported["leads"]] == [people["anouk_rejected"], people["anouk_open"]]
    assert "bram" not in document.lower()

    rejected = exported["leads"][0]
    assert rejected["lead"]["email"] == ANOUK["email"]
    assert rejected["lead"]["phone"] == ANOUK["phone"]
    assert rejected["lead"]["extra"] == ANOUK["extra"]
    assert rejected["lead"]["stage"] == "rejected"
    assert rejected["lead"]["lead_score"] == "75.0000"
    assert rejected["lead"]["created_at"] == START.isoformat()
    assert [(t["from_stage"], t["to_stage"], t["reason"]) for t in rejected["transitions"]] == [
        (None, "raw", "created"), ("raw", "mql", "qualified"), ("mql", "rejected", "rejected:competitor"),
    ]
    kinds = [(item["kind"], item["status"]) for item in rejected["outbox"]]
    assert kinds == [("card", "sent"), ("card_update", "sent"), ("notice", "sent")]
    # A new card's payload names only the DM, because the sender draws the card; its update carries the text.
    assert rejected["outbox"][0]["payload"] == {"channel": SANNE, "draw_card": True}
    assert "Anouk Verhoeven" in json.dumps(rejected["outbox"][1]["payload"])
    assert rejected["outbox"][1]["payload"]["fallback_channel"] == SANNE
    assert sorted((clock["kind"], clock["status"]) for clock in rejected["sla_clocks"]) == [
        ("decision", "stopped"), ("first_contact", "stopped")]

    open_lead = exported["leads"][1]
    assert open_lead["lead"]["source"] == "webinar"
    assert [(clock["kind"], clock["status"]) for clock in open_lead["sla_clocks"]] == [("first_contact", "running"), ("decision", "running")]


def test_export_of_unknown_address_is_empty(runtime: Runtime, people: dict[str, int]) -> None:
    with runtime.db.transaction() as session:
        exported = export_person(session, "niemand@fictief.nl")
    assert exported["leads"] == []
    assert exported["email"] == "niemand@fictief.nl"


def test_erase_empties_personal_fields(runtime: Runtime, people: dict[str, int]) -> None:
    before = {lead_id: load(runtime, lead_id) for lead_id in people.values()}
    runtime.clock.advance(timedelta(days=2))  # type: ignore[attr-defined]
    erased_at = runtime.clock.now()
    with runtime.db.transaction() as session:
        assert erase_person(session, ANOUK["email"], erased_at) == 2

    for key in ("anouk_rejected", "anouk_open"):
        lead, old = load(runtime, people[key]), before[people[key]]
        assert lead.email is None
        assert lead.first_name is None
        assert lead.last_name is None
        assert lead.phone is None
        assert lead.extra == {}
        assert lead.personal_data_erased_at == erased_at
        assert lead.qualification == old.qualification
        for kept in ("stage", "version", "source", "external_id", "company", "job_title", "rep_email",
                     "team_id", "mql_at", "decided_at", "rejection_reason", "created_at", "updated_at"):
            assert getattr(lead, kept) == getattr(old, kept), kept

    bram = load(runtime, people["bram"])
    assert bram.email == BRAM["email"]
    assert bram.phone == BRAM["phone"]
    assert bram.personal_data_erased_at is None


def test_erase_redacts_outbox_payloads(runtime: Runtime, people: dict[str, int]) -> None:
    pending_before = outbox_of(runtime, people["anouk_open"])
    sent_before = outbox_of(runtime, people["anouk_rejected"])
    with runtime.db.transaction() as session:
        erase_person(session, ANOUK["email"], runtime.clock.now())

    sent_after = outbox_of(runtime, people["anouk_rejected"])
    assert [item.kind for item in sent_after] == ["card", "card_update", "notice"]
    # The new card's payload names only the DM, so erasure leaves it as it was.
    assert sent_after[0].payload == sent_before[0].payload == {"channel": SANNE, "draw_card": True}
    for old, item in zip(sent_before[1:], sent_after[1:], strict=True):
        assert item.payload["text"] == ERASED
        assert item.payload.get("blocks", ERASED) == ERASED
        assert set(item.payload) == set(old.payload)
        addresses = {key: value for key, value in old.payload.items() if key not in ("text", "blocks")}
        assert {key: value for key, value in item.payload.items() if key not in ("text", "blocks")} == addresses
        assert (item.kind, item.method, item.status, item.created_at, item.sent_at, item.result_ts) == (
            old.kind, old.method, old.status, old.created_at, old.sent_at, old.result_ts)
    assert sent_after[2].payload["blocks"] == ERASED  # the rejection notice and its Contest button are erased too

    pending_after = outbox_of(runtime, people["anouk_open"])
    assert [(item.kind, item.status) for item in pending_before] == [("card", "pending")]
    assert [(item.kind, item.status) for item in pending_after] == [("card", ERASED_STATUS)]
    assert pending_after[0].payload == {"channel": SANNE, "draw_card": True}

    bram_items = outbox_of(runtime, people["bram"])
    assert [item.status for item in bram_items] == ["pending", "pending"]
    for item in bram_items:
        assert ERASED not in item.payload.values()


def test_erase_keeps_history_and_funnel(runtime: Runtime, people: dict[str, int]) -> None:
    histories = {lead_id: history(runtime, lead_id) for lead_id in people.values()}
    before = funnel(runtime)
    assert before.mqls_by_source == {"hubspot": 2, "webinar": 1}
    assert (before.accepted, before.rejected, before.pending) == (1, 1, 1)

    with runtime.db.transaction() as session:
        erase_person(session, ANOUK["email"], runtime.clock.now())

    assert funnel(runtime) == before
    for lead_id, rows in histories.items():
        assert history(runtime, lead_id) == rows


def test_erase_is_idempotent(runtime: Runtime, people: dict[str, int]) -> None:
    first_at = runtime.clock.now()
    with runtime.db.transaction() as session:
        assert erase_person(session, ANOUK["email"], first_at) == 2
    state = [(load(runtime, i).personal_data_erased_at, [(o.status, o.payload) for o in outbox_of(runtime, i)])
             for i in people.values()]

    runtime.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    with runtime.db.transaction() as session:
        assert erase_person(session, ANOUK["email"], runtime.clock.now()) == 0
        assert export_person(session, ANOUK["email"])["leads"] == []
    again = [(load(runtime, i).personal_data_erased_at, [(o.status, o.payload) for o in outbox_of(runtime, i)])
             for i in people.values()]
    assert again == state
    assert state[0][0] == first_at


def test_erase_ignores_case_of_stored_address(runtime: Runtime, people: dict[str, int]) -> None:
    with runtime.db.transaction() as session:
        mixed_case = "Anouk.Verhoeven@Fictief-Bouw.NL"
        session.execute(update(Lead).where(Lead.id == people["anouk_open"]).values(email=mixed_case))
    with runtime.db.transaction() as session:
        assert erase_person(session, "ANOUK.VERHOEVEN@fictief-bouw.nl", runtime.clock.now()) == 2
    assert load(runtime, people["anouk_open"]).email is None
    assert load(runtime, people["anouk_rejected"]).email is None


def test_retention_erases_only_old_closed_leads(runtime: Runtime) -> None:
    runtime.config.marketing_channel = None
    rejected_old = add(runtime, 1)
    won_old = add(runtime, 2)
    lost_old = add(runtime, 3)
    accepted_old = add(runtime, 4)
    open_old = add(runtime, 5)
    nurture_old = add(runtime, 6, lead_score=None)
    rejected_recent = add(runtime, 7)
    reject(runtime, rejected_old)
    for lead_id, last in ((won_old, Stage.WON), (lost_old, Stage.LOST)):
        accept(runtime, lead_id)
        advance(runtime, lead_id, Stage.SQL, Stage.OPPORTUNITY, last)
    accept(runtime, accepted_old)
    assert load(runtime, nurture_old).stage == "nurture"

    runtime.clock.advance(timedelta(days=35))  # type: ignore[attr-defined]
    reject(runtime, rejected_recent)
    runtime.clock.advance(timedelta(days=5))  # type: ignore[attr-defined]
    now = runtime.clock.now()

    with runtime.db.transaction() as session:
        assert apply_retention(session, now, 30) == 3
    every_lead = (rejected_old, won_old, lost_old, accepted_old, open_old, nurture_old, rejected_recent)
    erased = {lead_id for lead_id in every_lead if load(runtime, lead_id).personal_data_erased_at is not None}
    assert erased == {rejected_old, won_old, lost_old}
    for lead_id in (rejected_old, won_old, lost_old):
        assert load(runtime, lead_id).email is None
    for lead_id in (accepted_old, open_old, nurture_old, rejected_recent):
        assert load(runtime, lead_id).email is not None

    with runtime.db.transaction() as session:
        assert apply_retention(session, now, 30) == 0
        assert apply_retention(session, now, 3) == 1  # the lead rejected five days ago
    assert load(runtime, rejected_recent).email is None


def test_retention_erases_reimported_lead_again(runtime: Runtime) -> None:
    lead_id = add(runtime, 1)
    reject(runtime, lead_id)
    runtime.clock.advance(timedelta(days=40))  # type: ignore[attr-defined]
    with runtime.db.transaction() as session:
        assert apply_retention(session, runtime.clock.now(), 30) == 1

    assert add(runtime, 1) == lead_id  # the CRM export still contains the record
    assert load(runtime, lead_id).email == "contact1@verpakking-1.nl"
    runtime.clock.advance(timedelta(days=40))  # type: ignore[attr-defined]
    with runtime.db.transaction() as session:
        assert apply_retention(session, runtime.clock.now(), 30) == 1
    assert load(runtime, lead_id).email is None


def test_retention_rejects_invalid_days(runtime: Runtime) -> None:
    with runtime.db.transaction() as session, pytest.raises(ValueError, match="retention of 0 days is invalid"):
        apply_retention(session, runtime.clock.now(), 0)


def test_configured_retention_off_and_on(runtime: Runtime) -> None:
    lead_id = add(runtime, 1)
    reject(runtime, lead_id)
    runtime.clock.advance(timedelta(days=40))  # type: ignore[attr-defined]
    assert apply_configured_retention(runtime) is None
    assert load(runtime, lead_id).email is not None

    configured = dataclasses.replace(runtime, settings=make_settings(runtime.db.url, personal_data_retention_days=30))
    assert apply_configured_retention(configured) == 1
    assert load(runtime, lead_id).email is None


def test_privacy_logs_no_personal_data(
    runtime: Runtime, people: dict[str, int], caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with runtime.db.transaction() as session:
        export_person(session, ANOUK["email"])
        erase_person(session, ANOUK["email"], runtime.clock.now())
        erase_person(session, BRAM["email"].upper(), runtime.clock.now())
    runtime.clock.advance(timedelta(days=40))  # type: ignore[attr-defined]
    with runtime.db.transaction() as session:
        apply_retention(session, runtime.clock.now(), 30)

    logged = "\n".join(record.getMessage() for record in caplog.records).lower()
    assert "privacy.erased leads=2" in logged
    assert "privacy.erased leads=1" in logged
    assert "privacy.retention erased=0" in logged
    for secret in (*ANOUK_SECRETS, "bram", "smit", "5555", "fictief"):
        assert secret not in logged, secret


def test_erase_blanks_free_text_about_the_person(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        lead_id = ingest(session, runtime, lead_input(1, at=runtime.clock.now(), email="noor@kaas-fictief.nl",
                                                      owner_email="sanne.devries@handoff-demo.nl"), actor="test").lead_id
    with runtime.db.transaction() as session:
        log_contact(session, runtime, lead_id=lead_id, user_id=SANNE, channel=ContactChannel.CALL,
                    note="Noor belt terug", request_key="k1")
    with runtime.db.transaction() as session:
        decide(session, runtime, lead_id=lead_id, version=2, user_id=SANNE, accept=False,
               rejection=RejectionInput(reason=RejectionReason.COMPETITOR, note="Noor werkt bij de concurrent"))
    with runtime.db.transaction() as session:
        exported = export_person(session, "noor@kaas-fictief.nl")
    assert exported["leads"][0]["contact_attempts"][0]["note"] == "Noor belt terug"

    with runtime.db.transaction() as session:
        erase_person(session, "noor@kaas-fictief.nl", runtime.clock.now())
    with runtime.db.transaction() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None and lead.rejection_note is None
        assert session.scalars(select(ContactAttempt.note)).one() is None
        notes = [t.details.get("note") for t in session.scalars(select(LeadTransition)) if "note" in t.details]
    assert notes == [ERASED]
