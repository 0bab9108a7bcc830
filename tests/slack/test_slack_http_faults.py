"""PooledWebClient against urllib in failure cases, and the keep-alive stand-in after stop()."""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from slack_sdk import WebClient

from bot.slack_http import PooledWebClient
from bot.slack_standin import SlackStandin
from bot.slack_standin import server as standin_server

TOKEN = "xoxb-test-token"


class _OneShotServer:
    """Server that sends the bytes from `answer` on each connection, closes it and counts the requests."""

    def __init__(self, answer: Callable[[], bytes]) -> None:
        self.answer = answer
        self.requests = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/api/"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                received = b""
                while b"\r\n\r\n" not in received:
                    received += connection.recv(65536)
                head, _, body = received.partition(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                while len(body) < length:
                    body += connection.recv(65536)
                self.requests += 1
                connection.sendall(self.answer())

    def close(self) -> None:
        self.listener.close()


def _response(body: bytes, headers: dict[str, str]) -> bytes:
    lines = ["HTTP/1.1 200 OK", *(f"{name}: {value}" for name, value in headers.items()),
             f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.fixture(params=["urllib", "pooled"])
def client_class(request: pytest.FixtureRequest) -> type[WebClient]:
    return WebClient if request.param == "urllib" else PooledWebClient


def test_truncated_response_not_resent(client_class: type[WebClient]):
    # A status line means Slack has processed the call, so a body cut short must not send it again.
    # urllib raises IncompleteRead, which slack_sdk does not retry, and the outbox searches the history later.
    whole = _response(json.dumps({"ok": True, "channel": "C1", "ts": "1.000001"}).encode(),
                      {"Content-Type": "application/json; charset=utf-8"})
    server = _OneShotServer(lambda: whole[:-5])
    try:
        client = client_class(token=TOKEN, base_url=server.base_url)
        with pytest.raises(Exception):  # noqa: B017 - any error: the outbox retries it later
            client.chat_postMessage(channel="C1", text="card")
        assert server.requests == 1
    finally:
        server.close()


def test_gzip_encoding_left_compressed(client_class: type[WebClient]):
    # urllib does not decode Content-Encoding, so admin.analytics.getFile returns the gzip bytes as sent.
    # urllib3 decompresses them unless the request passes decode_content=False.
    report = b'{"date":"2024-01-01"}\n'
    server = _OneShotServer(lambda: _response(gzip.compress(report), {"Content-Type": "application/gzip",
                                                                      "Content-Encoding": "gzip"}))
    try:
        client = client_class(token=TOKEN, base_url=server.base_url)
        data = client.admin_analytics_getFile(type="member", date="2024-01-01").data
        assert gzip.decompress(data) == report
    finally:
        server.close()


@pytest.fixture
def slow_setup(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    entered, release = threading.Event(), threading.Event()
    original = standin_server._StandinRequestHandler.setup

    def setup(self: standin_server._StandinRequestHandler) -> None:
        # Simulates a handler thread that has not started running when stop() is called.
        entered.set()
        release.wait(5)
        original(self)

    monkeypatch.setattr(standin_server._StandinRequestHandler, "setup", setup)
    yield entered, release
    release.set()


def test_stop_closes_late_connection(slow_setup: tuple[threading.Event, threading.Event]):
    entered, release = slow_setup
    standin = SlackStandin().start()
    standin.add_user("U0ANN", "ann@example.com", "Ann Example")
    connection = socket.create_connection(("127.0.0.1", standin.port), timeout=2)
    try:
        assert entered.wait(5)
        standin.stop()
        release.set()
        body = b"channel=U0ANN&text=after+stop"
        connection.sendall(b"POST /api/chat.postMessage HTTP/1.1\r\nHost: slack\r\nAuthorization: Bearer "
                           + TOKEN.encode() + b"\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                           + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        try:
            answer = connection.recv(65536)
        except (ConnectionResetError, TimeoutError):
            answer = b""
        # A stopped stand-in must not respond.
        assert answer == b"", answer[:60]
    finally:
        connection.close()
