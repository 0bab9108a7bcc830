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
    return take_positions(session, team_id, 1)


def take_positions(session: Session, team_id: str, count: int) -> int:
    """Advance the team's round-robin cursor by `count` atomically and return the first position taken.

    The positions from the returned one up to it plus `count` - 1 belong to the caller, in order.
    """
    session.execute(
        update(RoutingCursor).where(RoutingCursor.team_id == team_id).values(position=RoutingCursor.position + count)
    )
    position = session.scalar(select(RoutingCursor.position).where(RoutingCursor.team_id == team_id))
    if position is None:
        session.add(RoutingCursor(team_id=team_id, position=count))
        session.flush()
        return 0
    return position - count


@dataclass(frozen=True)
class RoutePlan:
    """What routing decides without the database: a decision, or a team's pool that needs a round-robin position."""

    decision: RoutingDecision | None = None
    team_id: str | None = None
    pool: tuple[Rep, ...] = ()
    code: str | None = None

    def decide(self, position: int) -> RoutingDecision:
        if self.decision is not None:
            return self.decision
        assert self.team_id is not None and self.pool
        rep = self.pool[position % len(self.pool)]
        return RoutingDecision(rep=rep, team_id=self.team_id, rule="territory", detail=f"{self.team_id}:{self.code}")


def plan_route(
    config: HandoffConfig,
    *,
    owner_email: str | None,
    country: str | None,
    region: str | None,
    exclude: set[str] | None = None,
) -> RoutePlan:
    """Decide what `route` decides, except the round-robin position, which needs the database."""
    exclude = exclude or set()
    owner = config.rep(owner_email)
    if owner is not None and owner.active and owner.email not in exclude:
        return RoutePlan(RoutingDecision(rep=owner, team_id=owner.team, rule="owner", detail=owner.email))

    code = country_code(country)
    team = _team_for(config, code, region)
    if team is not None:
        candidates = [r for r in config.reps if r.team == team.id and r.active and r.email not in exclude]
        specific = [r for r in candidates if r.territory and _matches(r.territory, code, region)]
        general = [r for r in candidates if not r.territory]
        pool = specific or general or candidates
        if pool:
            return RoutePlan(team_id=team.id, pool=tuple(pool), code=code)

    fallback = config.rep(config.fallback_owner)
    assert fallback is not None  # checked when the configuration was loaded
    if fallback.email in exclude:
        others = [r for r in config.reps if r.active and r.email not in exclude]
        if others:
            fallback = others[0]
    return RoutePlan(RoutingDecision(rep=fallback, team_id=fallback.team, rule="fallback", detail=code or "unknown"))


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
    plan = plan_route(config, owner_email=owner_email, country=country, region=region, exclude=exclude)
    if plan.decision is not None:
        return plan.decision
    assert plan.team_id is not None
    return plan.decide(_next_position(session, plan.team_id))
