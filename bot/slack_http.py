"""A Web API client that keeps its connections to Slack open between calls.

slack_sdk's WebClient sends each call through urllib, which opens a new connection, and over
HTTPS does a new TLS handshake, for every call. `PooledWebClient` sends the same requests through
a urllib3 connection pool instead, so a card update after a click goes out on a connection that
is already open. Everything above the transport stays slack_sdk's: the request it builds, its
retry handlers, its response parsing and its errors.

The transport keeps urllib's contract towards slack_sdk. A status outside 200 to 299 raises
`urllib.error.HTTPError`, from which slack_sdk reads 429's Retry-After. A failure to connect, or a
connection that breaks while the request is sent, raises `urllib.error.URLError`. A connection
that drops before the response raises `RemoteDisconnected` or `ConnectionResetError`. slack_sdk's
connection retry handler retries these once, as it does for urllib.

A response cut off after its status line raises `IncompleteRead`, and a call without a response
within the timeout raises `TimeoutError`. slack_sdk retries neither, because Slack may have acted
on the call. The outbox retries it later, after looking for the first attempt's message. Bodies
are returned as sent, gzip included. Unlike urllib, the transport does not follow redirects: a
3xx status raises HTTPError.

Two kinds of calls still go through slack_sdk's urllib transport: every call when a proxy is set
(`HTTPS_PROXY`, which slack_sdk reads), and the upload of a file's bytes in `files_upload_v2`.
"""

from __future__ import annotations

import http.client
import io
import os
import threading
from email.message import Message
from http.client import HTTPMessage
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request

import urllib3
from slack_sdk import WebClient

# Connections kept open per host and process, enough for a web process's 8 request threads and
# 2 listener work threads. A call beyond them opens one more connection and closes it afterwards.
POOL_CONNECTIONS = 12


class PooledWebClient(WebClient):
    """A slack_sdk WebClient whose calls reuse open connections (see the module docstring).

    Thread-safe like urllib3's pool. A forked child process opens connections of its own
    instead of sharing its parent's sockets.
    """

    def __init__(self, *args: Any, pool_connections: int = POOL_CONNECTIONS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pool_connections = pool_connections
        self._pool_lock = threading.Lock()
        # The pool and the id of the process that made it, in one attribute so that a thread reads both at once.
        self._owned_pool: tuple[urllib3.PoolManager, int] | None = None

    def _connections(self) -> urllib3.PoolManager:
        owned = self._owned_pool
        if owned is not None and owned[1] == os.getpid():
            return owned[0]
        with self._pool_lock:
            owned = self._owned_pool
            if owned is None or owned[1] != os.getpid():
                # The parent's pool is dropped without closing, because its sockets are the parent's.
                pool = urllib3.PoolManager(num_pools=4, maxsize=self.pool_connections, block=False,
                                           retries=False, ssl_context=self.ssl)
                owned = self._owned_pool = (pool, os.getpid())
            return owned[0]

    def close_connections(self) -> None:
        """Close the open connections. The next call opens new ones."""
        with self._pool_lock:
            owned, self._owned_pool = self._owned_pool, None
        if owned is not None and owned[1] == os.getpid():
            owned[0].clear()

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None or not url.lower().startswith(("http://", "https://")):
            # urllib's path handles the proxy setting and refuses other schemes with slack_sdk's error.
            return super()._perform_urllib_http_request_internal(url, req)
        try:
            response = self._connections().request(
                "POST", url, body=req.data, headers=dict(req.header_items()), timeout=self.timeout,
                redirect=False, retries=False, preload_content=True, decode_content=False,
            )
        except urllib3.exceptions.ReadTimeoutError as error:
            raise TimeoutError(f"Slack did not respond within {self.timeout} s") from error
        except urllib3.exceptions.ProtocolError as error:
            cause = error.args[1] if len(error.args) > 1 else None
            if isinstance(cause, BrokenPipeError):
                # The request was not sent whole. urllib raises URLError then, which slack_sdk retries.
                raise URLError(cause) from error
            if isinstance(cause, (http.client.HTTPException, OSError)):
                # As urllib raises it: slack_sdk retries RemoteDisconnected and ConnectionResetError,
                # but not IncompleteRead, after which Slack has acted on the call.
                raise cause from error
            raise URLError(error) from error
        except urllib3.exceptions.HTTPError as error:
            raise URLError(error) from error
        headers = _message(response.headers.items())
        body: bytes = response.data
        if not 200 <= response.status < 300:
            raise HTTPError(url, response.status, response.reason or "", headers, io.BytesIO(body))
        if headers.get_content_type() == "application/gzip":
            return {"status": response.status, "headers": headers, "body": body}
        return {"status": response.status, "headers": headers,
                "body": body.decode(headers.get_content_charset() or "utf-8")}


def _message(items: Any) -> Message:
    """Build the header object that urllib's responses carry, which slack_sdk reads."""
    message = HTTPMessage()
    for name, value in items:
        message[name] = value
    return message
