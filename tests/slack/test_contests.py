"""Marketing contests a rejection in its channel; the manager upholds or overturns it once."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

from bot.slack_standin.interactions import block_action_body, button_action, text_value
from harness import Harness
from storage.models import Lead, LeadTransition, RejectionContest

SANNE = "U0SANNEDV1"
EVA = "U0EVAVSR01"
MARKETEER = "U0MARKETER"
CHANNEL = "C0SALES001"


@pytest.fixture
def rejected(harness: Harness) -> int:
    harness.rt.config.marketing_channel = CHANNEL
    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl", company="Betwist BV")
    assert harness.reject(lead_id, SANNE, "incorrect_fit", note="Te klein voor ons").status == 200
    harness.sender.deliver_due()
    return lead_id


def rejection_id(harness: Harness, lead_id: int) -> int:
    with harness.rt.db.transaction() as session:
        return session.scalars(select(LeadTransition.id).where(LeadTransition.lead_id == lead_id)
                               .order_by(LeadTransition.id.desc()).limit(1)).one()


def contest(harness: Harness, lead_id: int, comment: str) -> Any:
    return harness.submit_view(MARKETEER, "contest_modal", str(rejection_id(harness, lead_id)),
                               text_value("comment", comment) if comment else {})


def test_rejection_is_announced_with_note_and_contest_button(harness: Harness, rejected: int) -> None:
    [notice] = [m for m in harness.slack.messages(CHANNEL) if "afgewezen door" in m["text"]]
    assert "Betwist BV" in notice["text"]
    assert "Te klein voor ons" in str(notice["blocks"])
    [button] = [e for b in notice["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert button["action_id"] == "rejection_contest"
    assert button["value"] == str(rejection_id(harness, rejected))


def test_contest_button_opens_modal(harness: Harness, rejected: int) -> None:
    body = block_action_body(user_id=MARKETEER, channel_id=CHANNEL, message_ts="1",
                             action=button_action("rejection_contest", str(rejection_id(harness, rejected))),
                             trigger_id=harness.slack.issue_trigger_id(MARKETEER))
    assert harness.slack_post(body).status == 200
    assert harness.slack.wait_for("views.open").params["view"]["callback_id"] == "contest_modal"


def test_contest_needs_a_comment_and_happens_once(harness: Harness, rejected: int) -> None:
    assert contest(harness, rejected, "").json()["errors"]["comment"] == "Geef een toelichting."
    assert contest(harness, rejected, "Ze hebben 80 medewerkers").body == b""
    again = contest(harness, rejected, "Nog eens")
    assert again.json()["errors"]["comment"] == "Deze afwijzing is al betwist."
    with harness.rt.db.transaction() as session:
        [row] = session.scalars(select(RejectionContest)).all()
    assert (row.contested_by, row.comment, row.status) == (MARKETEER, "Ze hebben 80 medewerkers", "open")


def ruling(harness: Harness, user: str, action_id: str) -> None:
    with harness.rt.db.transaction() as session:
        contest_id = session.scalars(select(RejectionContest.id)).one()
    body = block_action_body(user_id=user, channel_id=f"D{EVA}", message_ts="1", action=button_action(action_id, str(contest_id)))
    assert harness.slack_post(body).status == 200


def wait_status(harness: Harness, status: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with harness.rt.db.transaction() as session:
            if session.scalars(select(RejectionContest.status)).one() == status:
                return
        time.sleep(0.05)
    raise AssertionError(f"contest never became {status}")


def test_manager_overturns_and_lead_is_mql_again(harness: Harness, rejected: int) -> None:
    contest(harness, rejected, "Ze hebben 80 medewerkers")
    harness.sender.deliver_due()
    request = harness.slack.wait_for("chat.postMessage", lambda call: "Marketing betwist" in call.params["text"]).params
    assert request["channel"] == EVA
    assert [e["action_id"] for b in request["blocks"] if b["type"] == "actions" for e in b["elements"]] == [
        "rejection_uphold", "rejection_overturn"]
    ruling(harness, SANNE, "rejection_overturn")
    assert "Alleen de manager" in harness.slack.wait_for("chat.postEphemeral").params["text"]
    ruling(harness, EVA, "rejection_overturn")
    wait_status(harness, "overturned")
    with harness.rt.db.transaction() as session:
        lead = session.get(Lead, rejected)
        assert lead is not None
        assert (lead.stage, lead.rep_email) == ("mql", "sanne.devries@handoff-demo.nl")
        last = session.scalars(select(LeadTransition).order_by(LeadTransition.id.desc()).limit(1)).one()
    assert (last.from_stage, last.to_stage, last.reason, last.actor) == ("rejected", "mql", "contest_overturned", EVA)


def test_second_ruling_changes_nothing(harness: Harness, rejected: int) -> None:
    contest(harness, rejected, "Onterecht")
    ruling(harness, EVA, "rejection_uphold")
    wait_status(harness, "upheld")
    ruling(harness, EVA, "rejection_overturn")
    # Said in the user's language, with who ruled first.
    assert harness.slack.wait_for("chat.postEphemeral").params["text"] == \
        f"Hierover is al beslist: <@{EVA}> handhaafde de afwijzing."
    with harness.rt.db.transaction() as session:
        assert session.get(Lead, rejected).stage == "rejected"  # type: ignore[union-attr]


def test_home_language_picker_switches_language(harness: Harness) -> None:
    body = block_action_body(user_id=SANNE, channel_id=f"D{SANNE}", message_ts="1", action={
        "type": "static_select", "action_id": "home_language", "selected_option": {"value": "en"}})
    assert harness.slack_post(body).status == 200
    published = harness.slack.wait_for("views.publish", lambda call: "Your leads" in str(call.params["view"]))
    assert "English" in str(published.params["view"]["blocks"])
