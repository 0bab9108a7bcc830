"""PooledWebClient against the Slack stand-in: kept-open connections, and urllib's errors for slack_sdk."""

from __future__ import annotations

import os
import threading
from urllib.error import URLError

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack_http import PooledWebClient
from bot.slack_standin import SlackStandin

TOKEN = "xoxb-test-token"


@pytest.fixture
def slack():
    with SlackStandin() as standin:
        standin.add_user("U0ANN", "ann@example.com", "Ann Example")
        yield standin


def _post(client: WebClient, text: str) -> str:
    return str(client.chat_postMessage(channel="U0ANN", text=text)["ts"])


def test_calls_share_one_connection(slack: SlackStandin):
    client = PooledWebClient(token=TOKEN, base_url=slack.base_url)
    timestamps = [_post(client, f"message {number}") for number in range(5)]

    assert len(set(timestamps)) == 5
    assert [call.params["text"] for call in slack.calls("chat.postMessage")] == [f"message {n}" for n in range(5)]
    assert slack.connections_opened == 1


def test_urllib_client_opens_a_connection_per_call(slack: SlackStandin):
    # The comparison that makes the test above meaningful: slack_sdk's own transport.
    client = WebClient(token=TOKEN, base_url=slack.base_url)
    for number in range(3):
        _post(client, f"message {number}")

    assert slack.connections_opened == 3


def test_threads_use_connections_of_their_own(slack: SlackStandin):
    client = PooledWebClient(token=TOKEN, base_url=slack.base_url, pool_connections=4)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def post(number: int) -> None:
        try:
            barrier.wait(timeout=5)
            for round_number in range(5):
                _post(client, f"thread {number} round {round_number}")
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=post, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert errors == []
    assert len(slack.calls("chat.postMessage")) == 20
    # At most one connection per thread, kept for its later calls.
    assert 1 <= slack.connections_opened <= 4


def test_rate_limit_reaches_slack_sdk_with_retry_after(slack: SlackStandin):
    client = PooledWebClient(token=TOKEN, base_url=slack.base_url)
    slack.fail_next("chat.postMessage", status=429, retry_after=7)

    with pytest.raises(SlackApiError) as raised:
        _post(client, "too fast")

    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"
    # The connection stays usable after an error status.
    _post(client, "later")
    assert slack.connections_opened == 1


def test_server_error_status_is_an_api_error(slack: SlackStandin):
    client = PooledWebClient(token=TOKEN, base_url=slack.base_url)
    slack.fail_next("chat.update", status=503)

    with pytest.raises(SlackApiError) as raised:
        client.chat_update(channel="C0LEADS", ts="1.000001", text="x")

    assert raised.value.response.status_code == 503
    assert raised.value.response["error"] == "internal_error"


def test_slack_error_in_a_200_response(slack: SlackStandin):
    client = PooledWebClient(token=TOKEN, base_url=slack.base_url)

    with pytest.raises(SlackApiError) as raised:
        client.chat_update(channel="C0NOPE", ts="1.000001", text="x")

    assert raised.value.response.status_code == 200
    assert raised.value.response["error"] in {"channel_not_found", "message_not_found"}


def test_stopped_slack_then_restart_reconnects():
    standin = SlackStandin().start()
    standin.add_user("U0ANN", "ann@example.com", "Ann Example")
    client = PooledWebClient(token=TOKEN, base_url=standin.base_url)
    _post(client, "before")
    port = standin.port
    standin.stop()

    # The kept-open connection was closed by the stopped server; a new one is refused.
    with pytest.raises(URLError):
        _post(client, "while down")

    restarted = SlackStandin(port=port).start()
    try:
        restarted.add_user("U0ANN", "ann@example.com", "Ann Example")
        _post(client, "after")
        assert [call.params["text"] for call in restarted.calls("chat.postMessage")] == ["after"]
    finally:
        restarted.stop()


def test_no_answer_in_time_is_not_sent_again(slack: SlackStandin):
    client = PooledWebClient(token=TOKEN, base_url=slack.base_url, timeout=0.3)
    slack.set_latency(1.0, "chat.postMessage")

    with pytest.raises(TimeoutError):
        _post(client, "slow")

    # slack_sdk retries a URLError at once; a timeout may have posted, so it is not sent again.
    assert len(slack.calls("chat.postMessage")) == 1


def test_forked_child_opens_its_own_connection(slack: SlackStandin):
    client = PooledWebClient(token=TOKEN, base_url=slack.base_url)
    _post(client, "parent before")

    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child process
        code = 1
        try:
            _post(client, "child")
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    _post(client, "parent after")

    assert os.waitstatus_to_exitcode(status) == 0
    assert [call.params["text"] for call in slack.calls("chat.postMessage")] == ["parent before", "child", "parent after"]
    # The child did not write into the parent's connection: it opened one of its own.
    assert slack.connections_opened == 2


def test_close_connections_opens_a_new_one(slack: SlackStandin):
    client = PooledWebClient(token=TOKEN, base_url=slack.base_url)
    _post(client, "first")
    client.close_connections()
    _post(client, "second")

    assert slack.connections_opened == 2
