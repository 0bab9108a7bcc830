"""Drive the real WSGI router and Bolt app the way Slack and a CRM would."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.handoff import ingest
from bot.intake.signing import sign
from bot.runtime import Runtime
from bot.slack_http import PooledWebClient
from bot.slack_standin import SlackStandin
from bot.slack_standin.interactions import signed_headers
from factories import lead_input
from handlers.app import build_app
from handlers.web import WebApp

Row = TypeVar("Row")

SIGNING_SECRET = "test-signing-secret"
WEBHOOK_SECRET = "test-webhook-secret"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Harness:
    """Sends requests the way Slack and a CRM would, and reads what the stand-in received."""

    def __init__(self, rt: Runtime, slack: SlackStandin) -> None:
        self.rt = rt
        self.slack = slack
        # The production client, which keeps its connections to the stand-in open.
        self.client = PooledWebClient(token="xoxb-test-token", base_url=slack.base_url)
        bolt, self.sender = build_app(rt, self.client)
        self.web = WebApp(rt, bolt, self.sender)

    @staticmethod
    def environ(path: str, body: bytes, headers: dict[str, str], method: str = "POST") -> dict[str, Any]:
        """Build the WSGI environ of a request, as gunicorn would."""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
        }
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            else:
                environ[f"HTTP_{key}"] = value
        return environ

    def request(self, path: str, body: bytes, headers: dict[str, str], method: str = "POST") -> Reply:
        reply, close = self._respond(path, body, headers, method)
        if close is not None:
            # A WSGI server calls close() after the client has the response, in the request's thread,
            # which may then run the listener work. The caller here is the client, so it goes on.
            threading.Thread(target=close, name="wsgi-close").start()
        return reply

    def _respond(self, path: str, body: bytes, headers: dict[str, str],
                 method: str) -> tuple[Reply, Callable[[], None] | None]:
        """Call the WSGI app, join the body, and return the reply with the body's close(), or None without one."""
        environ = self.environ(path, body, headers, method)
        captured: dict[str, Any] = {}

        def start_response(status: str, header_list: list[tuple[str, str]]) -> None:
            captured["status"] = int(status.split()[0])
            captured["headers"] = dict(header_list)

        chunks = self.web(environ, start_response)
        reply = Reply(captured["status"], captured["headers"], b"".join(chunks))
        return reply, getattr(chunks, "close", None)

    def slack_post(self, body: str, *, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> Reply:
        return self.request("/slack/events", body.encode(), signed_headers(secret, body, timestamp=timestamp))

    def slack_post_unclosed(self, body: str, *, timestamp: int | None = None,
                            secret: str = SIGNING_SECRET) -> tuple[Reply, Callable[[], None]]:
        """Send a signed Slack request like `slack_post`, but leave the response body open.

        Returns the reply and the body's close(), which the caller must call. The listener work
        queued by the request starts only then, as it does when a WSGI server closes the body
        after sending the response. close() runs that work in the caller's thread when no other
        work is busy.
        """
        reply, close = self._respond("/slack/events", body.encode(), signed_headers(secret, body, timestamp=timestamp),
                                     "POST")
        return reply, close if close is not None else _no_work

    def stored(self, model: type[Row], key: int) -> Row:
        """Read one row in a transaction of its own, detached so that the caller can read its columns."""
        with self.rt.db.transaction() as session:
            row = session.get(model, key)
            assert row is not None, f"no {model.__name__} {key}"
            session.expunge(row)
            return row

    def webhook(self, payload: Any, *, timestamp: int | None = None, secret: str = WEBHOOK_SECRET) -> Reply:
        body = json.dumps(payload).encode()
        stamp = int(time.time()) if timestamp is None else timestamp
        headers = {"content-type": "application/json", "x-handoff-timestamp": str(stamp),
                   "x-handoff-signature": sign(secret, stamp, body)}
        return self.request("/leads", body, headers)

    def add_lead(self, number: int = 1, **overrides: object) -> int:
        with self.rt.db.transaction() as session:
            lead_id = ingest(session, self.rt, lead_input(number, at=self.rt.clock.now(), **overrides), actor="test").lead_id
        self.sender.deliver_due()
        return lead_id

    def submit_view(self, user_id: str, callback_id: str, meta: str, values: dict[str, Any] | None = None,
                    view_id: str | None = None, blocks: list[dict[str, Any]] | None = None,
                    wait_for_work: bool = True) -> Reply:
        """Send a signed modal submission, as Slack does when the user presses the submit button."""
        from bot.slack_standin.interactions import view_submission_body

        body = view_submission_body(user_id=user_id, callback_id=callback_id, private_metadata=meta,
                                    values=values or {}, view_id=view_id or f"V{time.time_ns()}", blocks=blocks)
        reply = self.slack_post(body)
        if wait_for_work:
            # The submission's Slack calls run in the listener work pool after the response; a test
            # that delivers or reads messages next must not race them.
            assert self.web.bolt.listener_work.wait_idle(10), "listener work still running after 10 s"
        return reply

    def reject(self, lead_id: int, user_id: str, reason: str, *, version: int = 2, note: str | None = None,
               extra: dict[str, Any] | None = None, wait_for_work: bool = True) -> Reply:
        """Submit the rejection modal for `reason`, as if it had been opened from the card."""
        values: dict[str, Any] = {}
        if note is not None:
            values["note"] = {"note": {"type": "plain_text_input", "value": note}}
        values.update(extra or {})
        meta = json.dumps({"lead": lead_id, "v": version, "reason": reason})
        blocks = [{"type": "input", "block_id": block_id} for block_id in values]
        return self.submit_view(user_id, "reject_modal", meta, values, blocks=blocks, wait_for_work=wait_for_work)


def _no_work() -> None:
    """Do nothing, in place of close() for a response body whose request queued no work."""

