"""The HTTP entry point: /slack/events (Bolt), /leads (intake webhook) and /healthz on one port."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import BoltRequest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import inspect, text

from bot.intake.signing import TIMESTAMP_PATTERN
from bot.intake.webhook import handle_delivery
from bot.outbox import OutboxSender
from bot.runtime import Runtime
from handlers.app import HandoffApp
from storage.migrate import head_revision

log = logging.getLogger(__name__)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 411: "Length Required", 413: "Payload Too Large", 500: "Internal Server Error",
           503: "Service Unavailable"}


class WebApp:
    """A small WSGI router; the raw request bytes reach the signature checks unchanged."""

    def __init__(self, rt: Runtime, bolt: HandoffApp, sender: OutboxSender) -> None:
        self.rt = rt
        self.bolt = bolt
        self.sender = sender
        # The migration this code needs: /healthz compares the database with it.
        self.schema_head = head_revision()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            return self._health(start_response)
        if path not in {"/slack/events", "/leads"}:
            # The path is the client's and may contain anything, so only its length is logged.
            log.warning("http.rejected status=404 method=%s path_length=%s", _method_for_log(method), len(path))
            return _json(start_response, 404, {"error": f"no endpoint at {path}; use /slack/events, /leads or /healthz"})
        if method != "POST":
            log.warning("http.rejected path=%s status=405 method=%s", path, _method_for_log(method))
            return _json(start_response, 405, {"error": f"{path} takes POST, not {method}"})
        body, error = self._read_body(environ)
        if error is not None:
            status, message = error
            log.warning("http.rejected path=%s status=%s reason=%s", path, status, message)
            return _json(start_response, status, {"error": message})
        headers = _headers(environ)
        if path == "/leads":
            try:
                result = handle_delivery(self.rt, body, headers, now_epoch=time.time())
            except Exception:  # noqa: BLE001 - answer JSON, never a server error page
                reference = uuid.uuid4().hex[:8]
                log.exception("webhook.failed ref=%s bytes=%s", reference, len(body))
                return _json(start_response, 500, {"error": f"the lead could not be stored (reference {reference})"})
            for lead_id in result.lead_ids:
                self.sender.deliver_lead(lead_id)
            return _json(start_response, result.status, result.body)
        return self._slack(environ, body, headers, start_response)

    def _read_body(self, environ: dict[str, Any]) -> tuple[bytes, tuple[int, str] | None]:
        limit = self.rt.settings.max_request_bytes
        length_text = environ.get("CONTENT_LENGTH") or ""
        if not length_text.isdigit():
            return b"", (411, "a Content-Length header is required")
        length = int(length_text)
        if length > limit:
            return b"", (413, f"body of {length} bytes is over the limit of {limit} bytes (MAX_REQUEST_BYTES)")
        return environ["wsgi.input"].read(length), None

    def _slack(self, environ: dict[str, Any], body: bytes, headers: dict[str, str], start_response: StartResponse) -> Iterable[bytes]:
        timestamp = headers.get("x-slack-request-timestamp")
        if timestamp is not None and not TIMESTAMP_PATTERN.fullmatch(timestamp):
            # Bolt's signature check would fail with a server error on such a value.
            log.warning("slack.rejected status=401 reason=timestamp bytes=%s", len(body))
            return _json(start_response, 401, {"error": "X-Slack-Request-Timestamp must be Unix seconds"})
        # Listener work waits until this request has its response, and may then run in this thread
        # when the server closes the body (ListenerWork.request_in_flight).
        with self.bolt.listener_work.request_in_flight() as after_response:
            body_out = self._dispatch(environ, body, headers, start_response)
        return after_response.wrap(body_out)

    def _dispatch(self, environ: dict[str, Any], body: bytes, headers: dict[str, str], start_response: StartResponse) -> Iterable[bytes]:
        try:
            request = BoltRequest(
                body=body.decode("utf-8", errors="replace"),
                query=parse_qs(environ.get("QUERY_STRING", "")),
                headers={name: [value] for name, value in headers.items()},
            )
            if _has_malformed_shape(request.body) and self._signed(body, headers):
                # slack_bolt 1.30 responds 500 when an action or an event is not an object, and Slack never
                # sends that shape.
                log.warning("slack.invalid_payload status=400 error=shape bytes=%s", len(body))
                return _json(start_response, 400, {"error": "the Slack payload could not be read"})
            response = self.bolt.dispatch(request)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
            # Bolt parses the payload before any listener runs and raises on shapes Slack never sends.
            log.warning("slack.invalid_payload status=400 error=%s bytes=%s", type(error).__name__, len(body))
            return _json(start_response, 400, {"error": "the Slack payload could not be read"})
        if response.status == 401:
            log.warning("slack.rejected status=401 reason=signature bytes=%s", len(body))
        payload = (response.body or "").encode()
        header_list = [(name, value) for name, values in response.headers.items() for value in values]
        if not any(name.lower() == "content-length" for name, _ in header_list):
            # Without it gunicorn sends the body in chunks, and a client cannot tell a cut-off body.
            header_list.append(("Content-Length", str(len(payload))))
        start_response(f"{response.status} {REASONS.get(response.status, 'Status')}", header_list)
        return [payload]

    def _signed(self, body: bytes, headers: dict[str, str]) -> bool:
        secret = self.rt.settings.slack_signing_secret
        if secret is None:
            return False
        return SignatureVerifier(secret.get_secret_value()).is_valid_request(body.decode("utf-8", errors="replace"), headers)

    def _health(self, start_response: StartResponse) -> Iterable[bytes]:
        try:
            with self.rt.db.engine.connect() as connection:
                migrated = inspect(connection).has_table("alembic_version")
                revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar() if migrated else None
        except Exception as error:  # noqa: BLE001 - any database failure makes the process unhealthy
            log.error("healthz.database_unreachable error=%s", type(error).__name__)
            return _json(start_response, 503, {"status": "database unreachable"})
        if not migrated:
            # The database was never migrated, or the URL points at another schema.
            log.error("healthz.schema_missing: run 'handoff db upgrade'")
            return _json(start_response, 503, {"status": "database schema missing: run 'handoff db upgrade'"})
        if revision != self.schema_head:
            log.error("healthz.schema_outdated revision=%s needed=%s", revision, self.schema_head)
            return _json(start_response, 503, {"status": f"database schema is at revision {revision}, this version "
                                                         f"needs {self.schema_head}: run 'handoff db upgrade'"})
        return _json(start_response, 200, {"status": "ok"})


def _has_malformed_shape(parsed_body: Any) -> bool:
    """Tell whether a body, as Bolt parsed it, lists an action or carries an event that is not a JSON object."""
    if not isinstance(parsed_body, dict):
        return False
    actions = parsed_body.get("actions")
    if isinstance(actions, list) and any(not isinstance(action, dict) for action in actions):
        return True
    return "event" in parsed_body and not isinstance(parsed_body["event"], dict)


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


def _json(start_response: StartResponse, status: int, body: dict[str, Any]) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(f"{status} {REASONS.get(status, 'Status')}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _method_for_log(method: str) -> str:
    """Return an HTTP method for a log line, or a placeholder when the client sent something else."""
    return method if method.isascii() and method.isalpha() and len(method) <= 16 else "(invalid)"
