"""SIGKILL at a random moment of an import, of clicks and of a sweep; after a restart nothing is lost or doubled.

Each test picks its kill point with a seeded random generator and names the
seed in every failure; HANDOFF_KILL_SEED=<n> repeats a run.

A process killed after Slack accepted a post but before the outbox marked it
sent leaves the post unrecorded. The next process finds it in the channel's
history by its metadata and records it instead of posting again. Card updates
and Home tabs may go out twice, which shows the same content, so only those
methods may repeat.
"""

from __future__ import annotations

import contextlib
import csv
import http.client
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.bootstrap import build_runtime
from bot.clicks import PENDING_CLICK_GRACE
from bot.handoff import decide, ingest
from bot.ids import ActionId
from bot.intake.model import LeadInput
from bot.lifecycle import BANT_CRITERIA, MEDDIC_CRITERIA, Stage
from bot.runtime import Runtime
from bot.sales import DiscoveryInput, complete_discovery, mark_opportunity
from bot.settings import Settings
from bot.sla.clocks import WAITING_SAL_CLOCKS_GRACE
from process_support import (
    REP_EMAILS,
    SANNE,
    Proc,
    SlackProcess,
    accept_click,
    bot_environment,
    card_click,
    check_delivery,
    free_port,
    lead_payload,
    post_leads,
    post_slack,
    postgres_schema,
    start,
    start_web,
    wait_healthy,
    wait_until,
    write_config,
)
from storage.db import Database
from storage.models import Lead, LeadTransition, OutboxItem, PendingClick, SlaClock

pytestmark = pytest.mark.postgres

# Methods whose repeat shows the same content again, so a kill may repeat them.
IDEMPOTENT_METHODS = {"chat.update", "views.publish"}


@pytest.fixture
def seed() -> int:
    return int(os.environ.get("HANDOFF_KILL_SEED") or random.SystemRandom().randrange(2**31))


@pytest.fixture
def schema_url(postgres_server_url: str) -> Iterator[str]:
    with postgres_schema(postgres_server_url) as url:
        yield url


@pytest.fixture
def slack(tmp_path: Path) -> Iterator[SlackProcess]:
    standin = SlackProcess(tmp_path)
    yield standin
    standin.stop()


def count(url: str, statement: object) -> int:
    db = Database(url)
    try:
        with db.transaction() as session:
            return int(session.scalar(statement) or 0)  # type: ignore[call-overload]
    finally:
        db.dispose()


def in_process_runtime(url: str, config: Path, slack: SlackProcess) -> Runtime:
    """Build a runtime in the test process on the database and configuration of the processes under test."""
    settings = Settings(_env_file=None, slack_bot_token="xoxb-process-test", slack_signing_secret="x",  # type: ignore[call-arg]
                        slack_api_url=slack.base_url, database_url=url, handoff_config=config)
    return build_runtime(settings)


def expire_claims(url: str) -> None:
    """Release the outbox claims of a killed process now; otherwise they expire a minute after the claim."""
    db = Database(url)
    try:
        with db.transaction() as session:
            session.execute(update(OutboxItem).where(OutboxItem.claimed_until.is_not(None))
                            .values(claimed_until=datetime(2000, 1, 1, tzinfo=UTC)))
    finally:
        db.dispose()


def age_waiting_sal_clocks(url: str) -> int:
    """Move the Accepts whose SAL clocks a killed process left waiting back past the grace time, and count them.

    Otherwise the clock process starts them only WAITING_SAL_CLOCKS_GRACE after the Accept.
    """
    db = Database(url)
    try:
        with db.transaction() as session:
            waiting = list(session.scalars(select(Lead).where(Lead.sal_clocks_from.is_not(None))))
            for lead in waiting:
                assert lead.sal_clocks_from is not None
                lead.sal_clocks_from -= WAITING_SAL_CLOCKS_GRACE + timedelta(seconds=1)
            return len(waiting)
    finally:
        db.dispose()


def age_pending_clicks(url: str) -> int:
    """Move the clicks that a killed web process left undecided back past the grace time, and count them.

    Otherwise the clock process decides them only PENDING_CLICK_GRACE after the click.
    """
    db = Database(url)
    try:
        with db.transaction() as session:
            clicks = list(session.scalars(select(PendingClick)))
            for click in clicks:
                click.clicked_at -= PENDING_CLICK_GRACE + timedelta(seconds=1)
            return len(clicks)
    finally:
        db.dispose()


def kill_when(process: Proc, condition: Callable[[], bool], *, timeout: float, context: str) -> bool:
    """SIGKILL `process` as soon as `condition` holds; return False when the process ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            return False
        if condition():
            process.kill()
            return True
        time.sleep(0.005)
    process.kill()
    raise AssertionError(f"{context}: the kill point was not reached in {timeout:.0f} s\n{process.tail()}")


def assert_delivered_once(url: str, slack: SlackProcess, in_flight: int, context: str,
                          methods: tuple[str, ...] = ("chat.postMessage",)) -> None:
    """Check that every outbox message reached Slack, and no post reached it twice.

    `in_flight` is how many sends the killed processes could have had open at the
    kill: 0 when nothing was killed, 1 for the clock and the import, the thread
    count for a web worker. The failure message names it. A repeated chat.update
    sets the card to the state it already shows, so it is allowed.
    """
    delivery = check_delivery(url, slack, methods)
    assert delivery.unsent == [], f"{context}: not delivered {delivery.unsent}"
    assert delivery.missing == {}, f"{context}: never reached Slack {delivery.missing}"
    posted_twice = {key: extra for key, extra in delivery.doubled.items() if key[0] not in IDEMPOTENT_METHODS}
    assert posted_twice == {}, f"{context}: posted twice after {in_flight} sends in flight: {posted_twice}"


# ---- import -----------------------------------------------------------------------------------------

IMPORT_ROWS = 600
HEADER = ["Record ID", "First Name", "Last Name", "Email", "Company Name", "Industry", "Number of Employees",
          "Country/Region", "HubSpot Score", "Last Activity Date", "Contact owner"]


def write_export(path: Path) -> None:
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(HEADER)
        for number in range(1, IMPORT_ROWS + 1):
            writer.writerow([f"77{number:06d}", "Test", f"Contact {number}", f"inkoop{number}@kill-{number}.nl",
                             f"Killproef {number} BV", "Packaging", "200", "Netherlands", "80", today,
                             REP_EMAILS[number % len(REP_EMAILS)]])


def test_import_killed_then_rerun(tmp_path: Path, schema_url: str, slack: SlackProcess, seed: int) -> None:
    rng = random.Random(seed)
    config = write_config(tmp_path, first_contact_seconds=3600)
    env = bot_environment(database_url=schema_url, slack_api_url=slack.base_url, config=config)
    export = tmp_path / "export.csv"
    write_export(export)

    # Kill while rows are stored or while the cards are sent: the first half of the range is the rows.
    point = rng.randrange(1, 2 * IMPORT_ROWS - 1)
    phase, threshold = ("stored", point) if point < IMPORT_ROWS else ("sent", point - IMPORT_ROWS + 1)
    context = f"seed {seed}: import killed after {threshold} leads {phase}"
    statement = (select(func.count()).select_from(Lead) if phase == "stored" else
                 select(func.count()).select_from(OutboxItem).where(OutboxItem.kind == "card", OutboxItem.status == "sent"))
    first = start("import-killed", ["import", str(export)], env, tmp_path)
    killed = kill_when(first, lambda: count(schema_url, statement) >= threshold, timeout=120, context=context)

    expire_claims(schema_url)
    second = start("import-again", ["import", str(export)], env, tmp_path)
    assert second.popen.wait(timeout=180) == 0, f"{context}: the second import failed\n{second.tail()}"
    # Cards claimed by the killed process but not sent wait for the clock process, which retries the outbox.
    expire_claims(schema_url)
    clock = start("clock", ["clock"], env, tmp_path)
    try:
        wait_until(lambda: count(schema_url, select(func.count()).select_from(OutboxItem)
                                 .where(OutboxItem.status == "pending")) == 0,
                   timeout=60, message=lambda: f"{context}: cards still pending\n{clock.tail()}")
    finally:
        clock.stop()

    db = Database(schema_url)
    try:
        with db.transaction() as session:
            keys = Counter(session.scalars(select(Lead.external_id)))
            cards = Counter(session.scalars(select(OutboxItem.lead_id).where(OutboxItem.kind == "card")))
            created = Counter(session.scalars(select(LeadTransition.lead_id).where(LeadTransition.from_stage.is_(None))))
    finally:
        db.dispose()
    assert len(keys) == IMPORT_ROWS, f"{context}: {len(keys)} leads for {IMPORT_ROWS} rows"
    assert set(keys.values()) == {1}, f"{context}: a row was stored twice"
    assert len(cards) == IMPORT_ROWS, f"{context}: {len(cards)} leads have a card"
    assert set(cards.values()) == {1}, f"{context}: cards per lead {Counter(cards.values())}"
    assert set(created.values()) == {1}, f"{context}: a lead was created twice in the history"
    assert_delivered_once(schema_url, slack, int(killed), context)


# ---- web process during clicks ---------------------------------------------------------------------

CLICK_LEADS = 30
CARD_UPDATE_SECONDS = 0.05
WEB_THREADS = 8  # gthread threads of one gunicorn worker, as handlers/server.py sets them


def post_leads_with_cards(port: int, url: str, web: Proc, *, prefix: str) -> list[int]:
    """Post CLICK_LEADS leads of the first rep to the intake, wait until each card is posted, and return the lead ids."""
    leads = [lead_payload(number, rep_email=REP_EMAILS[0], prefix=prefix) for number in range(CLICK_LEADS)]
    status, answer = post_leads(port, leads)
    assert status == 200, answer
    wait_until(lambda: count(url, select(func.count()).select_from(Lead).where(Lead.card_ts.is_not(None)))
               == CLICK_LEADS, timeout=60, message=lambda: web.tail())
    return [entry["id"] for entry in answer["leads"]]


def click_then_kill(port: int, web: Proc, clicks: list[str], kill_after: int) -> list[int | None]:
    """Send `clicks` from 6 threads, SIGKILL `web` once `kill_after` of them have ended, and return their HTTP statuses.

    A click whose connection died with the process has None in place of a status.
    """

    def send(body: str) -> int | None:
        try:
            return post_slack(port, body, timeout=10)
        except (OSError, http.client.HTTPException):
            # The connection died with the process, possibly halfway through a response.
            return None

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(send, body) for body in clicks]
        deadline = time.monotonic() + 30
        while sum(future.done() for future in futures) < kill_after and time.monotonic() < deadline:
            time.sleep(0.001)
        web.kill()
        return [future.result() for future in futures]


def outbox_settled(url: str) -> bool:
    return count(url, select(func.count()).select_from(OutboxItem).where(OutboxItem.status == "pending")) == 0


def start_slow_card_updates(tmp_path: Path, url: str) -> tuple[Path, SlackProcess, dict[str, str], int, Proc]:
    """Start a Slack stand-in whose chat.update responds CARD_UPDATE_SECONDS late, and a web process using it.

    Returns the configuration, the stand-in, the environment of the bot's processes, the web port and the web process.
    """
    config = write_config(tmp_path, first_contact_seconds=3600)
    slack = SlackProcess(tmp_path, latency={"chat.update": CARD_UPDATE_SECONDS})
    env = bot_environment(database_url=url, slack_api_url=slack.base_url, config=config)
    port = free_port()
    try:
        web = start_web("web-killed", env, tmp_path, port)
    except BaseException:
        slack.stop()
        raise
    return config, slack, env, port, web


def test_web_killed_during_clicks(tmp_path: Path, schema_url: str, seed: int) -> None:
    rng = random.Random(seed)
    # A slow card update keeps the decisions behind the acks, so that the kill finds clicks
    # acked but not yet decided, as well as decided clicks whose card update is under way.
    _config, slack, env, port, web = start_slow_card_updates(tmp_path, schema_url)
    processes: list[Proc | SlackProcess] = [web, slack]
    try:
        lead_ids = post_leads_with_cards(port, schema_url, web, prefix="K")
        db = Database(schema_url)
        with db.transaction() as session:
            clicks = [accept_click(lead.id, lead.version, "U0SANNEDV1", lead.card_channel or "", lead.card_ts or "")
                      for lead in session.scalars(select(Lead).order_by(Lead.id))]
        db.dispose()

        kill_after = rng.randint(1, CLICK_LEADS)
        context = f"seed {seed}: web process killed after {kill_after} of {CLICK_LEADS} answers"
        answers = click_then_kill(port, web, clicks, kill_after)

        web = start_web("web-restarted", env, tmp_path, port)
        processes.append(web)
        expire_claims(schema_url)
        left_waiting = age_waiting_sal_clocks(schema_url)
        left_undecided = age_pending_clicks(schema_url)
        context += f"; SAL clocks left waiting by the kill: {left_waiting}; clicks left undecided: {left_undecided}"
        clock = start("clock", ["clock"], env, tmp_path)
        processes.append(clock)
        # Every click that got HTTP 200 counts without a second click: the clock process decides
        # those that the killed process had stored but not decided.
        answered = {lead_id for lead_id, answer in zip(lead_ids, answers, strict=True) if answer == 200}

        def answered_accepted() -> bool:
            return (answered <= set(session_rows(schema_url))
                    and count(schema_url, select(func.count()).select_from(PendingClick)) == 0)

        wait_until(answered_accepted, timeout=60, message=lambda: f"{context}\n{clock.tail()}")
        # A click without a response showed the rep an error, so the rep clicks again. A rep may also
        # click again after a response. Each lead must still move once.
        for body in clicks:
            assert post_slack(port, body) == 200, context

        wait_until(lambda: count(schema_url, select(func.count()).select_from(Lead).where(Lead.stage == "sal"))
                   == CLICK_LEADS and outbox_settled(schema_url), timeout=60, message=lambda: f"{context}\n{clock.tail()}")
        accepted = Counter(session_rows(schema_url))
        assert all(accepted[lead_id] == 1 for lead_id in lead_ids), f"{context}: accept transitions {accepted}"
        # Switched by the web process after the card update, or by the clock process after a kill, once either way.
        wait_until(lambda: count(schema_url, select(func.count()).select_from(Lead).where(Lead.sal_clocks_from.is_not(None)))
                   == 0, timeout=60, message=lambda: f"{context}\n{clock.tail()}")
        cadence = Counter(sal_clock_leads(schema_url, "cadence"))
        assert all(cadence[lead_id] == 1 for lead_id in lead_ids), f"{context}: cadence clocks {cadence}"
        running_decisions = set(sal_clock_leads(schema_url, "decision", status="running")) & set(lead_ids)
        assert not running_decisions, f"{context}: decision clocks still running for accepted leads {running_decisions}"
        assert_delivered_once(schema_url, slack, WEB_THREADS, f"{context}; first answers {Counter(answers)}",
                              ("chat.postMessage", "chat.update"))
    finally:
        for process in processes:
            process.stop()


def sal_clock_leads(url: str, kind: str, *, status: str | None = None) -> list[int]:
    db = Database(url)
    try:
        with db.transaction() as session:
            query = select(SlaClock.lead_id).where(SlaClock.kind == kind)
            if status is not None:
                query = query.where(SlaClock.status == status)
            return list(session.scalars(query))
    finally:
        db.dispose()


def session_rows(url: str) -> list[int]:
    db = Database(url)
    try:
        with db.transaction() as session:
            return list(session.scalars(select(LeadTransition.lead_id).where(
                LeadTransition.from_stage == "mql", LeadTransition.to_stage == "sal")))
    finally:
        db.dispose()


def bring_to_opportunity(url: str, config: Path, slack: SlackProcess, lead_ids: list[int]) -> None:
    """Accept each MQL, complete its discovery and mark it an opportunity, as its rep, with the domain functions."""
    rt = in_process_runtime(url, config, slack)
    met = dict.fromkeys(MEDDIC_CRITERIA + BANT_CRITERIA, True)
    try:
        for lead_id in lead_ids:
            with rt.db.transaction() as session:
                lead = session.get(Lead, lead_id)
                assert lead is not None
                outcome = decide(session, rt, lead_id=lead_id, version=lead.version, user_id=SANNE, accept=True)
                assert outcome.status == "done", outcome
            answers = DiscoveryInput(met=met, notes={}, next_steps="Offerte", opportunity_ref=f"OPP-{lead_id}")
            with rt.db.transaction() as session:
                result = complete_discovery(session, rt, lead_id=lead_id, user_id=SANNE, answers=answers)
                assert result.done, result
            with rt.db.transaction() as session:
                result = mark_opportunity(session, rt, lead_id=lead_id, user_id=SANNE)
                assert result.done, result
    finally:
        rt.db.dispose()


def lead_stages(url: str) -> dict[int, str]:
    db = Database(url)
    try:
        with db.transaction() as session:
            return {lead_id: stage for lead_id, stage in session.execute(select(Lead.id, Lead.stage))}
    finally:
        db.dispose()


def closing_transitions(url: str) -> list[int]:
    db = Database(url)
    try:
        with db.transaction() as session:
            return list(session.scalars(select(LeadTransition.lead_id).where(
                LeadTransition.to_stage.in_([Stage.WON.value, Stage.LOST.value]))))
    finally:
        db.dispose()


def test_web_killed_during_outcome_clicks(tmp_path: Path, schema_url: str, seed: int) -> None:
    rng = random.Random(seed)
    # A slow card update keeps the card updates that the clicks send after their responses queued,
    # so that the kill finds clicks that got HTTP 200 whose card updates have not gone out.
    config, slack, env, port, web = start_slow_card_updates(tmp_path, schema_url)
    processes: list[Proc | SlackProcess] = [web, slack]
    try:
        lead_ids = post_leads_with_cards(port, schema_url, web, prefix="W")
        bring_to_opportunity(schema_url, config, slack, lead_ids)
        # The clock process sends the card updates of those steps before the clicks start, so that
        # the only card updates in flight at the kill are those of Won and Lost clicks.
        setup_clock = start("clock-setup", ["clock"], env, tmp_path)
        processes.append(setup_clock)
        wait_until(lambda: outbox_settled(schema_url), timeout=60,
                   message=lambda: f"seed {seed}: card updates of the setup still pending\n{setup_clock.tail()}")
        setup_clock.stop()

        # Even positions are won, odd positions lost, so that both listeners run during the kill.
        clicked = {lead_id: Stage.WON if index % 2 == 0 else Stage.LOST for index, lead_id in enumerate(lead_ids)}
        db = Database(schema_url)
        with db.transaction() as session:
            cards = list(session.scalars(select(Lead).where(Lead.id.in_(lead_ids)).order_by(Lead.id)))
            clicks = [card_click(ActionId.WON if clicked[lead.id] is Stage.WON else ActionId.LOST, lead.id,
                                 lead.version, SANNE, lead.card_channel or "", lead.card_ts or "") for lead in cards]
        db.dispose()
        assert lead_stages(schema_url) == dict.fromkeys(lead_ids, Stage.OPPORTUNITY.value)

        kill_after = rng.randint(1, CLICK_LEADS)
        context = f"seed {seed}: web process killed after {kill_after} of {CLICK_LEADS} Won/Lost responses"
        answers = click_then_kill(port, web, clicks, kill_after)
        context += f"; statuses of the first clicks {Counter(answers)}"

        # The listener commits the outcome before Slack gets its response, so every click that got
        # HTTP 200 is stored when the process dies, before any second click or restarted process.
        answered = [lead.id for lead, answer in zip(cards, answers, strict=True) if answer == 200]
        stages = lead_stages(schema_url)
        lost_clicks = {lead_id: stages[lead_id] for lead_id in answered if stages[lead_id] != clicked[lead_id].value}
        assert lost_clicks == {}, (f"{context}: {len(lost_clicks)} of {len(answered)} clicks that got HTTP 200 "
                                   f"were lost; stage by lead: {lost_clicks}")

        web = start_web("web-restarted", env, tmp_path, port)
        processes.append(web)
        expire_claims(schema_url)
        clock = start("clock", ["clock"], env, tmp_path)
        processes.append(clock)
        # A click without a response showed the rep an error, so the rep clicks again. A rep may also
        # click again after a response. Each lead must still close once, as first clicked.
        for body in clicks:
            assert post_slack(port, body) == 200, context
        expected = {lead_id: stage.value for lead_id, stage in clicked.items()}

        def closed_as_clicked() -> bool:
            return lead_stages(schema_url) == expected and outbox_settled(schema_url)

        wait_until(closed_as_clicked, timeout=60,
                   message=lambda: f"{context}: stages {Counter(lead_stages(schema_url).values())}\n{clock.tail()}")
        closed = Counter(closing_transitions(schema_url))
        assert all(closed[lead_id] == 1 for lead_id in lead_ids), f"{context}: won/lost transitions {closed}"
        assert_delivered_once(schema_url, slack, WEB_THREADS, context, ("chat.postMessage", "chat.update"))
    finally:
        for process in processes:
            process.stop()


# ---- clock process during a sweep and a send -------------------------------------------------------

CLOCK_LEADS = 60


def add_leads_with_due_alerts(url: str, config: Path, slack: SlackProcess) -> None:
    """Store MQLs whose first-contact reminders and escalations are all due a few seconds later."""
    rt = in_process_runtime(url, config, slack)
    try:
        with rt.db.transaction() as session:
            for number in range(CLOCK_LEADS):
                data = LeadInput.model_validate(lead_payload(number, rep_email=REP_EMAILS[number % 4], prefix="C"))
                ingest(session, rt, data, actor="test")
    finally:
        rt.db.dispose()


@pytest.mark.parametrize("phase", ["sweep", "send"])
def test_clock_killed_then_restarted(tmp_path: Path, schema_url: str, slack: SlackProcess, seed: int,
                                     phase: str) -> None:
    rng = random.Random(seed)
    config = write_config(tmp_path, first_contact_seconds=2.0)
    env = bot_environment(database_url=schema_url, slack_api_url=slack.base_url, config=config)
    add_leads_with_due_alerts(schema_url, config, slack)
    time.sleep(2.5)  # every first-contact alert of every lead is due now

    alerts = select(func.count()).select_from(OutboxItem).where(OutboxItem.kind.in_(["reminder", "escalation"]))
    sent = select(func.count()).select_from(OutboxItem).where(OutboxItem.status == "sent")
    # Up to two reminders are skipped when an escalation overtakes them, so 2 alerts per lead are certain.
    threshold = rng.randrange(1, 2 * CLOCK_LEADS) if phase == "sweep" else rng.randrange(1, CLOCK_LEADS * 3)
    context = f"seed {seed}: clock killed after {threshold} items {'enqueued' if phase == 'sweep' else 'sent'}"
    statement = alerts if phase == "sweep" else sent
    first = start("clock-killed", ["clock"], env, tmp_path)
    processes = [first]
    try:
        killed = kill_when(first, lambda: count(schema_url, statement) >= threshold, timeout=60, context=context)
        assert killed, f"{context}: the clock process ended by itself\n{first.tail()}"
        expire_claims(schema_url)
        second = start("clock-restarted", ["clock"], env, tmp_path)
        processes.append(second)

        def done() -> bool:
            pending = count(schema_url, select(func.count()).select_from(OutboxItem).where(OutboxItem.status == "pending"))
            due = count(schema_url, select(func.count()).select_from(SlaClock).where(
                SlaClock.status == "running", SlaClock.kind == "first_contact", SlaClock.next_alert_at.is_not(None)))
            return pending == 0 and due == 0

        wait_until(done, timeout=90, message=lambda: f"{context}: work left after the restart\n{second.tail()}")
    finally:
        for process in processes:
            process.stop()

    db = Database(schema_url)
    try:
        with db.transaction() as session:
            clocks = list(session.scalars(select(SlaClock).where(SlaClock.kind == "first_contact")))
            keys = set(session.scalars(select(OutboxItem.dedupe_key).where(OutboxItem.kind == "escalation")))
    finally:
        db.dispose()
    assert len(clocks) == CLOCK_LEADS
    for clock in clocks:
        for entry in clock.schedule:
            if entry["kind"] == "escalation":
                key = f"sla:{clock.lead_id}:first_contact:{clock.generation}:{entry['step']}"
                assert key in keys, f"{context}: escalation {key} lost"
    assert_delivered_once(schema_url, slack, 1, context)


def children_of(pid: int) -> list[tuple[int, str]]:
    """Return the pid and command line of each live process whose parent is `pid`, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The fields after the command name, which is in parentheses and may hold spaces: state, ppid, ...
            state, parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        if int(parent) == pid and state != "Z":
            found.append((int(entry.name), command))
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended and waits for its new parent to reap it


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from Linux's /proc")
def test_builtin_clock_dies_with_web(tmp_path: Path, schema_url: str, slack: SlackProcess) -> None:
    config = write_config(tmp_path)
    env = bot_environment(database_url=schema_url, slack_api_url=slack.base_url, config=config)
    port = free_port()
    # Without --no-clock, `handoff web` starts a clock process of its own.
    web = start("web-with-clock", ["web"], {**env, "PORT": str(port)}, tmp_path)
    try:
        wait_healthy(port, web)
        clocks: list[int] = []

        def clock_started() -> bool:
            clocks[:] = [pid for pid, command in children_of(web.popen.pid) if "bot.cli clock" in command]
            return bool(clocks)

        wait_until(clock_started, timeout=30, message=lambda: web.tail())
        # Only the web process is killed, not its process group: its `finally` never runs.
        os.kill(web.popen.pid, signal.SIGKILL)
        web.popen.wait(timeout=10)
        wait_until(lambda: not alive(clocks[0]), timeout=10,
                   message=lambda: f"the clock process {clocks[0]} outlived its web process\n{web.tail()}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(web.popen.pid, signal.SIGKILL)


def test_cli_module_runs() -> None:
    # The processes run `sys.executable -m bot.cli`; a missing entry point would fail every test above late.
    result = subprocess.run([sys.executable, "-m", "bot.cli", "--help"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert result.returncode == 0, result.stderr
    assert "clock" in result.stdout
