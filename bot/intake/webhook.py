"""The POST /leads intake: verify, validate every lead, then store them all or none."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.handoff import ingest
from bot.intake.model import LeadInput
from bot.intake.outcomes import OutcomeInput
from bot.intake.signing import SignatureError, verify
from bot.runtime import Runtime
from bot.sales import close_from_crm
from storage.models import Lead, WebhookReceipt

log = logging.getLogger(__name__)

MAX_LEADS_PER_DELIVERY = 500


@dataclass
class WebhookResponse:
    status: int
    body: dict[str, Any]
    lead_ids: list[int] = field(default_factory=list)


# Unknown keys are echoed only when they look like a field name, so that an e-mail address
# or a name sent as a key does not come back in the response.
_FIELD_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _errors(error: ValidationError, index: int) -> list[dict[str, Any]]:
    # Pydantic puts the offending input in each error; leave it out, it may be personal data.
    details = []
    for item in error.errors():
        field_name = ".".join(str(part) for part in item["loc"]) or None
        message = item["msg"]
        if item["type"] == "extra_forbidden" and field_name is not None and not _FIELD_NAME_RE.fullmatch(field_name):
            field_name = None
            message = "unknown field, name not shown because it may be personal data; send only the fields of a lead"
        details.append({"lead": index, "field": field_name, "message": message})
    return details


class _DuplicateKey(ValueError):
    """A JSON object names one key twice, so it is unclear which value the sender meant."""


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _DuplicateKey(key)
        data[key] = value
    return data


def _load_json(body: bytes) -> tuple[Any, str | None]:
    """Decode a delivery's JSON; return the data, or None and the reason it cannot be read."""
    try:
        return json.loads(body, object_pairs_hook=_object_without_duplicate_keys), None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, f"body is not valid JSON: {error}"
    except _DuplicateKey as error:
        key = str(error.args[0])
        # As for unknown fields, a key that does not look like a field name may be personal data.
        name = repr(key) if _FIELD_NAME_RE.fullmatch(key) else "(name not shown)"
        return None, f"a JSON object contains the key {name} twice; send each field once"
    except RecursionError:
        return None, "body is nested too deeply to be a lead"
    except ValueError:
        # Python refuses to convert integers of more than 4,300 digits (sys.get_int_max_str_digits).
        return None, "body contains a number with too many digits; send numbers of at most 4,300 digits"


def parse_body(body: bytes) -> tuple[list[LeadInput], list[dict[str, Any]]]:
    """Parse one lead object or {"leads": [...]}; return the leads or the errors, never both."""
    data, problem = _load_json(body)
    if problem is not None:
        return [], [{"lead": None, "field": None, "message": problem}]
    if isinstance(data, list):
        return [], [{"lead": None, "field": None, "message": 'expected a lead object or {"leads": [...]}, not a JSON array'}]
    if isinstance(data, dict) and "leads" in data and len(data) > 1:
        others = ", ".join(sorted(repr(key) for key in data if key != "leads"))
        return [], [{"lead": None, "field": None, "message": f'unexpected key {others} next to "leads": send '
                     'leads as {"leads": [...]} and deal outcomes as {"outcomes": [...]}, each in a delivery of its own'}]
    items = data.get("leads") if isinstance(data, dict) and "leads" in data else [data]
    if not isinstance(items, list) or not items:
        return [], [{"lead": None, "field": "leads", "message": "expected a lead object or {\"leads\": [...]} with at least one lead"}]
    if len(items) > MAX_LEADS_PER_DELIVERY:
        return [], [{"lead": None, "field": "leads", "message": f"at most {MAX_LEADS_PER_DELIVERY} leads per delivery, got {len(items)}"}]
    leads: list[LeadInput] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append({"lead": index, "field": None, "message": "each lead must be a JSON object"})
            continue
        try:
            leads.append(LeadInput.model_validate(item))
        except ValidationError as error:
            errors.extend(_errors(error, index))
    return ([], errors) if errors else (leads, [])


class _Refused(Exception):
    def __init__(self, status: int, index: int, message: str) -> None:
        super().__init__(message)
        self.status, self.index, self.message = status, index, message


def _outcomes_in(body: bytes) -> list[object] | None:
    """Return the `outcomes` list of a body of the form {"outcomes": [...]}, or None for a lead delivery."""
    data, problem = _load_json(body)
    if problem is not None:
        return None
    if isinstance(data, dict) and set(data) == {"outcomes"}:
        items = data["outcomes"]
        return items if isinstance(items, list) else [items]
    return None


def _handle_outcomes(rt: Runtime, items: list[object], signature: str) -> WebhookResponse:
    """Record won or lost for each (source, external id); all or nothing, like a lead delivery."""
    parsed: list[OutcomeInput] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items[:MAX_LEADS_PER_DELIVERY]):
        try:
            parsed.append(OutcomeInput.model_validate(item))
        except ValidationError as error:
            errors.extend(_errors(error, index))
    if not items or len(items) > MAX_LEADS_PER_DELIVERY:
        errors.append({"lead": None, "field": "outcomes", "message": f"expected 1 to {MAX_LEADS_PER_DELIVERY} outcomes"})
    if errors:
        log.warning("webhook.rejected status=400 errors=%s kind=outcomes", len(errors))
        return WebhookResponse(400, {"error": "invalid outcome data; nothing was stored", "details": errors[:50]})
    try:
        with rt.db.transaction() as session:
            if session.get(WebhookReceipt, signature[:128]) is not None:
                return WebhookResponse(200, {"status": "duplicate", "outcomes": []})
            answers = []
            for index, outcome in enumerate(parsed):
                lead_id = session.scalar(select(Lead.id).where(Lead.source == outcome.source,
                                                               Lead.external_id == outcome.external_id))
                if lead_id is None:
                    raise _Refused(400, index, "no lead with this source and external_id")
                result = close_from_crm(session, rt, lead_id=lead_id, won=outcome.outcome == "won", actor="crm",
                                        reference=outcome.opportunity_ref)
                if not result.done:
                    raise _Refused(409, index, result.message or result.status)
                answers.append({"id": lead_id, "stage": outcome.outcome})
            session.add(WebhookReceipt(signature=signature[:128], received_at=rt.clock.now()))
    except _Refused as refusal:
        # Leaving the transaction by this exception rolls back every outcome of the delivery.
        log.warning("webhook.rejected status=%s kind=outcomes index=%s", refusal.status, refusal.index)
        return WebhookResponse(refusal.status, {"error": "outcome not recorded; nothing was stored",
                                                "details": [{"lead": refusal.index, "field": None, "message": refusal.message}]})
    log.info("webhook.outcomes recorded=%s", len(answers))
    return WebhookResponse(200, {"status": "ok", "outcomes": answers}, [a["id"] for a in answers])


def handle_delivery(rt: Runtime, body: bytes, headers: dict[str, str], *, now_epoch: float) -> WebhookResponse:
    """Handle a POST /leads: 401 for a bad signature, 400 for bad input, 200 with the lead ids."""
    secret = rt.settings.webhook_secret
    if secret is None or not secret.get_secret_value():
        log.warning("webhook.rejected status=503 reason=disabled bytes=%s", len(body))
        return WebhookResponse(503, {"error": "intake webhook disabled: set HANDOFF_WEBHOOK_SECRET to enable it"})
    lowered = {name.lower(): value for name, value in headers.items()}
    signature = lowered.get("x-handoff-signature")
    try:
        verify(secret.get_secret_value(), timestamp=lowered.get("x-handoff-timestamp"), signature=signature,
               body=body, now=now_epoch, tolerance=rt.settings.webhook_tolerance_seconds)
    except SignatureError as error:
        log.warning("webhook.rejected status=401 reason=%s bytes=%s", error, len(body))
        return WebhookResponse(401, {"error": f"invalid signature: {error}"})

    outcomes = _outcomes_in(body)
    if outcomes is not None:
        assert signature is not None
        return _handle_outcomes(rt, outcomes, signature)

    leads, errors = parse_body(body)
    if errors:
        log.warning("webhook.rejected status=400 errors=%s bytes=%s", len(errors), len(body))
        # An error about the body as a whole (not JSON, not an object) may concern leads or outcomes alike.
        whole_body = errors[0]["lead"] is None and errors[0]["field"] is None
        heading = "invalid delivery" if whole_body else "invalid lead data"
        return WebhookResponse(400, {"error": f"{heading}; nothing was stored", "details": errors[:50]})

    assert signature is not None
    try:
        with rt.db.transaction() as session:
            if session.get(WebhookReceipt, signature[:128]) is not None:
                # The same signed delivery again: it was stored the first time.
                log.info("webhook.duplicate_delivery leads=%s", len(leads))
                return WebhookResponse(200, {"status": "duplicate", "leads": []})
            session.add(WebhookReceipt(signature=signature[:128], received_at=rt.clock.now()))
            session.flush()
            results = [ingest(session, rt, lead, actor="webhook") for lead in leads]
    except IntegrityError:
        log.warning("webhook.conflict leads=%s: a concurrent delivery stored the same lead", len(leads))
        return WebhookResponse(409, {"error": "a concurrent delivery changed the same lead; send it again"})
    log.info("webhook.accepted leads=%s created=%s", len(results), sum(r.created for r in results))
    return WebhookResponse(
        200,
        {"status": "ok", "leads": [{"id": r.lead_id, "created": r.created, "stage": r.stage} for r in results]},
        [r.lead_id for r in results],
    )
