"""`handoff standin`: what it prints of the calls the bot makes, command replies included."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from bot.config import HandoffConfig
from bot.standin_console import serve


def post_json(url: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def wait_for_output(capsys: pytest.CaptureFixture[str], text: str, seen: list[str]) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        seen.append(capsys.readouterr().out)
        if text in "".join(seen):
            return "".join(seen)
        time.sleep(0.05)
    return "".join(seen)


def test_console_prints_command_replies(config: HandoffConfig, capsys: pytest.CaptureFixture[str]) -> None:
    stop = threading.Event()
    console = threading.Thread(target=serve, args=(config, 0, stop))
    console.start()
    seen: list[str] = []
    try:
        started = wait_for_output(capsys, "as its response_url", seen)
        match = re.search(r"(http://127\.0\.0\.1:\d+/)response/any-name", started)
        assert match is not None, started
        root = match.group(1)

        assert post_json(f"{root}response/sla-1", {"text": "SLA-overzicht: 2 open"}) == 200
        assert post_json(f"{root}response/sla-2", {"text": "x", "blocks": "not a list"}) == 400
        output = wait_for_output(capsys, "response/sla-2", seen)
    finally:
        stop.set()
        console.join(timeout=5)

    assert "▶ response/sla-1: reply to a slash command or action" in output
    assert "SLA-overzicht: 2 open" in output
    assert "▶ response/sla-2: response_url failed: invalid_blocks" in output
