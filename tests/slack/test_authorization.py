"""Who may do what: every action and command, for every role, through the real Bolt app.

Each case sends the signed request that Slack would send for one role. It
checks the effect (whether the lead, clock, contest or setting changed) and
the text the user reads (a denial in the user's own language, or none).

The roles come from examples/handoff.example.yml plus one admin:

| role          | Slack id     | who                                              | language |
| owner         | U0SANNEDV1   | Sanne, the rep the lead is assigned to           | nl       |
| other_rep     | U0DAANBKR1   | Daan, a rep in the same team                     | en       |
| manager       | U0EVAVSR01   | Eva, Sanne's manager                             | nl       |
| other_manager | U0MARCCLS1   | Marc, the Belgian team's manager                 | nl       |
| admin         | U0ADMIN0001  | listed under `admins`                            | nl       |
| unknown       | U0STRANGER1  | a workspace member outside the configuration     | nl       |

Authorization does not depend on the database, so these cases run on SQLite only.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import FixedClock
from bot.config import HandoffConfig
from bot.contests import open_contest
from bot.handoff import decide
from bot.i18n import t
from bot.ids import ActionId, CallbackId, LeadRef
from bot.runtime import Runtime
from bot.sales import DiscoveryInput, complete_discovery, mark_opportunity
from bot.slack_standin.interactions import (
    block_action_body,
    button_action,
    checkbox_values,
    date_value,
    select_value,
    slash_command_body,
    text_value,
)
from harness import Harness, Reply
from storage.db import Database
from storage.models import ClockSnooze, Lead, LeadTransition, RejectionContest, SlaClock, UserSetting
from support import make_settings

OWNER = "U0SANNEDV1"
OTHER_REP = "U0DAANBKR1"
MANAGER = "U0EVAVSR01"
OTHER_MANAGER = "U0MARCCLS1"
ADMIN = "U0ADMIN0001"
UNKNOWN = "U0STRANGER1"
MARKETER = "U0MARKETER1"
MARKETING_CHANNEL = "C0SALES001"

ROLES = {
    "owner": OWNER, "other_rep": OTHER_REP, "manager": MANAGER,
    "other_manager": OTHER_MANAGER, "admin": ADMIN, "unknown": UNKNOWN,
}
LANGUAGE = {OWNER: "nl", OTHER_REP: "en", MANAGER: "nl", OTHER_MANAGER: "nl", ADMIN: "nl", UNKNOWN: "nl"}
WAIT_SECONDS = 15.0

EVERYONE = frozenset(ROLES)
LEAD_TEAM = frozenset({"owner", "manager", "admin"})
MANAGERS = frozenset({"manager", "admin"})
CONFIGURED = frozenset(EVERYONE - {"unknown"})
OWNER_ONLY = frozenset({"owner"})


@pytest.fixture
def runtime(sqlite_db: Database, config: HandoffConfig, clock: FixedClock) -> Runtime:
    config.admins = [ADMIN]
    config.marketing_channel = MARKETING_CHANNEL
    return Runtime(settings=make_settings(sqlite_db.url), config=config, db=sqlite_db, clock=clock)


# ---- reading state --------------------------------------------------------------------------


def lead_row(harness: Harness, lead_id: int) -> Lead:
    return harness.stored(Lead, lead_id)


def wait_until(condition: Callable[[], bool], seconds: float = WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def ephemeral_texts(harness: Harness, user: str) -> list[str]:
    return [message["text"] for message in harness.slack.ephemeral_messages(user=user)]


# ---- bringing a lead to a stage, as its owner -------------------------------------------------


def new_mql(harness: Harness) -> int:
    return harness.add_lead(owner_email="sanne.devries@handoff-demo.nl", company="Rechten BV")


def new_sal(harness: Harness) -> int:
    lead_id = new_mql(harness)
    with harness.rt.db.transaction() as session:
        assert decide(session, harness.rt, lead_id=lead_id, version=2, user_id=OWNER, accept=True).status == "done"
    harness.sender.deliver_due()
    return lead_id


def new_sql(harness: Harness) -> int:
    lead_id = new_sal(harness)
    answers = DiscoveryInput(met={"budget": True, "authority": True, "need": True, "timeline": False}, notes={},
                             next_steps="Demo", opportunity_ref="OPP-1")
    with harness.rt.db.transaction() as session:
        assert complete_discovery(session, harness.rt, lead_id=lead_id, user_id=OWNER, answers=answers).done
    harness.sender.deliver_due()
    return lead_id


def new_opportunity(harness: Harness) -> int:
    lead_id = new_sql(harness)
    with harness.rt.db.transaction() as session:
        assert mark_opportunity(session, harness.rt, lead_id=lead_id, user_id=OWNER, reference="OPP-1").done
    harness.sender.deliver_due()
    return lead_id


def new_rejection(harness: Harness) -> int:
    lead_id = new_mql(harness)
    assert harness.reject(lead_id, OWNER, "incorrect_fit", note="Te klein").body == b""
    harness.sender.deliver_due()
    return lead_id


def latest_transition(harness: Harness, lead_id: int) -> int:
    with harness.rt.db.transaction() as session:
        return session.scalars(select(LeadTransition.id).where(LeadTransition.lead_id == lead_id)
                               .order_by(LeadTransition.id.desc()).limit(1)).one()


def new_contest(harness: Harness) -> int:
    lead_id = new_rejection(harness)
    with harness.rt.db.transaction() as session:
        result = open_contest(session, harness.rt, rejection_id=latest_transition(harness, lead_id),
                              user_id=MARKETER, comment="Ze hebben 80 medewerkers")
    assert result.status == "done"
    assert result.contest_id is not None
    harness.sender.deliver_due()
    return result.contest_id


def decision_clock(harness: Harness, lead_id: int) -> int:
    with harness.rt.db.transaction() as session:
        return session.scalars(select(SlaClock.id).where(SlaClock.lead_id == lead_id, SlaClock.kind == "decision")).one()


# ---- sending what Slack sends -------------------------------------------------------------------


def click(harness: Harness, user: str, action: dict[str, Any], lead_id: int | None = None) -> Reply:
    """Send a block action from the lead's card, or from a message in a channel when there is no card."""
    lead = lead_row(harness, lead_id) if lead_id is not None else None
    channel = (lead.card_channel if lead else None) or MARKETING_CHANNEL
    ts = (lead.card_ts if lead else None) or "1700000000.000100"
    body = block_action_body(user_id=user, action=action, channel_id=channel, message_ts=ts,
                             trigger_id=harness.slack.issue_trigger_id(user))
    return harness.slack_post(body)


def card_button(harness: Harness, user: str, lead_id: int, action_id: ActionId) -> Reply:
    version = lead_row(harness, lead_id).version
    return click(harness, user, button_action(action_id.value, LeadRef(lead=lead_id, v=version).encode()), lead_id)


def modal_meta(harness: Harness, lead_id: int) -> str:
    return json.dumps({"lead": lead_id, "v": lead_row(harness, lead_id).version})


def command(harness: Harness, user: str, name: str, text: str) -> dict[str, Any]:
    """Send a signed slash command and return what the bot posted to its response_url."""
    token = uuid.uuid4().hex
    body = slash_command_body(command=name, text=text, user_id=user, channel_id=MARKETING_CHANNEL,
                              response_url=harness.slack.root_url + "response/" + token)
    assert harness.slack_post(body).status == 200
    return harness.slack.wait_for("response_url", lambda call: call.params["response_token"] == token).params


# ---- the cases ----------------------------------------------------------------------------------


@dataclass
class Attempt:
    """What one role's request did: whether the state changed, and the text the user read."""

    changed: bool
    answer: str | None


def clicked(harness: Harness, user: str, changed: Callable[[], bool]) -> Attempt:
    """Wait for a click's effect, which Bolt runs after the acknowledgement, or for a reply to the user."""
    wait_until(lambda: changed() or bool(ephemeral_texts(harness, user)))
    texts = ephemeral_texts(harness, user)
    return Attempt(changed(), texts[-1] if texts else None)


def submitted(reply: Reply, changed: bool) -> Attempt:
    """Read a modal submission's response: an empty body closes the modal, errors name a block."""
    assert reply.status == 200
    errors = reply.json()["errors"] if reply.body else {}
    return Attempt(changed, " ".join(errors.values()) or None)


def accept(harness: Harness, user: str) -> Attempt:
    lead_id = new_mql(harness)
    card_button(harness, user, lead_id, ActionId.ACCEPT)
    return clicked(harness, user, lambda: lead_row(harness, lead_id).stage == "sal")


def reject(harness: Harness, user: str) -> Attempt:
    lead_id = new_mql(harness)
    reply = harness.reject(lead_id, user, "incorrect_fit", note="Geen fit")
    return submitted(reply, lead_row(harness, lead_id).stage == "rejected")


def log_contact(harness: Harness, user: str) -> Attempt:
    lead_id = new_mql(harness)
    reply = harness.submit_view(user, "contact_modal", modal_meta(harness, lead_id), select_value("channel", "call"))
    return submitted(reply, (lead_row(harness, lead_id).contact_attempts or 0) == 1)


def schedule_discovery(harness: Harness, user: str) -> Attempt:
    lead_id = new_sal(harness)
    click(harness, user, {"type": "datepicker", "action_id": ActionId.DISCOVERY_DATE.value,
                          "selected_date": "2025-04-02"}, lead_id)
    return clicked(harness, user, lambda: lead_row(harness, lead_id).discovery_date == date(2025, 4, 2))


def complete_discovery_modal(harness: Harness, user: str) -> Attempt:
    lead_id = new_sal(harness)
    reply = harness.submit_view(user, "discovery_modal", modal_meta(harness, lead_id), {
        **checkbox_values("criteria", ["budget", "need", "timeline"]),
        **text_value("next_steps", "Demo op 10 april"), **text_value("opportunity_ref", "OPP-9")})
    return submitted(reply, lead_row(harness, lead_id).stage == "sql")


def return_to_nurture(harness: Harness, user: str) -> Attempt:
    lead_id = new_sal(harness)
    reply = harness.submit_view(user, "nurture_modal", modal_meta(harness, lead_id), {
        **text_value("nurture_reason", "Geen budget"), **date_value("nurture_until", "2025-06-02")})
    return submitted(reply, lead_row(harness, lead_id).stage == "nurture")


def mark_opportunity_modal(harness: Harness, user: str) -> Attempt:
    lead_id = new_sql(harness)
    reply = harness.submit_view(user, "opportunity_modal", modal_meta(harness, lead_id),
                                text_value("opportunity_ref", "OPP-1"))
    return submitted(reply, lead_row(harness, lead_id).stage == "opportunity")


def won(harness: Harness, user: str) -> Attempt:
    lead_id = new_opportunity(harness)
    card_button(harness, user, lead_id, ActionId.WON)
    return clicked(harness, user, lambda: lead_row(harness, lead_id).stage == "won")


def lost(harness: Harness, user: str) -> Attempt:
    lead_id = new_opportunity(harness)
    card_button(harness, user, lead_id, ActionId.LOST)
    return clicked(harness, user, lambda: lead_row(harness, lead_id).stage == "lost")


def reassign(harness: Harness, user: str) -> Attempt:
    lead_id = new_mql(harness)
    click(harness, user, {"type": "static_select", "action_id": ActionId.REASSIGN.value,
                          "selected_option": {"value": f"{lead_id}|lotte.peeters@handoff-demo.be"}})
    return clicked(harness, user, lambda: lead_row(harness, lead_id).rep_email == "lotte.peeters@handoff-demo.be")


def acknowledge_escalation(harness: Harness, user: str) -> Attempt:
    clock_id = decision_clock(harness, new_mql(harness))

    def acknowledged() -> bool:
        with harness.rt.db.transaction() as session:
            return session.get(SlaClock, clock_id).acknowledged_by is not None  # type: ignore[union-attr]

    click(harness, user, button_action(ActionId.ACKNOWLEDGE.value, str(clock_id)))
    # The click always gets an ephemeral reply, also when it is allowed, so wait for that reply.
    wait_until(lambda: bool(ephemeral_texts(harness, user)))
    texts = ephemeral_texts(harness, user)
    confirmation = t(LANGUAGE[user], "escalation.acknowledged", user=f"<@{user}>")
    answer = texts[-1] if texts and texts[-1] != confirmation else None
    return Attempt(acknowledged(), answer)


def contest(harness: Harness, user: str) -> Attempt:
    lead_id = new_rejection(harness)
    reply = harness.submit_view(user, "contest_modal", str(latest_transition(harness, lead_id)),
                                text_value("comment", "Ze zijn wel groot genoeg"))
    with harness.rt.db.transaction() as session:
        opened = session.scalar(select(RejectionContest.id).where(RejectionContest.lead_id == lead_id)) is not None
    return submitted(reply, opened)


def rule(harness: Harness, user: str, action_id: ActionId, status: str) -> Attempt:
    contest_id = new_contest(harness)

    def ruled() -> bool:
        with harness.rt.db.transaction() as session:
            return session.get(RejectionContest, contest_id).status == status  # type: ignore[union-attr]

    click(harness, user, button_action(action_id.value, str(contest_id)))
    return clicked(harness, user, ruled)


def uphold(harness: Harness, user: str) -> Attempt:
    return rule(harness, user, ActionId.UPHOLD, "upheld")


def overturn(harness: Harness, user: str) -> Attempt:
    return rule(harness, user, ActionId.OVERTURN, "overturned")


def funnel_command(harness: Harness, user: str) -> Attempt:
    new_mql(harness)
    answer = command(harness, user, "/funnel", "")
    # The report is posted in the channel; only help and bad arguments stay private.
    return Attempt(answer["response_type"] == "in_channel", None)


def sla_command(harness: Harness, user: str) -> Attempt:
    new_mql(harness)
    answer = command(harness, user, "/sla", "")
    shown = bool(answer.get("blocks"))
    return Attempt(shown, None if shown else answer["text"])


def lead_command(harness: Harness, user: str) -> Attempt:
    lead_id = new_mql(harness)
    answer = command(harness, user, "/lead", str(lead_id))
    shown = f"Lead {lead_id}:" in json.dumps(answer.get("blocks") or [])
    return Attempt(shown, None if shown else answer["text"])


def handoff_command(harness: Harness, user: str) -> Attempt:
    answer = command(harness, user, "/handoff", "taal en")
    with harness.rt.db.transaction() as session:
        chosen = session.scalar(select(UserSetting.language).where(UserSetting.slack_user_id == user))
    return Attempt(chosen == "en", None if chosen == "en" else answer["text"])


def control_answer(harness: Harness, user: str) -> str | None:
    """Return the refusal the user read after a snooze click, or None: allowed clicks get a confirmation."""
    wait_until(lambda: bool(ephemeral_texts(harness, user)))
    texts = ephemeral_texts(harness, user)
    refusal = t(LANGUAGE[user], "sla.control.not_owner", owner=f"<@{OWNER}>")
    return texts[-1] if texts and texts[-1] == refusal else None


def snooze_reminder(harness: Harness, user: str) -> Attempt:
    clock_id = decision_clock(harness, new_mql(harness))
    click(harness, user, {"type": "static_select", "action_id": ActionId.SNOOZE.value,
                          "selected_option": {"value": f"{clock_id}|0|day"}})
    answer = control_answer(harness, user)
    with harness.rt.db.transaction() as session:
        snoozed = session.scalar(select(ClockSnooze.id).where(ClockSnooze.clock_id == clock_id)) is not None
    return Attempt(snoozed, answer)


def pause_clock(harness: Harness, user: str) -> Attempt:
    clock_id = decision_clock(harness, new_mql(harness))
    reply = harness.submit_view(user, CallbackId.PAUSE.value, str(clock_id), select_value("reason", "waiting_for_customer"))
    with harness.rt.db.transaction() as session:
        paused = session.get(SlaClock, clock_id).status == "paused"  # type: ignore[union-attr]
    return submitted(reply, paused)


LEAD_DENIAL = ("action.not_allowed", {"allowed": f"<@{OWNER}>, <@{MANAGER}>"})


@dataclass(frozen=True)
class Case:
    """One row of the table: the action, the roles that may use it, and the denial text key."""

    name: str
    run: Callable[[Harness, str], Attempt]
    allowed: frozenset[str]
    denial: tuple[str, dict[str, str]] | None


CASES = [
    Case("accept", accept, LEAD_TEAM, LEAD_DENIAL),
    Case("reject", reject, LEAD_TEAM, LEAD_DENIAL),
    Case("log_contact", log_contact, LEAD_TEAM, LEAD_DENIAL),
    Case("schedule_discovery", schedule_discovery, LEAD_TEAM, LEAD_DENIAL),
    Case("complete_discovery", complete_discovery_modal, LEAD_TEAM, LEAD_DENIAL),
    Case("return_to_nurture", return_to_nurture, LEAD_TEAM, LEAD_DENIAL),
    Case("mark_opportunity", mark_opportunity_modal, LEAD_TEAM, LEAD_DENIAL),
    Case("won", won, LEAD_TEAM, LEAD_DENIAL),
    Case("lost", lost, LEAD_TEAM, LEAD_DENIAL),
    Case("reassign", reassign, MANAGERS, ("sales.manager_only", {})),
    Case("acknowledge_escalation", acknowledge_escalation, MANAGERS, ("escalation.not_allowed", {})),
    # Snooze and Pause sit on the owner's own reminders; a manager resumes, but does not pause.
    Case("snooze_reminder", snooze_reminder, OWNER_ONLY, ("sla.control.not_owner", {"owner": f"<@{OWNER}>"})),
    Case("pause_clock", pause_clock, OWNER_ONLY, ("sla.control.not_owner", {"owner": f"<@{OWNER}>"})),
    # Marketers are not in the configuration, so anyone in the workspace may contest a rejection.
    Case("contest", contest, EVERYONE, None),
    Case("uphold", uphold, MANAGERS, ("contest.manager_only", {})),
    Case("overturn", overturn, MANAGERS, ("contest.manager_only", {})),
    Case("/funnel", funnel_command, EVERYONE, None),
    Case("/sla", sla_command, CONFIGURED, ("sla.not_allowed", {})),
    Case("/lead", lead_command, CONFIGURED, ("lead.not_allowed", {})),
    Case("/handoff", handoff_command, EVERYONE, None),
]


TABLE = [pytest.param(case, role, id=f"{case.name}-{role}") for case in CASES for role in ROLES]


@pytest.mark.parametrize(("case", "role"), TABLE)
def test_authorization_table(harness: Harness, case: Case, role: str) -> None:
    user = ROLES[role]
    attempt = case.run(harness, user)
    if role in case.allowed:
        assert attempt.changed, f"{case.name} by {role} should take effect"
        assert attempt.answer is None, f"{case.name} by {role} should not be refused: {attempt.answer!r}"
        return
    assert case.denial is not None
    key, values = case.denial
    assert not attempt.changed, f"{case.name} by {role} must change nothing"
    assert attempt.answer == t(LANGUAGE[user], key, **values)


def test_denials_exist_in_both_languages() -> None:
    for case in CASES:
        if case.denial is None:
            continue
        key, values = case.denial
        assert t("nl", key, **values) != t("en", key, **values), key


def authorization_markdown() -> str:
    """Draw the table of who may do what as Markdown, for the README."""
    header = "| action | " + " | ".join(ROLES) + " |"
    lines = [header, "| --- |" + " :---: |" * len(ROLES)]
    for case in CASES:
        marks = ["yes" if role in case.allowed else "no" for role in ROLES]
        lines.append(f"| {case.name} | " + " | ".join(marks) + " |")
    return "\n".join(lines)


def test_markdown_table_has_a_row_per_case() -> None:
    rows = authorization_markdown().splitlines()
    assert len(rows) == 2 + len(CASES)
    assert rows[2] == "| accept | yes | no | yes | no | yes | no |"
