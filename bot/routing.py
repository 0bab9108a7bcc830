"""Owner assignment: CRM owner, then round-robin by territory, then the fallback owner."""

from __future__ import annotations

from dataclasses import dataclass
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.config import HandoffConfig, Rep, Team
from bot.countries import country_code
from storage.models import RoutingCursor


@dataclass(frozen=True)
class RoutingDecision:
    rep: Rep
    team_id: str
    rule: str  # owner | territory | fallback | reroute
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"rep": self.rep.email, "team": self.team_id, "rule": self.rule, "detail": self.detail}


def _matches(territory: list[str], country: str | None, region: str | None) -> bool:
    if country is None:
        return False
    for entry in territory:
        code, _, entry_region = entry.partition(":")
        if code.upper() != country:
            continue
        if not entry_region or (region is not None and entry_region.casefold() == region.strip().casefold()):
            return True
    return False


def _team_for(config: HandoffConfig, country: str | None, region: str | None) -> Team | None:
    # A team listing the region wins over one listing the whole country.
    regional = [team for team in config.teams if any(":" in e for e in team.territory) and _matches(
        [e for e in team.territory if ":" in e], country, region)]
    if regional:
        return regional[0]
    return next((team for team in config.teams if _matches(team.territory, country, region)), None)


def _next_position(session: Session, team_id: str) -> int:
    """Advance the team's round-robin cursor atomically and return the position it had."""
    session.execute(
        update(RoutingCursor).where(RoutingCursor.team_id == team_id).values(position=RoutingCursor.position + 1)
    )
    position = session.scalar(select(RoutingCursor.position).where(RoutingCursor.team_id == team_id))
    if position is None:
        session.add(RoutingCursor(team_id=team_id, position=1))
        session.flush()
        return 0
    return position - 1


def route(
    session: Session,
    config: HandoffConfig,
    *,
    owner_email: str | None,
    country: str | None,
    region: str | None,
    exclude: set[str] | None = None,
) -> RoutingDecision:
    """Pick the rep for a lead and record why; `exclude` keeps a rejecting rep out of a reroute."""
    exclude = exclude or set()
    owner = config.rep(owner_email)
    if owner is not None and owner.active and owner.email not in exclude:
        return RoutingDecision(rep=owner, team_id=owner.team, rule="owner", detail=owner.email)

    code = country_code(country)
    team = _team_for(config, code, region)
    if team is not None:
        candidates = [r for r in config.reps if r.team == team.id and r.active and r.email not in exclude]
        specific = [r for r in candidates if r.territory and _matches(r.territory, code, region)]
        general = [r for r in candidates if not r.territory]
        pool = specific or general or candidates
        if pool:
            position = _next_position(session, team.id)
            rep = pool[position % len(pool)]
            return RoutingDecision(rep=rep, team_id=team.id, rule="territory", detail=f"{team.id}:{code}")

    fallback = config.rep(config.fallback_owner)
    assert fallback is not None  # checked when the configuration was loaded
    if fallback.email in exclude:
        others = [r for r in config.reps if r.active and r.email not in exclude]
        if others:
            fallback = others[0]
    return RoutingDecision(rep=fallback, team_id=fallback.team, rule="fallback", detail=code or "unknown")
