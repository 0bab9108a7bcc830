"""`handoff demo`: the whole loop on a bundled export, against the local Slack stand-in.

Nothing leaves the machine: the demo uses a temporary SQLite database, the
example configuration and the stand-in on 127.0.0.1, and prints what each rep
and manager would see in Slack.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, time as clock_time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from slack_bolt import BoltRequest
from slack_sdk import WebClient
from sqlalchemy import select

from bot.bootstrap import prepare_database
from bot.clock import FixedClock
from bot.config import load_config
from bot.ids import ActionId, CallbackId, LeadRef, reject_option_value
from bot.modals import ModalMeta
from bot.intake.importer import import_csv
from bot.intake.mapping import load_mapping
from bot.lifecycle import RejectionReason
from bot.preferences import set_user_language
from bot.runtime import Runtime
from bot.settings import Settings
from bot.sla.clocks import sweep
from bot.slack_standin import SlackStandin, render_text
from bot.slack_standin.interactions import (
    block_action_body,
    button_action,
    select_action,
    signed_headers,
    slash_command_body,
    view_submission_body,
)
from storage.db import Database
from storage.models import Lead

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEMO_CSV = EXAMPLES / "demo-leads.csv"
DEMO_CONFIG = EXAMPLES / "handoff.example.yml"
SIGNING_SECRET = "demo-signing-secret"
SALES_CHANNEL = "C0SALESDEMO"
RULE = "─" * 72


def _say(title: str) -> None:
    print(f"\n{RULE}\n{title}\n{RULE}")


def _latest_activity(path: Path) -> datetime:
    mapping = load_mapping("hubspot")
    from bot.intake.csv_reader import ParsedRow, read_leads

    moments = [r.lead.last_activity_at for r in read_leads(path, mapping) if isinstance(r, ParsedRow) and r.lead.last_activity_at]
    return max(moments) if moments else datetime.now(UTC)


def _start_moment(path: Path) -> datetime:
    """Return the working morning after the export's newest activity, so the example leads are recent."""
    zone = ZoneInfo("Europe/Amsterdam")
    day = _latest_activity(path).astimezone(zone).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, clock_time(10, 0), zone).astimezone(UTC)


class Demo:
    def __init__(self, workdir: Path, slack: SlackStandin, language: str) -> None:
        self.slack = slack
        self.clock = FixedClock(_start_moment(DEMO_CSV))
        url = f"sqlite:///{workdir / 'demo.db'}"
        prepare_database(url)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, slack_bot_token="xoxb-demo", slack_signing_secret=SIGNING_SECRET,
            slack_api_url=slack.base_url, database_url=url, default_language=language, handoff_config=DEMO_CONFIG,
        )
        self.rt = Runtime(settings=settings, config=load_config(DEMO_CONFIG), db=Database(url), clock=self.clock)
        from handlers.app import build_app

        # The people exist in the stand-in before the app starts, because it reads their time zones then.
        for person in [*self.rt.config.reps, *self.rt.config.managers]:
            slack.add_user(person.slack_user_id, email=person.email, real_name=person.name,
                           tz=self.rt.timezone_of(person))
        slack.add_channel(SALES_CHANNEL, "sales")
        self.client = WebClient(token="xoxb-demo", base_url=slack.base_url)
        self.app, self.sender = build_app(self.rt, self.client)
        with self.rt.db.transaction() as session:
            for person in [*self.rt.config.reps, *self.rt.config.managers]:
                set_user_language(session, person.slack_user_id, language, self.clock.now())

    def name(self, user_id: str) -> str:
        """Name the person behind a user id or their direct-message channel (D + user id here)."""
        person = self.rt.config.person_by_slack_id(user_id) or self.rt.config.person_by_slack_id(user_id[1:])
        return person.name if person else user_id

    def show_new_messages(self, since: int) -> int:
        calls = self.slack.calls()
        for call in calls[since:]:
            if call.method not in {"chat.postMessage", "chat.update", "chat.postEphemeral"}:
                continue
            if not call.response.get("ok"):
                continue
            params = call.params
            who = params.get("user") or params.get("channel", "?")
            verb = {"chat.postMessage": "receives", "chat.update": "sees the card change", "chat.postEphemeral": "alone sees"}[call.method]
            print(f"\n▶ {self.name(who)} {verb}:")
            print("  " + render_text({"text": params.get("text", ""), "blocks": params.get("blocks") or []}).replace("\n", "\n  "))
        return len(calls)

    def click(self, user_id: str, action: dict[str, object], lead_id: int) -> None:
        with self.rt.db.transaction() as session:
            lead = session.get(Lead, lead_id)
            assert lead is not None
            channel, ts = lead.card_channel or user_id, lead.card_ts or "0"
        body = block_action_body(user_id=user_id, action=action, channel_id=channel, message_ts=ts,
                                 trigger_id=self.slack.issue_trigger_id(user_id))
        before = len(self.slack.calls())
        response = self.app.dispatch(BoltRequest(body=body, headers=signed_headers(SIGNING_SECRET, body)))
        assert response.status == 200, response.body
        self._settle(before)

    def submit_rejection(self, user_id: str, lead_id: int, version: int, reason: RejectionReason, note: str,
                         values: dict[str, dict[str, object]] | None = None) -> None:
        """Submit the rejection modal that the reason picker opened, as Slack would."""
        state = {"note": {"note": {"type": "plain_text_input", "value": note}}, **(values or {})}
        body = view_submission_body(
            user_id=user_id, callback_id=CallbackId.REJECT.value,
            private_metadata=ModalMeta(lead=lead_id, v=version, reason=reason.value).encode(), values=state,
            blocks=[{"type": "input", "block_id": block_id} for block_id in state])
        before = len(self.slack.calls())
        response = self.app.dispatch(BoltRequest(body=body, headers=signed_headers(SIGNING_SECRET, body)))
        assert response.status == 200, response.body
        self._settle(before)

    def _settle(self, before: int) -> None:
        """Wait until the listener, which runs after the ack, has made its Slack calls."""
        deadline = time.monotonic() + 5
        last = -1
        while time.monotonic() < deadline:
            count = len(self.slack.calls())
            if count > before and count == last:
                return
            last = count
            time.sleep(0.2)

    def funnel(self, user_id: str, text: str) -> None:
        body = slash_command_body(command="/funnel", text=text, user_id=user_id, channel_id=SALES_CHANNEL,
                                  response_url=self.slack.root_url + "response/demo")
        before = len(self.slack.calls())
        response = self.app.dispatch(BoltRequest(body=body, headers=signed_headers(SIGNING_SECRET, body)))
        assert response.status == 200, response.body
        self._settle(before)


def run_demo(language: str = "nl") -> int:
    with tempfile.TemporaryDirectory(prefix="handoff-demo-") as workdir, SlackStandin() as slack:
        demo = Demo(Path(workdir), slack, language)
        rt = demo.rt
        print(f"Lead handoff demo: {DEMO_CSV.name} against a local Slack stand-in at {slack.base_url}")
        print(f"The clock stands at {demo.clock.now().astimezone(ZoneInfo('Europe/Amsterdam')):%A %d %B %Y %H:%M} (Amsterdam).")

        _say("1. Import the HubSpot export")
        report = import_csv(rt, DEMO_CSV, load_mapping("hubspot"))
        print(f"rows {report.rows}: new leads {report.created}, MQLs now {report.mqls}, "
              f"unreadable rows {len(report.errors)}")
        for error in report.errors:
            column = f" column {error.column!r}" if error.column else ""
            print(f"  line {error.line}{column}: {error.reason}")
        with rt.db.transaction() as session:
            stages = [stage for (stage,) in session.execute(select(Lead.stage))]
        print("Stages: " + ", ".join(f"{stage} {stages.count(stage)}" for stage in sorted(set(stages))))

        _say("2. Each rep gets a direct message per MQL")
        while demo.sender.deliver_due().sent:
            pass
        seen = demo.show_new_messages(0)

        with rt.db.transaction() as session:
            mqls = list(session.scalars(select(Lead).where(Lead.stage == "mql").order_by(Lead.id)))
        picks = {"accept": mqls[0], "reroute": mqls[1], "nurture": mqls[2], "stranger": mqls[3]}

        _say("3. Reps click: Accept, Reject (bad contact data), Reject (no budget)")
        for kind, reason in (("accept", None), ("reroute", RejectionReason.BAD_CONTACT_DATA),
                             ("nurture", RejectionReason.NO_BUDGET_TIMING)):
            lead = picks[kind]
            rep = rt.config.rep(lead.rep_email)
            assert rep is not None
            ref = LeadRef(lead=lead.id, v=lead.version)
            if reason is None:
                action = button_action(ActionId.ACCEPT.value, ref.encode())
            else:
                action = select_action(ActionId.REJECT.value, reject_option_value(ref, reason.value))
            print(f"\n{rep.name} clicks {'Accept' if reason is None else 'Reject: ' + reason.value} on lead {lead.id}")
            demo.click(rep.slack_user_id, action, lead.id)
            if reason is not None:
                opened = [call for call in slack.calls("views.open") if call.response.get("ok")]
                if opened:
                    print(f"  … a modal opens: {render_text(opened[-1].params['view']).splitlines()[0]}")
                extra = {}
                if reason is RejectionReason.NO_BUDGET_TIMING:
                    until = (demo.clock.now() + timedelta(days=120)).date().isoformat()
                    extra = {"nurture_until": {"nurture_until": {"type": "datepicker", "selected_date": until}}}
                demo.submit_rejection(rep.slack_user_id, lead.id, lead.version, reason,
                                      "Telefoonnummer onjuist" if reason is RejectionReason.BAD_CONTACT_DATA
                                      else "Budget pas in het nieuwe boekjaar", extra)
            seen = demo.show_new_messages(seen)

        stranger = picks["stranger"]
        outsider = next(r for r in rt.config.reps if r.email != stranger.rep_email and r.team != stranger.team_id)
        print(f"\n{outsider.name}, not the owner, clicks Accept on lead {stranger.id}")
        demo.click(outsider.slack_user_id, button_action(ActionId.ACCEPT.value, LeadRef(lead=stranger.id, v=stranger.version).encode()), stranger.id)
        seen = demo.show_new_messages(seen)

        _say("4. The clock: reminders before each deadline, escalations to the manager after it")
        calendar = rt.calendar(None)
        start = demo.clock.now()
        moments = (
            ("4 working hours later: no first contact yet", calendar.add_working_time(start, timedelta(hours=4))),
            ("halfway to the decision deadline", calendar.add_working_time(start, timedelta(hours=20))),
            ("past the decision deadline", calendar.add_working_days(start, 5)),
        )
        for label, moment in moments:
            demo.clock.set(moment)
            sweep(rt)
            while demo.sender.deliver_due().sent:
                pass
            print(f"\n— {label}: {demo.clock.now().astimezone(ZoneInfo('Europe/Amsterdam')):%A %d %B %H:%M}")
            seen = demo.show_new_messages(seen)

        _say("5. /funnel in #sales")
        demo.funnel("U0EVAVSR01", "month")
        for call in slack.calls()[seen:]:
            if call.method == "response_url":
                print(render_text({"text": call.params.get("text", ""), "blocks": call.params.get("blocks") or []}))
        rt.db.dispose()
    print("\nThat was the whole loop. Create the Slack app from manifest.yml to run it for real (see README.md).")
    return 0
