"""Block Kit builders: pure functions from a lead's state to a Slack message."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DatePickerElement,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from bot.config import RateTarget
from bot.i18n import format_day, format_number, format_percentage, format_when, t
from bot.ids import ActionId, BlockId, LeadRef, reject_option_value
from bot.lifecycle import RejectionReason
from bot.metrics import LIGHT_EMOJI, Funnel, traffic_light

SECTION_TEXT_LIMIT = 3000
FIELD_TEXT_LIMIT = 2000
HEADER_TEXT_LIMIT = 150
FALLBACK_TEXT_LIMIT = 3000


@dataclass(frozen=True)
class Message:
    """A Slack message: the fallback `text` for notifications and the `blocks` to draw."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def to_payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


@dataclass(frozen=True)
class CriterionView:
    dimension: str
    key: str
    passed: bool
    value: str | None
    expected: str


@dataclass(frozen=True)
class LeadView:
    """The facts of a lead that the builders draw, made from the stored row."""

    id: int
    version: int
    source: str
    company: str | None
    person: str | None
    job_title: str | None
    country: str | None
    employees: int | None
    lead_score: str | None
    criteria: tuple[CriterionView, ...]
    routing_reason: str
    decision_due_at: datetime | None
    stage: str = "mql"
    decided_by: str | None = None
    decided_at: datetime | None = None
    contact_attempts: int = 0
    cadence_touches: int = 6
    discovery_date: date | None = None
    methodology: str = "bant"
    opportunity_ref: str | None = None
    nurture_until: date | None = None


@dataclass(frozen=True)
class Decision:
    """A recorded accept or reject, drawn in place of the buttons."""

    accepted: bool
    user_id: str
    at: datetime
    reason: str | None = None
    next_action: str | None = None


def escape_mrkdwn(value: str) -> str:
    """Escape the three characters Slack reads as markup, so lead data cannot ping or link."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(value: str, limit: int, language: str) -> str:
    """Cut `value` to `limit` characters with a visible mark when it is longer."""
    if len(value) <= limit:
        return value
    mark = t(language, "card.truncated")
    return value[: max(0, limit - len(mark))] + mark


def lead_text(value: str | None, language: str, limit: int = FIELD_TEXT_LIMIT) -> str:
    """Escape and clip a value that came from outside, or mark it as unknown."""
    if value is None or not value.strip():
        return "_" + t(language, "card.unknown") + "_"
    return clip(escape_mrkdwn(value.strip()), limit, language)


def _plain(value: str | None, language: str, limit: int) -> str:
    text = (value or "").strip() or t(language, "card.unknown")
    return clip(text, limit, language)


YES_NO_VALUES = {"yes": "common.yes", "no": "common.no"}


def _criterion_line(criterion: CriterionView, language: str) -> str:
    mark = ":white_check_mark:" if criterion.passed else ":x:"
    name = t(language, f"criterion.{criterion.key}")
    raw_value = criterion.value
    if raw_value in YES_NO_VALUES:
        raw_value = t(language, YES_NO_VALUES[raw_value])
    value = lead_text(raw_value, language, 200)
    if criterion.key == "recent_activity":
        expected = t(language, "criterion.recent_expected", days=escape_mrkdwn(criterion.expected))
    else:
        threshold = criterion.expected
        if threshold in YES_NO_VALUES:
            threshold = t(language, YES_NO_VALUES[threshold])
        expected = t(language, "criterion.expected", expected=escape_mrkdwn(threshold))
    return f"{mark} {name}: {value} ({clip(expected, 200, language)})"


def _details(lead: LeadView, language: str) -> SectionBlock:
    employees = None if lead.employees is None else format_number(lead.employees, language)
    person = lead.person if not lead.job_title else f"{lead.person or ''}, {lead.job_title}".strip(", ")
    fields = [
        (t(language, "card.person"), person),
        (t(language, "card.company"), lead.company),
        (t(language, "card.source"), lead.source),
        (t(language, "card.country"), lead.country),
        (t(language, "card.employees"), employees),
        (t(language, "card.score"), lead.lead_score),
    ]
    return SectionBlock(
        fields=[MarkdownTextObject(text=f"*{label}*\n{lead_text(value, language, 1800)}") for label, value in fields]
    )


def _why(lead: LeadView, language: str) -> SectionBlock:
    lines = [t(language, "card.why")]
    for dimension in ("fit", "engagement"):
        criteria = [c for c in lead.criteria if c.dimension == dimension]
        if criteria:
            lines.append(f"_{t(language, 'card.' + dimension)}_")
            lines.extend(_criterion_line(c, language) for c in criteria)
    return SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), SECTION_TEXT_LIMIT, language)))


def _reject_select(lead: LeadView, language: str) -> StaticSelectElement:
    ref = LeadRef(lead=lead.id, v=lead.version)
    return StaticSelectElement(
        action_id=ActionId.REJECT.value,
        placeholder=PlainTextObject(text=t(language, "card.reject_placeholder")),
        options=[
            Option(text=PlainTextObject(text=t(language, f"reason.{reason.value}")), value=reject_option_value(ref, reason.value))
            for reason in RejectionReason
        ],
    )


def decision_line(decision: Decision, language: str, timezone: str) -> str:
    when = format_when(decision.at, language, timezone)
    user = f"<@{decision.user_id}>"
    if decision.accepted:
        return t(language, "card.accepted", user=user, when=when)
    reason = t(language, f"reason.{decision.reason}") if decision.reason else "?"
    return t(language, "card.rejected", user=user, when=when, reason=reason, next_action=decision.next_action or "")


def _stage_title(lead: LeadView, language: str, company: str, decision: Decision | None = None) -> str:
    if decision is not None and not decision.accepted:
        return t(language, "card.stage_title", company=company, stage=t(language, "stage.rejected"))
    if lead.stage == "mql":
        return t(language, "card.title", company=company)
    return t(language, "card.stage_title", company=company, stage=t(language, f"stage.{lead.stage}"))


def _button(text: str, action_id: str, lead: LeadView, style: str | None = None) -> ButtonElement:
    return ButtonElement(text=text, action_id=action_id, value=LeadRef(lead=lead.id, v=lead.version).encode(), style=style)


def _progress_lines(lead: LeadView, language: str) -> list[str]:
    lines = [t(language, "card.touches", count=lead.contact_attempts, target=lead.cadence_touches)]
    if lead.discovery_date is not None:
        lines.append(t(language, "card.discovery_on", date=format_day(datetime.combine(lead.discovery_date, datetime.min.time()), language)))
    if lead.opportunity_ref:
        lines.append(t(language, "card.opportunity", ref=lead_text(lead.opportunity_ref, language, 500)))
    if lead.nurture_until is not None and lead.stage == "nurture":
        lines.append(t(language, "card.nurture_until", date=format_day(datetime.combine(lead.nurture_until, datetime.min.time()), language)))
    return lines


def _stage_actions(lead: LeadView, language: str) -> list[Any]:
    if lead.stage == "mql":
        return [
            _button(t(language, "card.accept"), ActionId.ACCEPT.value, lead, "primary"),
            _reject_select(lead, language),
            _button(t(language, "card.log_contact"), ActionId.LOG_CONTACT.value, lead),
        ]
    if lead.stage == "sal":
        return [
            _button(t(language, "card.log_contact"), ActionId.LOG_CONTACT.value, lead),
            DatePickerElement(action_id=ActionId.DISCOVERY_DATE.value,
                              placeholder=PlainTextObject(text=t(language, "card.discovery_pick")),
                              initial_date=lead.discovery_date.isoformat() if lead.discovery_date else None),
            _button(t(language, "card.complete_discovery"), ActionId.COMPLETE_DISCOVERY.value, lead, "primary"),
            _button(t(language, "card.return_to_nurture"), ActionId.RETURN_TO_NURTURE.value, lead),
        ]
    if lead.stage == "sql":
        return [
            _button(t(language, "card.mark_opportunity"), ActionId.MARK_OPPORTUNITY.value, lead, "primary"),
            _button(t(language, "card.return_to_nurture"), ActionId.RETURN_TO_NURTURE.value, lead),
        ]
    if lead.stage == "opportunity":
        return [
            _button(t(language, "card.won"), ActionId.WON.value, lead, "primary"),
            _button(t(language, "card.lost"), ActionId.LOST.value, lead, "danger"),
        ]
    return []


def lead_card(lead: LeadView, language: str, timezone: str, decision: Decision | None = None,
              note: str | None = None, final: bool = False) -> Message:
    """Draw the rep's card for the lead's stage, with the actions that stage allows.

    `decision` draws a rejection on a card that no longer belongs to the lead's
    current rep; `final` drops the actions, e.g. after a reassignment.
    """
    company_plain = _plain(lead.company, language, 100)
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(_stage_title(lead, language, company_plain, decision), HEADER_TEXT_LIMIT, language))),
        _details(lead, language),
        _why(lead, language),
        ContextBlock(elements=[MarkdownTextObject(text=clip(t(language, "card.routing", reason=lead.routing_reason), 2000, language))]),
        DividerBlock(),
    ]
    deadline = format_when(lead.decision_due_at, language, timezone) if lead.decision_due_at else "?"
    if decision is not None:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=decision_line(decision, language, timezone))))
    elif lead.stage == "mql":
        blocks.append(SectionBlock(text=MarkdownTextObject(text=t(language, "card.deadline", deadline=deadline, zone=timezone))))
    elif lead.decided_by and lead.decided_at:
        accepted = Decision(accepted=True, user_id=lead.decided_by, at=lead.decided_at)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=decision_line(accepted, language, timezone))))
    if decision is None and lead.stage not in {"mql", "raw"}:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(_progress_lines(lead, language)), SECTION_TEXT_LIMIT, language))))
    if note:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(note, 2000, language))]))
    actions = [] if (decision is not None or final) else _stage_actions(lead, language)
    if actions:
        blocks.append(ActionsBlock(block_id=BlockId.DECISION.value, elements=actions))

    if decision is None and lead.stage == "mql" and not final:
        text = t(language, "card.fallback", company=escape_mrkdwn(company_plain), source=escape_mrkdwn(lead.source), deadline=deadline)
    elif decision is not None:
        verdict = t(language, "card.decision." + ("accepted" if decision.accepted else "rejected"))
        when = format_when(decision.at, language, timezone)
        text = t(language, "card.decided_fallback", company=escape_mrkdwn(company_plain), decision=verdict,
                 user=f"<@{decision.user_id}>", when=when)
    else:
        text = t(language, "card.stage_fallback", company=escape_mrkdwn(company_plain), stage=t(language, f"stage.{lead.stage}"))
    return Message(text=clip(text, FALLBACK_TEXT_LIMIT, language), blocks=[b.to_dict() for b in blocks])


SNOOZE_CHOICES = ("hour", "morning", "day")


def reminder(lead: LeadView, language: str, timezone: str, *, kind: str = "decision", due: datetime | None = None,
             clock_id: int | None = None, step: int | None = None) -> Message:
    """Draw a reminder to the rep of what the clock `kind` requires, and by when.

    With `clock_id` and `step` the owner gets the clock's controls, Snooze and Pause. A nurture-notes
    reminder also gets the button that opens the notes modal.
    """
    company = lead_text(lead.company, language, 200)
    due = due or lead.decision_due_at
    deadline = format_when(due, language, timezone) if due else "?"
    task = t(language, f"clock.{kind}", company=company)
    body = t(language, "reminder.text", task=task, deadline=deadline)
    text = t(language, "reminder.fallback", task=task, deadline=deadline)
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=body))]
    if clock_id is not None and step is not None:
        elements: list[Any] = []
        if kind == "nurture_notes":
            elements.append(ButtonElement(text=t(language, "sla.nurture_notes.button"), style="primary",
                                          action_id=ActionId.NURTURE_NOTES.value, value=str(lead.id)))
        elements.append(StaticSelectElement(
            action_id=ActionId.SNOOZE.value, placeholder=PlainTextObject(text=t(language, "sla.snooze.placeholder")),
            options=[Option(text=PlainTextObject(text=t(language, f"sla.snooze.{choice}")),
                            value=f"{clock_id}|{step}|{choice}") for choice in SNOOZE_CHOICES]))
        elements.append(ButtonElement(text=t(language, "sla.pause.button"), action_id=ActionId.PAUSE.value,
                                      value=str(clock_id)))
        blocks.append(ActionsBlock(block_id="sla_reminder", elements=elements))
    return Message(text=text, blocks=[block.to_dict() for block in blocks])


def escalation(lead: LeadView, rep_user_id: str, step: int, language: str, timezone: str,
               reassign_to: list[tuple[str, str]] | None = None, *, kind: str = "decision",
               due: datetime | None = None, clock_id: int | None = None) -> Message:
    """Draw a breach for the manager, with a picker of `(name, e-mail)` reps to reassign the lead to."""
    company = lead_text(lead.company, language, 200)
    due = due or lead.decision_due_at
    deadline = format_when(due, language, timezone) if due else "?"
    rep = f"<@{rep_user_id}>"
    task = t(language, f"clock.{kind}", company=company)
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=t(language, "escalation.text", rep=rep, task=task, deadline=deadline))),
        ContextBlock(elements=[MarkdownTextObject(text=t(language, "escalation.step", step=step))]),
    ]
    elements: list[Any] = []
    if clock_id is not None:
        elements.append(ButtonElement(text=t(language, "escalation.acknowledge"), action_id=ActionId.ACKNOWLEDGE.value,
                                      value=str(clock_id)))
    if reassign_to:
        options = [Option(text=PlainTextObject(text=clip(name, 75, language)), value=f"{lead.id}|{email}"[:150])
                   for name, email in reassign_to[:100]]
        elements.append(StaticSelectElement(
            action_id=ActionId.REASSIGN.value, placeholder=PlainTextObject(text=t(language, "card.reassign")),
            options=options))
    if elements:
        blocks.append(ActionsBlock(block_id="escalation", elements=elements))
    text = t(language, "escalation.fallback", rep=rep, task=task, deadline=deadline)
    return Message(text=text, blocks=[b.to_dict() for b in blocks])


def ephemeral(text: str) -> Message:
    return Message(text=text, blocks=[])


def funnel_message(funnel: Funnel, light: str, target: RateTarget, language: str, *,
                   comparison: str | None = None, filters: str | None = None,
                   conversion_target: RateTarget | None = None) -> Message:
    """Draw /funnel: MQL volume per source, acceptance with its traffic light, rejection reasons."""
    period = funnel.period
    if period.name == "range":
        label = t(language, "funnel.period.range", start=format_day(period.start, language),
                  end=format_day(period.end - timedelta(seconds=1), language))
    else:
        label = t(language, f"funnel.period.{period.name}")
    rate = format_percentage(funnel.acceptance_rate, language)
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=clip(t(language, "funnel.title", period=label), HEADER_TEXT_LIMIT, language)))]
    if filters:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(t(language, "funnel.filters", filters=filters), 2000, language))]))

    if funnel.mqls:
        lines = [t(language, "funnel.volume", total=format_number(funnel.mqls, language))]
        lines += [f"• {escape_mrkdwn(source)}: {format_number(count, language)}" for source, count in list(funnel.mqls_by_source.items())[:40]]
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), SECTION_TEXT_LIMIT, language))))
    else:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=t(language, "funnel.no_mqls"))))

    acceptance = t(language, "funnel.acceptance", light=LIGHT_EMOJI[light], rate=rate,
                   target=format_percentage(target.target, language), accepted=format_number(funnel.accepted, language),
                   rejected=format_number(funnel.rejected, language), pending=format_number(funnel.pending, language))
    blocks.append(SectionBlock(text=MarkdownTextObject(text=acceptance)))

    if funnel.rejection_reasons:
        lines = [t(language, "funnel.reasons")]
        lines += [f"• {t(language, 'reason.' + reason)}: {format_number(count, language)}"
                  for reason, count in funnel.rejection_reasons.items()]
        blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(lines))))
    else:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=t(language, "funnel.no_rejections"))]))
    if conversion_target is not None:
        sal_light = LIGHT_EMOJI[traffic_light(funnel.sal_to_sql_rate, conversion_target)]
        lines = [
            t(language, "funnel.sal_to_sql", light=sal_light, rate=format_percentage(funnel.sal_to_sql_rate, language),
              target=format_percentage(conversion_target.target, language), sqls=format_number(funnel.sqls, language)),
            t(language, "funnel.mql_to_sql", rate=format_percentage(funnel.mql_to_sql_rate, language)),
            t(language, "funnel.mql_to_won", rate=format_percentage(funnel.mql_to_won_rate, language),
              won=format_number(funnel.won, language)),
            t(language, "funnel.reengagement", rate=format_percentage(funnel.reengagement_rate, language),
              reengaged=format_number(funnel.reengaged, language), rescored=format_number(funnel.rescored, language)),
        ]
        blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(lines))))
    if comparison:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=comparison)]))
    text = t(language, "funnel.fallback", period=label, mqls=format_number(funnel.mqls, language), rate=rate)
    return Message(text=text, blocks=[b.to_dict() for b in blocks])
