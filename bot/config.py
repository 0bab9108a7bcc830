"""The YAML handoff configuration: teams, reps, MQL criteria, SLA policy and calendars."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.lifecycle import DEFAULT_NEXT_ACTIONS, NextAction, RejectionReason
from bot.qualification import Criteria
from bot.sla.calendar import CalendarConfig

SLACK_USER_ID_PATTERN = r"^[UW][A-Z0-9]{2,}$"
SLACK_CHANNEL_ID_PATTERN = r"^[CG][A-Z0-9]{2,}$"
# A channel id, or a "#name" (Slack's rules: lower case, digits, - and _) that the bot resolves to
# the id when it starts.
SLACK_CHANNEL_PATTERN = r"^([CG][A-Z0-9]{2,}|#[a-z0-9][a-z0-9_-]{0,79})$"
TERRITORY_PATTERN = re.compile(r"^[A-Z]{2}(:[A-Za-z0-9-]+)?$")


def _check_territory(entries: list[str]) -> list[str]:
    checked = []
    for entry in entries:
        code, sep, region = entry.strip().partition(":")
        normalised = code.upper() + (sep + region if sep else "")
        if not TERRITORY_PATTERN.match(normalised):
            raise ValueError(
                f"invalid territory {entry!r}: use an ISO country code such as NL, or country:region such as BE:VLG"
            )
        checked.append(normalised)
    return checked


def _check_timezone(value: str | None) -> str | None:
    if value is None:
        return value
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"invalid timezone {value!r}: use an IANA time zone name such as Europe/Amsterdam") from None
    return value


class ConfigError(Exception):
    """The handoff configuration is missing or invalid. The message names the key and the fix."""


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, description="Display name.")
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", description="Work e-mail, as in the CRM.")
    slack_user_id: str = Field(pattern=SLACK_USER_ID_PATTERN, description="Slack member id, e.g. U012AB3CD.")
    language: Literal["nl", "en"] | None = Field(default=None, description="Language of this person's messages.")
    timezone: str | None = Field(default=None, description="IANA time zone; defaults to the team's calendar.")

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str | None) -> str | None:
        return _check_timezone(value)


class Rep(Person):
    team: str = Field(description="Id of the rep's team.")
    manager: str | None = Field(default=None, description="E-mail of the rep's manager (a manager or another rep).")
    territory: list[str] = Field(
        default_factory=list, description="Country codes (NL) or country:region (BE:VLG) this rep covers."
    )
    active: bool = Field(default=True, description="Inactive reps get no new leads.")

    @field_validator("territory")
    @classmethod
    def _valid_territory(cls, value: list[str]) -> list[str]:
        return _check_territory(value)


class Team(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Short id, e.g. benelux-nl.")
    name: str
    territory: list[str] = Field(default_factory=list, description="Country codes or country:region the team covers.")
    calendar: CalendarConfig = Field(default_factory=CalendarConfig)
    channel: str | None = Field(
        default=None, pattern=SLACK_CHANNEL_PATTERN, description="Team channel for digests: its id (C...) or #name."
    )
    methodology: Literal["bant", "meddic"] | None = Field(
        default=None, description="Discovery framework of this team; defaults to sales.methodology."
    )

    @field_validator("territory")
    @classmethod
    def _valid_territory(cls, value: list[str]) -> list[str]:
        return _check_territory(value)


class Cadence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    touches: int = Field(default=6, ge=1, description="Contact attempts expected per SAL.")
    days: int = Field(default=14, ge=1, description="Within this many calendar days of acceptance.")


class SalesProcess(BaseModel):
    """Rules of the SAL to SQL stage: touch cadence, discovery framework and the SQL minimum."""

    model_config = ConfigDict(extra="forbid")

    methodology: Literal["bant", "meddic"] = Field(default="bant", description="Discovery framework: bant or meddic.")
    bant_min_met: int = Field(default=3, ge=1, le=4, description="BANT criteria that must be met for an SQL.")
    meddic_min_met: int = Field(default=5, ge=1, le=6, description="MEDDIC criteria that must be met for an SQL.")
    cadence: Cadence = Field(default_factory=Cadence)


class Reminders(BaseModel):
    model_config = ConfigDict(extra="forbid")

    halfway: bool = Field(default=True, description="Remind the owner when half the working time has passed.")
    before_due_working_hours: list[Decimal] = Field(
        default_factory=lambda: [Decimal(1)], description="Remind this many working hours before the deadline."
    )


class Escalation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chain: list[str] = Field(
        default_factory=lambda: ["manager"],
        description="Who hears of a breach, in order: 'manager', an e-mail of a configured person, "
                    "or a channel id (C...) or #name.",
    )
    delay_working_hours: Decimal = Field(default=Decimal(4), gt=0, description="Working hours between two steps.")


class AutoReassign(BaseModel):
    """Optional policy: give a lead to the next rep of its team when one of `clocks` breaches."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=False, description="Reassign automatically after a breach; off by default.")
    clocks: list[Literal["decision", "first_contact"]] = Field(
        default_factory=lambda: ["decision", "first_contact"], description="Clocks whose breach reassigns the lead.",
    )
    teams: list[str] = Field(default_factory=list, description="Team ids the policy applies to; empty means every team.")


class SlaPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision_working_days: int = Field(default=5, ge=1, description="Accept/reject decision deadline after MQL.")
    first_contact_working_hours: Decimal = Field(default=Decimal(4), gt=0, description="First contact attempt deadline.")
    cadence_working_days: int = Field(
        default=10, ge=1, description="Working days after acceptance to reach the touch cadence (2 weeks)."
    )
    discovery_scheduled_working_days: int = Field(
        default=10, ge=1, description="Working days after acceptance to schedule discovery (2 weeks)."
    )
    discovery_completed_working_days: int = Field(
        default=15, ge=1, description="Working days after acceptance to complete discovery (3 weeks)."
    )
    sql_decision_working_days: int = Field(
        default=5, ge=1, description="Working days after the discovery date to decide on SQL (1 week)."
    )
    reminders: Reminders = Field(default_factory=Reminders)
    escalation: Escalation = Field(default_factory=Escalation)
    auto_reassign: AutoReassign = Field(default_factory=AutoReassign)

    def auto_reassigns(self, team_id: str | None, kind: str) -> bool:
        """Return whether a breach of the clock `kind` on a lead of `team_id` reassigns the lead."""
        policy = self.auto_reassign
        return policy.enabled and kind in policy.clocks and (not policy.teams or team_id in policy.teams)


class RateTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: Decimal = Field(ge=0, le=1, description="Green at or above this rate (0.70 = 70 %).")
    amber_band: Decimal = Field(default=Decimal("0.10"), ge=0, le=1, description="Amber this far below target.")


class FirstContactTarget(BaseModel):
    """Target of the average time to first contact; lower is better."""

    model_config = ConfigDict(extra="forbid")

    working_hours: Decimal | None = Field(
        default=None, gt=0,
        description="Green at or below this average, in working hours; empty uses sla.first_contact_working_hours.",
    )
    amber_band: Decimal = Field(default=Decimal(2), ge=0, description="Amber up to this many working hours above.")


class ContactAttemptsTarget(BaseModel):
    """Target of the contact attempts per accepted lead; higher is better."""

    model_config = ConfigDict(extra="forbid")

    attempts: Decimal | None = Field(
        default=None, gt=0,
        description="Green at or above this many attempts per accepted lead; empty uses sales.cadence.touches.",
    )
    amber_band: Decimal = Field(default=Decimal(2), ge=0, description="Amber up to this many attempts below.")


class Targets(BaseModel):
    """Traffic-light targets of /funnel. Rates are fractions: 0.70 is 70 %."""

    model_config = ConfigDict(extra="forbid")

    acceptance_rate: RateTarget = Field(default_factory=lambda: RateTarget(target=Decimal("0.70")))
    sal_to_sql_rate: RateTarget = Field(default_factory=lambda: RateTarget(target=Decimal("0.40")))
    # 0.28 is the product of the two targets above: 70 % accepted, of which 40 % become SQL.
    mql_to_sql_rate: RateTarget = Field(
        default_factory=lambda: RateTarget(target=Decimal("0.28"), amber_band=Decimal("0.05")))
    # The next two defaults are starting points, not standards: set them from your own history.
    mql_to_won_rate: RateTarget = Field(
        default_factory=lambda: RateTarget(target=Decimal("0.05"), amber_band=Decimal("0.02")))
    reengagement_rate: RateTarget = Field(
        default_factory=lambda: RateTarget(target=Decimal("0.20"), amber_band=Decimal("0.05")))
    first_contact: FirstContactTarget = Field(default_factory=FirstContactTarget)
    contact_attempts: ContactAttemptsTarget = Field(default_factory=ContactAttemptsTarget)


class Rejections(BaseModel):
    model_config = ConfigDict(extra="forbid")

    next_actions: dict[RejectionReason, NextAction] = Field(
        default_factory=lambda: dict(DEFAULT_NEXT_ACTIONS), description="Next action per rejection reason."
    )
    nurture_days: int = Field(default=90, ge=1, description="Re-engagement date after a nurture rejection, in days.")

    @field_validator("next_actions")
    @classmethod
    def _fill_defaults(cls, value: dict[RejectionReason, NextAction]) -> dict[RejectionReason, NextAction]:
        return {**DEFAULT_NEXT_ACTIONS, **value}


class WeeklyDigest(BaseModel):
    """The weekly MQL review digest: where and when it is posted."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(pattern=SLACK_CHANNEL_PATTERN, description="Channel to post the digest in: its id (C...) or #name.")
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = Field(
        default="mon", description="Day of the weekly review."
    )
    time: str = Field(default="09:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
                      description="Local time (first team's time zone) at which the digest is posted, HH:MM.")


class MonthlyReview(BaseModel):
    """The monthly deep dive on last month's MQLs: where and when it is posted."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(pattern=SLACK_CHANNEL_PATTERN, description="Channel to post the review in: its id (C...) or #name.")
    day: int = Field(default=1, ge=1, le=28, description="Day of the month (1-28) on which last month is reviewed.")
    time: str = Field(default="09:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
                      description="Local time (first team's time zone) at which the review is posted, HH:MM.")


class QuarterlyReview(BaseModel):
    """The quarterly criteria review of last quarter's MQLs: where and when it is posted."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(pattern=SLACK_CHANNEL_PATTERN, description="Channel to post the review in: its id (C...) or #name.")
    day: int = Field(default=1, ge=1, le=28,
                     description="Day (1-28) of a quarter's first month on which the previous quarter is reviewed.")
    time: str = Field(default="09:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
                      description="Local time (first team's time zone) at which the review is posted, HH:MM.")


class Digests(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weekly: WeeklyDigest | None = Field(default=None, description="Weekly MQL review digest; off when unset.")
    monthly: MonthlyReview | None = Field(default=None, description="Monthly deep dive; off when unset.")
    quarterly: QuarterlyReview | None = Field(default=None, description="Quarterly criteria review; off when unset.")


class HandoffConfig(BaseModel):
    """The whole handoff configuration file."""

    model_config = ConfigDict(extra="forbid")

    teams: list[Team] = Field(min_length=1)
    managers: list[Person] = Field(default_factory=list)
    reps: list[Rep] = Field(min_length=1)
    fallback_owner: str = Field(description="E-mail of the rep who gets leads no territory matches.")
    admins: list[Annotated[str, Field(pattern=SLACK_USER_ID_PATTERN)]] = Field(
        default_factory=list, description="Slack user ids allowed to act on any lead."
    )
    marketing_channel: str | None = Field(
        default=None, pattern=SLACK_CHANNEL_PATTERN,
        description="Channel where rejections are announced: its id (C...) or #name.",
    )
    criteria: Criteria = Field(default_factory=Criteria)
    sla: SlaPolicy = Field(default_factory=SlaPolicy)
    rejections: Rejections = Field(default_factory=Rejections)
    targets: Targets = Field(default_factory=Targets)
    sales: SalesProcess = Field(default_factory=SalesProcess)
    digests: Digests = Field(default_factory=Digests)

    @model_validator(mode="after")
    def _check_references(self) -> HandoffConfig:
        team_ids = {team.id for team in self.teams}
        if len(team_ids) != len(self.teams):
            raise ValueError("team ids must be unique")
        emails = [person.email for person in [*self.reps, *self.managers]]
        duplicates = sorted({email for email in emails if emails.count(email) > 1})
        if duplicates:
            raise ValueError(f"each person may be listed once; listed twice: {', '.join(duplicates)}")
        known = set(emails)
        for index, rep in enumerate(self.reps):
            if rep.team not in team_ids:
                raise ValueError(
                    f"reps[{index}].team: unknown team {rep.team!r}; configured teams: {', '.join(sorted(team_ids))}"
                )
            if rep.manager is not None and rep.manager.lower() not in known:
                raise ValueError(
                    f"reps[{index}].manager: {rep.manager!r} is not a configured manager or rep; "
                    "add it under managers:"
                )
        slack_ids = [person.slack_user_id for person in [*self.reps, *self.managers]]
        repeated = sorted({user for user in slack_ids if slack_ids.count(user) > 1})
        if repeated:
            raise ValueError(f"each Slack user id may be listed once; listed twice: {', '.join(repeated)}")
        fallback = self.fallback_owner.lower()
        fallback_rep = self.rep(fallback)
        if fallback_rep is None:
            raise ValueError(f"fallback_owner: {self.fallback_owner!r} is not one of the configured reps")
        if not fallback_rep.active:
            raise ValueError(f"fallback_owner: {self.fallback_owner!r} is inactive; choose an active rep")
        self.fallback_owner = fallback
        for index, team_id in enumerate(self.sla.auto_reassign.teams):
            if team_id not in team_ids:
                raise ValueError(f"sla.auto_reassign.teams[{index}]: unknown team {team_id!r}; "
                                 f"configured teams: {', '.join(sorted(team_ids))}")
        for index, target in enumerate(self.sla.escalation.chain):
            if target == "manager" or target.lower() in known or re.match(SLACK_CHANNEL_PATTERN, target):
                continue
            raise ValueError(
                f"sla.escalation.chain[{index}]: {target!r} is not 'manager', the e-mail of a configured person, "
                "a channel id (C...) or a #channel-name"
            )
        return self

    def rep(self, email: str | None) -> Rep | None:
        if email is None:
            return None
        email = email.lower()
        return next((rep for rep in self.reps if rep.email == email), None)

    def person(self, email: str | None) -> Person | None:
        if email is None:
            return None
        email = email.lower()
        return next((person for person in [*self.reps, *self.managers] if person.email == email), None)

    def person_by_slack_id(self, user_id: str) -> Person | None:
        return next((person for person in [*self.reps, *self.managers] if person.slack_user_id == user_id), None)

    def team(self, team_id: str | None) -> Team:
        for team in self.teams:
            if team.id == team_id:
                return team
        return self.teams[0]

    def manager_of(self, rep: Rep) -> Person | None:
        return self.person(rep.manager)

    def methodology(self, team_id: str | None) -> str:
        return self.team(team_id).methodology or self.sales.methodology


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(top level)"


def format_validation_error(error: ValidationError, path: Path | str) -> str:
    """Turn a pydantic error into lines naming the key, the value and what is expected."""
    lines = [f"{path}: invalid handoff configuration"]
    for item in error.errors():
        value = item.get("input")
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key: check its spelling against examples/handoff.example.yml"
        elif item["type"] == "string_pattern_mismatch" and item.get("ctx", {}).get("pattern") == SLACK_CHANNEL_PATTERN:
            message = ('not a channel: write its id (C...) or its name in quotes, lower case, such as "#sales-leads"; '
                       "unquoted, YAML reads # as the start of a comment")
        if not item["loc"]:
            # A check across keys names its key itself.
            lines.append(f"  {message}")
            continue
        shown = "" if isinstance(value, dict | list) else f" (value: {value!r})"
        lines.append(f"  {_location(item['loc'])}: {message}{shown}")
    return "\n".join(lines)


def parse_config(data: Any, path: Path | str = "<config>") -> HandoffConfig:
    try:
        return HandoffConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, path)) from None


def load_config(path: Path | str) -> HandoffConfig:
    """Read and validate the YAML handoff configuration, raising `ConfigError` with the fix."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            f"{path}: handoff configuration not found; copy examples/handoff.example.yml to {path} "
            "or set HANDOFF_CONFIG to its path"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    except UnicodeDecodeError as error:
        # A subclass of ValueError, so it comes before the date case below.
        raise ConfigError(f"{path} is not UTF-8 text (invalid byte 0x{error.object[error.start]:02x} at byte offset "
                          f"{error.start}); save it as UTF-8") from None
    except ValueError as error:
        # PyYAML builds dates itself, so 2026-13-01 fails while the file is read.
        raise ConfigError(f"{path}: a value could not be read ({error}); write dates as YYYY-MM-DD") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with teams:, reps: and fallback_owner: at the top level")
    return parse_config(data, path)
