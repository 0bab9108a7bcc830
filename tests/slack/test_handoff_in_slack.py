"""The handoff through Slack: signed requests into the real Bolt app, responses recorded by the stand-in."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import select

from bot.ids import ActionId, LeadRef, reject_option_value
from bot.slack_standin.interactions import block_action_body, button_action, select_action, slash_command_body
from storage.models import Lead, LeadTransition

SANNE = "U0SANNEDV1"
PIETER = "U0PIETERJ1"


def card_of(harness: Any, lead_id: int) -> tuple[str, str]:
    with harness.rt.db.transaction() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        assert lead.card_channel
        assert lead.card_ts
        return lead.card_channel, lead.card_ts


def stage_of(harness: Any, lead_id: int) -> str:
    with harness.rt.db.transaction() as session:
        return session.scalars(select(Lead.stage).where(Lead.id == lead_id)).one()


def accept_body(harness: Any, lead_id: int, user: str = SANNE, version: int = 2) -> str:
    channel, ts = card_of(harness, lead_id)
    action = button_action(ActionId.ACCEPT.value, LeadRef(lead=lead_id, v=version).encode())
    return block_action_body(user_id=user, action=action, channel_id=channel, message_ts=ts)


def test_mql_reaches_rep_dm_with_buttons(harness: Any, slack: Any) -> None:
    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl")
    [message] = slack.messages()
    assert message["channel"] == f"D{SANNE}"
    assert message["text"].startswith("Nieuwe MQL")
    actions = [b for b in message["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]] == ["lead_accept", "lead_reject", "lead_log_contact"]
    assert card_of(harness, lead_id) == (message["channel"], message["ts"])


def test_accept_click_updates_card_in_place(harness: Any, slack: Any) -> None:
    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl")
    channel, ts = card_of(harness, lead_id)
    reply = harness.slack_post(accept_body(harness, lead_id))
    assert reply.status == 200
    update = slack.wait_for("chat.update")
    assert update.params["ts"] == ts
    assert update.params["channel"] == channel
    versions = slack.history(channel, ts)
    assert len(versions) == 2
    final = versions[-1]
    actions = [e["action_id"] for b in final["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert "lead_accept" not in actions
    assert "lead_complete_discovery" in actions  # the card now offers the SAL's next steps
    assert f"<@{SANNE}>" in str(final["blocks"])
    assert "Geaccepteerd" in str(final["blocks"])
    assert stage_of(harness, lead_id) == "sal"


def test_reject_reason_opens_modal(harness: Any, slack: Any) -> None:
    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl")
    channel, ts = card_of(harness, lead_id)
    action = select_action(ActionId.REJECT.value, reject_option_value(LeadRef(lead=lead_id, v=2), "no_budget_timing"))
    body = block_action_body(user_id=SANNE, action=action, channel_id=channel, message_ts=ts,
                             trigger_id=slack.issue_trigger_id(SANNE))
    assert harness.slack_post(body).status == 200
    opened = slack.wait_for("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == "reject_modal"
    assert '"reason":"no_budget_timing"' in view["private_metadata"]
    assert [b.get("block_id") for b in view["blocks"] if b["type"] == "input"] == ["note", "nurture_until"]
    assert stage_of(harness, lead_id) == "mql"


def test_reject_with_reason_follows_next_action(harness: Any, slack: Any) -> None:
    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl")
    channel, ts = card_of(harness, lead_id)
    reply = harness.reject(lead_id, SANNE, "competitor", note="Werkt voor een concurrent")
    assert reply.status == 200
    assert reply.body == b""
    slack.wait_for("chat.update")
    assert "Concurrent" in str(slack.history(channel, ts)[-1]["blocks"])
    assert stage_of(harness, lead_id) == "rejected"
    with harness.rt.db.transaction() as session:
        last = session.scalars(select(LeadTransition).order_by(LeadTransition.id.desc()).limit(1)).one()
    assert (last.from_stage, last.to_stage, last.reason, last.actor) == ("mql", "rejected", "rejected:competitor", SANNE)
    assert last.details["note"] == "Werkt voor een concurrent"


def test_repeated_click_changes_lead_once(harness: Any, slack: Any) -> None:
    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl")
    body = accept_body(harness, lead_id)
    assert harness.slack_post(body).status == 200
    slack.wait_for("chat.update")
    assert harness.slack_post(body).status == 200
    ephemeral = slack.wait_for("chat.postEphemeral")
    assert ephemeral.params["user"] == SANNE
    assert "al behandeld" in ephemeral.params["text"]
    assert len(slack.calls("chat.update")) == 1
    with harness.rt.db.transaction() as session:
        count = len(list(session.scalars(select(LeadTransition).where(LeadTransition.lead_id == lead_id))))
    assert count == 3


def test_simultaneous_clicks_change_lead_once(harness: Any, slack: Any) -> None:
    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl")
    channel, ts = card_of(harness, lead_id)
    accept = accept_body(harness, lead_id)
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def click(body: str | None) -> None:
        barrier.wait()
        if body is None:
            statuses.append(harness.reject(lead_id, "U0EVAVSR01", "competitor").status)
        else:
            statuses.append(harness.slack_post(body).status)

    threads = [threading.Thread(target=click, args=(b,)) for b in (accept, accept, None, None)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200, 200, 200, 200]
    deadline = time.monotonic() + 15
    while len(slack.calls("chat.update")) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    # Each losing request gets a message: an ephemeral for a click, a modal error for a submission.
    assert len(slack.calls("chat.update")) == 1
    with harness.rt.db.transaction() as session:
        decisions = list(session.scalars(
            select(LeadTransition).where(LeadTransition.lead_id == lead_id, LeadTransition.from_stage == "mql")))
    assert len(decisions) == 1


def test_other_rep_gets_ephemeral_refusal(harness: Any, slack: Any) -> None:
    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl")
    assert harness.slack_post(accept_body(harness, lead_id, user=PIETER)).status == 200
    refusal = slack.wait_for("chat.postEphemeral")
    assert refusal.params["user"] == PIETER
    assert f"<@{SANNE}>" in refusal.params["text"]
    assert stage_of(harness, lead_id) == "mql"
    assert slack.calls("chat.update") == []


def test_bad_signature_is_rejected_and_changes_nothing(harness: Any, slack: Any) -> None:
    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl")
    reply = harness.slack_post(accept_body(harness, lead_id), secret="not-the-secret")
    assert reply.status == 401
    time.sleep(0.3)
    assert stage_of(harness, lead_id) == "mql"
    assert slack.calls("chat.update") == []


def test_stale_signature_is_rejected(harness: Any, slack: Any) -> None:
    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl")
    reply = harness.slack_post(accept_body(harness, lead_id), timestamp=int(time.time()) - 301)
    assert reply.status == 401
    time.sleep(0.3)
    assert stage_of(harness, lead_id) == "mql"


def test_reserialised_body_does_not_verify(harness: Any) -> None:
    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl")
    body = accept_body(harness, lead_id)
    from bot.slack_standin.interactions import signed_headers

    headers = signed_headers("test-signing-secret", body)
    reply = harness.request("/slack/events", (body + "&extra=1").encode(), headers)
    assert reply.status == 401


def funnel_command(harness: Any, text: str, user: str = "U0EVAVSR01") -> str:
    return slash_command_body(command="/funnel", text=text, user_id=user, channel_id="C0SALES001",
                              response_url=harness.slack.root_url + "response/funnel")


def test_funnel_posts_counts_in_channel(harness: Any, slack: Any) -> None:
    accepted = harness.add_lead(1, owner_email="sanne.devries@handoff-demo.nl")
    rejected = harness.add_lead(2, owner_email="sanne.devries@handoff-demo.nl")
    harness.add_lead(3, owner_email="sanne.devries@handoff-demo.nl", source="webinar")
    harness.slack_post(accept_body(harness, accepted))
    harness.reject(rejected, SANNE, "incorrect_fit")
    deadline = time.monotonic() + 15
    while len(slack.calls("chat.update")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)

    reply = harness.slack_post(funnel_command(harness, "week"))
    assert reply.status == 200
    posted = slack.wait_for("response_url")
    assert posted.params["response_type"] == "in_channel"
    text = str(posted.params["blocks"])
    assert "totaal 3" in text
    assert "hubspot: 2" in text
    assert "webinar: 1" in text
    assert "50%" in text
    assert ":red_circle:" in text
    assert "Onjuiste fit: 1" in text
    assert "1 geaccepteerd, 1 afgewezen, 1 open" in text


def test_funnel_bad_period_answers_only_the_user(harness: Any, slack: Any) -> None:
    assert harness.slack_post(funnel_command(harness, "gisteren")).status == 200
    posted = slack.wait_for("response_url")
    assert posted.params["response_type"] == "ephemeral"
    assert "gisteren" in posted.params["text"]


def test_funnel_in_english_for_english_user(harness: Any, slack: Any) -> None:
    harness.add_lead(1)
    assert harness.slack_post(funnel_command(harness, "", user="U0DAANBKR1")).status == 200
    posted = slack.wait_for("response_url")
    assert "MQL volume per source" in str(posted.params["blocks"])


def test_funnel_filters_by_source_and_compares(harness: Any, slack: Any, clock: Any) -> None:
    from datetime import timedelta

    harness.add_lead(1, owner_email="sanne.devries@handoff-demo.nl", source="webinar")
    clock.advance(timedelta(days=7))
    harness.add_lead(2, owner_email="sanne.devries@handoff-demo.nl", source="webinar")
    harness.add_lead(3, owner_email="sanne.devries@handoff-demo.nl", source="webinar")
    harness.add_lead(4, owner_email="sanne.devries@handoff-demo.nl")
    assert harness.slack_post(funnel_command(harness, "week bron=webinar")).status == 200
    posted = slack.wait_for("response_url")
    text = str(posted.params["blocks"])
    assert "totaal 2" in text
    assert "hubspot" not in text
    assert "Filters: source=webinar" in text
    assert "Vorige periode: 1 MQL (+1)" in text
    assert posted.params["text"].startswith("Funnel deze week: 2 MQL's")


def test_funnel_help_is_private(harness: Any, slack: Any) -> None:
    assert harness.slack_post(funnel_command(harness, "help")).status == 200
    posted = slack.wait_for("response_url")
    assert posted.params["response_type"] == "ephemeral"
    assert "bron=" in posted.params["text"]


def test_listener_replies_reuse_the_process_connection(harness: Any, slack: Any) -> None:
    lead_id = harness.add_lead(owner_email="sanne.devries@handoff-demo.nl")
    opened = slack.connections_opened
    for _ in range(3):
        assert harness.slack_post(accept_body(harness, lead_id, user=PIETER)).status == 200
        assert harness.web.bolt.listener_work.wait_idle(10), "listener work still running after 10 s"
    # Each refusal went out through the process's client, on its kept-open connection. A client
    # that Bolt builds per request would have opened one connection per refusal.
    assert len(slack.calls("chat.postEphemeral")) == 3
    assert slack.connections_opened == opened
