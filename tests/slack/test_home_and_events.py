"""App Home for reps and managers, kept current, and Events API retries handled once."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from bot.handoff import decide
from bot.slack_standin.interactions import event_callback_body, signed_headers
from harness import Harness

SANNE = "U0SANNEDV1"
EVA = "U0EVAVSR01"


def open_home(harness: Harness, user: str, event_id: str) -> int:
    body = event_callback_body(event_id=event_id, event={"type": "app_home_opened", "user": user, "tab": "home",
                                                          "channel": f"D{user}", "event_ts": str(time.time())})
    headers = signed_headers("test-signing-secret", body, content_type="application/json")
    return harness.request("/slack/events", body.encode(), headers).status


def published(harness: Harness, user: str) -> list[Any]:
    return [call for call in harness.slack.calls("views.publish") if call.params["user_id"] == user]


def wait_for_publish(harness: Harness, user: str, count: int = 1) -> Any:
    deadline = time.monotonic() + 15
    while len(published(harness, user)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    calls = published(harness, user)
    assert len(calls) >= count, f"expected {count} views.publish for {user}"
    return calls[-1]


def test_rep_home_lists_open_mqls_by_deadline(harness: Harness, clock: Any) -> None:
    harness.add_lead(1, owner_email="sanne.devries@handoff-demo.nl", company="Later BV")
    clock.set(datetime(2025, 3, 27, 9, 0, tzinfo=UTC))
    harness.add_lead(2, owner_email="sanne.devries@handoff-demo.nl", company="Eerder BV")
    harness.slack.reset()  # forget the Home updates that the new leads queued
    assert open_home(harness, SANNE, "Ev001") == 200
    view = wait_for_publish(harness, SANNE).params["view"]
    text = str(view["blocks"])
    assert view["type"] == "home"
    assert "*Open MQL's* (2)" in text
    assert text.index("Eerder BV") < text.index("Later BV")


def test_manager_home_shows_breaches_first(harness: Harness, clock: Any) -> None:
    harness.add_lead(1, owner_email="daan.bakker@handoff-demo.nl", company="Op Tijd BV")
    clock.set(datetime(2025, 3, 10, 9, 0, tzinfo=UTC))
    harness.add_lead(2, owner_email="sanne.devries@handoff-demo.nl", company="Te Laat BV")
    clock.set(datetime(2025, 3, 28, 9, 0, tzinfo=UTC))
    harness.slack.reset()
    open_home(harness, EVA, "Ev002")
    text = str(wait_for_publish(harness, EVA).params["view"]["blocks"])
    assert "Wachtrij van je team" in text
    assert text.index("Te Laat BV") < text.index("Op Tijd BV")
    assert ":rotating_light: verlopen" in text


def test_repeated_event_is_handled_once(harness: Harness) -> None:
    harness.add_lead(1, owner_email="sanne.devries@handoff-demo.nl")
    harness.slack.reset()
    assert open_home(harness, SANNE, "Ev003") == 200
    wait_for_publish(harness, SANNE)
    assert open_home(harness, SANNE, "Ev003") == 200
    time.sleep(0.3)
    assert len(published(harness, SANNE)) == 1


def test_home_updates_after_a_decision(harness: Harness) -> None:
    lead_id = harness.add_lead(1, owner_email="sanne.devries@handoff-demo.nl", company="Kaas BV")
    harness.slack.reset()
    with harness.rt.db.transaction() as session:
        decide(session, harness.rt, lead_id=lead_id, version=2, user_id=SANNE, accept=True)
    harness.sender.deliver_due()
    rep_home = str(wait_for_publish(harness, SANNE).params["view"]["blocks"])
    assert "*Open MQL's* (0)" in rep_home
    assert "*SAL's* (1)" in rep_home
    assert wait_for_publish(harness, EVA) is not None


def test_stranger_home_says_how_to_join(harness: Harness) -> None:
    open_home(harness, "U0STRANGER", "Ev004")
    assert "niet in de handoff-configuratie" in str(wait_for_publish(harness, "U0STRANGER").params["view"]["blocks"])


def test_acknowledge_button_answers_the_manager(harness: Harness, clock: Any) -> None:
    from sqlalchemy import select

    from bot.slack_standin.interactions import block_action_body, button_action
    from storage.models import SlaClock

    harness.add_lead(1, owner_email="sanne.devries@handoff-demo.nl")
    with harness.rt.db.transaction() as session:
        clock_id = session.scalars(select(SlaClock.id).where(SlaClock.kind == "decision")).one()
    body = block_action_body(user_id=EVA, channel_id=f"D{EVA}", message_ts="1",
                             action=button_action("escalation_acknowledge", str(clock_id)))
    assert harness.slack_post(body).status == 200
    answer = harness.slack.wait_for("chat.postEphemeral")
    assert answer.params["text"] == f"Escalatie bevestigd door <@{EVA}>; de keten gaat niet verder."
