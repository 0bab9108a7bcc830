"""A click's path to Slack: the ack does not wait for the work, and the card update keeps the lead's order."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select, update

from bot.ids import ActionId, LeadRef
from bot.outbox import CLAIM_SECONDS, enqueue
from bot.slack_standin.interactions import block_action_body, button_action, signed_headers
from harness import SIGNING_SECRET
from storage.models import Lead, OutboxItem, SlaClock

SANNE = "U0SANNEDV1"
SANNE_EMAIL = "sanne.devries@handoff-demo.nl"


def accept_body(harness: Any, lead_id: int) -> str:
    with harness.rt.db.transaction() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        assert lead.card_ts is not None
        channel, ts = lead.card_channel, lead.card_ts
    action = button_action(ActionId.ACCEPT.value, LeadRef(lead=lead_id, v=2).encode())
    return block_action_body(user_id=SANNE, action=action, channel_id=channel, message_ts=ts)


def stages(harness: Any, lead_ids: list[int]) -> list[str]:
    with harness.rt.db.transaction() as session:
        return list(session.scalars(select(Lead.stage).where(Lead.id.in_(lead_ids)).order_by(Lead.id)))


def test_burst_acks_before_slow_updates(harness: Any, slack: Any) -> None:
    # More simultaneous clicks than Bolt has listener threads, while every chat.update takes 0.4 s:
    # each response must still come back at once, because the decisions wait in the listener work pool.
    lead_ids = [harness.add_lead(number, owner_email=SANNE_EMAIL) for number in range(1, 19)]
    bodies = [accept_body(harness, lead_id) for lead_id in lead_ids]
    slack.set_latency(0.4, "chat.update")
    barrier = threading.Barrier(len(bodies))
    seconds: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def click(body: str) -> None:
        barrier.wait(timeout=10)
        started = time.perf_counter()
        reply = harness.slack_post(body)
        with lock:
            seconds.append(time.perf_counter() - started)
            statuses.append(reply.status)

    threads = [threading.Thread(target=click, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert statuses == [200] * len(bodies)
    assert max(seconds) < 0.4, f"slowest response {max(seconds):.2f} s waited for a chat.update"
    assert harness.web.bolt.listener_work.wait_idle(timeout=30)
    assert stages(harness, lead_ids) == ["sal"] * len(lead_ids)
    assert len(slack.calls("chat.update")) == len(lead_ids)


def test_accept_updates_the_card_when_body_closes(harness: Any, slack: Any) -> None:
    # A WSGI server closes the body after the client has the response, and the card update goes out then.
    # A process with nothing else to do decides before it responds, so that a kill after the response loses nothing.
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL)
    body = accept_body(harness, lead_id)
    environ = harness.environ("/slack/events", body.encode(), signed_headers(SIGNING_SECRET, body))
    statuses: list[str] = []
    response = harness.web(environ, lambda status, _headers: statuses.append(status))
    b"".join(response)

    assert statuses == ["200 OK"]
    assert stages(harness, [lead_id]) == ["sal"], "the response came before the decision was stored"
    assert slack.calls("chat.update") == [], "the card update went out before the response was complete"
    response.close()
    assert len(slack.calls("chat.update")) == 1, "closing the body did not send the card update"
    assert harness.web.bolt.listener_work.wait_idle(timeout=10)


def test_accept_switches_clocks_after_update(harness: Any, slack: Any) -> None:
    # The card changes first. Right after, the decision clock stops and the SAL clocks start, as of the Accept.
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL)
    accepted_at = harness.rt.clock.now()
    written_at: dict[str, list[float]] = {"INSERT INTO SLA_CLOCKS": [], "UPDATE SLA_CLOCKS": []}

    def seen(_connection: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        for start, times in written_at.items():
            if statement.lstrip().upper().startswith(start):
                times.append(time.time())

    event.listen(harness.rt.db.engine, "before_cursor_execute", seen)
    try:
        reply = harness.slack_post(accept_body(harness, lead_id))
        assert reply.status == 200
        assert harness.web.bolt.listener_work.wait_idle(timeout=10)
    finally:
        event.remove(harness.rt.db.engine, "before_cursor_execute", seen)

    [card_update] = slack.calls("chat.update")
    assert len(written_at["INSERT INTO SLA_CLOCKS"]) == 1
    assert written_at["UPDATE SLA_CLOCKS"], "no clock was stopped"
    assert card_update.at <= min(written_at["UPDATE SLA_CLOCKS"]), "a clock was stopped before the card update went out"
    assert card_update.at <= written_at["INSERT INTO SLA_CLOCKS"][0], "the SAL clocks were inserted before the card update went out"
    with harness.rt.db.transaction() as session:
        clocks = session.execute(select(SlaClock.kind, SlaClock.status, SlaClock.started_at, SlaClock.stopped_at)
                                 .where(SlaClock.lead_id == lead_id)).all()
        waiting = session.scalar(select(Lead.sal_clocks_from).where(Lead.id == lead_id))
    started = {kind: at for kind, status, at, _ in clocks if status == "running"}
    assert {"cadence", "discovery_scheduled", "discovery_completed"} <= set(started)
    assert started["cadence"] == accepted_at
    [(_, decision_status, _, decision_stopped_at)] = [row for row in clocks if row[0] == "decision"]
    assert (decision_status, decision_stopped_at) == ("stopped", accepted_at)
    assert waiting is None


def test_accept_stores_what_to_draw(harness: Any, slack: Any, clock: Any) -> None:
    # The click sends the drawn card. The outbox keeps only what to draw, so a retry draws it anew.
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL)
    slack.fail_next("chat.update", status=500)

    reply = harness.slack_post(accept_body(harness, lead_id))
    assert reply.status == 200
    assert harness.web.bolt.listener_work.wait_idle(timeout=10)

    [failed] = slack.calls("chat.update")
    assert failed.params["blocks"], "the first attempt sends the drawn card"
    with harness.rt.db.transaction() as session:
        stored = session.scalars(select(OutboxItem).where(OutboxItem.lead_id == lead_id,
                                                          OutboxItem.kind == "card_update")).one()
        assert stored.status == "pending"
        assert "blocks" not in stored.payload
        assert stored.payload["draw_card"] is True
        assert stored.payload["fallback_channel"] == SANNE

    clock.advance(timedelta(minutes=5))
    harness.sender.deliver_due()
    retried = slack.calls("chat.update")[-1]
    assert retried.params["ts"] == failed.params["ts"]
    assert retried.params["blocks"] == failed.params["blocks"], "the retry draws the same card for the same state"


def test_update_waits_for_older_item(harness: Any, slack: Any) -> None:
    # Another sender has claimed an older item of the lead, so the click must not send its card update first.
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL)
    now = harness.rt.clock.now()
    with harness.rt.db.transaction() as session:
        enqueue(session, key=f"lead:{lead_id}:test_notice", kind="notice", method="chat.postMessage",
                payload={"channel": "C0SALES001", "text": "older notice"}, now=now, lead_id=lead_id)
        session.execute(update(OutboxItem).where(OutboxItem.dedupe_key == f"lead:{lead_id}:test_notice")
                        .values(claimed_by="another-sender", claimed_until=now + timedelta(seconds=60)))

    reply = harness.slack_post(accept_body(harness, lead_id))
    assert reply.status == 200
    assert harness.web.bolt.listener_work.wait_idle(timeout=10)

    assert stages(harness, [lead_id]) == ["sal"]
    assert slack.calls("chat.update") == []
    with harness.rt.db.transaction() as session:
        card_update = session.scalars(select(OutboxItem).where(OutboxItem.lead_id == lead_id,
                                                               OutboxItem.kind == "card_update")).one()
        assert card_update.status == "pending"
        assert card_update.claimed_by is None
        # The other sender's claim runs out; the next delivery sends both, the older first.
        session.execute(update(OutboxItem).where(OutboxItem.dedupe_key == f"lead:{lead_id}:test_notice")
                        .values(claimed_by=None, claimed_until=None))

    harness.sender.deliver_due()
    notice = slack.wait_for("chat.postMessage", lambda call: call.params.get("text") == "older notice")
    card = slack.wait_for("chat.update")
    assert notice.at <= card.at
    with harness.rt.db.transaction() as session:
        statuses = set(session.scalars(select(OutboxItem.status).where(OutboxItem.lead_id == lead_id)))
    assert statuses == {"sent"}


def test_accept_claims_its_card_update_in_the_insert(harness: Any, slack: Any) -> None:
    # Nothing else of the lead waits and no clock is paused, so the click needs neither a claim
    # statement after the INSERT of its card update nor an UPDATE of the pauses.
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL)
    body = accept_body(harness, lead_id)
    statements: list[str] = []

    def seen(_connection: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(harness.rt.db.engine, "before_cursor_execute", seen)
    try:
        reply = harness.slack_post(body)
        assert harness.web.bolt.listener_work.wait_idle(timeout=10)
    finally:
        event.remove(harness.rt.db.engine, "before_cursor_execute", seen)

    assert reply.status == 200
    assert stages(harness, [lead_id]) == ["sal"]
    assert len(slack.calls("chat.update")) == 1
    # On PostgreSQL the INSERT is a part of the Accept's one statement (bot.accept).
    claiming = [statement for statement in statements
                if "INSERT INTO outbox" in statement and "claimed_by" in statement]
    assert len(claiming) == 1
    assert not [statement for statement in statements if statement.startswith("UPDATE outbox SET claimed_by")]
    assert not [statement for statement in statements if statement.startswith("UPDATE sla_clock_pauses")]
    # The decision loads the lead once, with only the columns it reads (`_ACCEPT_COLUMNS`), and the
    # start of the SAL clocks loads it once more.
    lead_loads = [statement for statement in statements
                  if statement.startswith("SELECT") and "FROM leads WHERE leads.id" in statement]
    assert len(lead_loads) == 2, lead_loads
    assert "leads.extra" not in lead_loads[0]
    if harness.rt.db.engine.dialect.name == "postgresql":
        # The lead, its history row and the card update change in one statement. The clocks switch later.
        [accept] = [statement for statement in statements if statement.startswith("WITH moved")]
        for part in ("UPDATE leads", "INSERT INTO lead_transitions", "INSERT INTO outbox"):
            assert part in accept
        assert "sla_clocks" not in accept
    with harness.rt.db.transaction() as session:
        card_update = session.scalars(select(OutboxItem).where(OutboxItem.lead_id == lead_id,
                                                               OutboxItem.kind == "card_update")).one()
    assert card_update.status == "sent"


def test_claim_runs_from_its_insert(harness: Any) -> None:
    # A decision may wait for a lock after new_claim(); the item must still be held CLAIM_SECONDS from its INSERT.
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL)
    claim = harness.sender.new_claim()
    harness.rt.clock.advance(timedelta(seconds=45))
    inserted_at = harness.rt.clock.now()
    with harness.rt.db.transaction() as session:
        enqueue(session, key=f"lead:{lead_id}:test_update", kind="card_update", method="chat.update",
                payload={"channel": "D0SANNE", "ts": "1.0", "text": "test"}, now=inserted_at, lead_id=lead_id,
                key_is_new=True, claim=claim)

    assert [item.claimed_until for item in claim.items] == [inserted_at + timedelta(seconds=CLAIM_SECONDS)]


def test_accept_queues_home_tabs_after_its_card_update(harness: Any, slack: Any) -> None:
    # The click queues the Home tabs of the rep and her manager once the card update has gone out.
    # While the stand-in delays its response to chat.update, none is queued.
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL)
    harness.sender.deliver_due()
    earlier_publishes = len(slack.calls("views.publish"))
    slack.set_latency(0.5, "chat.update")

    reply = harness.slack_post(accept_body(harness, lead_id))
    assert reply.status == 200
    slack.wait_for("chat.update")
    assert pending_homes(harness) == []
    assert harness.web.bolt.listener_work.wait_idle(timeout=10)

    assert pending_homes(harness) == [SANNE, "U0EVAVSR01"]
    harness.sender.deliver_due()
    published = {call.params["user_id"]: str(call.params["view"]["blocks"])
                 for call in slack.calls("views.publish")[earlier_publishes:]}
    assert "*SAL's* (1)" in published[SANNE]
    assert "U0EVAVSR01" in published


def pending_homes(harness: Any) -> list[str]:
    with harness.rt.db.transaction() as session:
        items = session.scalars(select(OutboxItem).where(OutboxItem.kind == "home", OutboxItem.status == "pending")
                                .order_by(OutboxItem.id)).all()
        return [item.payload["user_id"] for item in items]


def test_modal_response_before_slow_update(harness: Any, slack: Any) -> None:
    # A rejection modal's response carries its field errors, so the decision runs first, but
    # the card update after it must not hold the response while Slack is slow.
    lead_id = harness.add_lead(owner_email=SANNE_EMAIL)
    slack.set_latency(1.0, "chat.update")

    started = time.perf_counter()
    reply = harness.reject(lead_id, SANNE, "incorrect_fit", note="Te klein bedrijf", wait_for_work=False)
    seconds = time.perf_counter() - started

    assert reply.status == 200
    assert seconds < 0.8, f"the modal's response took {seconds:.2f} s: it waited for chat.update"
    assert stages(harness, [lead_id]) != ["mql"]
    assert harness.web.bolt.listener_work.wait_idle(timeout=10)
    assert len(slack.calls("chat.update")) == 1
