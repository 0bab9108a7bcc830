"""POST /leads: signed, validated, idempotent, and nothing stored when refused."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from sqlalchemy import func, select, text

from bot.intake.signing import sign
from bot.slack_standin.interactions import signed_headers
from harness import SIGNING_SECRET, WEBHOOK_SECRET, Harness
from storage.models import Lead, LeadTransition, OutboxItem


def lead_json(external_id: str = "WEB-1", **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "source": "website", "external_id": external_id, "email": "inkoop@dozenfabriek-drenthe.nl",
        "first_name": "Test", "last_name": "Persoon", "company": "Drentse Dozen BV", "industry": "Packaging",
        "employees": 180, "country": "NL", "lead_score": 66, "last_activity_at": "2025-03-27T15:00:00+01:00",
        "owner_email": "sanne.devries@handoff-demo.nl",
    }
    payload.update(overrides)
    return payload


def count(harness: Harness, model: Any) -> int:
    with harness.rt.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_signed_lead_is_stored_and_reaches_rep(harness: Harness, slack: Any) -> None:
    reply = harness.webhook(lead_json())
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["status"] == "ok"
    assert body["leads"][0]["created"] is True
    assert body["leads"][0]["stage"] == "mql"
    message = slack.wait_for("chat.postMessage")
    assert message.params["channel"] == "U0SANNEDV1"
    assert "Drentse Dozen BV" in message.params["text"]


def test_batch_of_leads_in_one_delivery(harness: Harness) -> None:
    reply = harness.webhook({"leads": [lead_json("WEB-1"), lead_json("WEB-2", employees=3)]})
    assert reply.status == 200
    assert [lead["stage"] for lead in reply.json()["leads"]] == ["mql", "raw"]


def test_same_lead_twice_is_updated_not_doubled(harness: Harness) -> None:
    assert harness.webhook(lead_json(company="Eerste Naam BV")).status == 200
    time.sleep(0.01)
    second = harness.webhook(lead_json(company="Tweede Naam BV", lead_score=70))
    assert second.status == 200
    assert second.json()["leads"][0]["created"] is False
    assert count(harness, Lead) == 1
    with harness.rt.db.transaction() as session:
        cards = session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.kind == "card"))
    assert cards == 1
    with harness.rt.db.transaction() as session:
        assert session.scalars(select(Lead.company)).one() == "Tweede Naam BV"


def test_replayed_delivery_changes_nothing(harness: Harness) -> None:
    stamp = int(time.time())
    first = harness.webhook(lead_json(company="Origineel BV"), timestamp=stamp)
    assert first.status == 200
    with harness.rt.db.transaction() as session:
        transitions = session.scalar(select(func.count()).select_from(LeadTransition))
    replay = harness.webhook(lead_json(company="Origineel BV"), timestamp=stamp)
    assert replay.status == 200
    assert replay.json()["status"] == "duplicate"
    assert count(harness, LeadTransition) == transitions


def test_wrong_signature_is_401_and_stores_nothing(harness: Harness, caplog: Any) -> None:
    reply = harness.webhook(lead_json(), secret="wrong-secret")
    assert reply.status == 401
    assert "signature" in reply.json()["error"]
    assert count(harness, Lead) == 0
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "webhook.rejected status=401" in logged
    assert "dozenfabriek" not in logged


def test_stale_timestamp_is_401(harness: Harness) -> None:
    reply = harness.webhook(lead_json(), timestamp=int(time.time()) - 301)
    assert reply.status == 401
    assert "more than 300 s" in reply.json()["error"]
    assert count(harness, Lead) == 0


def test_missing_signature_is_401(harness: Harness) -> None:
    reply = harness.request("/leads", b'{"source": "x"}', {"content-type": "application/json"})
    assert reply.status == 401
    assert count(harness, Lead) == 0


def test_invalid_json_is_400(harness: Harness) -> None:
    from bot.intake.signing import sign

    body = b"{not json"
    stamp = int(time.time())
    reply = harness.request("/leads", body, {"x-handoff-timestamp": str(stamp),
                                             "x-handoff-signature": sign("test-webhook-secret", stamp, body)})
    assert reply.status == 400
    assert reply.json()["error"] == "invalid delivery; nothing was stored"
    assert "not valid JSON" in reply.json()["details"][0]["message"]


def test_duplicate_key_is_400(harness: Harness) -> None:
    first = json.dumps(lead_json("WEB-DUP"))
    # The same lead with "email" twice, and a key that looks like an address twice: which value
    # was meant is unclear, so nothing is stored, and only the field-like name is echoed.
    for duplicate, echoed_name in (('"email": "tweede@kaas.example"', "'email'"),
                             ('"jan@kaas.example": 1, "jan@kaas.example": 2', "(name not shown)")):
        body = (first[:-1] + ", " + duplicate + "}").encode()
        stamp = int(time.time())
        reply = harness.request("/leads", body, {"x-handoff-timestamp": str(stamp),
                                                 "x-handoff-signature": sign("test-webhook-secret", stamp, body)})
        assert reply.status == 400
        message = reply.json()["details"][0]["message"]
        assert f"contains the key {echoed_name} twice" in message
        assert "jan@kaas.example" not in reply.body.decode()
    assert count(harness, Lead) == 0


def test_invalid_field_names_field_without_personal_value(harness: Harness, caplog: Any) -> None:
    reply = harness.webhook({"leads": [lead_json("WEB-1"), lead_json("WEB-2", email="geen-adres", employees=-4)]})
    assert reply.status == 400
    body = reply.json()
    assert body["error"] == "invalid lead data; nothing was stored"
    fields = {(item["lead"], item["field"]) for item in body["details"]}
    assert fields == {(1, "email"), (1, "employees")}
    assert "geen-adres" not in reply.body.decode()
    assert count(harness, Lead) == 0
    assert "geen-adres" not in caplog.text


def test_naive_datetime_is_refused_with_fix(harness: Harness) -> None:
    reply = harness.webhook(lead_json(last_activity_at="2025-03-27T15:00:00"))
    assert reply.status == 400
    assert "time zone" in reply.json()["details"][0]["message"]


def test_oversized_body_is_413(harness: Harness) -> None:
    harness.rt.settings.max_request_bytes = 2048
    reply = harness.webhook({"leads": [lead_json(f"WEB-{n}") for n in range(50)]})
    assert reply.status == 413
    assert count(harness, Lead) == 0


def test_webhook_without_secret_is_disabled(harness: Harness) -> None:
    harness.rt.settings.webhook_secret = None
    reply = harness.webhook(lead_json())
    assert reply.status == 503
    assert "HANDOFF_WEBHOOK_SECRET" in reply.json()["error"]


def test_healthz_reports_database(harness: Harness) -> None:
    reply = harness.request("/healthz", b"", {}, method="GET")
    assert reply.status == 200
    assert reply.json() == {"status": "ok"}


def test_unknown_path_is_404(harness: Harness, caplog: Any) -> None:
    with caplog.at_level(logging.WARNING):
        assert harness.request("/jan@kaas.example", b"", {}, method="GET").status == 404
        assert harness.request("/leads", b"", {}, method="GET").status == 405
    logged = caplog.text
    assert "http.rejected status=404 method=GET path_length=17" in logged
    assert "http.rejected path=/leads status=405 method=GET" in logged
    assert "jan@kaas.example" not in logged


def sql_lead(harness: Harness, external_id: str = "WEB-9") -> int:
    from bot.handoff import decide
    from bot.sales import DiscoveryInput, complete_discovery

    reply = harness.webhook(lead_json(external_id))
    lead_id = reply.json()["leads"][0]["id"]
    with harness.rt.db.transaction() as session:
        decide(session, harness.rt, lead_id=lead_id, version=2, user_id="U0SANNEDV1", accept=True)
    with harness.rt.db.transaction() as session:
        complete_discovery(session, harness.rt, lead_id=lead_id, user_id="U0SANNEDV1", answers=DiscoveryInput(
            met={"budget": True, "authority": True, "need": True, "timeline": False}, notes={},
            next_steps="Offerte sturen", opportunity_ref="CRM-1"))
    return lead_id


def test_crm_reports_won_for_an_sql(harness: Harness) -> None:
    lead_id = sql_lead(harness)
    reply = harness.webhook({"outcomes": [{"source": "website", "external_id": "WEB-9", "outcome": "won"}]})
    assert reply.status == 200, reply.body
    assert reply.json()["outcomes"] == [{"id": lead_id, "stage": "won"}]
    with harness.rt.db.transaction() as session:
        reasons = [t.reason for t in session.scalars(
            select(LeadTransition).where(LeadTransition.lead_id == lead_id).order_by(LeadTransition.id))]
    assert reasons[-2:] == ["opportunity_created", "won"]


def test_outcome_for_unknown_lead_stores_nothing(harness: Harness) -> None:
    lead_id = sql_lead(harness)
    reply = harness.webhook({"outcomes": [{"source": "website", "external_id": "WEB-9", "outcome": "lost"},
                                          {"source": "website", "external_id": "NOPE", "outcome": "won"}]})
    assert reply.status == 400
    assert reply.json()["details"][0]["lead"] == 1
    with harness.rt.db.transaction() as session:
        assert session.get(Lead, lead_id).stage == "sql"  # type: ignore[union-attr]


def test_outcomes_next_to_leads_are_refused(harness: Harness) -> None:
    reply = harness.webhook({"leads": [lead_json("WEB-1")],
                             "outcomes": [{"source": "website", "external_id": "NOPE", "outcome": "won"}]})
    assert reply.status == 400
    message = reply.json()["details"][0]["message"]
    assert "'outcomes'" in message
    assert '{"outcomes": [...]}' in message
    with harness.rt.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Lead)) == 0


def test_outcome_for_raw_lead_is_a_conflict(harness: Harness) -> None:
    harness.webhook(lead_json("WEB-R", employees=3))
    reply = harness.webhook({"outcomes": [{"source": "website", "external_id": "WEB-R", "outcome": "won"}]})
    assert reply.status == 409
    message = reply.json()["details"][0]["message"]
    # The API speaks English to the integrator and names the stages that take an outcome.
    assert "raw lead" in message
    assert "only for an opportunity, or for an SQL" in message


def _health_after(harness: Harness, change: str, undo: str, **params: object) -> Any:
    """Request /healthz after `change`, then run `undo`, because the PostgreSQL schema is shared by the test session."""
    with harness.rt.db.transaction() as session:
        session.execute(text(change))
    try:
        return harness.request("/healthz", b"", {}, method="GET")
    finally:
        with harness.rt.db.transaction() as session:
            session.execute(text(undo), params)


def test_healthz_rejects_outdated_schema(harness: Harness) -> None:
    reply = _health_after(harness, "UPDATE alembic_version SET version_num = '0001'",
                          "UPDATE alembic_version SET version_num = :head", head=harness.web.schema_head)

    assert reply.status == 503
    assert "revision 0001" in reply.json()["status"]
    assert "handoff db upgrade" in reply.json()["status"]


def test_healthz_rejects_missing_schema(harness: Harness) -> None:
    reply = _health_after(harness, "ALTER TABLE alembic_version RENAME TO alembic_version_hidden",
                          "ALTER TABLE alembic_version_hidden RENAME TO alembic_version")

    assert reply.status == 503
    assert reply.json() == {"status": "database schema missing: run 'handoff db upgrade'"}


def test_disabled_webhook_is_logged(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.rt.settings.webhook_secret = None
    caplog.set_level(logging.INFO)

    assert harness.webhook(lead_json()).status == 503

    assert "webhook.rejected status=503 reason=disabled" in caplog.text


@pytest.mark.parametrize("timestamp", ["9" * 400, "abc", "-5", "١٧٠٠٠٠٠٠٠٠"])
def test_malformed_webhook_timestamp_is_401(harness: Harness, caplog: pytest.LogCaptureFixture, timestamp: str) -> None:
    body = json.dumps(lead_json()).encode()
    headers = {"content-type": "application/json", "x-handoff-timestamp": timestamp, "x-handoff-signature": "v1=00"}

    reply = harness.request("/leads", body, headers)

    assert reply.status == 401
    assert "must be Unix seconds" in reply.json()["error"]
    assert "Traceback" not in caplog.text
    assert count(harness, Lead) == 0


def test_number_with_too_many_digits_is_400(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    body = b'{"source": "website", "external_id": "N-1", "employees": 1' + b"0" * 5000 + b"}"
    stamp = int(time.time())
    headers = {"content-type": "application/json", "x-handoff-timestamp": str(stamp),
               "x-handoff-signature": sign(WEBHOOK_SECRET, stamp, body)}

    reply = harness.request("/leads", body, headers)

    assert reply.status == 400
    assert "too many digits" in reply.json()["details"][0]["message"]
    assert "Traceback" not in caplog.text
    assert count(harness, Lead) == 0


@pytest.mark.parametrize("timestamp", ["abc", "9" * 400])
def test_malformed_slack_timestamp_is_401(harness: Harness, caplog: pytest.LogCaptureFixture, timestamp: str) -> None:
    headers = {"content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": timestamp,
               "x-slack-signature": "v0=00"}

    reply = harness.request("/slack/events", b"command=/funnel", headers)

    assert reply.status == 401
    assert "slack.rejected status=401 reason=timestamp" in caplog.text
    assert "ERROR" not in [record.levelname for record in caplog.records]


def test_event_that_is_not_object_is_400(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    body = json.dumps({"type": "event_callback", "team_id": "T0HANDOFF1", "event_id": "Ev1", "event": "nope"})
    headers = signed_headers(SIGNING_SECRET, body)
    headers["content-type"] = "application/json"

    reply = harness.request("/slack/events", body.encode(), headers)

    assert reply.status == 400
    assert "ERROR" not in [record.levelname for record in caplog.records]
