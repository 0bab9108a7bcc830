import json
from datetime import UTC, datetime

import pytest

from bot.ids import ActionId, LeadRef, parse_reject_option
from bot.lifecycle import RejectionReason
from bot.messages import CriterionView, Decision, LeadView, clip, escape_mrkdwn, lead_card, reminder

DUE = datetime(2025, 4, 4, 8, 0, tzinfo=UTC)


def view(**overrides: object) -> LeadView:
    values: dict[str, object] = {
        "id": 7, "version": 2, "source": "hubspot", "company": "Bakkerij Van Dam BV", "person": "Jan Jansen",
        "job_title": "Operations Director", "country": "NL", "employees": 1200, "lead_score": "72",
        "criteria": (
            CriterionView("fit", "employees", True, "1200", "50–5000"),
            CriterionView("engagement", "lead_score", True, "72", "≥ 50"),
            CriterionView("engagement", "requested_demo", False, "no", "yes"),
        ),
        "routing_reason": "round-robin", "decision_due_at": DUE,
    }
    values.update(overrides)
    return LeadView(**values)  # type: ignore[arg-type]


def all_text(message_blocks: list[dict[str, object]]) -> str:
    return json.dumps(message_blocks, ensure_ascii=False)


def test_pending_card_has_accept_reasons_and_contact() -> None:
    message = lead_card(view(), "nl", "Europe/Amsterdam")
    actions = next(b for b in message.blocks if b["type"] == "actions")
    accept, select, contact = actions["elements"]
    assert contact["action_id"] == ActionId.LOG_CONTACT
    assert accept["action_id"] == ActionId.ACCEPT
    assert LeadRef.decode(accept["value"]) == LeadRef(lead=7, v=2)
    assert select["action_id"] == ActionId.REJECT
    reasons = [parse_reject_option(option["value"])[0] for option in select["options"]]
    assert reasons == [reason.value for reason in RejectionReason]


def test_card_shows_deadline_in_rep_time_zone() -> None:
    dutch = lead_card(view(), "nl", "Europe/Amsterdam")
    english = lead_card(view(), "en", "Europe/Brussels")
    assert "vrijdag 4 april 2025, 10:00" in all_text(dutch.blocks)
    assert "Friday 4 April 2025, 10:00" in all_text(english.blocks)
    assert "vrijdag 4 april 2025, 10:00" in dutch.text


def test_card_explains_each_criterion() -> None:
    text = all_text(lead_card(view(), "en", "Europe/Amsterdam").blocks)
    assert ":white_check_mark: Employees: 1200" in text
    assert ":x: Requested a demo: no" in text


def test_numbers_use_language_grouping() -> None:
    assert "1.200" in all_text(lead_card(view(), "nl", "Europe/Amsterdam").blocks)
    assert "1,200" in all_text(lead_card(view(), "en", "Europe/Amsterdam").blocks)


def test_decided_card_names_decider() -> None:
    decision = Decision(accepted=True, user_id="U0SANNEDV1", at=datetime(2025, 3, 31, 7, 30, tzinfo=UTC))
    message = lead_card(view(), "nl", "Europe/Amsterdam", decision)
    assert not [b for b in message.blocks if b["type"] == "actions"]
    assert "<@U0SANNEDV1>" in all_text(message.blocks)
    assert "maandag 31 maart 2025, 09:30" in all_text(message.blocks)
    assert "geaccepteerd" in message.text


def test_rejected_card_names_reason_and_next_action() -> None:
    decision = Decision(False, "U0SANNEDV1", datetime(2025, 3, 31, 7, 30, tzinfo=UTC), "competitor", "gearchiveerd")
    text = all_text(lead_card(view(), "nl", "Europe/Amsterdam", decision).blocks)
    assert "Concurrent" in text
    assert "gearchiveerd" in text


def mrkdwn_texts(node: object) -> list[str]:
    """Collect every text Slack parses as mrkdwn; plain_text objects show markup literally."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            return [node["text"]]
        return [text for value in node.values() for text in mrkdwn_texts(value)]
    if isinstance(node, list):
        return [text for item in node for text in mrkdwn_texts(item)]
    return []


def test_lead_data_is_escaped_where_slack_parses_markup() -> None:
    message = lead_card(view(company="<!channel> Tools & Co", person="<@U999>"), "nl", "Europe/Amsterdam")
    serialised = "\n".join(mrkdwn_texts(message.blocks)) + message.text
    assert "<!channel>" not in serialised
    assert "<@U999>" not in serialised
    assert "&lt;!channel&gt; Tools &amp; Co" in serialised


def test_reminder_escapes_company_in_fallback() -> None:
    message = reminder(view(company="<!here>"), "en", "Europe/Amsterdam")
    assert "<!here>" not in message.text
    assert "&lt;!here&gt;" in message.text


@pytest.mark.parametrize("language", ["nl", "en"])
def test_huge_values_stay_within_block_kit_limits(language: str) -> None:
    message = lead_card(view(company="X" * 10_000, person="Y" * 10_000, job_title="Z" * 5000, source="s" * 64), language, "Europe/Amsterdam")
    header = next(b for b in message.blocks if b["type"] == "header")
    assert len(header["text"]["text"]) <= 150
    for block in message.blocks:
        if block["type"] == "section":
            if "text" in block:
                assert len(block["text"]["text"]) <= 3000
            for item in block.get("fields", []):
                assert len(item["text"]) <= 2000
    assert "ingekort" in all_text(message.blocks) or "truncated" in all_text(message.blocks)
    assert len(message.text) <= 3000


def test_clip_marks_the_cut() -> None:
    assert clip("abcdef", 10, "en") == "abcdef"
    clipped = clip("a" * 50, 20, "en")
    assert len(clipped) == 20
    assert clipped.endswith("(truncated)")


def test_escape_mrkdwn_handles_ampersand_first() -> None:
    assert escape_mrkdwn("a&<b>") == "a&amp;&lt;b&gt;"


def test_lead_ref_rejects_foreign_values() -> None:
    with pytest.raises(ValueError, match="invalid lead reference"):
        LeadRef.decode('{"lead": "x"}')
    with pytest.raises(ValueError, match="invalid rejection option"):
        parse_reject_option("competitor|abc|1")


@pytest.mark.parametrize(("stage", "action_ids"), [
    ("sal", ["lead_log_contact", "lead_discovery_date", "lead_complete_discovery", "lead_return_to_nurture"]),
    ("sql", ["lead_mark_opportunity", "lead_return_to_nurture"]),
    ("opportunity", ["lead_won", "lead_lost"]),
    ("won", []),
    ("nurture", []),
])
def test_card_actions_follow_the_stage(stage: str, action_ids: list[str]) -> None:
    accepted_at = datetime(2025, 3, 31, 7, 30, tzinfo=UTC)
    message = lead_card(view(stage=stage, decided_by="U0SANNEDV1", decided_at=accepted_at, contact_attempts=2),
                        "en", "Europe/Amsterdam")
    actions = [b for b in message.blocks if b["type"] == "actions"]
    found = [element["action_id"] for block in actions for element in block["elements"]]
    assert found == action_ids
    assert "Accepted* by <@U0SANNEDV1>" in all_text(message.blocks) or \
        "Accepted by <@U0SANNEDV1>" in all_text(message.blocks)
    # Only a SAL's card states that the lead is now a SAL.
    assert ("now a SAL" in all_text(message.blocks)) == (stage == "sal")
    assert "Contact attempts: *2* of 6" in all_text(message.blocks)


@pytest.mark.parametrize(("stage", "language", "line"), [
    ("won", "en", ":trophy: Won on Friday 4 April 2025, 16:00."),
    ("lost", "nl", "Verloren op vrijdag 4 april 2025, 16:00."),
])
def test_closed_card_says_when_it_closed(stage: str, language: str, line: str) -> None:
    message = lead_card(view(stage=stage, decided_by="U0SANNEDV1", decided_at=datetime(2025, 3, 31, 7, 30, tzinfo=UTC),
                             closed_at=datetime(2025, 4, 4, 14, 0, tzinfo=UTC)), language, "Europe/Amsterdam")
    assert line in all_text(message.blocks)


def test_final_card_has_no_actions() -> None:
    message = lead_card(view(stage="sal"), "nl", "Europe/Amsterdam", note="Toegewezen aan <@U1>.", final=True)
    assert not [b for b in message.blocks if b["type"] == "actions"]
    assert "Toegewezen aan" in all_text(message.blocks)
