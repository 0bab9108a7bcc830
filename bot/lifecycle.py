"""Lead stages, rejection reasons and the transitions the lifecycle allows."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    RAW = "raw"
    NURTURE = "nurture"
    MQL = "mql"
    SAL = "sal"
    SQL = "sql"
    OPPORTUNITY = "opportunity"
    WON = "won"
    LOST = "lost"
    REJECTED = "rejected"


class RejectionReason(StrEnum):
    INCORRECT_FIT = "incorrect_fit"
    BAD_CONTACT_DATA = "bad_contact_data"
    COMPETITOR = "competitor"
    NOT_DECISION_MAKER = "not_decision_maker"
    NO_BUDGET_TIMING = "no_budget_timing"
    DUPLICATE = "duplicate"
    OTHER = "other"


class NextAction(StrEnum):
    """Next action for a rejected MQL."""

    ARCHIVE = "archive"
    REROUTE = "reroute"
    NURTURE = "nurture"


DEFAULT_NEXT_ACTIONS: dict[RejectionReason, NextAction] = {
    RejectionReason.INCORRECT_FIT: NextAction.ARCHIVE,
    RejectionReason.BAD_CONTACT_DATA: NextAction.REROUTE,
    RejectionReason.COMPETITOR: NextAction.ARCHIVE,
    RejectionReason.NOT_DECISION_MAKER: NextAction.REROUTE,
    RejectionReason.NO_BUDGET_TIMING: NextAction.NURTURE,
    RejectionReason.DUPLICATE: NextAction.ARCHIVE,
    RejectionReason.OTHER: NextAction.ARCHIVE,
}

NEXT_ACTION_STAGE: dict[NextAction, Stage] = {
    NextAction.ARCHIVE: Stage.REJECTED,
    NextAction.REROUTE: Stage.MQL,
    NextAction.NURTURE: Stage.NURTURE,
}

# Stage changes the lifecycle allows; anything else is refused by `check_transition`.
ALLOWED_TRANSITIONS: dict[Stage, frozenset[Stage]] = {
    Stage.RAW: frozenset({Stage.MQL, Stage.NURTURE}),
    # NURTURE -> NURTURE records a re-scoring on the re-engagement date that did not qualify.
    Stage.NURTURE: frozenset({Stage.MQL, Stage.RAW, Stage.NURTURE}),
    # MQL -> MQL is a reroute to another rep after a rejection.
    Stage.MQL: frozenset({Stage.SAL, Stage.REJECTED, Stage.NURTURE, Stage.MQL}),
    Stage.SAL: frozenset({Stage.SQL, Stage.NURTURE}),
    Stage.SQL: frozenset({Stage.OPPORTUNITY, Stage.NURTURE}),
    Stage.OPPORTUNITY: frozenset({Stage.WON, Stage.LOST}),
    Stage.WON: frozenset(),
    Stage.LOST: frozenset({Stage.NURTURE}),
    Stage.REJECTED: frozenset({Stage.MQL}),
}


class ContactChannel(StrEnum):
    CALL = "call"
    EMAIL = "email"
    LINKEDIN = "linkedin"
    OTHER = "other"


BANT_CRITERIA: tuple[str, ...] = ("budget", "authority", "need", "timeline")
MEDDIC_CRITERIA: tuple[str, ...] = (
    "metrics", "economic_buyer", "decision_criteria", "decision_process", "identify_pain", "champion",
)


class TransitionError(ValueError):
    """A stage change the lifecycle does not allow."""


def check_transition(from_stage: Stage | str, to_stage: Stage | str) -> None:
    """Raise `TransitionError` unless the lifecycle allows `from_stage` -> `to_stage`."""
    source = Stage(from_stage)
    target = Stage(to_stage)
    if target not in ALLOWED_TRANSITIONS[source]:
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[source])) or "none"
        raise TransitionError(f"a lead cannot go from {source} to {target}; allowed from {source}: {allowed}")
