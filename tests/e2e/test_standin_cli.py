"""`handoff standin` and `handoff web` as two processes: a webhook lead's card shows in the stand-in's output."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.intake.signing import sign
from test_cli import HANDOFF, clean_env, free_port


def wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float) -> list[str]:
    """Read `process` output until a line contains `needle`; return the lines read."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        lines.append(line)
        if needle in line:
            return lines
    pytest.fail(f"{needle!r} not in the output within {timeout} s:\n{''.join(lines)}")


def test_standin_shows_card_of_webhook_lead(tmp_path: Path) -> None:
    standin_port, web_port = free_port(), free_port()
    env = clean_env(tmp_path, PYTHONUNBUFFERED="1")
    standin = subprocess.Popen([*HANDOFF, "standin", "--port", str(standin_port)], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    web = None
    try:
        banner = "".join(wait_for_line(standin, "Ctrl-C stops", timeout=30))
        api_url = f"http://127.0.0.1:{standin_port}/api/"
        assert f"SLACK_API_URL={api_url}" in banner
        web_env = clean_env(tmp_path, SLACK_API_URL=api_url, SLACK_BOT_TOKEN="xoxb-standin",
                            SLACK_SIGNING_SECRET="any-secret", HANDOFF_WEBHOOK_SECRET="hook-secret",
                            PORT=str(web_port), HOST="127.0.0.1", WEB_WORKERS="1")
        web = subprocess.Popen([*HANDOFF, "web", "--no-clock"], env=web_env, cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lead = {"source": "website", "external_id": "STANDIN-1", "email": "inkoop@dozen-fictief.nl",
                "company": "Drentse Dozen BV", "industry": "Packaging", "employees": 180, "country": "NL",
                "lead_score": 80, "requested_demo": True, "last_activity_at": datetime.now(UTC).isoformat(),
                "owner_email": "sanne.devries@handoff-demo.nl"}
        body = json.dumps(lead).encode()
        deadline = time.monotonic() + 60
        while True:
            stamp = int(time.time())
            request = urllib.request.Request(
                f"http://127.0.0.1:{web_port}/leads", data=body, method="POST",
                headers={"content-type": "application/json", "x-handoff-timestamp": str(stamp),
                         "x-handoff-signature": sign("hook-secret", stamp, body)})
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    answer = json.load(response)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("web process did not start")
                time.sleep(0.3)
        assert answer["leads"][0]["stage"] == "mql"
        shown = "".join(wait_for_line(standin, "Drentse Dozen BV", timeout=30))
        assert "new message" in shown
    finally:
        for process in (web, standin):
            if process is not None:
                process.terminate()
                process.wait(timeout=20)
