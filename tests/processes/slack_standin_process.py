"""Run the Slack stand-in as a process of its own, for tests that start the bot as real processes.

Usage: python slack_standin_process.py [METHOD=SECONDS ...]. Each argument delays the
responses of a Web API method, as a slow Slack would. The process prints `port <n>` once it
listens on 127.0.0.1 and serves until it receives SIGTERM. Besides the Web API
it serves `GET /_test/calls`, which returns every recorded call as JSON for
the test to read at the end.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from bot.slack_standin import SlackStandin
from bot.slack_standin.server import _Reply

# Slack ids of the people in the process tests' configuration, with the e-mails users.info returns.
PEOPLE = {
    "U0SANNEDV1": "sanne.devries@handoff-demo.nl",
    "U0DAANBKR1": "daan.bakker@handoff-demo.nl",
    "U0PIETERJ1": "pieter.janssens@handoff-demo.be",
    "U0LOTTEPT1": "lotte.peeters@handoff-demo.be",
    "U0EVAVSR01": "eva.visser@handoff-demo.nl",
    "U0MARCCLS1": "marc.claes@handoff-demo.be",
}
CHANNELS = {"C0HEADSALE1": "head-of-sales", "C0SALES001": "sales"}
CALLS_PATH = "/_test/calls"


class RecordingStandin(SlackStandin):
    """The stand-in with one extra route that returns the recorded calls."""

    def _handle_http(self, *, path: str, query: str, content_type: str, authorization: str | None,
                     body: bytes, received_at: float | None = None) -> tuple[str | None, _Reply]:
        if path == CALLS_PATH:
            calls: list[dict[str, Any]] = [
                {"method": call.method, "params": call.params, "response": call.response, "status": call.status}
                for call in self.calls()
            ]
            return None, _Reply(200, {"ok": True, "calls": calls})
        return super()._handle_http(path=path, query=query, content_type=content_type,
                                    authorization=authorization, body=body, received_at=received_at)


def main(arguments: list[str]) -> int:
    standin = RecordingStandin()
    for argument in arguments:
        method, _, seconds = argument.partition("=")
        standin.set_latency(float(seconds), method)
    for user_id, email in PEOPLE.items():
        standin.add_user(user_id, email=email, real_name=email.split("@")[0])
    for channel_id, name in CHANNELS.items():
        standin.add_channel(channel_id, name)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    standin.start()
    print(f"port {standin.port}", flush=True)
    stopped.wait()
    standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
