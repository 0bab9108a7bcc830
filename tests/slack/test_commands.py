"""/lead and /handoff through the real Bolt app."""

from __future__ import annotations

import uuid
from typing import Any

from bot.handoff import decide
from bot.slack_standin.interactions import slash_command_body
from harness import Harness

SANNE = "U0SANNEDV1"


def command(harness: Harness, name: str, text: str, user: str = SANNE) -> Any:
    """Send a signed slash command and return what the bot posted to its response_url."""
    token = uuid.uuid4().hex
    body = slash_command_body(command=name, text=text, user_id=user, channel_id="C0SALES001",
                              response_url=harness.slack.root_url + "response/" + token)
    assert harness.slack_post(body).status == 200
    return harness.slack.wait_for("response_url", lambda call: call.params["response_token"] == token)


def test_lead_by_id_shows_state_and_history(harness: Harness) -> None:
    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl", company="<!here> Kaas BV")
    with harness.rt.db.transaction() as session:
        decide(session, harness.rt, lead_id=lead_id, version=2, user_id=SANNE, accept=True)
    answer = command(harness, "/lead", str(lead_id))
    assert answer.params["response_type"] == "ephemeral"
    text = str(answer.params["blocks"])
    assert f"Lead {lead_id}: <!here> Kaas BV" in text  # a plain_text header shows markup literally
    assert "*Geschiedenis* (3 stappen)" in text
    assert "ruwe lead → MQL" in text
    assert f"MQL → SAL · geaccepteerd · <@{SANNE}>" in text
    assert "voldoet aan de MQL-criteria" in text
    assert "<!here>" not in answer.params["text"]


def test_lead_by_email_is_case_insensitive(harness: Harness) -> None:
    lead_id = harness.add_lead(email="Inkoop@Dozen-Fictief.nl")
    answer = command(harness, "/lead", "inkoop@dozen-fictief.NL")
    assert f"Lead {lead_id}:" in str(answer.params["blocks"])


def test_lead_not_found_names_the_query(harness: Harness) -> None:
    answer = command(harness, "/lead", "999999")
    assert "Geen lead gevonden voor `999999`" in answer.params["text"]


def test_lead_refused_for_unconfigured_user(harness: Harness) -> None:
    harness.add_lead()
    answer = command(harness, "/lead", "1", user="U0STRANGER")
    assert "Alleen reps, managers en beheerders" in answer.params["text"]
    assert answer.params.get("blocks") in (None, [])


def test_lead_query_is_not_logged(harness: Harness, caplog: Any) -> None:
    harness.add_lead(email="geheim@dozen-fictief.nl")
    command(harness, "/lead", "geheim@dozen-fictief.nl")
    assert "geheim@" not in caplog.text


def test_language_switch_changes_later_messages(harness: Harness) -> None:
    answer = command(harness, "/handoff", "taal en")
    assert answer.params["text"] == "The bot's messages to you are in English from now on."
    harness.add_lead(owner_email="sanne.devries@handoff-demo.nl")
    [card] = harness.slack.messages()
    assert card["text"].startswith("New MQL")


def test_language_switch_rejects_unknown_language(harness: Harness) -> None:
    answer = command(harness, "/handoff", "taal fr")
    assert "Onbekende taal `fr`" in answer.params["text"]


def test_handoff_help_lists_commands(harness: Harness) -> None:
    answer = command(harness, "/handoff", "")
    for name in ("/handoff taal", "/lead", "/funnel", "/sla"):
        assert name in answer.params["text"]


def test_sla_lists_breaches_and_risks_per_team(harness: Harness, clock: Any) -> None:
    from datetime import UTC, datetime

    harness.add_lead(1, owner_email="sanne.devries@handoff-demo.nl", company="Te Laat BV")
    clock.set(datetime(2025, 3, 28, 14, 0, tzinfo=UTC))  # Friday 15:00 Amsterdam: 1 working hour past first contact
    answer = command(harness, "/sla", "", user="U0EVAVSR01")
    text = str(answer.params["blocks"])
    assert answer.params["response_type"] == "ephemeral"
    assert "*Sales Nederland & Luxemburg* · 1 verlopen" in text
    assert ":red_circle: <@U0SANNEDV1> · *Te Laat BV* · eerste contact · 1 werkuur te laat" in text


def test_sla_reports_nothing_when_all_is_well(harness: Harness) -> None:
    answer = command(harness, "/sla", "")
    assert "Geen verlopen of bedreigde SLA's" in str(answer.params["blocks"])


def test_lead_splits_system_and_rep_delay(harness: Harness, clock: Any) -> None:
    from datetime import timedelta

    from bot.handoff import decide

    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl")
    clock.advance(timedelta(hours=2))
    with harness.rt.db.transaction() as session:
        decide(session, harness.rt, lead_id=lead_id, version=2, user_id=SANNE, accept=True)
    answer = command(harness, "/lead", str(lead_id))
    assert "Vertraging: systeem 0,0 h, rep 2,0 h" in str(answer.params["blocks"])
