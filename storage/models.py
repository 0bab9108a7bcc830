"""SQLAlchemy 2 models: leads, their append-only history, SLA clocks and the Slack outbox."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC; SQLite, which keeps no zone, reads back UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} is invalid: store timezone-aware datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), Decimal: Numeric(18, 4)}


class Lead(Base):
    """A lead with its current stage; every stage change also appends a `LeadTransition`."""

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_leads_source_external_id"),
        Index("ix_leads_stage_mql_at", "stage", "mql_at"),
        Index("ix_leads_email", "email"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    email: Mapped[str | None] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(64))
    company: Mapped[str | None] = mapped_column(String(300))
    job_title: Mapped[str | None] = mapped_column(String(300))
    department: Mapped[str | None] = mapped_column(String(200))
    seniority: Mapped[str | None] = mapped_column(String(100))
    industry: Mapped[str | None] = mapped_column(String(200))
    employees: Mapped[int | None] = mapped_column(Integer)
    annual_revenue: Mapped[Decimal | None]
    country: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(100))
    lead_score: Mapped[Decimal | None]
    visited_pricing: Mapped[bool] = mapped_column(default=False)
    requested_demo: Mapped[bool] = mapped_column(default=False)
    asset_downloads: Mapped[int] = mapped_column(Integer, default=0)
    last_activity_at: Mapped[datetime | None]
    owner_email: Mapped[str | None] = mapped_column(String(320))
    campaign: Mapped[str | None] = mapped_column(String(300))
    source_created_at: Mapped[datetime | None]
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    stage: Mapped[str] = mapped_column(String(32), default="raw")
    version: Mapped[int] = mapped_column(Integer, default=1)
    team_id: Mapped[str | None] = mapped_column(String(64))
    rep_email: Mapped[str | None] = mapped_column(String(320))
    qualification: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    routing: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rejection_reason: Mapped[str | None] = mapped_column(String(64))
    next_action: Mapped[str | None] = mapped_column(String(32))
    nurture_until: Mapped[date | None] = mapped_column(Date)
    mql_at: Mapped[datetime | None]
    first_mql_at: Mapped[datetime | None] = mapped_column(index=True)
    decision_due_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    card_channel: Mapped[str | None] = mapped_column(String(64))
    card_ts: Mapped[str | None] = mapped_column(String(32))
    card_delivered_at: Mapped[datetime | None]
    personal_data_erased_at: Mapped[datetime | None]
    rejection_note: Mapped[str | None] = mapped_column(Text)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    first_contact_at: Mapped[datetime | None]
    # Working time in seconds, in the team's business calendar, from the MQL moment whose
    # first-contact clock was running to the first contact attempt; None until that attempt.
    first_contact_working_seconds: Mapped[int | None] = mapped_column(Integer)
    contact_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    discovery_date: Mapped[date | None] = mapped_column(Date)
    discovery_completed_at: Mapped[datetime | None]
    discovery: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    opportunity_ref: Mapped[str | None] = mapped_column(String(500))
    closed_at: Mapped[datetime | None]
    nurture_reason: Mapped[str | None] = mapped_column(Text)
    # The first time the lead reached each outcome, written by `bot.transitions.move` in the
    # same UPDATE as the stage change, so /funnel reads lead rows instead of the history.
    reached_sal_at: Mapped[datetime | None]
    reached_sql_at: Mapped[datetime | None]
    reached_opportunity_at: Mapped[datetime | None]
    won_at: Mapped[datetime | None]
    first_rejected_at: Mapped[datetime | None]  # first transition with a "rejected:" reason
    # The Accept whose clocks have yet to switch (decision clock stopped, SAL clocks started): set in
    # the Accept's UPDATE by a click, cleared when `bot.sla.clocks.start_waiting_sal_clocks` switches them as of this time.
    sal_clocks_from: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    transitions: Mapped[list[LeadTransition]] = relationship(
        back_populates="lead", order_by="LeadTransition.id", lazy="select"
    )


class LeadTransition(Base):
    """One stage change of a lead: who, when, from which stage, to which, and why.

    Rows are never changed, except that a privacy erasure blanks the free-text note in `details`.
    """

    __tablename__ = "lead_transitions"
    __table_args__ = (
        # /funnel reads each cohort lead's outcomes from this index alone, and the
        # re-engagements of a period by reason and time.
        Index("ix_lead_transitions_lead_id_to_stage_reason", "lead_id", "to_stage", "reason"),
        Index("ix_lead_transitions_reason_at", "reason", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    from_stage: Mapped[str | None] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    lead: Mapped[Lead] = relationship(back_populates="transitions")


class SlaClock(Base):
    """A running service-level clock of one lead, with its precomputed alert schedule.

    `next_alert_at` is the earliest unsent alert; the clock process selects on
    it through an index, so a sweep costs what is due, not what is open.
    """

    __tablename__ = "sla_clocks"
    __table_args__ = (
        UniqueConstraint("lead_id", "kind", "generation", name="uq_sla_clocks_lead_kind_generation"),
        Index("ix_sla_clocks_status_next_alert_at", "status", "next_alert_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    rep_email: Mapped[str | None] = mapped_column(String(320))
    started_at: Mapped[datetime]
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="running")
    stopped_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    schedule: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    next_step: Mapped[int] = mapped_column(Integer, default=0)
    next_alert_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None]


class OutboxItem(Base):
    """A Slack call written in the transaction that caused it and delivered afterwards.

    `dedupe_key` is unique: a reminder or escalation enqueued twice (two clock
    processes, a restarted sweep) is stored once.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_lead_id_status", "lead_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    result_channel: Mapped[str | None] = mapped_column(String(64))
    result_ts: Mapped[str | None] = mapped_column(String(32))
    # Set just before a call to Slack and cleared once its result is stored. A claimed item that
    # still has it set was being sent by a process that died, so Slack may have posted it already.
    send_started_at: Mapped[datetime | None]
    # The channel whose per-channel pacing applies (chat.postMessage only), so that a claim can skip busy channels.
    paced_channel: Mapped[str | None] = mapped_column(String(64))


class RoutingCursor(Base):
    """The round-robin position of one team."""

    __tablename__ = "routing_cursors"

    team_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class UserSetting(Base):
    """A Slack user's own settings, such as the language of the bot's messages."""

    __tablename__ = "user_settings"

    slack_user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str | None] = mapped_column(String(8))
    updated_at: Mapped[datetime]


class WorkspaceSetting(Base):
    """Settings of one Slack workspace, such as its default language."""

    __tablename__ = "workspace_settings"

    slack_team_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str | None] = mapped_column(String(8))
    updated_at: Mapped[datetime]


class WebhookReceipt(Base):
    """A signature of an accepted intake delivery, kept to refuse replays within the window."""

    __tablename__ = "webhook_receipts"

    signature: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)


class ProcessedEvent(Base):
    """An Events API delivery already handled, kept so that Slack's retries change nothing."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)


class PendingClick(Base):
    """A rep's Accept click, stored before Slack gets its response, and deleted by the transaction that decides it.

    A row older than a few seconds belongs to a process that died or hung before deciding; the
    clock process decides it then. It contains ids only, no personal data, so it needs no erasure.
    """

    __tablename__ = "pending_clicks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[str | None] = mapped_column(String(64))
    clicked_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class ContactAttempt(Base):
    """One touch of a rep on an accepted lead: a call, e-mail, LinkedIn message or other."""

    __tablename__ = "contact_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    request_key: Mapped[str | None] = mapped_column(String(100), unique=True)


class RejectionContest(Base):
    """Marketing's objection to a rejection, and the manager's ruling on it."""

    __tablename__ = "rejection_contests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    rejection_id: Mapped[int] = mapped_column(ForeignKey("lead_transitions.id", ondelete="CASCADE"), unique=True)
    contested_by: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="open")
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None]


class ClockPause(Base):
    """A pause of one SLA clock by its owner: who, when, why, and when it ended.

    `paused_working_seconds` is the working time between `paused_at` and `ended_at`
    in the team's calendar, filled when the pause ends; the clock's deadline moved by it.
    """

    __tablename__ = "sla_clock_pauses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clock_id: Mapped[int] = mapped_column(ForeignKey("sla_clocks.id", ondelete="CASCADE"), index=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    paused_by: Mapped[str] = mapped_column(String(64))
    paused_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(64))
    paused_working_seconds: Mapped[int | None] = mapped_column(Integer)


class ClockSnooze(Base):
    """A snoozed reminder: the owner postponed the clock's reminders from `step` on to `until`.

    One snooze per clock and step, so a repeated click records nothing new.
    """

    __tablename__ = "sla_clock_snoozes"
    __table_args__ = (UniqueConstraint("clock_id", "step", name="uq_sla_clock_snoozes_clock_id_step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clock_id: Mapped[int] = mapped_column(ForeignKey("sla_clocks.id", ondelete="CASCADE"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    snoozed_by: Mapped[str] = mapped_column(String(64))
    snoozed_at: Mapped[datetime]
    choice: Mapped[str] = mapped_column(String(16))
    until: Mapped[datetime]


class OutboxChannelPacing(Base):
    """The earliest moment the outbox may send the next message to one Slack channel.

    Shared by every sender process, so that together they stay within Slack's limit of about
    one message per second per channel.
    """

    __tablename__ = "outbox_channel_pacing"

    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_send_at: Mapped[datetime]


class SlackChannel(Base):
    """A channel named in the handoff configuration, with the id Slack resolved its name to."""

    __tablename__ = "slack_channels"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(64))
    resolved_at: Mapped[datetime]
