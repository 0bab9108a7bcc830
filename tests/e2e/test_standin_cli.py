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

        # `handoff click` presses Accept on that card, as the rep would in Slack.
        lead_id = str(answer["leads"][0]["id"])
        clicked = subprocess.run([*HANDOFF, "click", lead_id], env=web_env, cwd=tmp_path,
                                 capture_output=True, text=True, timeout=60)
        assert clicked.returncode == 0, clicked.stdout + clicked.stderr
        assert "HTTP 200" in clicked.stdout
        wait_for_line(standin, "message updated", timeout=30)
        accepted = wait_for_line(standin, "De lead is nu een SAL", timeout=30)[-1]
        assert "Geaccepteerd" in accepted
        again = subprocess.run([*HANDOFF, "click", lead_id], env=web_env, cwd=tmp_path,
                               capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stdout + again.stderr
        # The second click changes nothing; the rep gets a note that only they can see.
        notice = wait_for_line(standin, "only visible to the user", timeout=30)[-1]
        assert "U0SANNEDV1" in notice
        already_handled = wait_for_line(standin, "Deze lead is al behandeld", timeout=30)[-1]
        assert "(SAL)" in already_handled
    finally:
        for process in (web, standin):
            if process is not None:
                process.terminate()
                process.wait(timeout=20)


def test_click_rejects_remote_slack_and_unknown_lead(tmp_path: Path) -> None:
    real = clean_env(tmp_path, SLACK_BOT_TOKEN="xoxb-x", SLACK_SIGNING_SECRET="any-secret")
    without_api_url = subprocess.run([*HANDOFF, "click", "1"], env=real, cwd=tmp_path, capture_output=True,
                                     text=True, timeout=60)
    assert without_api_url.returncode != 0
    assert "SLACK_API_URL is not set; handoff click works only against the stand-in" in without_api_url.stderr

    remote = clean_env(tmp_path, SLACK_API_URL="https://slack.com/api/", SLACK_SIGNING_SECRET="any-secret")
    remote_api = subprocess.run([*HANDOFF, "click", "1"], env=remote, cwd=tmp_path, capture_output=True, text=True,
                                timeout=60)
    assert "SLACK_API_URL is https://slack.com/api/" in remote_api.stderr

    local = clean_env(tmp_path, SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/", SLACK_SIGNING_SECRET="any-secret")
    unknown = subprocess.run([*HANDOFF, "click", "7"], env=local, cwd=tmp_path, capture_output=True, text=True,
                             timeout=60)
    assert unknown.returncode != 0
    assert "no lead with id 7" in unknown.stderr
    assert "Traceback" not in unknown.stderr

    elsewhere = subprocess.run([*HANDOFF, "click", "7", "--url", "http://192.0.2.1/slack/events"], env=local,
                               cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert "--url http://192.0.2.1/slack/events is not on this machine" in elsewhere.stderr
