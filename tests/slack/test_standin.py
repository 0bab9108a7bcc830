"""Tests of the Slack Web API stand-in, driven through the real slack_sdk WebClient."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from decimal import Decimal
from urllib.error import URLError
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack_standin import UPLOAD_METHOD, SlackStandin, check_blocks, render_text

TOKEN = "xoxb-test-token"
TS_PATTERN = re.compile(r"\d{10}\.\d{6}")

# slack_sdk warns on every message without a top-level text, and some tests send one on purpose.
ignore_missing_text_warning = pytest.mark.filterwarnings(
    "ignore:The top-level `text` argument is missing:UserWarning"
)


def section(text: str, **extra: object) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(label: str, action_id: str, value: str = "v") -> dict:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }


def modal(blocks: list[dict] | None = None, title: str = "Reject lead") -> dict:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks if blocks is not None else [section("Why?")],
    }


@pytest.fixture
def slack():
    with SlackStandin() as standin:
        standin.add_channel("C0LEADS", "sales-leads")
        standin.add_user("U0ANN", "Ann.Visser@Example.com", "Ann Visser", tz="Europe/Amsterdam")
        standin.add_user("U0BOB", "bob@example.com", "Bob Jones", tz="America/New_York")
        yield standin


@pytest.fixture
def client(slack: SlackStandin) -> WebClient:
    return WebClient(token=TOKEN, base_url=slack.base_url, timeout=5)


def api_error(call) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call()
    return caught.value


# ---- server and auth ---------------------------------------------------------------------


def test_base_url_is_loopback_and_ends_in_slash(slack: SlackStandin):
    assert slack.base_url.startswith("http://127.0.0.1:")
    assert slack.base_url.endswith("/api/")
    assert slack.port > 0


def test_call_stamped_on_arrival_and_handling(slack: SlackStandin, client: WebClient):
    before = time.time()
    client.chat_postMessage(channel="C0LEADS", text="hello", blocks=[section("hello")])
    after = time.time()

    call = slack.calls("chat.postMessage")[0]
    assert before <= call.received_at <= after
    assert call.received_at <= call.at <= after


def test_auth_test_returns_bot_identity(slack: SlackStandin, client: WebClient):
    response = client.auth_test()

    assert response["ok"] is True
    assert response["user_id"] == slack.bot_user_id
    assert response["bot_id"] == slack.bot_id
    assert response["team_id"] == slack.team_id
    assert response["url"] == slack.root_url


def test_missing_token_is_not_authed(slack: SlackStandin):
    anonymous = WebClient(base_url=slack.base_url)

    error = api_error(lambda: anonymous.chat_postMessage(channel="C0LEADS", text="hi"))

    assert error.response["error"] == "not_authed"
    assert slack.messages() == []


def test_unaccepted_token_is_invalid_auth():
    with SlackStandin(tokens={"xoxb-good"}) as standin:
        standin.add_channel("C0LEADS", "sales-leads")
        good = WebClient(token="xoxb-good", base_url=standin.base_url)
        bad = WebClient(token="xoxb-other", base_url=standin.base_url)

        assert good.auth_test()["ok"] is True
        error = api_error(bad.auth_test)

    assert error.response["error"] == "invalid_auth"
    assert error.response.status_code == 200


def test_default_tokens_reject_user_token(slack: SlackStandin):
    user_client = WebClient(token="xoxp-user", base_url=slack.base_url)

    error = api_error(user_client.auth_test)

    assert error.response["error"] == "invalid_auth"


def test_unknown_method_is_http_200_error(client: WebClient, slack: SlackStandin):
    error = api_error(lambda: client.api_call("chat.postMesage"))

    assert error.response.status_code == 200
    assert error.response["error"] == "unknown_method"
    assert slack.calls()[-1].method == "chat.postMesage"


def test_requests_are_not_logged_to_stderr(client: WebClient, capfd):
    client.chat_postMessage(channel="C0LEADS", text="quiet")

    captured = capfd.readouterr()
    assert captured.err == ""


def test_get_with_query_params_and_token_param(slack: SlackStandin):
    query = urlencode({"token": TOKEN, "user": "U0ANN"})

    with urllib.request.urlopen(f"{slack.base_url}users.info?{query}", timeout=5) as response:
        body = json.loads(response.read())

    assert body["ok"] is True
    assert body["user"]["id"] == "U0ANN"
    recorded = slack.calls("users.info")[0]
    assert recorded.token == TOKEN
    assert "token" not in recorded.params


def test_form_encoded_blocks_are_parsed(slack: SlackStandin, client: WebClient):
    blocks = [section("From a form body")]

    client.api_call(
        "chat.postMessage",
        params={"channel": "C0LEADS", "text": "fallback", "blocks": json.dumps(blocks)},
    )

    recorded = slack.calls("chat.postMessage")[0]
    assert recorded.params["blocks"] == blocks
    assert slack.messages("C0LEADS")[0]["blocks"] == blocks


def test_malformed_blocks_json_is_invalid_blocks_format(client: WebClient):
    error = api_error(
        lambda: client.api_call(
            "chat.postMessage",
            params={"channel": "C0LEADS", "text": "x", "blocks": "[{not json"},
        )
    )

    assert error.response["error"] == "invalid_blocks_format"


# ---- chat ----------------------------------------------------------------------------------


def test_post_message_returns_slack_style_ts(slack: SlackStandin, client: WebClient):
    response = client.chat_postMessage(channel="C0LEADS", text="New lead: Acme")

    assert response["channel"] == "C0LEADS"
    assert TS_PATTERN.fullmatch(response["ts"])
    assert response["message"]["text"] == "New lead: Acme"
    messages = slack.messages("C0LEADS")
    assert [message["ts"] for message in messages] == [response["ts"]]
    assert messages[0]["thread_ts"] is None


def test_post_message_in_thread_records_thread_ts(slack: SlackStandin, client: WebClient):
    parent = client.chat_postMessage(channel="C0LEADS", text="parent")

    client.chat_postMessage(channel="C0LEADS", text="reply", thread_ts=parent["ts"])

    reply = slack.messages("C0LEADS")[1]
    assert reply["thread_ts"] == parent["ts"]
    assert reply["text"] == "reply"


def test_post_to_unknown_channel_is_channel_not_found(slack: SlackStandin, client: WebClient):
    error = api_error(lambda: client.chat_postMessage(channel="C0NOPE", text="hi"))

    assert error.response["error"] == "channel_not_found"
    assert slack.messages() == []


def test_post_to_user_id_goes_to_stable_dm(slack: SlackStandin, client: WebClient):
    posted = client.chat_postMessage(channel="U0ANN", text="You have a new lead")
    opened = client.conversations_open(users="U0ANN")

    assert posted["channel"].startswith("D")
    assert opened["channel"]["id"] == posted["channel"]
    assert opened["already_open"] is True
    assert [message["text"] for message in slack.messages("U0ANN")] == ["You have a new lead"]


@ignore_missing_text_warning
def test_post_message_without_any_content_is_no_text(client: WebClient):
    error = api_error(lambda: client.chat_postMessage(channel="C0LEADS"))

    assert error.response["error"] == "no_text"


def test_update_replaces_current_state_and_keeps_history(slack: SlackStandin, client: WebClient):
    posted = client.chat_postMessage(
        channel="C0LEADS", text="Lead Acme", blocks=[section("Lead *Acme*")]
    )

    updated = client.chat_update(
        channel="C0LEADS",
        ts=posted["ts"],
        text="Lead Acme (accepted)",
        blocks=[section("Accepted")],
    )

    assert updated["ts"] == posted["ts"]
    current = slack.messages("C0LEADS")
    assert len(current) == 1
    assert current[0]["text"] == "Lead Acme (accepted)"
    assert current[0]["blocks"] == [section("Accepted")]
    versions = slack.history("C0LEADS", posted["ts"])
    assert [version["text"] for version in versions] == ["Lead Acme", "Lead Acme (accepted)"]


def test_update_without_blocks_keeps_previous_blocks(slack: SlackStandin, client: WebClient):
    posted = client.chat_postMessage(channel="C0LEADS", text="t", blocks=[section("kept")])

    client.chat_update(channel="C0LEADS", ts=posted["ts"], text="new text")

    assert slack.messages("C0LEADS")[0]["blocks"] == [section("kept")]


def test_update_of_missing_message_is_message_not_found(client: WebClient):
    error = api_error(
        lambda: client.chat_update(channel="C0LEADS", ts="1700000000.000100", text="x")
    )

    assert error.response["error"] == "message_not_found"


def test_update_by_user_id_fails(client: WebClient):
    posted = client.chat_postMessage(channel="U0ANN", text="hello")

    error = api_error(lambda: client.chat_update(channel="U0ANN", ts=posted["ts"], text="edited"))

    assert error.response["error"] == "channel_not_found"


def test_delete_removes_message_from_current_state(slack: SlackStandin, client: WebClient):
    posted = client.chat_postMessage(channel="C0LEADS", text="to delete")

    deleted = client.chat_delete(channel="C0LEADS", ts=posted["ts"])

    assert deleted["ts"] == posted["ts"]
    assert slack.messages("C0LEADS") == []
    error = api_error(lambda: client.chat_delete(channel="C0LEADS", ts=posted["ts"]))
    assert error.response["error"] == "message_not_found"


def test_post_ephemeral_returns_message_ts(slack: SlackStandin, client: WebClient):
    response = client.chat_postEphemeral(channel="C0LEADS", user="U0ANN", text="Only you see this")

    assert TS_PATTERN.fullmatch(response["message_ts"])
    assert slack.messages("C0LEADS") == []
    ephemeral = slack.ephemeral_messages(user="U0ANN")
    assert [message["text"] for message in ephemeral] == ["Only you see this"]


def test_get_permalink_points_at_standin(slack: SlackStandin, client: WebClient):
    posted = client.chat_postMessage(channel="C0LEADS", text="link me")

    response = client.chat_getPermalink(channel="C0LEADS", message_ts=posted["ts"])

    expected = f"{slack.root_url}archives/C0LEADS/p{posted['ts'].replace('.', '')}"
    assert response["permalink"] == expected


def test_concurrent_posts_get_unique_increasing_ts(slack: SlackStandin):
    posts_per_thread = 15
    results: list[str] = []
    failures: list[BaseException] = []
    results_lock = threading.Lock()

    def post_many(worker: int) -> None:
        client = WebClient(token=TOKEN, base_url=slack.base_url, timeout=10)
        try:
            for index in range(posts_per_thread):
                response = client.chat_postMessage(channel="C0LEADS", text=f"{worker}-{index}")
                with results_lock:
                    results.append(response["ts"])
        except BaseException as error:  # reported by the assert below
            failures.append(error)

    threads = [threading.Thread(target=post_many, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert len(results) == 8 * posts_per_thread
    assert len(set(results)) == len(results)
    recorded_ts = [call.response["ts"] for call in slack.calls("chat.postMessage")]
    assert recorded_ts == sorted(recorded_ts, key=Decimal)
    assert len(slack.messages("C0LEADS")) == 8 * posts_per_thread


# ---- Block Kit checks ------------------------------------------------------------------------


def test_section_text_over_limit_names_path(client: WebClient):
    blocks = [section("ok"), section("x" * 3001)]

    error = api_error(
        lambda: client.chat_postMessage(channel="C0LEADS", text="fallback", blocks=blocks)
    )

    assert error.response["error"] == "invalid_blocks"
    assert error.response["errors"] == [
        "must be less than 3001 characters [json-pointer:/blocks/1/text/text]"
    ]
    assert error.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 3001 characters [json-pointer:/blocks/1/text/text]"
    ]


def test_section_text_at_limit_is_accepted(client: WebClient):
    response = client.chat_postMessage(
        channel="C0LEADS", text="fallback", blocks=[section("x" * 3000)]
    )

    assert response["ok"] is True


def select(options: int, *, option_text: str = "Option", value_length: int = 3) -> dict:
    return {
        "type": "static_select",
        "action_id": "reason",
        "placeholder": {"type": "plain_text", "text": "Pick a reason"},
        "options": [
            {"text": {"type": "plain_text", "text": option_text}, "value": "v" * value_length}
            for _ in range(options)
        ],
    }


BLOCK_VIOLATIONS = [
    ("too many blocks", [{"type": "divider"}] * 51, "/blocks"),
    (
        "header too long",
        [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
        "/blocks/0/text/text",
    ),
    (
        "header mrkdwn",
        [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}],
        "/blocks/0/text/type",
    ),
    ("empty text", [section("")], "/blocks/0/text/text"),
    (
        "too many fields",
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
        "/blocks/0/fields",
    ),
    (
        "field too long",
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}],
        "/blocks/0/fields/0/text",
    ),
    (
        "button text too long",
        [{"type": "actions", "elements": [button("b" * 76, "a")]}],
        "/blocks/0/elements/0/text/text",
    ),
    (
        "button value too long",
        [{"type": "actions", "elements": [button("Go", "a", value="v" * 2001)]}],
        "/blocks/0/elements/0/value",
    ),
    (
        "action_id too long",
        [{"type": "actions", "elements": [button("Go", "a" * 256)]}],
        "/blocks/0/elements/0/action_id",
    ),
    ("block_id too long", [section("x", block_id="b" * 256)], "/blocks/0/block_id"),
    (
        "duplicate action_id",
        [{"type": "actions", "elements": [button("Yes", "same"), button("No", "same")]}],
        "/blocks/0/elements/1/action_id",
    ),
    (
        "duplicate block_id",
        [section("a", block_id="lead"), section("b", block_id="lead")],
        "/blocks/1/block_id",
    ),
    (
        "too many options",
        [{"type": "actions", "elements": [select(101)]}],
        "/blocks/0/elements/0/options",
    ),
    (
        "option text too long",
        [{"type": "actions", "elements": [select(1, option_text="o" * 76)]}],
        "/blocks/0/elements/0/options/0/text/text",
    ),
    (
        "option value too long",
        [{"type": "actions", "elements": [select(1, value_length=151)]}],
        "/blocks/0/elements/0/options/0/value",
    ),
    (
        "too many context elements",
        [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}],
        "/blocks/0/elements",
    ),
    (
        "too many actions elements",
        [{"type": "actions", "elements": [button("b", f"a{index}") for index in range(26)]}],
        "/blocks/0/elements",
    ),
    ("unknown block type", [{"type": "sectoin"}], "/blocks/0/type"),
]


@pytest.mark.parametrize(
    ("blocks", "path"),
    [(blocks, path) for _, blocks, path in BLOCK_VIOLATIONS],
    ids=[name for name, _, _ in BLOCK_VIOLATIONS],
)
def test_block_violation_is_invalid_blocks(slack: SlackStandin, client: WebClient, blocks, path):
    error = api_error(
        lambda: client.chat_postMessage(channel="C0LEADS", text="fallback", blocks=blocks)
    )

    assert error.response["error"] == "invalid_blocks"
    pointers = [
        message.rsplit("[json-pointer:", 1)[1].rstrip("]") for message in error.response["errors"]
    ]
    assert path in pointers
    assert slack.messages() == []


def test_check_blocks_accepts_typical_lead_card():
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "New lead: Acme"}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*Score*\n87"},
                {"type": "mrkdwn", "text": "*Owner*\n<@U0ANN>"},
            ],
        },
        {"type": "divider"},
        {
            "type": "actions",
            "block_id": "decision",
            "elements": [button("Accept", "accept"), button("Reject", "reject")],
        },
        {
            "type": "context",
            "elements": [
                {"type": "image", "image_url": "http://127.0.0.1/x.png", "alt_text": "logo"}
            ],
        },
    ]

    assert check_blocks(blocks) == []


@ignore_missing_text_warning
def test_missing_text_fallback_fails_in_strict_mode(client: WebClient, slack: SlackStandin):
    error = api_error(
        lambda: client.chat_postMessage(channel="C0LEADS", blocks=[section("no fallback")])
    )

    assert error.response["error"] == "invalid_blocks"
    assert any("[json-pointer:/text]" in message for message in error.response["errors"])
    assert slack.warnings() == []


@ignore_missing_text_warning
def test_missing_text_fallback_warns_when_not_strict():
    with SlackStandin(strict=False) as standin:
        standin.add_channel("C0LEADS", "sales-leads")
        client = WebClient(token=TOKEN, base_url=standin.base_url)

        response = client.chat_postMessage(channel="C0LEADS", blocks=[section("no fallback")])

        assert response["ok"] is True
        warnings = standin.warnings()
    assert len(warnings) == 1
    assert warnings[0].startswith("chat.postMessage: ")
    assert "[json-pointer:/text]" in warnings[0]


def test_message_text_over_40000_is_msg_too_long(client: WebClient):
    error = api_error(lambda: client.chat_postMessage(channel="C0LEADS", text="x" * 40_001))

    assert error.response["error"] == "msg_too_long"


def test_ephemeral_blocks_are_checked(client: WebClient):
    error = api_error(
        lambda: client.chat_postEphemeral(
            channel="C0LEADS",
            user="U0ANN",
            text="t",
            blocks=[{"type": "header", "text": {"type": "plain_text", "text": ""}}],
        )
    )

    assert error.response["error"] == "invalid_blocks"
    assert error.response["errors"] == [
        "must be more than 0 characters [json-pointer:/blocks/0/text/text]"
    ]


# ---- fault injection and latency ---------------------------------------------------------


def test_rate_limit_reaches_client_with_retry_after(slack: SlackStandin, client: WebClient):
    slack.fail_next("chat.postMessage", retry_after=7)

    error = api_error(lambda: client.chat_postMessage(channel="C0LEADS", text="hi"))

    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "7"
    assert error.response["error"] == "ratelimited"
    assert slack.messages() == []
    assert client.chat_postMessage(channel="C0LEADS", text="hi")["ok"] is True
    assert [call.status for call in slack.calls("chat.postMessage")] == [429, 200]


def test_server_error_reaches_client_as_500(slack: SlackStandin, client: WebClient):
    slack.fail_next("users.info", status=500, times=2)

    for _ in range(2):
        error = api_error(lambda: client.users_info(user="U0ANN"))
        assert error.response.status_code == 500

    assert client.users_info(user="U0ANN")["ok"] is True
    assert [call.status for call in slack.calls("users.info")] == [500, 500, 200]


def test_injected_api_error_has_status_200(slack: SlackStandin, client: WebClient):
    slack.fail_next("chat.postMessage", "not_in_channel", status=200)

    error = api_error(lambda: client.chat_postMessage(channel="C0LEADS", text="hi"))

    assert error.response.status_code == 200
    assert error.response["error"] == "not_in_channel"
    assert slack.calls("chat.postMessage")[0].response == {"ok": False, "error": "not_in_channel"}


def test_queued_faults_apply_in_order(slack: SlackStandin, client: WebClient):
    slack.fail_next("auth.test", status=429)
    slack.fail_next("auth.test", status=503)

    first = api_error(client.auth_test)
    second = api_error(client.auth_test)

    assert first.response.status_code == 429
    assert second.response.status_code == 503
    assert client.auth_test()["ok"] is True


def test_fail_next_rejects_status_200_without_error(slack: SlackStandin):
    with pytest.raises(ValueError, match="needs an error code"):
        slack.fail_next("chat.postMessage", status=200)


def test_latency_makes_client_time_out(slack: SlackStandin):
    slack.set_latency(2.0, method="chat.postMessage")
    impatient = WebClient(token=TOKEN, base_url=slack.base_url, timeout=0.3)

    started = time.monotonic()
    with pytest.raises((TimeoutError, URLError)):
        impatient.chat_postMessage(channel="C0LEADS", text="slow")
    elapsed = time.monotonic() - started

    assert 0.3 <= elapsed < 2.0
    # The stand-in processed the request before delaying its response, as a slow Slack would.
    assert [message["text"] for message in slack.messages("C0LEADS")] == ["slow"]
    assert impatient.auth_test()["ok"] is True


# ---- users and conversations -------------------------------------------------------------


def test_lookup_by_email_is_case_insensitive(client: WebClient):
    response = client.users_lookupByEmail(email="ann.visser@EXAMPLE.com")

    assert response["user"]["id"] == "U0ANN"
    assert response["user"]["profile"]["email"] == "Ann.Visser@Example.com"


def test_lookup_by_unknown_email_is_users_not_found(client: WebClient):
    error = api_error(lambda: client.users_lookupByEmail(email="nobody@example.com"))

    assert error.response["error"] == "users_not_found"


def test_users_info_returns_time_zone_fields(client: WebClient):
    user = client.users_info(user="U0BOB", include_locale=True)["user"]

    assert user["real_name"] == "Bob Jones"
    assert user["tz"] == "America/New_York"
    assert user["tz_offset"] in (-5 * 3600, -4 * 3600)
    assert user["tz_label"] in ("EST", "EDT")
    assert user["locale"] == "en-US"


def test_users_info_unknown_user_is_user_not_found(client: WebClient):
    error = api_error(lambda: client.users_info(user="U0NOBODY"))

    assert error.response["error"] == "user_not_found"


def test_add_user_rejects_unknown_time_zone(slack: SlackStandin):
    with pytest.raises(ValueError, match="Mars/Olympus"):
        slack.add_user("U0X", "x@example.com", "X", tz="Mars/Olympus")


def test_conversations_info_and_list(slack: SlackStandin, client: WebClient):
    slack.add_channel("C0PRIV", "deal-desk", is_private=True)

    info = client.conversations_info(channel="C0LEADS")["channel"]
    public_names = [channel["name"] for channel in client.conversations_list()["channels"]]
    all_names = [
        channel["name"]
        for page in client.conversations_list(types="public_channel,private_channel", limit=1)
        for channel in page["channels"]
    ]

    assert info["name"] == "sales-leads"
    assert public_names == ["sales-leads"]
    assert all_names == ["sales-leads", "deal-desk"]
    error = api_error(lambda: client.conversations_info(channel="C0NOPE"))
    assert error.response["error"] == "channel_not_found"


# ---- views ---------------------------------------------------------------------------------


def test_views_open_without_trigger_id_fails(slack: SlackStandin, client: WebClient):
    error = api_error(lambda: client.views_open(view=modal()))

    assert error.response["error"] == "invalid_arguments"
    assert slack.views() == []


def test_views_open_trigger_id_works_once(slack: SlackStandin, client: WebClient):
    trigger_id = slack.issue_trigger_id(user_id="U0ANN")

    opened = client.views_open(trigger_id=trigger_id, view=modal())
    error = api_error(lambda: client.views_open(trigger_id=trigger_id, view=modal()))

    assert opened["view"]["id"].startswith("V")
    assert error.response["error"] == "exchanged_trigger_id"
    assert [view["id"] for view in slack.views(user_id="U0ANN")] == [opened["view"]["id"]]


def test_views_open_with_expired_trigger_fails(slack: SlackStandin, client: WebClient):
    expired = slack.issue_trigger_id(age=3.5)
    fresh = slack.issue_trigger_id(age=2.0)

    error = api_error(lambda: client.views_open(trigger_id=expired, view=modal()))
    opened = client.views_open(trigger_id=fresh, view=modal())

    assert error.response["error"] == "expired_trigger_id"
    assert opened["ok"] is True


def test_views_open_title_over_24_is_rejected(client: WebClient):
    error = api_error(lambda: client.views_open(trigger_id="1.2.abc", view=modal(title="t" * 25)))

    assert error.response["error"] == "invalid_arguments"
    assert (
        "must be less than 25 characters [json-pointer:/view/title/text]"
        in error.response["errors"]
    )


def test_views_update_replaces_blocks(slack: SlackStandin, client: WebClient):
    opened = client.views_open(trigger_id="1.2.abc", view=modal([section("Loading…")]))

    updated = client.views_update(
        view_id=opened["view"]["id"], view=modal([section("Pick a reason")])
    )

    assert updated["view"]["id"] == opened["view"]["id"]
    assert updated["view"]["hash"] != opened["view"]["hash"]
    assert slack.views()[0]["blocks"] == [section("Pick a reason")]


def test_views_update_unknown_view_is_not_found(client: WebClient):
    error = api_error(lambda: client.views_update(view_id="V0NOPE", view=modal()))

    assert error.response["error"] == "not_found"


def test_views_push_needs_trigger_id(client: WebClient):
    pushed = client.views_push(trigger_id="1.2.push", view=modal())
    error = api_error(lambda: client.views_push(view=modal()))

    assert pushed["view"]["type"] == "modal"
    assert error.response["error"] == "invalid_arguments"


def test_views_publish_sets_home_tab(slack: SlackStandin, client: WebClient):
    home = {"type": "home", "blocks": [section("Your open leads: 3")]}

    first = client.views_publish(user_id="U0ANN", view=home)
    second = client.views_publish(
        user_id="U0ANN", view={"type": "home", "blocks": [section("Your open leads: 2")]}
    )

    assert second["view"]["id"] == first["view"]["id"]
    assert slack.home_view("U0ANN")["blocks"] == [section("Your open leads: 2")]
    assert slack.home_view("U0BOB") is None


def test_modal_with_101_blocks_is_rejected(client: WebClient):
    error = api_error(
        lambda: client.views_open(trigger_id="1.2.abc", view=modal([{"type": "divider"}] * 101))
    )

    assert "must be no more than 100 items [json-pointer:/view/blocks]" in error.response["errors"]


# ---- files -----------------------------------------------------------------------------------


def test_files_upload_v2_end_to_end(slack: SlackStandin, client: WebClient):
    content = b"\x89PNG fake image bytes"

    response = client.files_upload_v2(
        channel="C0LEADS",
        content=content,
        filename="x.png",
        title="Funnel",
        initial_comment="This week",
    )

    assert response["file"]["title"] == "Funnel"
    methods = [call.method for call in slack.calls()]
    assert methods == ["files.getUploadURLExternal", UPLOAD_METHOD, "files.completeUploadExternal"]
    shared = slack.files("C0LEADS")
    assert len(shared) == 1
    assert shared[0]["id"] == response["file"]["id"]
    assert shared[0]["content"] == content
    assert shared[0]["size"] == len(content)
    assert shared[0]["initial_comment"] == "This week"
    assert shared[0]["mimetype"] == "image/png"


def test_complete_upload_without_bytes_fails(slack: SlackStandin, client: WebClient):
    ticket = client.files_getUploadURLExternal(filename="x.csv", length=10)

    error = api_error(
        lambda: client.files_completeUploadExternal(
            files=[{"id": ticket["file_id"]}], channel_id="C0LEADS"
        )
    )

    assert ticket["upload_url"].startswith(slack.root_url)
    assert error.response["error"] == "file_not_found"
    assert slack.files() == []


# ---- recording -------------------------------------------------------------------------------


def test_calls_record_params_and_response(slack: SlackStandin, client: WebClient):
    client.chat_postMessage(channel="C0LEADS", text="fallback", blocks=[section("hi")])

    (call,) = slack.calls("chat.postMessage")
    assert call.params["channel"] == "C0LEADS"
    assert call.params["blocks"] == [section("hi")]
    assert call.response["ok"] is True
    assert call.token == TOKEN
    assert call.at == pytest.approx(time.time(), abs=5)


def test_wait_for_returns_call_from_other_thread(slack: SlackStandin, client: WebClient):
    def post_later() -> None:
        time.sleep(0.2)
        client.chat_postMessage(channel="C0LEADS", text="second", thread_ts="1.1")

    client.chat_postMessage(channel="C0LEADS", text="first")
    worker = threading.Thread(target=post_later)
    worker.start()

    call = slack.wait_for(
        "chat.postMessage", lambda call: call.params.get("text") == "second", timeout=5
    )
    worker.join()

    assert call.params["thread_ts"] == "1.1"


def test_wait_for_timeout_lists_calls_seen(slack: SlackStandin, client: WebClient):
    client.chat_postMessage(channel="C0LEADS", text="only this")

    started = time.monotonic()
    with pytest.raises(AssertionError) as caught:
        slack.wait_for("chat.update", timeout=0.2)

    message = str(caught.value)
    assert time.monotonic() - started >= 0.2
    assert "timed out after 0.2 s waiting for a chat.update call" in message
    assert "1. chat.postMessage(channel='C0LEADS', text='only this') -> ok" in message


def test_reset_clears_state_but_keeps_registries(slack: SlackStandin, client: WebClient):
    client.chat_postMessage(channel="C0LEADS", text="before")
    slack.fail_next("auth.test")

    slack.reset()

    assert slack.calls() == []
    assert slack.messages() == []
    assert client.auth_test()["ok"] is True
    assert client.users_info(user="U0ANN")["ok"] is True
    assert client.chat_postMessage(channel="C0LEADS", text="after")["ok"] is True


def test_stop_and_restart_serves_again():
    standin = SlackStandin()
    standin.start()
    first_url = standin.base_url
    standin.stop()

    with pytest.raises(RuntimeError, match="not running"):
        _ = standin.base_url

    standin.start()
    try:
        assert WebClient(token=TOKEN, base_url=standin.base_url).auth_test()["ok"] is True
    finally:
        standin.stop()
    assert first_url.startswith("http://127.0.0.1:")


# ---- render_text -----------------------------------------------------------------------------


def test_render_text_of_lead_card():
    message = {
        "text": "fallback is not shown",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "New lead"}},
            section("Lead *Acme* from <https://acme.example|website> &amp; events"),
            {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Score*\n87"}]},
            {"type": "divider"},
            {
                "type": "actions",
                "elements": [button("Accept", "accept"), select(2, option_text="Budget")],
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "Owner <@U0ANN>"}]},
            {
                "type": "image",
                "image_url": "http://127.0.0.1/chart.png",
                "alt_text": "funnel chart",
            },
        ],
    }

    lines = render_text(message).splitlines()

    assert lines == [
        "New lead",
        "========",
        "Lead *Acme* from website (https://acme.example) & events",
        "  *Score* 87",
        "─" * 40,
        "[ Accept ]  [ Pick a reason ▾ ]: Budget / Budget",
        "Owner @U0ANN",
        "[image: funnel chart]",
    ]


def test_render_text_without_blocks_uses_text():
    assert render_text({"text": "plain &lt;b&gt;", "blocks": []}) == "plain <b>"


def test_render_text_of_modal_shows_title_and_buttons():
    view = modal([section("Why?")]) | {"submit": {"type": "plain_text", "text": "Reject"}}

    rendered = render_text(view).splitlines()

    assert rendered[0] == "Reject lead"
    assert rendered[2] == "Why?"
    assert rendered[-1] == "[ Cancel ]  [ Reject ]"
