"""Property tests: malformed Slack interactions change no lead and never get a 500 response.

Signed `block_actions` payloads with wrong users, values, action ids, lead ids and
versions, and random `/funnel` texts, go through the real WSGI router and Bolt app.
The strict Slack stand-in records every call, so a message or modal with invalid
Block Kit shows up as a failed call.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.ids import ActionId, LeadRef
from bot.runtime import Runtime
from bot.slack_standin import SlackStandin
from bot.slack_standin.interactions import block_action_body, button_action, select_action, slash_command_body
from handlers.listener_work import ListenerWork
from harness import Harness, Reply
from storage.models import Lead

SANNE = "U0SANNEDV1"  # the rep who owns the fuzzed leads
EVA = "U0EVAVSR01"  # Sanne's manager
PIETER = "U0PIETERJ1"  # a rep of another team
DAAN = "U0DAANBKR1"  # a rep of Sanne's team
ALLOWED = {SANNE, EVA}  # the example configuration has no admins

# The strategies below repeat their plausible branch, so that about a tenth of the
# examples are valid decisions and the rest differ from one in a few places.
USERS = st.one_of(
    st.sampled_from(sorted(ALLOWED)),
    st.sampled_from(sorted(ALLOWED)),
    st.sampled_from([PIETER, DAAN, "U0NOBODY01", "", "u0sannedv1", f"{SANNE} ", "W0SANNEDV1"]),
    st.text(max_size=12),
)
ACTION_IDS = st.one_of(
    st.just(ActionId.ACCEPT.value),
    st.just(ActionId.ACCEPT.value),
    st.just(ActionId.REJECT.value),
    st.sampled_from(["lead_accept ", "LEAD_ACCEPT", "lead_acceptx", "", "unknown_action"]),
    st.text(max_size=20),
)
REASONS = st.one_of(
    st.sampled_from(["incorrect_fit", "bad_contact_data", "competitor", "not_decision_maker", "no_budget_timing",
                     "duplicate", "other"]),
    st.sampled_from(["", "COMPETITOR", "competitor ", "archive", "|"]),
    st.text(max_size=12),
)
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
HUGE_TEXT = st.builds(lambda text, count: text * count, st.sampled_from(["x", "{", "|", "9", "é"]),
                      st.sampled_from([3_001, 100_000]))


def lead_ids(lead_id: int) -> st.SearchStrategy[int]:
    return st.one_of(st.just(lead_id), st.just(lead_id), st.sampled_from(
        [lead_id + 10_000, 0, -1, 2**31 - 1, 2**31, 2**63, 10**30, -(10**30)]))


def versions(version: int) -> st.SearchStrategy[int]:
    return st.one_of(st.just(version), st.just(version), st.sampled_from([version - 1, version + 1, 0, -1, 2**63, 10**30]))


def values(lead_id: int, version: int) -> st.SearchStrategy[Any]:
    """Return button and option values: ours, ours with a wrong lead or version, and values that are not ours."""
    refs = st.builds(lambda lead, v: {"lead": lead, "v": v}, lead_ids(lead_id), versions(version))
    ours = json.dumps({"lead": lead_id, "v": version})
    return st.one_of(
        st.just(ours),
        st.just(ours),
        st.just(ours),
        refs.map(json.dumps),
        refs.map(json.dumps),
        refs.map(lambda ref: json.dumps({"v": ref["v"], "lead": str(ref["lead"])}, indent=1)),
        st.builds(lambda reason, lead, v: f"{reason}|{lead}|{v}", REASONS, lead_ids(lead_id), versions(version)),
        st.builds(lambda reason, lead, v: f"{reason}|{lead}|{v}", REASONS, lead_ids(lead_id), versions(version)),
        st.sampled_from(['{"lead": 1}', '{"lead": 1, "v": 2, "x": 3}', "null", "[]", "{", "", "1|2", "a|b|c",
                         "competitor|1|2|3", "competitor|٣|2", "competitor|²|2", '{"lead": "x", "v": 2}']),
        st.text(max_size=30),
        HUGE_TEXT,
        JUNK,
    )


@st.composite
def actions(draw: st.DrawFn, lead_id: int, version: int) -> dict[str, Any]:
    action_id = draw(ACTION_IDS)
    value = draw(values(lead_id, version))
    if draw(st.booleans()):
        action = button_action(action_id, "")
        action["value"] = value
    else:
        action = select_action(action_id, "")
        action["selected_option"]["value"] = value
    if draw(st.integers(0, 9)) == 0:
        # A select whose option is not an object, or a button whose value sits next to an option.
        action["selected_option"] = draw(st.one_of(JUNK, st.just({"value": value})))
    return action


# Changes to the payload that leave a decision valid, and changes that make it invalid.
HARMLESS = ["drop_channel", "drop_container", "drop_message", "drop_team", "drop_trigger", "junk_team",
            "junk_channel", "junk_container", "junk_message"]
BREAKING = ["drop_user", "user_as_text", "user_without_id", "user_id_not_text", "drop_type", "other_type"]


def mutate(payload: dict[str, Any], change: str, junk: Any) -> None:
    if change.startswith("drop_"):
        key = {"drop_trigger": "trigger_id"}.get(change, change.removeprefix("drop_"))
        payload.pop(key, None)
    elif change.startswith("junk_"):
        # Bolt evaluates `"id" in payload[key]`, which raises for numbers, so the tests below cover those.
        payload[change.removeprefix("junk_")] = junk if isinstance(junk, (str, list, dict)) or junk is None else str(junk)
    elif change == "user_as_text":
        user = payload.get("user")
        payload["user"] = user["id"] if isinstance(user, dict) and "id" in user else SANNE
    elif change == "user_without_id":
        payload["user"] = {"team_id": "T0HANDOFF"}
    elif change == "user_id_not_text":
        payload["user"] = {"id": junk if not isinstance(junk, str) else [junk]}
    elif change == "drop_type":
        payload.pop("type")
    elif change == "other_type":
        payload["type"] = "view_submission"


class ListenerWaiter:
    """Waits until the work that the app's listeners handed to its listener work pool has finished."""

    def __init__(self) -> None:
        self.listener_work: ListenerWork | None = None

    def wait_idle(self, timeout: float = 10.0) -> None:
        assert self.listener_work is not None, "the harness fixture sets listener_work"
        assert self.listener_work.wait_idle(timeout), f"listener work still running after {timeout} s"


class LogCollector(logging.Handler):
    """Collects every log record, so that listener errors and personal data can be checked."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def errors(self) -> list[str]:
        return [f"{record.name}: {record.getMessage()}" for record in self.records if record.levelno >= logging.ERROR]


@pytest.fixture
def slack() -> Iterator[SlackStandin]:
    with SlackStandin() as standin:
        for user_id, email in ((SANNE, "sanne.devries@handoff-demo.nl"), (DAAN, "daan.bakker@handoff-demo.nl"),
                               (EVA, "eva.visser@handoff-demo.nl"), (PIETER, "pieter.janssens@handoff-demo.be")):
            standin.add_user(user_id, email=email, real_name=email.split("@")[0])
        standin.add_channel("C0SALES001", "sales")
        yield standin


@pytest.fixture
def executor() -> ListenerWaiter:
    return ListenerWaiter()


@pytest.fixture
def harness(runtime: Runtime, slack: SlackStandin, executor: ListenerWaiter) -> Harness:
    runtime.settings.slack_api_url = slack.base_url
    harness = Harness(runtime, slack)
    # The listeners run in the request thread and hand their work to this pool before they return.
    executor.listener_work = harness.web.bolt.listener_work
    return harness


@pytest.fixture
def collected_logs() -> Iterator[LogCollector]:
    collector = LogCollector()
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(collector)
    root.setLevel(logging.DEBUG)
    yield collector
    root.removeHandler(collector)
    root.setLevel(previous_level)


def lead_states(harness: Harness) -> dict[int, tuple[str, int, str | None]]:
    with harness.rt.db.transaction() as session:
        rows = session.execute(select(Lead.id, Lead.stage, Lead.version, Lead.rep_email)).all()
    return {lead_id: (stage, version, rep_email) for lead_id, stage, version, rep_email in rows}


def card_of(harness: Harness, lead_id: int) -> tuple[str, str]:
    with harness.rt.db.transaction() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None
        assert lead.card_channel, "the lead card was not delivered"
        assert lead.card_ts, "the lead card was not delivered"
        return lead.card_channel, lead.card_ts


def is_our_ref(value: Any, lead_id: int, version: int) -> bool:
    """Check whether a button value decodes to the card's own LeadRef, as the accept handler reads it."""
    if not isinstance(value, str):
        return False
    try:
        return LeadRef.decode(value) == LeadRef(lead=lead_id, v=version)
    except ValueError:
        return False


def is_refused_click(payload: dict[str, Any], action: dict[str, Any]) -> bool:
    """Check whether an accept click is well formed, names a lead, and has a channel for the reason.

    Such a click by the wrong user, on a stale card or on a missing lead must get an
    ephemeral message that explains why nothing happened.
    """
    user = payload.get("user")
    channel = payload.get("channel")
    container = payload.get("container")
    has_channel = (isinstance(channel, dict) and isinstance(channel.get("id"), str) and channel["id"]) or (
        isinstance(container, dict) and isinstance(container.get("channel_id"), str) and container["channel_id"])
    value = effective_value(action)
    try:
        names_lead = isinstance(value, str) and LeadRef.decode(value) is not None
    except ValueError:
        names_lead = False
    return (
        payload.get("type") == "block_actions"
        and action["action_id"] == ActionId.ACCEPT.value
        and isinstance(user, dict)
        and isinstance(user.get("id"), str)
        # A user id with a control character is rejected as malformed, so no ephemeral reason is sent.
        and not any(ord(character) < 32 or ord(character) == 127 for character in user["id"])
        and bool(has_channel)
        and names_lead
    )


def effective_value(action: dict[str, Any]) -> Any:
    option = action.get("selected_option")
    return action.get("value") or (option.get("value") if isinstance(option, dict) else None)


def failed_slack_calls(slack: SlackStandin) -> list[tuple[str, Any, Any]]:
    """Return the calls that the stand-in rejected for their content: invalid Block Kit in a message or a view."""
    failed = []
    for call in slack.calls():
        error = call.response.get("error")
        if call.response.get("ok") is False and (error == "invalid_blocks" or (error == "invalid_arguments" and "errors" in call.response)):
            failed.append((call.method, error, call.response.get("errors")))
    return failed


def post_action(harness: Harness, executor: ListenerWaiter, payload: dict[str, Any]) -> Reply:
    reply = harness.slack_post(urlencode({"payload": json.dumps(payload)}))
    executor.wait_idle()
    return reply


# With these example counts each test ran in under 12 s when they were chosen.
FUZZ = settings(max_examples=70, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


@FUZZ
@given(data=st.data())
def test_block_actions_change_only_valid_decisions(
    harness: Harness, slack: SlackStandin, executor: ListenerWaiter, collected_logs: LogCollector, data: st.DataObject
) -> None:
    lead_id = harness.add_lead(len(lead_states(harness)) + 1, owner_email="sanne.devries@handoff-demo.nl")
    before = lead_states(harness)
    stage, version, _ = before[lead_id]
    assert stage == "mql"
    channel, ts = card_of(harness, lead_id)

    if data.draw(st.integers(0, 5), label="draw a valid accept") == 0:
        # A valid accept, at most changed in harmless ways, so that the positive case is tested too.
        user = data.draw(st.sampled_from(sorted(ALLOWED)), label="user")
        action = button_action(ActionId.ACCEPT.value, LeadRef(lead=lead_id, v=version).encode())
        change_names = HARMLESS
    else:
        user = data.draw(USERS, label="user")
        action = data.draw(actions(lead_id, version), label="action")
        change_names = HARMLESS + BREAKING
    body = block_action_body(user_id=user, action=action, channel_id=channel, message_ts=ts,
                             trigger_id=slack.issue_trigger_id())
    payload = json.loads(parse_qs(body)["payload"][0])
    changes = data.draw(st.one_of(st.just([]), st.lists(st.sampled_from(change_names), max_size=3, unique=True)),
                        label="changes")
    for change in changes:
        mutate(payload, change, data.draw(JUNK, label=f"junk for {change}"))
    collected_logs.records.clear()
    ephemerals_before = slack.calls("chat.postEphemeral")

    reply = post_action(harness, executor, payload)

    valid = (
        action["action_id"] == ActionId.ACCEPT.value
        and user in ALLOWED
        and is_our_ref(effective_value(action), lead_id, version)
        and not set(changes) & set(BREAKING)
    )
    event(f"status {reply.status}, valid decision: {valid}")
    # A payload Slack never sends (a user that is not an object, say) may stop Bolt's parsing: a clear 400.
    statuses = (200, 400, 404) if set(changes) & set(BREAKING) else (200, 404)
    assert reply.status in statuses, f"status {reply.status}: {reply.body[:200]!r}"
    after = lead_states(harness)
    changed = {lead: after[lead] for lead in after if before.get(lead) != after[lead]}
    if valid:
        assert set(changed) == {lead_id}, f"a valid accept changed {changed}"
        assert after[lead_id][0] == "sal"
    else:
        assert changed == {}, f"an invalid or refused action changed {changed}"
    assert collected_logs.errors() == []
    assert failed_slack_calls(slack) == []
    if is_refused_click(payload, action) and not valid:
        ephemerals = slack.calls("chat.postEphemeral")[len(ephemerals_before):]
        assert [call.params.get("user") for call in ephemerals] == [user], "a refused click got no ephemeral reason"


PERIOD_WORDS = st.sampled_from([
    "week", "this-week", "last-week", "month", "quarter", "deze-week", "vorige-week", "maand", "kwartaal",
    "gisteren", "help", "?", "hulp", "WEEK", "2025-01-01..2025-03-31", "2025-03-31..2025-01-01", "2025-02-30..2025-03-01",
    "2025-01-01..", "..2025-01-01", "..", "2025-13-01..2025-14-01", "1900-01-01..2100-12-31", "2025-01-01..2025-01-01",
    "source=hubspot", "bron=webinar", "source=", "team=benelux-nl", "team=nope", "rep=@sanne.devries",
    "rep=<@U0SANNEDV1>", "rep=<@U0NOBODY01|x>", "rep=x@y.be", "rep=", "=", "x=y", "*bold*", "<!channel>", "<@U0EVAVSR01>",
    "`code`", "&lt;", "\u202e", "\x00",
])
DATE_RANGES = st.builds(lambda first, last: f"{first.isoformat()}..{last.isoformat()}", st.dates(), st.dates())
FUNNEL_TEXTS = st.one_of(
    st.lists(st.one_of(PERIOD_WORDS, DATE_RANGES), max_size=4).map(" ".join),
    st.text(max_size=60),
    st.builds(lambda word, count: " ".join([word] * count), PERIOD_WORDS, st.sampled_from([50, 800])),
    HUGE_TEXT,
)


@FUZZ
@given(text=FUNNEL_TEXTS, user=st.sampled_from([EVA, SANNE, "U0NOBODY01"]))
def test_funnel_answers_every_text(
    harness: Harness, slack: SlackStandin, executor: ListenerWaiter, collected_logs: LogCollector, text: str, user: str
) -> None:
    collected_logs.records.clear()
    responses_before = len(slack.calls("response_url"))
    body = slash_command_body(command="/funnel", text=text, user_id=user, channel_id="C0SALES001",
                              response_url=harness.slack.root_url + "response/funnel")

    reply = harness.slack_post(body)
    executor.wait_idle()

    event(f"status {reply.status}")
    assert reply.status == 200, f"status {reply.status}: {reply.body[:200]!r}"
    assert collected_logs.errors() == []
    assert failed_slack_calls(slack) == []
    assert len(slack.calls("response_url")) == responses_before + 1, "the command got no answer"


# --- Cases the properties found, fixed in handlers/payloads.py and handlers/actions.py -----------


def accept_payload(harness: Harness, lead_id: int, user: str = SANNE, **changes: Any) -> dict[str, Any]:
    channel, ts = card_of(harness, lead_id)
    body = block_action_body(user_id=user, channel_id=channel, message_ts=ts,
                             action=button_action(ActionId.ACCEPT.value, LeadRef(lead=lead_id, v=2).encode()))
    payload = json.loads(parse_qs(body)["payload"][0])
    payload.update(changes)
    return payload


def test_accept_with_team_as_text_is_decided(
    harness: Harness, executor: ListenerWaiter, collected_logs: LogCollector
) -> None:
    lead_id = harness.add_lead(1, owner_email="sanne.devries@handoff-demo.nl")

    reply = post_action(harness, executor, accept_payload(harness, lead_id, team="T0HANDOFF", channel=["x"]))

    assert reply.status == 200
    assert lead_states(harness)[lead_id][0] == "sal"
    assert collected_logs.errors() == []


def test_reject_select_without_user_is_ignored(
    harness: Harness, executor: ListenerWaiter, collected_logs: LogCollector
) -> None:
    lead_id = harness.add_lead(1, owner_email="sanne.devries@handoff-demo.nl")
    payload = accept_payload(harness, lead_id)
    del payload["user"]
    payload["actions"] = [{**select_action(ActionId.REJECT.value, f"competitor|{lead_id}|2"), "block_id": "lead_decision"}]

    reply = post_action(harness, executor, payload)

    assert reply.status == 200
    assert lead_states(harness)[lead_id][0] == "mql"
    assert collected_logs.errors() == []


@pytest.mark.parametrize("user_id", ["\x00", "U0SANNE\x00", "U0\nSANNE"])
def test_user_id_with_control_character_is_ignored(
    harness: Harness, executor: ListenerWaiter, collected_logs: LogCollector, user_id: str
) -> None:
    lead_id = harness.add_lead(1, owner_email="sanne.devries@handoff-demo.nl")
    payload = accept_payload(harness, lead_id)
    payload["user"]["id"] = user_id

    reply = post_action(harness, executor, payload)

    assert reply.status == 200
    assert lead_states(harness)[lead_id][0] == "mql"
    assert collected_logs.errors() == []


@pytest.mark.parametrize("action_id", [ActionId.ACCEPT.value, ActionId.REJECT.value])
def test_lead_id_beyond_integer_is_not_found(
    harness: Harness, slack: SlackStandin, executor: ListenerWaiter, collected_logs: LogCollector, action_id: str
) -> None:
    lead_id = harness.add_lead(1, owner_email="sanne.devries@handoff-demo.nl")
    value = json.dumps({"lead": 10**20, "v": 2}) if action_id == ActionId.ACCEPT.value else f"competitor|{10**20}|2"
    action = button_action(action_id, value) if action_id == ActionId.ACCEPT.value else select_action(action_id, value)
    payload = accept_payload(harness, lead_id)
    payload["actions"] = [{**action, "block_id": "lead_decision"}]

    reply = post_action(harness, executor, payload)

    assert reply.status == 200
    assert collected_logs.errors() == []
    assert lead_states(harness)[lead_id][0] == "mql"
    # The lead id is not ours, so the handler either ignores the click or replies "not found".
    texts = [call.params.get("text") for call in slack.calls("chat.postEphemeral")]
    assert texts in ([], ["Deze lead bestaat niet: hij is nooit opgeslagen of is gewist."])


# --- Cases the properties found in handlers/web.py, bot/metrics.py and handlers/sales.py ---------
# The bodies below are signed, so they reach the app. Bolt's BoltRequest parses them in
# handlers/web.py before any listener runs.


@pytest.mark.parametrize("payload", [
    "{not json", "[]", '"text"',
    '{"type": "block_actions", "user": 5, "actions": [{"action_id": "lead_accept", "value": "x"}]}',
])
def test_payload_that_is_no_json_object_is_400(harness: Harness, payload: str) -> None:
    reply = harness.slack_post(urlencode({"payload": payload}))

    assert reply.status in (400, 404)


@pytest.mark.parametrize("actions_value", [
    [],
    ["text"],
])
def test_actions_without_object_is_400(harness: Harness, executor: ListenerWaiter, actions_value: list[Any]) -> None:
    payload = {"type": "block_actions", "user": {"id": SANNE}, "actions": actions_value}

    reply = post_action(harness, executor, payload)

    assert reply.status in (400, 404)


@pytest.mark.parametrize("text", ["0001-01-01..0001-01-07", "9999-12-25..9999-12-31"])
def test_funnel_range_at_calendar_edge_is_answered(
    harness: Harness, slack: SlackStandin, executor: ListenerWaiter, collected_logs: LogCollector, text: str
) -> None:
    body = slash_command_body(command="/funnel", text=text, user_id=EVA, channel_id="C0SALES001",
                              response_url=harness.slack.root_url + "response/funnel")

    reply = harness.slack_post(body)
    executor.wait_idle()

    assert reply.status == 200
    assert collected_logs.errors() == []
    assert len(slack.calls("response_url")) == 1


@pytest.mark.parametrize("meta", ["x", '{"lead": LEAD, "v": 2, "reason": "bogus"}', '{"lead": 100000000000000000000, "v": 2}'])
def test_reject_modal_with_invalid_metadata_is_answered(harness: Harness, meta: str) -> None:
    lead_id = harness.add_lead(1, owner_email="sanne.devries@handoff-demo.nl")

    reply = harness.submit_view(SANNE, "reject_modal", meta.replace("LEAD", str(lead_id)))

    assert reply.status == 200
    assert lead_states(harness)[lead_id][0] == "mql"
