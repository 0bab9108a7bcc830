"""Two web processes and two clock processes on one PostgreSQL schema, under concurrent load.

Leads arrive through the signed /leads webhook on both web processes at once,
reps and managers click Accept and submit Reject on both at once, and the
first-contact clocks of the leads run out while both clock processes sweep.
Afterwards every card, reminder and escalation reached Slack exactly once and
every decision is in the history exactly once.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.slack_standin.interactions import view_submission_body
from process_support import (
    EVA,
    REP_EMAILS,
    SANNE,
    Proc,
    SlackProcess,
    accept_click,
    bot_environment,
    check_delivery,
    free_port,
    lead_payload,
    post_leads,
    post_slack,
    postgres_schema,
    start,
    wait_healthy,
    wait_until,
    write_config,
)
from storage.db import Database
from storage.models import Lead, LeadTransition, OutboxItem, SlaClock

pytestmark = pytest.mark.postgres

LEAD_COUNT = 36
BATCH_SIZE = 3
FIRST_CONTACT_SECONDS = 12.0
SEED = 20261204


def post_until_stored(port: int, batch: list[dict[str, Any]]) -> list[int]:
    """Send a batch as a CRM would: again after a 409, which a concurrent delivery of the same lead causes."""
    for _ in range(20):
        status, answer = post_leads(port, batch)
        if status == 200:
            return [entry["id"] for entry in answer["leads"]]
        assert status == 409, (status, answer)
    raise AssertionError(f"batch {[lead['external_id'] for lead in batch]} still conflicted after 20 deliveries")


def reject_submission(lead_id: int, version: int, user: str) -> str:
    metadata = json.dumps({"lead": lead_id, "v": version, "reason": "incorrect_fit"})
    values = {"note": {"note": {"type": "plain_text_input", "value": "Geen fit"}}}
    return view_submission_body(user_id=user, callback_id="reject_modal", private_metadata=metadata, values=values,
                                view_id=f"V{lead_id}{user}", blocks=[{"type": "input", "block_id": "note"}])


def test_two_webs_two_clocks_send_once(tmp_path: Path, postgres_server_url: str) -> None:
    rng = random.Random(SEED)
    with postgres_schema(postgres_server_url) as url:
        slack = SlackProcess(tmp_path)
        processes: list[Proc] = []
        try:
            config = write_config(tmp_path, first_contact_seconds=FIRST_CONTACT_SECONDS)
            env = bot_environment(database_url=url, slack_api_url=slack.base_url, config=config)
            ports = [free_port(), free_port()]
            webs = [start(f"web{index}", ["web", "--no-clock"], {**env, "PORT": str(port)}, tmp_path)
                    for index, port in enumerate(ports)]
            processes += webs
            processes += [start(f"clock{index}", ["clock"], env, tmp_path) for index in range(2)]
            for web, port in zip(webs, ports, strict=True):
                wait_healthy(port, web)
            run_load(rng, url, slack, ports, processes)
        finally:
            for process in processes:
                process.stop()
            slack.stop()


def run_load(rng: random.Random, url: str, slack: SlackProcess, ports: list[int], processes: list[Proc]) -> None:
    def logs() -> str:
        return "\n".join(f"--- {process.name}\n{process.tail(15)}" for process in processes)

    leads = [lead_payload(number, rep_email=REP_EMAILS[number % len(REP_EMAILS)]) for number in range(LEAD_COUNT)]
    batches = [leads[start:start + BATCH_SIZE] for start in range(0, LEAD_COUNT, BATCH_SIZE)]

    # Every batch goes to both web processes at the same moment, as two CRM workers would send it.
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda job: post_until_stored(*job),
                                [(port, batch) for batch in batches for port in ports]))
    lead_ids = sorted({lead_id for answer in answers for lead_id in answer})
    assert len(lead_ids) == LEAD_COUNT, "each external id must be one lead, whichever process stored it"

    db = Database(url)
    try:
        def cards_delivered() -> bool:
            with db.transaction() as session:
                return session.scalar(select(func.count()).select_from(Lead).where(Lead.card_ts.is_not(None))) == LEAD_COUNT

        wait_until(cards_delivered, timeout=60, message=lambda: "not every card was delivered\n" + logs())
        with db.transaction() as session:
            cards = {lead.id: (lead.version, lead.card_channel, lead.card_ts, lead.rep_email)
                     for lead in session.scalars(select(Lead))}

        # A third of the leads stays undecided. For the others the owner and the manager act at the same
        # moment on different web processes: both Accept, or the owner rejects while the manager accepts.
        jobs: list[tuple[int, str]] = []
        decided: dict[int, str] = {}
        for lead_id in lead_ids:
            version, channel, ts, rep_email = cards[lead_id]
            owner, manager = owner_and_manager(rep_email)
            choice = rng.choice(["undecided", "both_accept", "reject_and_accept"])
            if choice == "undecided":
                continue
            decided[lead_id] = choice
            first, second = rng.sample(ports, 2)
            owner_body = (accept_click(lead_id, version, owner, channel, ts) if choice == "both_accept"
                          else reject_submission(lead_id, version, owner))
            jobs += [(first, owner_body), (second, accept_click(lead_id, version, manager, channel, ts))]
        rng.shuffle(jobs)
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda job: post_slack(*job), jobs))
        assert set(statuses) == {200}, Counter(statuses)

        def settled() -> bool:
            with db.transaction() as session:
                pending = session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.status == "pending"))
                due = session.scalar(select(func.count()).select_from(SlaClock).where(
                    SlaClock.status == "running", SlaClock.kind == "first_contact", SlaClock.next_alert_at.is_not(None)))
            return pending == 0 and due == 0

        wait_until(settled, timeout=90, message=lambda: "alerts or outbox items still waiting\n" + logs())
        check_history(db, lead_ids, decided)
        check_escalations(db, lead_ids, decided)
    finally:
        db.dispose()

    delivery = check_delivery(url, slack, ("chat.postMessage", "chat.update"))
    assert delivery.unsent == [], delivery.unsent
    assert delivery.doubled == {}, f"sent twice: {delivery.doubled}"
    assert delivery.missing == {}, f"never reached Slack: {delivery.missing}"
    # At least one card per lead, two escalations per undecided lead and one card update per decision.
    received = sum(delivery.received.values())
    assert received >= LEAD_COUNT + 2 * (LEAD_COUNT - len(decided)) + len(decided), received


def owner_and_manager(rep_email: str) -> tuple[str, str]:
    people = {
        "sanne.devries@handoff-demo.nl": (SANNE, EVA), "daan.bakker@handoff-demo.nl": ("U0DAANBKR1", EVA),
        "pieter.janssens@handoff-demo.be": ("U0PIETERJ1", "U0MARCCLS1"),
        "lotte.peeters@handoff-demo.be": ("U0LOTTEPT1", "U0MARCCLS1"),
    }
    return people[rep_email]


def check_history(db: Database, lead_ids: list[int], decided: dict[int, str]) -> None:
    """Each lead has one card and one creation; each decided lead left MQL exactly once."""
    with db.transaction() as session:
        transitions = list(session.execute(select(LeadTransition.lead_id, LeadTransition.from_stage,
                                                  LeadTransition.to_stage)))
        cards = Counter(session.scalars(select(OutboxItem.lead_id).where(OutboxItem.kind == "card")))
        stages = {lead_id: stage for lead_id, stage in session.execute(select(Lead.id, Lead.stage))}
    created = Counter(lead_id for lead_id, source, _ in transitions if source is None)
    left_mql = Counter(lead_id for lead_id, source, target in transitions if source == "mql" and target != "mql")
    for lead_id in lead_ids:
        assert created[lead_id] == 1, f"lead {lead_id} created {created[lead_id]} times"
        assert cards[lead_id] == 1, f"lead {lead_id} has {cards[lead_id]} cards"
        expected = 1 if lead_id in decided else 0
        assert left_mql[lead_id] == expected, f"lead {lead_id} ({decided.get(lead_id)}) left MQL {left_mql[lead_id]} times"
        if decided.get(lead_id) == "both_accept":
            assert stages[lead_id] == "sal", (lead_id, stages[lead_id])
        elif lead_id not in decided:
            assert stages[lead_id] == "mql", (lead_id, stages[lead_id])


def check_escalations(db: Database, lead_ids: list[int], decided: dict[int, str]) -> None:
    """Every running first-contact clock escalated to the manager and to the head of sales, each once."""
    with db.transaction() as session:
        clocks = list(session.scalars(select(SlaClock).where(SlaClock.kind == "first_contact")))
        keys = set(session.scalars(select(OutboxItem.dedupe_key).where(OutboxItem.kind.in_(["reminder", "escalation"]))))
    running = [clock for clock in clocks if clock.status == "running"]
    # Accepting leaves the first-contact clock running; only rejected leads stopped theirs.
    assert {clock.lead_id for clock in running} >= {lead_id for lead_id in lead_ids if decided.get(lead_id) != "reject_and_accept"}
    for clock in running:
        escalations = [entry["step"] for entry in clock.schedule if entry["kind"] == "escalation"]
        assert len(escalations) == 2
        for step in escalations:
            key = f"sla:{clock.lead_id}:first_contact:{clock.generation}:{step}"
            assert key in keys, f"escalation {key} was never enqueued"
        assert clock.breached_at is not None
