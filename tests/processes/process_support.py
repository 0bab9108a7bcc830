"""Start the bot as real processes on loopback, talk to them as Slack and a CRM would, and read the results.

The processes are `handoff web --no-clock`, `handoff clock` and `handoff import`
from bot/cli.py, unchanged, and the Slack stand-in in a process of its own
(slack_standin_process.py). Each runs in its own session, so that SIGKILL
reaches gunicorn's master and workers at once, as a crashed host would.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text

from bot.ids import ActionId, LeadRef
from bot.intake.signing import sign
from bot.slack_standin.interactions import block_action_body, button_action, signed_headers
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Lead, OutboxItem

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[2]
STANDIN_SCRIPT = Path(__file__).with_name("slack_standin_process.py")
SIGNING_SECRET = "process-test-signing-secret"
WEBHOOK_SECRET = "process-test-webhook-secret"
BOT_TOKEN = "xoxb-process-test"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0

SANNE = "U0SANNEDV1"
EVA = "U0EVAVSR01"
HEAD_OF_SALES_CHANNEL = "C0HEADSALE1"
REP_EMAILS = ("sanne.devries@handoff-demo.nl", "daan.bakker@handoff-demo.nl",
              "pieter.janssens@handoff-demo.be", "lotte.peeters@handoff-demo.be")

# Every hour of every day is working time and there are no holidays, so that working-time
# deadlines of a few seconds fall due in real time while the processes run.
ALWAYS = '["00:00-24:00"]'
CONFIG_TEMPLATE = """\
teams:
  - id: benelux-nl
    name: Sales Nederland
    territory: [NL, LU]
    calendar:
      timezone: Europe/Amsterdam
      working_hours: {{mon: {always}, tue: {always}, wed: {always}, thu: {always}, fri: {always}, sat: {always}, sun: {always}}}
      holiday_country: null
  - id: benelux-be
    name: Sales Belgie
    territory: [BE]
    calendar:
      timezone: Europe/Brussels
      working_hours: {{mon: {always}, tue: {always}, wed: {always}, thu: {always}, fri: {always}, sat: {always}, sun: {always}}}
      holiday_country: null
managers:
  - {{name: Eva Visser, email: eva.visser@handoff-demo.nl, slack_user_id: U0EVAVSR01, timezone: Europe/Amsterdam}}
  - {{name: Marc Claes, email: marc.claes@handoff-demo.be, slack_user_id: U0MARCCLS1, timezone: Europe/Brussels}}
reps:
  - {{name: Sanne de Vries, email: sanne.devries@handoff-demo.nl, slack_user_id: U0SANNEDV1, team: benelux-nl,
     manager: eva.visser@handoff-demo.nl, territory: [NL], timezone: Europe/Amsterdam}}
  - {{name: Daan Bakker, email: daan.bakker@handoff-demo.nl, slack_user_id: U0DAANBKR1, team: benelux-nl,
     manager: eva.visser@handoff-demo.nl, territory: [NL, LU], language: en, timezone: Europe/Amsterdam}}
  - {{name: Pieter Janssens, email: pieter.janssens@handoff-demo.be, slack_user_id: U0PIETERJ1, team: benelux-be,
     manager: marc.claes@handoff-demo.be, territory: [BE], timezone: Europe/Brussels}}
  - {{name: Lotte Peeters, email: lotte.peeters@handoff-demo.be, slack_user_id: U0LOTTEPT1, team: benelux-be,
     manager: marc.claes@handoff-demo.be, territory: [BE], timezone: Europe/Brussels}}
fallback_owner: sanne.devries@handoff-demo.nl
admins: []
marketing_channel: null
criteria:
  fit:
    employees: {{min: 50, max: 1000}}
    industries: [Manufacturing, Packaging]
    countries: [NL, BE, LU]
  engagement:
    min_score: 50
    require: score
sla:
  decision_working_days: 1
  first_contact_working_hours: {first_contact_hours}
  reminders:
    halfway: true
    before_due_working_hours: [{before_due_hours}]
  escalation:
    chain: [manager, {head_of_sales}]
    delay_working_hours: {escalation_delay_hours}
"""


def write_config(folder: Path, *, first_contact_seconds: float = 18.0) -> Path:
    """Write a handoff.yml whose first-contact clock runs out `first_contact_seconds` after an MQL.

    The clock reminds the rep halfway and 20 % before the deadline, escalates to the
    manager at the deadline and to the head of sales' channel 20 % later.
    """
    hours = first_contact_seconds / 3600
    path = folder / "handoff.yml"
    path.write_text(CONFIG_TEMPLATE.format(
        always=ALWAYS, first_contact_hours=f"{hours:.6f}", before_due_hours=f"{hours * 0.2:.6f}",
        escalation_delay_hours=f"{hours * 0.2:.6f}", head_of_sales=HEAD_OF_SALES_CHANNEL), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], *, timeout: float, message: Callable[[], str] | str) -> None:
    """Poll `condition` until it holds; raise AssertionError with `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    if condition():
        return
    raise AssertionError(message() if callable(message) else message)


# ---- databases ----------------------------------------------------------------------------------


@contextmanager
def postgres_schema(server_url: str) -> Iterator[str]:
    """Create a PostgreSQL schema of its own, migrated to the newest revision; drop it afterwards."""
    schema = f"handoff_proc_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in server_url else "?"
    url = f"{server_url}{separator}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


# ---- processes ----------------------------------------------------------------------------------


@dataclass
class Proc:
    """A process started by a test, with the file that receives its output."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no output)"

    def kill(self) -> None:
        """Send SIGKILL to the process and everything it started, as a crash of the host would."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()


def bot_environment(*, database_url: str, slack_api_url: str, config: Path, port: int = 3000, workers: int = 1,
                    sweep_interval_seconds: int = 1) -> dict[str, str]:
    """Build the environment of a bot process, without the caller's Slack, handoff and database settings."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SLACK_", "HANDOFF_", "DATABASE_URL", "WEB_", "SWEEP_", "LOG_LEVEL", "OUTBOX_"))}
    env.update({
        "PYTHONPATH": str(REPO),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api_url,
        "HANDOFF_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DATABASE_URL": database_url,
        "HANDOFF_CONFIG": str(config),
        "HOST": HOST,
        "PORT": str(port),
        "WEB_WORKERS": str(workers),
        "SWEEP_INTERVAL_SECONDS": str(sweep_interval_seconds),
        # Slack's pace of one message per second per channel would make the test wait for
        # minutes; the stand-in has no such limit.
        "OUTBOX_CHANNEL_INTERVAL_SECONDS": "0",
        "LOG_LEVEL": "INFO",
    })
    return env


def start(name: str, args: list[str], env: dict[str, str], workdir: Path) -> Proc:
    """Start `python -m bot.cli ARGS` in `workdir`, where no .env file of the repository is read."""
    log = workdir / f"{name}.log"
    with log.open("ab") as output:
        popen = subprocess.Popen([sys.executable, "-m", "bot.cli", *args], env=env, cwd=workdir,
                                 stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    return Proc(name, popen, log)


def start_web(name: str, env: dict[str, str], workdir: Path, port: int) -> Proc:
    web = start(name, ["web", "--no-clock"], {**env, "PORT": str(port)}, workdir)
    wait_healthy(port, web)
    return web


def wait_healthy(port: int, web: Proc) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if web.popen.poll() is not None:
            raise AssertionError(f"{web.name} exited with {web.popen.returncode}:\n{web.tail()}")
        try:
            status, body = request(port, "GET", "/healthz", b"", {}, timeout=2)
            if status == 200 and json.loads(body) == {"status": "ok"}:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{web.name} did not answer /healthz within {START_TIMEOUT_SECONDS:.0f} s:\n{web.tail()}")


class SlackProcess:
    """The Slack stand-in in a process of its own; `calls()` reads what it recorded."""

    def __init__(self, workdir: Path, *, latency: dict[str, float] | None = None) -> None:
        """Start the stand-in; `latency` delays the responses of the Web API methods it names, in seconds."""
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.log = workdir / "slack.log"
        delays = [f"{method}={seconds}" for method, seconds in (latency or {}).items()]
        with self.log.open("ab") as errors:
            self.popen = subprocess.Popen([sys.executable, str(STANDIN_SCRIPT), *delays], env=env, cwd=workdir,
                                          stdout=subprocess.PIPE, stderr=errors, start_new_session=True)
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline().decode().strip()
        if not line.startswith("port "):
            self.stop()
            raise AssertionError(f"the Slack stand-in did not start: {line!r}\n{self.log.read_text(errors='replace')}")
        self.port = int(line.split()[1])
        self.base_url = f"http://{HOST}:{self.port}/api/"

    def calls(self, method: str | None = None, *, ok_only: bool = True) -> list[dict[str, Any]]:
        status, body = request(self.port, "GET", "/_test/calls", b"", {}, timeout=30)
        assert status == 200, body[:200]
        return [call for call in json.loads(body)["calls"]
                if (method is None or call["method"] == method) and (not ok_only or call["response"].get("ok"))]

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=STOP_TIMEOUT_SECONDS)


# ---- HTTP as Slack and the CRM send it -----------------------------------------------------------


def request(port: int, method: str, path: str, body: bytes, headers: dict[str, str], *,
            timeout: float = 30) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def lead_payload(number: int, *, rep_email: str, prefix: str = "P") -> dict[str, Any]:
    """A lead that qualifies under the process tests' configuration, owned by `rep_email` in the CRM."""
    return {
        "source": "webhook", "external_id": f"{prefix}-{number}", "company": f"Procesproef {prefix}{number} BV",
        "email": f"inkoop{number}@procesproef-{prefix.lower()}{number}.nl", "industry": "Packaging",
        "employees": 200, "country": "NL", "lead_score": 80, "owner_email": rep_email,
        "last_activity_at": datetime.now(UTC).isoformat(),
    }


def post_leads(port: int, leads: list[dict[str, Any]]) -> tuple[int, Any]:
    """POST leads to /leads, signed with the webhook secret; return the status and the JSON response."""
    body = json.dumps({"leads": leads}).encode()
    stamp = int(time.time())
    headers = {"Content-Type": "application/json", "X-Handoff-Timestamp": str(stamp),
               "X-Handoff-Signature": sign(WEBHOOK_SECRET, stamp, body)}
    status, answer = request(port, "POST", "/leads", body, headers)
    return status, json.loads(answer) if answer else None


def post_slack(port: int, body: str, *, timeout: float = 30) -> int:
    """POST a form-encoded interaction to /slack/events, signed as Slack signs it; return the status."""
    status, _ = request(port, "POST", "/slack/events", body.encode(), signed_headers(SIGNING_SECRET, body),
                        timeout=timeout)
    return status


def accept_click(lead_id: int, version: int, user: str, channel: str, ts: str) -> str:
    return card_click(ActionId.ACCEPT, lead_id, version, user, channel, ts)


def card_click(action_id: ActionId, lead_id: int, version: int, user: str, channel: str, ts: str) -> str:
    """Build the interaction body of a click by `user` on the button `action_id` of a lead's card."""
    action = button_action(action_id.value, LeadRef(lead=lead_id, v=version).encode())
    return block_action_body(user_id=user, action=action, channel_id=channel, message_ts=ts)


# ---- comparing the outbox with what Slack received ------------------------------------------------


def outbox_key(arguments: dict[str, Any]) -> str | None:
    """Return the outbox key that the sender puts in a message's metadata, when it does."""
    metadata = arguments.get("metadata")
    payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
    key = payload.get("outbox_key") if isinstance(payload, dict) else None
    return key if isinstance(key, str) else None


@dataclass
class DeliveryCheck:
    """How often each sent outbox item reached Slack: by outbox key where the message carries it, else by text.

    A card, reminder or escalation names its lead in the text, so the text identifies
    a message when no key travels with it; two items with the same text
    are compared as a group. A card update is identified by the card it updates (channel
    and ts), because a click's update is stored as what to draw, without its text.
    """

    expected: Counter[tuple[str, str]]
    received: Counter[tuple[str, str]]
    unsent: list[tuple[int, str, str, str]]  # id, kind, status, dedupe key

    @property
    def doubled(self) -> dict[tuple[str, str], int]:
        return {key: count - self.expected[key] for key, count in self.received.items() if count > self.expected[key]}

    @property
    def missing(self) -> dict[tuple[str, str], int]:
        return {key: count - self.received[key] for key, count in self.expected.items() if count > self.received[key]}


def check_delivery(database_url: str, slack: SlackProcess, methods: tuple[str, ...] = ("chat.postMessage",)) -> DeliveryCheck:
    """Compare the outbox's sent messages with the stand-in's successful calls of `methods`."""
    received: Counter[tuple[str, str]] = Counter()
    for method in methods:
        for call in slack.calls(method):
            params = call["params"]
            key = outbox_key(params)
            if key:
                received[("key", key)] += 1
            elif method == "chat.update":
                received[(method, f"{params.get('channel')} {params.get('ts')}")] += 1
            else:
                received[(method, str(params.get("text") or ""))] += 1
    db = Database(database_url)
    try:
        with db.transaction() as session:
            items = list(session.execute(select(OutboxItem.id, OutboxItem.kind, OutboxItem.status,
                                                OutboxItem.dedupe_key, OutboxItem.method, OutboxItem.payload,
                                                Lead.card_channel, Lead.card_ts)
                                         .outerjoin(Lead, Lead.id == OutboxItem.lead_id)
                                         .where(OutboxItem.method.in_(methods))))
    finally:
        db.dispose()
    expected: Counter[tuple[str, str]] = Counter()
    unsent = []
    for item_id, kind, status, key, method, payload, card_channel, card_ts in items:
        if status != "sent":
            unsent.append((item_id, kind, status, key))
        elif ("key", key) in received:
            expected[("key", key)] += 1
        elif method == "chat.update":
            # An update whose card was not posted yet took the lead's card when it was sent.
            channel, ts = payload.get("channel") or card_channel, payload.get("ts") or card_ts
            expected[(method, f"{channel} {ts}")] += 1
        else:
            expected[(method, str(payload.get("text") or ""))] += 1
    return DeliveryCheck(expected, received, unsent)
