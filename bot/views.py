"""Turn stored leads into the plain views that the message builders draw."""

from __future__ import annotations

from bot.config import HandoffConfig
from bot.i18n import t
from bot.messages import CriterionView, LeadView
from storage.models import Lead


def person_name(lead: Lead) -> str | None:
    name = " ".join(part for part in (lead.first_name, lead.last_name) if part)
    return name or None


def routing_text(lead: Lead, config: HandoffConfig, language: str) -> str:
    routing = lead.routing or {}
    rule = routing.get("rule", "fallback")
    if rule == "territory":
        team = config.team(routing.get("team")).name
        return t(language, "routing.territory", team=team)
    return t(language, f"routing.{rule}") if rule in {"owner", "fallback", "reroute", "reassigned", "contest_overturned"} else rule


def lead_view(lead: Lead, config: HandoffConfig, language: str) -> LeadView:
    results = (lead.qualification or {}).get("results", [])
    criteria = tuple(
        CriterionView(
            dimension=item["dimension"], key=item["key"], passed=item["passed"], value=item.get("value"),
            expected=item.get("expected", ""),
        )
        for item in results
    )
    score = None if lead.lead_score is None else format(lead.lead_score.normalize(), "f")
    return LeadView(
        id=lead.id,
        version=lead.version,
        source=lead.source,
        company=lead.company,
        person=person_name(lead),
        job_title=lead.job_title,
        country=lead.country,
        employees=lead.employees,
        lead_score=score,
        criteria=criteria,
        routing_reason=routing_text(lead, config, language),
        decision_due_at=lead.decision_due_at,
        stage=lead.stage,
        decided_by=lead.decided_by,
        decided_at=lead.decided_at,
        contact_attempts=lead.contact_attempts or 0,
        cadence_touches=config.sales.cadence.touches,
        discovery_date=lead.discovery_date,
        methodology=config.methodology(lead.team_id),
        opportunity_ref=lead.opportunity_ref,
        nurture_until=lead.nurture_until,
        # Read only where the card shows it: an Accept loads the lead without this column.
        closed_at=lead.closed_at if lead.stage in {"won", "lost"} else None,
    )
