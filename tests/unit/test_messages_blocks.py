"""The plain-dict Block Kit builders of bot.messages draw exactly what slack_sdk's block classes draw.

The builders write dicts for speed. Here slack_sdk is the reference: each builder is
drawn again with slack_sdk's classes, from the same texts, and the two must serialise
to the same JSON, key order included. slack_sdk's to_dict() also checks the Block
Kit length limits, so every case below is within them.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
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

from bot import messages
from bot.config import RateTarget
from bot.i18n import format_day, format_number, format_percentage, format_when, t
from bot.ids import ActionId, BlockId, LeadRef, reject_option_value
from bot.lifecycle import RejectionReason
from bot.messages import (
    FALLBACK_TEXT_LIMIT,
    HEADER_TEXT_LIMIT,
    SECTION_TEXT_LIMIT,
    SNOOZE_CHOICES,
    CriterionView,
    Decision,
    LeadView,
    Message,
    clip,
    escape_mrkdwn,
    lead_text,
)
from bot.metrics import LIGHT_EMOJI, Funnel, Period, traffic_light

ZONE = "Europe/Amsterdam"
DUE = datetime(2025, 4, 4, 8, 0, tzinfo=UTC)
DECIDED = datetime(2025, 3, 31, 7, 30, tzinfo=UTC)
LANGUAGES = ["nl", "en"]
STAGES = ["raw", "mql", "sal", "sql", "opportunity", "won", "lost", "nurture"]


def view(**overrides: object) -> LeadView:
    values: dict[str, object] = {
        "id": 7, "version": 2, "source": "hubspot", "company": "Bakkerij <Van> & Dam BV", "person": "Jan Jansen",
        "job_title": "Operations *Director*", "country": "NL", "employees": 1200, "lead_score": "72",
        "criteria": (
            CriterionView("fit", "employees", True, "1200", "50–5000"),
            CriterionView("engagement", "lead_score", True, "72", "≥ 50"),
            CriterionView("engagement", "requested_demo", False, "no", "yes"),
            CriterionView("engagement", "recent_activity", False, None, "30"),
        ),
        "routing_reason": "round-robin", "decision_due_at": DUE,
    }
    values.update(overrides)
    return LeadView(**values)  # type: ignore[arg-type]


PROGRESSED = {"decided_by": "U0SANNEDV1", "decided_at": DECIDED, "contact_attempts": 3,
              "discovery_date": date(2025, 5, 1), "opportunity_ref": "OPP-1 <x>", "nurture_until": date(2025, 9, 1)}
EMPTY = {"company": None, "person": None, "job_title": None, "employees": None, "lead_score": None,
         "decision_due_at": None, "criteria": ()}
HUGE = {"company": "X" * 10_000, "person": "Y" * 10_000, "job_title": "Z" * 5000, "source": "s" * 64,
        "routing_reason": "r" * 5000, "criteria": tuple(CriterionView("fit", "job_title", False, "v" * 500, "e" * 500)
                                                        for _ in range(20))}


# slack_sdk reference builders: the structure of bot.messages, drawn with the block classes ---------


def sdk_blocks(blocks: list[Block]) -> list[dict[str, Any]]:
    return [block.to_dict() for block in blocks]


def sdk_button(text: str, action_id: str, value: str, style: str | None = None) -> ButtonElement:
    return ButtonElement(text=text, action_id=action_id, value=value, style=style)


def sdk_stage_actions(lead: LeadView, language: str) -> list[Any]:
    ref = LeadRef(lead=lead.id, v=lead.version)
    value = ref.encode()
    if lead.stage == "mql":
        return [
            sdk_button(t(language, "card.accept"), ActionId.ACCEPT.value, value, "primary"),
            StaticSelectElement(
                action_id=ActionId.REJECT.value,
                placeholder=PlainTextObject(text=t(language, "card.reject_placeholder")),
                options=[Option(text=PlainTextObject(text=t(language, f"reason.{reason.value}")),
                                value=reject_option_value(ref, reason.value)) for reason in RejectionReason],
            ),
            sdk_button(t(language, "card.log_contact"), ActionId.LOG_CONTACT.value, value),
        ]
    if lead.stage == "sal":
        return [
            sdk_button(t(language, "card.log_contact"), ActionId.LOG_CONTACT.value, value),
            DatePickerElement(action_id=ActionId.DISCOVERY_DATE.value,
                              placeholder=PlainTextObject(text=t(language, "card.discovery_pick")),
                              initial_date=lead.discovery_date.isoformat() if lead.discovery_date else None),
            sdk_button(t(language, "card.complete_discovery"), ActionId.COMPLETE_DISCOVERY.value, value, "primary"),
            sdk_button(t(language, "card.return_to_nurture"), ActionId.RETURN_TO_NURTURE.value, value),
        ]
    if lead.stage == "sql":
        return [
            sdk_button(t(language, "card.mark_opportunity"), ActionId.MARK_OPPORTUNITY.value, value, "primary"),
            sdk_button(t(language, "card.return_to_nurture"), ActionId.RETURN_TO_NURTURE.value, value),
        ]
    if lead.stage == "opportunity":
        return [
            sdk_button(t(language, "card.won"), ActionId.WON.value, value, "primary"),
            sdk_button(t(language, "card.lost"), ActionId.LOST.value, value, "danger"),
        ]
    return []


def sdk_lead_card(lead: LeadView, language: str, decision: Decision | None, note: str | None,
                  final: bool) -> list[dict[str, Any]]:
    company = messages._plain(lead.company, language, 100)
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
    why_lines = [t(language, "card.why")]
    for dimension in ("fit", "engagement"):
        criteria = [c for c in lead.criteria if c.dimension == dimension]
        if criteria:
            why_lines.append(f"_{t(language, 'card.' + dimension)}_")
            why_lines.extend(messages._criterion_line(c, language) for c in criteria)
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(messages._stage_title(lead, language, company, decision),
                                                   HEADER_TEXT_LIMIT, language))),
        SectionBlock(fields=[MarkdownTextObject(text=f"*{label}*\n{lead_text(value, language, 1800)}")
                             for label, value in fields]),
        SectionBlock(text=MarkdownTextObject(text=clip("\n".join(why_lines), SECTION_TEXT_LIMIT, language))),
        ContextBlock(elements=[MarkdownTextObject(
            text=clip(t(language, "card.routing", reason=lead.routing_reason), 2000, language))]),
        DividerBlock(),
    ]
    deadline = format_when(lead.decision_due_at, language, ZONE) if lead.decision_due_at else "?"
    if decision is not None:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=messages.decision_line(decision, language, ZONE))))
    elif lead.stage == "mql":
        blocks.append(SectionBlock(text=MarkdownTextObject(text=t(language, "card.deadline", deadline=deadline, zone=ZONE))))
    elif lead.decided_by and lead.decided_at and lead.stage == "sal":
        accepted = Decision(accepted=True, user_id=lead.decided_by, at=lead.decided_at)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=messages.decision_line(accepted, language, ZONE))))
    elif lead.decided_by and lead.decided_at:
        earlier = t(language, "card.accepted_earlier", user=f"<@{lead.decided_by}>",
                    when=format_when(lead.decided_at, language, ZONE))
        blocks.append(SectionBlock(text=MarkdownTextObject(text=earlier)))
    if decision is None and lead.stage not in {"mql", "raw"}:
        progress = "\n".join(messages._progress_lines(lead, language, ZONE))
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(progress, SECTION_TEXT_LIMIT, language))))
    if note:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(note, 2000, language))]))
    actions = [] if (decision is not None or final) else sdk_stage_actions(lead, language)
    if actions:
        blocks.append(ActionsBlock(block_id=BlockId.DECISION.value, elements=actions))
    return sdk_blocks(blocks)


def sdk_reminder(lead: LeadView, language: str, kind: str, clock_id: int | None, step: int | None) -> list[dict[str, Any]]:
    task = t(language, f"clock.{kind}", company=lead_text(lead.company, language, 200))
    deadline = format_when(DUE, language, ZONE)
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=t(language, "reminder.text", task=task,
                                                                       deadline=deadline)))]
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
    return sdk_blocks(blocks)


def sdk_escalation(lead: LeadView, language: str, reassign_to: list[tuple[str, str]] | None,
                   clock_id: int | None) -> list[dict[str, Any]]:
    task = t(language, "clock.decision", company=lead_text(lead.company, language, 200))
    deadline = format_when(DUE, language, ZONE)
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=t(language, "escalation.text", rep="<@U0REP>", task=task,
                                                    deadline=deadline))),
        ContextBlock(elements=[MarkdownTextObject(text=t(language, "escalation.step", step=2))]),
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
    return sdk_blocks(blocks)


def sdk_funnel(funnel: Funnel, target: RateTarget, language: str, comparison: str | None, filters: str | None,
               conversion_target: RateTarget | None) -> list[dict[str, Any]]:
    period = funnel.period
    if period.name == "range":
        label = t(language, "funnel.period.range", start=format_day(period.start, language),
                  end=format_day(period.end - timedelta(seconds=1), language))
    else:
        label = t(language, f"funnel.period.{period.name}")
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=clip(t(language, "funnel.title", period=label),
                                                                      HEADER_TEXT_LIMIT, language)))]
    if filters:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=clip(t(language, "funnel.filters", filters=filters), 2000, language))]))
    if funnel.mqls:
        lines = [t(language, "funnel.volume", total=format_number(funnel.mqls, language))]
        lines += [f"• {escape_mrkdwn(source)}: {format_number(count, language)}"
                  for source, count in list(funnel.mqls_by_source.items())[:40]]
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), SECTION_TEXT_LIMIT, language))))
    else:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=t(language, "funnel.no_mqls"))))
    acceptance = t(language, "funnel.acceptance", light=LIGHT_EMOJI["green"],
                   rate=format_percentage(funnel.acceptance_rate, language),
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
              target=format_percentage(conversion_target.target, language), count=funnel.sqls),
            t(language, "funnel.mql_to_sql", rate=format_percentage(funnel.mql_to_sql_rate, language)),
            t(language, "funnel.mql_to_won", rate=format_percentage(funnel.mql_to_won_rate, language),
              won=format_number(funnel.won, language)),
            t(language, "funnel.reengagement", rate=format_percentage(funnel.reengagement_rate, language),
              reengaged=format_number(funnel.reengaged, language), rescored=format_number(funnel.rescored, language)),
        ]
        blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(lines))))
    if comparison:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=comparison)]))
    return sdk_blocks(blocks)


def same_json(message: Message, expected: list[dict[str, Any]]) -> None:
    assert json.dumps(message.blocks, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)


# Cards, reminders, escalations and funnel messages -----------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("progressed", [False, True])
def test_card_every_stage_matches_slack_sdk(language: str, stage: str, progressed: bool) -> None:
    lead = view(stage=stage, **(PROGRESSED if progressed else {}))
    same_json(messages.lead_card(lead, language, ZONE), sdk_lead_card(lead, language, None, None, False))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("decision", [
    Decision(True, "U0SANNEDV1", DECIDED),
    Decision(False, "U0SANNEDV1", DECIDED, "competitor", "gearchiveerd"),
    Decision(False, "U0SANNEDV1", DECIDED),
], ids=["accepted", "rejected", "rejected-without-reason"])
def test_card_with_decision_matches_slack_sdk(language: str, decision: Decision) -> None:
    lead = view()
    same_json(messages.lead_card(lead, language, ZONE, decision), sdk_lead_card(lead, language, decision, None, False))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("stage", ["mql", "sal"])
@pytest.mark.parametrize("note", ["Toegewezen aan <@U1> & co.", "n" * 5000])
def test_card_with_note_and_final_matches_slack_sdk(language: str, stage: str, note: str) -> None:
    lead = view(stage=stage)
    for final in (False, True):
        same_json(messages.lead_card(lead, language, ZONE, note=note, final=final),
                  sdk_lead_card(lead, language, None, note, final))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("values", [EMPTY, HUGE, {"company": "", "person": "  "}], ids=["empty", "huge", "blank"])
def test_card_unusual_values_match_slack_sdk(language: str, values: dict[str, object]) -> None:
    for stage in ("mql", "sal"):
        lead = view(stage=stage, **values)
        same_json(messages.lead_card(lead, language, ZONE), sdk_lead_card(lead, language, None, None, False))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", ["decision", "first_contact", "nurture_notes"])
@pytest.mark.parametrize(("clock_id", "step"), [(None, None), (5, 1), (5, None)])
def test_reminder_matches_slack_sdk(language: str, kind: str, clock_id: int | None, step: int | None) -> None:
    lead = view()
    message = messages.reminder(lead, language, ZONE, kind=kind, due=DUE, clock_id=clock_id, step=step)
    same_json(message, sdk_reminder(lead, language, kind, clock_id, step))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("clock_id", [None, 9])
@pytest.mark.parametrize("reassign_to", [
    None, [], [("Sanne de Vries", "sanne@example.nl"), ("L" * 100, "l" * 200 + "@example.nl")],
    [(f"Rep {number}", f"rep{number}@example.nl") for number in range(120)],
], ids=["none", "empty", "two", "over-100"])
def test_escalation_matches_slack_sdk(language: str, clock_id: int | None,
                                      reassign_to: list[tuple[str, str]] | None) -> None:
    lead = view()
    message = messages.escalation(lead, "U0REP", 2, language, ZONE, reassign_to, due=DUE, clock_id=clock_id)
    same_json(message, sdk_escalation(lead, language, reassign_to, clock_id))


WEEK = Period("this_week", datetime(2025, 3, 24, tzinfo=UTC), datetime(2025, 3, 31, tzinfo=UTC),
              date(2025, 3, 24), date(2025, 3, 30))
RANGE = Period("range", datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC),
               date(2025, 1, 1), date(2025, 1, 31))
FUNNELS = {
    "busy": Funnel(WEEK, {"hubspot": 10, "web <x>": 3}, 8, 2, 3, {"competitor": 2, "no_budget_timing": 1},
                   sqls=4, won=1, reengaged=2, rescored=3),
    "empty": Funnel(RANGE, {}, 0, 0, 0),
    "many-sources": Funnel(RANGE, {f"source {number} " * 20: number + 1 for number in range(60)}, 5, 0, 0),
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", list(FUNNELS))
@pytest.mark.parametrize("extras", [False, True])
def test_funnel_message_matches_slack_sdk(language: str, name: str, extras: bool) -> None:
    funnel = FUNNELS[name]
    target = RateTarget(target=Decimal("0.7"))
    conversion = RateTarget(target=Decimal("0.5")) if extras else None
    comparison = "vs. last week: +3" if extras else None
    filters = "source=hubspot" if extras else None
    message = messages.funnel_message(funnel, "green", target, language, comparison=comparison, filters=filters,
                                      conversion_target=conversion)
    same_json(message, sdk_funnel(funnel, target, language, comparison, filters, conversion))


# Helpers, for the values slack_sdk leaves out --------------------------------------------------


def test_empty_text_left_out() -> None:
    assert messages._section("") == SectionBlock(text=MarkdownTextObject(text="")).to_dict()
    assert messages._header("") == HeaderBlock(text=PlainTextObject(text="")).to_dict()


def test_button_leaves_out_missing_style_and_value() -> None:
    assert messages._button_element("Go", "a", "v") == ButtonElement(text="Go", action_id="a", value="v").to_dict()
    assert messages._button_element("Go", "a", "") == ButtonElement(text="Go", action_id="a", value="").to_dict()
    styled = messages._button_element("Go", "a", "v", "danger")
    assert styled == ButtonElement(text="Go", action_id="a", value="v", style="danger").to_dict()


def test_date_picker_leaves_out_missing_date() -> None:
    expected = DatePickerElement(action_id="d", placeholder=PlainTextObject(text="Pick")).to_dict()
    assert messages._date_picker("d", "Pick", None) == expected
    assert list(messages._date_picker("d", "Pick", "2025-05-01")) == ["action_id", "initial_date", "placeholder", "type"]


def test_card_fallback_text_is_clipped() -> None:
    message = messages.lead_card(view(**HUGE), "en", ZONE)
    assert len(message.text) <= FALLBACK_TEXT_LIMIT
