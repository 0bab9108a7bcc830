"""Block Kit builders: pure functions from a lead's state to a Slack message."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime, timedelta
from typing import Any

from bot.config import RateTarget
from bot.i18n import format_day, format_number, format_percentage, format_when, t
from bot.ids import ActionId, BlockId, LeadRef, reject_option_value
from bot.lifecycle import RejectionReason
from bot.metrics import LIGHT_EMOJI, Funnel, traffic_light

SECTION_TEXT_LIMIT = 3000
FIELD_TEXT_LIMIT = 2000
HEADER_TEXT_LIMIT = 150
FALLBACK_TEXT_LIMIT = 3000

Block = dict[str, Any]


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
    closed_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """A recorded accept or reject, drawn in place of the buttons."""

    accepted: bool
    user_id: str
    at: datetime
    reason: str | None = None
    next_action: str | None = None


# The builders below write Block Kit JSON as plain dicts, equal to what the block classes of
# slack_sdk 3.48 return from to_dict(): keys sorted, None and empty values left out. The classes
# took 4.6 s of 7.5 s in a cProfile run of benchmarks/csv_import.py on SQLite (9,237 leads,
# 3,399 cards, 2-core Xeon). tests/unit/test_messages_blocks.py compares the dicts with them.
# NOTE: unlike to_dict(), these helpers do not check Block Kit's length limits. The builders
# keep texts within them with `clip`.


def _text_object(kind: str, text: str, **flags: bool) -> dict[str, Any]:
    # slack_sdk leaves out an empty text, so an empty string gives a text object without "text".
    return {**flags, "text": text, "type": kind} if text else {**flags, "type": kind}


def _plain_text(text: str) -> dict[str, Any]:
    return _text_object("plain_text", text)


def _mrkdwn(text: str) -> dict[str, Any]:
    return _text_object("mrkdwn", text)


def _header(text: str) -> Block:
    return {"text": _plain_text(text), "type": "header"}


def _section(text: str) -> Block:
    return {"text": _mrkdwn(text), "type": "section"}


def _section_fields(texts: list[str]) -> Block:
    return {"fields": [_mrkdwn(text) for text in texts], "type": "section"}


def _context(text: str) -> Block:
    return {"elements": [_mrkdwn(text)], "type": "context"}


def _divider() -> Block:
    return {"type": "divider"}


def _actions(block_id: str, elements: list[dict[str, Any]]) -> Block:
    return {"block_id": block_id, "elements": elements, "type": "actions"}


def _button_element(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    # slack_sdk turns a button's str text into plain_text with emoji on.
    button: dict[str, Any] = {"action_id": action_id}
    if style:
        button["style"] = style
    button["text"] = _text_object("plain_text", text, emoji=True)
    button["type"] = "button"
    if value:
        button["value"] = value
    return button


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": _plain_text(text), "value": value}


def _static_select(action_id: str, placeholder: str, options: list[dict[str, Any]]) -> dict[str, Any]:
    return {"action_id": action_id, "options": options, "placeholder": _plain_text(placeholder), "type": "static_select"}


def _date_picker(action_id: str, placeholder: str, initial_date: str | None) -> dict[str, Any]:
    picker: dict[str, Any] = {"action_id": action_id}
    if initial_date:
        picker["initial_date"] = initial_date
    picker["placeholder"] = _plain_text(placeholder)
    picker["type"] = "datepicker"
    return picker


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
        # `expected` contains str(rules.recent_days), a whole number of days.
        expected = t(language, "criterion.recent_expected", count=int(criterion.expected))
    else:
        threshold = criterion.expected
        if threshold in YES_NO_VALUES:
            threshold = t(language, YES_NO_VALUES[threshold])
        expected = t(language, "criterion.expected", expected=escape_mrkdwn(threshold))
    return f"{mark} {name}: {value} ({clip(expected, 200, language)})"


def _details(lead: LeadView, language: str) -> Block:
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
    return _section_fields([f"*{label}*\n{lead_text(value, language, 1800)}" for label, value in fields])


def _why(lead: LeadView, language: str) -> Block:
    return _section(_why_text(lead.criteria, language))


# Leads of one import share a few sets of criteria results, so their texts repeat.
@lru_cache(maxsize=1024)
def _why_text(criteria: tuple[CriterionView, ...], language: str) -> str:
    lines = [t(language, "card.why")]
    for dimension in ("fit", "engagement"):
        matching = [c for c in criteria if c.dimension == dimension]
        if matching:
            lines.append(f"_{t(language, 'card.' + dimension)}_")
            lines.extend(_criterion_line(c, language) for c in matching)
    return clip("\n".join(lines), SECTION_TEXT_LIMIT, language)


_REJECTION_REASONS = tuple(reason.value for reason in RejectionReason)


def _reject_select(ref: LeadRef, language: str) -> dict[str, Any]:
    return _static_select(
        ActionId.REJECT.value,
        t(language, "card.reject_placeholder"),
        [_option(t(language, f"reason.{reason}"), reject_option_value(ref, reason)) for reason in _REJECTION_REASONS],
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


def _progress_lines(lead: LeadView, language: str, timezone: str) -> list[str]:
    lines = [t(language, "card.touches", count=lead.contact_attempts, target=lead.cadence_touches)]
    if lead.discovery_date is not None:
        lines.append(t(language, "card.discovery_on", date=format_day(datetime.combine(lead.discovery_date, datetime.min.time()), language)))
    if lead.opportunity_ref:
        lines.append(t(language, "card.opportunity", ref=lead_text(lead.opportunity_ref, language, 500)))
    if lead.closed_at is not None and lead.stage in {"won", "lost"}:
        lines.append(t(language, f"card.closed_{lead.stage}", when=format_when(lead.closed_at, language, timezone)))
    if lead.nurture_until is not None and lead.stage == "nurture":
        lines.append(t(language, "card.nurture_until", date=format_day(datetime.combine(lead.nurture_until, datetime.min.time()), language)))
    return lines


def _stage_actions(lead: LeadView, language: str) -> list[Any]:
    if lead.stage not in {"mql", "sal", "sql", "opportunity"}:
        return []
    ref = LeadRef(lead=lead.id, v=lead.version)
    value = ref.encode()

    def button(text: str, action_id: str, style: str | None = None) -> dict[str, Any]:
        return _button_element(text, action_id, value, style)

    if lead.stage == "mql":
        return [
            button(t(language, "card.accept"), ActionId.ACCEPT.value, "primary"),
            _reject_select(ref, language),
            button(t(language, "card.log_contact"), ActionId.LOG_CONTACT.value),
        ]
    if lead.stage == "sal":
        return [
            button(t(language, "card.log_contact"), ActionId.LOG_CONTACT.value),
            _date_picker(ActionId.DISCOVERY_DATE.value, t(language, "card.discovery_pick"),
                         lead.discovery_date.isoformat() if lead.discovery_date else None),
            button(t(language, "card.complete_discovery"), ActionId.COMPLETE_DISCOVERY.value, "primary"),
            button(t(language, "card.return_to_nurture"), ActionId.RETURN_TO_NURTURE.value),
        ]
    if lead.stage == "sql":
        return [
            button(t(language, "card.mark_opportunity"), ActionId.MARK_OPPORTUNITY.value, "primary"),
            button(t(language, "card.return_to_nurture"), ActionId.RETURN_TO_NURTURE.value),
        ]
    if lead.stage == "opportunity":
        return [
            button(t(language, "card.won"), ActionId.WON.value, "primary"),
            button(t(language, "card.lost"), ActionId.LOST.value, "danger"),
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
        _header(clip(_stage_title(lead, language, company_plain, decision), HEADER_TEXT_LIMIT, language)),
        _details(lead, language),
        _why(lead, language),
        _context(clip(t(language, "card.routing", reason=lead.routing_reason), 2000, language)),
        _divider(),
    ]
    # Only an MQL's card shows the decision deadline, and formatting a date with Babel takes a while.
    deadline = format_when(lead.decision_due_at, language, timezone) if lead.decision_due_at and lead.stage == "mql" else "?"
    if decision is not None:
        blocks.append(_section(decision_line(decision, language, timezone)))
    elif lead.stage == "mql":
        blocks.append(_section(t(language, "card.deadline", deadline=deadline, zone=timezone)))
    elif lead.decided_by and lead.decided_at and lead.stage == "sal":
        accepted = Decision(accepted=True, user_id=lead.decided_by, at=lead.decided_at)
        blocks.append(_section(decision_line(accepted, language, timezone)))
    elif lead.decided_by and lead.decided_at:
        # A later stage: the acceptance is history, and the lead is no longer a SAL.
        when = format_when(lead.decided_at, language, timezone)
        blocks.append(_section(t(language, "card.accepted_earlier", user=f"<@{lead.decided_by}>", when=when)))
    if decision is None and lead.stage not in {"mql", "raw"}:
        blocks.append(_section(clip("\n".join(_progress_lines(lead, language, timezone)), SECTION_TEXT_LIMIT, language)))
    if note:
        blocks.append(_context(clip(note, 2000, language)))
    actions = [] if (decision is not None or final) else _stage_actions(lead, language)
    if actions:
        blocks.append(_actions(BlockId.DECISION.value, actions))

    if decision is None and lead.stage == "mql" and not final:
        text = t(language, "card.fallback", company=escape_mrkdwn(company_plain), source=escape_mrkdwn(lead.source), deadline=deadline)
    elif decision is not None:
        verdict = t(language, "card.decision." + ("accepted" if decision.accepted else "rejected"))
        when = format_when(decision.at, language, timezone)
        text = t(language, "card.decided_fallback", company=escape_mrkdwn(company_plain), decision=verdict,
                 user=f"<@{decision.user_id}>", when=when)
    else:
        text = t(language, "card.stage_fallback", company=escape_mrkdwn(company_plain), stage=t(language, f"stage.{lead.stage}"))
    return Message(text=clip(text, FALLBACK_TEXT_LIMIT, language), blocks=blocks)


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
    blocks: list[Block] = [_section(body)]
    if clock_id is not None and step is not None:
        elements: list[dict[str, Any]] = []
        if kind == "nurture_notes":
            elements.append(_button_element(t(language, "sla.nurture_notes.button"), ActionId.NURTURE_NOTES.value,
                                            str(lead.id), "primary"))
        elements.append(_static_select(
            ActionId.SNOOZE.value, t(language, "sla.snooze.placeholder"),
            [_option(t(language, f"sla.snooze.{choice}"), f"{clock_id}|{step}|{choice}") for choice in SNOOZE_CHOICES]))
        elements.append(_button_element(t(language, "sla.pause.button"), ActionId.PAUSE.value, str(clock_id)))
        blocks.append(_actions("sla_reminder", elements))
    return Message(text=text, blocks=blocks)


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
        _section(t(language, "escalation.text", rep=rep, task=task, deadline=deadline)),
        _context(t(language, "escalation.step", step=step)),
    ]
    elements: list[dict[str, Any]] = []
    if clock_id is not None:
        elements.append(_button_element(t(language, "escalation.acknowledge"), ActionId.ACKNOWLEDGE.value, str(clock_id)))
    if reassign_to:
        options = [_option(clip(name, 75, language), f"{lead.id}|{email}"[:150]) for name, email in reassign_to[:100]]
        elements.append(_static_select(ActionId.REASSIGN.value, t(language, "card.reassign"), options))
    if elements:
        blocks.append(_actions("escalation", elements))
    text = t(language, "escalation.fallback", rep=rep, task=task, deadline=deadline)
    return Message(text=text, blocks=blocks)


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
    blocks: list[Block] = [_header(clip(t(language, "funnel.title", period=label), HEADER_TEXT_LIMIT, language))]
    if filters:
        blocks.append(_context(clip(t(language, "funnel.filters", filters=filters), 2000, language)))

    if funnel.mqls:
        lines = [t(language, "funnel.volume", total=format_number(funnel.mqls, language))]
        lines += [f"• {escape_mrkdwn(source)}: {format_number(count, language)}" for source, count in list(funnel.mqls_by_source.items())[:40]]
        blocks.append(_section(clip("\n".join(lines), SECTION_TEXT_LIMIT, language)))
    else:
        blocks.append(_section(t(language, "funnel.no_mqls")))

    acceptance = t(language, "funnel.acceptance", light=LIGHT_EMOJI[light], rate=rate,
                   target=format_percentage(target.target, language), accepted=format_number(funnel.accepted, language),
                   rejected=format_number(funnel.rejected, language), pending=format_number(funnel.pending, language))
    blocks.append(_section(acceptance))

    if funnel.rejection_reasons:
        lines = [t(language, "funnel.reasons")]
        lines += [f"• {t(language, 'reason.' + reason)}: {format_number(count, language)}"
                  for reason, count in funnel.rejection_reasons.items()]
        blocks.append(_section("\n".join(lines)))
    else:
        blocks.append(_context(t(language, "funnel.no_rejections")))
    if conversion_target is not None:
        sal_light = LIGHT_EMOJI[traffic_light(funnel.sal_to_sql_rate, conversion_target)]
        lines = [
            t(language, "funnel.sal_to_sql", light=sal_light, rate=format_percentage(funnel.sal_to_sql_rate, language),
              target=format_percentage(conversion_target.target, language), count=funnel.sqls),
            t(language, "funnel.mql_to_sql", rate=format_percentage(funnel.mql_to_sql_rate, language)),
            t(language, "funnel.mql_to_won", rate=format_percentage(funnel.mql_to_won_rate, language),
              won=format_number(funnel.won, language)),
            t(language, "funnel.reengagement", rate=format_percentage(funnel.reengagement_rate, language),
              reengaged=format_number(funnel.reengaged, language), rescored=format_number(funnel.rescored, language)),
        ]
        blocks.append(_section("\n".join(lines)))
    if comparison:
        blocks.append(_context(comparison))
    text = t(language, "funnel.fallback", period=label, count=funnel.mqls, rate=rate)
    return Message(text=text, blocks=blocks)
