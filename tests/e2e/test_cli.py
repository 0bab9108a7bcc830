"""The `handoff` command as a user runs it: real processes, real files, the Slack stand-in."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.slack_standin import SlackStandin
from bot.slack_standin.interactions import signed_headers, slash_command_body
from support import EXAMPLE_CONFIG, REPO

HANDOFF = [sys.executable, "-m", "bot.cli"]


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HANDOFF, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def clean_env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SLACK_", "HANDOFF_", "DATABASE_URL"))}
    env["PYTHONPATH"] = str(REPO)
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'handoff.db'}"
    env["HANDOFF_CONFIG"] = str(EXAMPLE_CONFIG)
    env.update(values)
    return env


EXPORT_HEADER = "Record ID;Email;Company Name;Industry;Number of Employees;Country/Region;HubSpot Score;Last Activity Date\n"


def write_export(tmp_path: Path, *rows: str) -> Path:
    """Write a HubSpot-style export with the given rows, each ending in a newline, as Excel's CSV UTF-8 does."""
    path = tmp_path / "export.csv"
    path.write_text(EXPORT_HEADER + "".join(rows), encoding="utf-8-sig")
    return path


def test_run_without_credentials_says_what_is_missing(tmp_path: Path) -> None:
    result = run(["run"], clean_env(tmp_path), tmp_path)
    assert result.returncode != 0
    assert "SLACK_BOT_TOKEN" in result.stderr
    assert "SLACK_SIGNING_SECRET" in result.stderr
    assert "manifest.yml" in result.stderr
    assert "handoff demo" in result.stderr


def test_invalid_configuration_stops_with_key_and_value(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    data["sla"]["decision_working_days"] = "vijf"
    config = tmp_path / "handoff.yml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    env = clean_env(tmp_path, HANDOFF_CONFIG=str(config), SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s")
    result = run(["run"], env, tmp_path)
    assert result.returncode != 0
    assert "sla.decision_working_days" in result.stderr
    assert "'vijf'" in result.stderr


def test_import_reports_bad_rows_by_line(tmp_path: Path) -> None:
    csv_path = write_export(
        tmp_path,
        "1;a@kaasmakerij-fictief.nl;Kaasmakerij Fictief BV;Food & Beverage;120;NL;80;01-12-2026\n",
        "2;b@kaasmakerij-fictief.nl;Tweede Fictief BV;Food & Beverage;veel;NL;80;01-12-2026\n",
    )
    result = run(["import", str(csv_path), "--no-deliver"], clean_env(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "rows 2, new leads 1" in result.stdout
    assert "line 3 column 'Number of Employees'" in result.stdout
    assert "kaasmakerij" not in result.stderr


def test_import_counts_repeated_record_once(tmp_path: Path) -> None:
    # Lines 2 and 4 carry the same record id: the second updates the lead that the first created,
    # which counts as one new lead and one MQL. Imported again, the file updates both leads.
    csv_path = write_export(
        tmp_path,
        "1;a@kaasmakerij-fictief.nl;Kaasmakerij Fictief BV;Food & Beverage;120;NL;80;01-12-2026\n",
        "2;b@kaasmakerij-fictief.nl;Tweede Fictief BV;Food & Beverage;120;NL;80;01-12-2026\n",
        "1;a@kaasmakerij-fictief.nl;Kaasmakerij Fictief BV;Food & Beverage;130;NL;85;02-12-2026\n",
    )
    result = run(["import", str(csv_path), "--no-deliver"], clean_env(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "rows 3, new leads 2, updated leads 0, MQLs now 2," in result.stdout
    assert "1 row repeats the record id of an earlier row (line 4 repeats line 2)" in result.stdout

    again = run(["import", str(csv_path), "--no-deliver"], clean_env(tmp_path), tmp_path)
    assert again.returncode == 0, again.stderr
    assert "rows 3, new leads 0, updated leads 2, MQLs now 2," in again.stdout


def test_import_of_only_bad_rows_fails(tmp_path: Path) -> None:
    csv_path = write_export(
        tmp_path,
        "1;a@kaasmakerij-fictief.nl;Kaasmakerij Fictief BV;Food & Beverage;veel;NL;80;01-12-2026\n",
        "2;b@kaasmakerij-fictief.nl;Tweede Fictief BV;Food & Beverage;120;NL;hoog;01-12-2026\n",
    )
    result = run(["import", str(csv_path), "--no-deliver"], clean_env(tmp_path), tmp_path)
    assert result.returncode == 1
    assert "no row could be imported" in result.stderr
    assert "line 2 column 'Number of Employees'" in result.stdout


def test_import_of_directory_names_the_fix(tmp_path: Path) -> None:
    result = run(["import", str(tmp_path), "--no-deliver"], clean_env(tmp_path), tmp_path)
    assert result.returncode != 0
    assert "is a directory; give the path of a CSV file" in result.stderr


def test_db_upgrade_then_config_check_masks_secrets(tmp_path: Path) -> None:
    env = clean_env(tmp_path, SLACK_BOT_TOKEN="xoxb-very-secret", SLACK_SIGNING_SECRET="signing-very-secret")
    first = run(["db", "upgrade"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "upgraded from revision none (empty database) to" in first.stdout
    assert first.stdout.startswith(env["DATABASE_URL"] + ": "), "the output must name the database it upgraded"
    again = run(["db", "upgrade"], env, tmp_path)
    assert "database schema is up to date (revision" in again.stdout
    result = run(["config", "check"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "configuration is valid" in result.stdout
    assert "very-secret" not in result.stdout
    assert "**********" in result.stdout


def test_demo_shows_the_whole_loop(tmp_path: Path) -> None:
    result = run(["demo", "--language", "en"], clean_env(tmp_path), tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "new leads 23, MQLs now 15, unreadable rows 1" in out
    assert "receives:" in out
    assert "Accepted* by" in out
    assert "rerouted to" in out
    assert "Reminder: accept or reject" in out
    assert "to make a first contact attempt with" in out
    assert "SLA breached" in out
    assert "MQL→SAL acceptance" in out
    assert "<!channel> Tools BV" in out  # shown as text: the stand-in renders what Slack would display


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_web_process_serves_slack_against_configured_api(tmp_path: Path) -> None:
    port = free_port()
    with SlackStandin() as slack:
        env = clean_env(tmp_path, SLACK_BOT_TOKEN="xoxb-e2e", SLACK_SIGNING_SECRET="e2e-secret",
                        SLACK_API_URL=slack.base_url, PORT=str(port), HOST="127.0.0.1", WEB_WORKERS="1")
        process = subprocess.Popen([*HANDOFF, "web", "--no-clock"], env=env, cwd=tmp_path,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                        assert json.load(response) == {"status": "ok"}
                        break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        pytest.fail("web process did not start")
                    time.sleep(0.2)
            body = slash_command_body(command="/funnel", text="", user_id="U0EVAVSR01", channel_id="C0SALES001",
                                      response_url=slack.root_url + "response/e2e")
            # http.client keeps the connection alive unless the server closes it; urllib would ask to close it.
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                connection.request("POST", "/slack/events", body=body.encode(), headers=signed_headers("e2e-secret", body))
                response = connection.getresponse()
                response.read()
                assert response.status == 200
                # A request thread may run work after the response, so no next request may wait on its connection.
                assert response.getheader("Connection") == "close"
            finally:
                connection.close()
            answer: Any = slack.wait_for("response_url", timeout=10)
            assert "Funnel deze week" in answer.params["text"]
            assert slack.calls("auth.test"), "the bot checks its token against the configured API"
        finally:
            process.terminate()
            output, _ = process.communicate(timeout=20)
    assert "Traceback" not in output


def test_web_logs_no_personal_data_even_at_debug(tmp_path: Path) -> None:
    port = free_port()
    email, phone = "jan.jansen@voorbeeld-fictief.nl", "+31612345678"
    with SlackStandin() as slack:
        env = clean_env(tmp_path, SLACK_BOT_TOKEN="xoxb-e2e", SLACK_SIGNING_SECRET="e2e-secret",
                        SLACK_API_URL=slack.base_url, PORT=str(port), HOST="127.0.0.1", WEB_WORKERS="1",
                        LOG_LEVEL="DEBUG")
        process = subprocess.Popen([*HANDOFF, "web", "--no-clock"], env=env, cwd=tmp_path,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        pytest.fail("web process did not start")
                    time.sleep(0.2)
            body = slash_command_body(command="/lead", text=f"{email} Jan Jansen {phone}", user_id="U0EVAVSR01",
                                      channel_id="C0SALES001", response_url=slack.root_url + "response/e2e")
            # Signed with another secret: Bolt rejects it and, left alone, logs the whole body at INFO.
            request = urllib.request.Request(f"{base}/slack/events", data=body.encode(),
                                             headers=signed_headers("wrong-secret", body), method="POST")
            with pytest.raises(urllib.error.HTTPError) as rejected:
                urllib.request.urlopen(request, timeout=5)
            assert rejected.value.code == 401
            # Signed correctly: the lookup runs and slack_sdk, left alone, logs the response it posts at DEBUG.
            request = urllib.request.Request(f"{base}/slack/events", data=body.encode(),
                                             headers=signed_headers("e2e-secret", body), method="POST")
            with urllib.request.urlopen(request, timeout=5) as response:
                assert response.status == 200
            slack.wait_for("response_url", timeout=10)
        finally:
            process.terminate()
            output, _ = process.communicate(timeout=20)
    assert "slack.rejected" in output or "http.rejected" in output, "the rejection itself is still logged"
    for value in (email, "jan.jansen%40voorbeeld-fictief.nl", "Jansen", "612345678"):
        assert value not in output, f"{value!r} appeared in the log"


def test_import_of_unreadable_file_is_one_line(tmp_path: Path) -> None:
    for name, content in (("empty.csv", b""), ("garbage.csv", bytes(range(256)) * 16)):
        path = tmp_path / name
        path.write_bytes(content)
        result = run(["import", str(path), "--no-deliver"], clean_env(tmp_path), tmp_path)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert name in result.stderr


def test_import_shows_encoding_warning(tmp_path: Path) -> None:
    path = tmp_path / "ansi.csv"
    path.write_bytes("Record ID;Company Name;Country/Region\n1;Caf\xe9 Fictief BV;NL\n".encode("cp1252"))
    result = run(["import", str(path), "--no-deliver"], clean_env(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning:" in result.stdout
    assert "1252" in result.stdout


def test_config_check_masks_database_password(tmp_path: Path) -> None:
    env = clean_env(tmp_path, DATABASE_URL="postgresql://root:pgpassword@127.0.0.1:5432/test")
    result = run(["config", "check"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "pgpassword" not in result.stdout
    assert "SLACK_BOT_TOKEN" in result.stdout
    assert '"SLACK_API_URL": "https://slack.com/api/"' in result.stdout
    assert "warning: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET not set" in result.stdout


def test_outcome_command_closes_an_sql(tmp_path: Path) -> None:
    from bot.clock import SystemClock
    from bot.config import load_config
    from bot.handoff import decide, ingest
    from bot.runtime import Runtime
    from bot.sales import DiscoveryInput, complete_discovery
    from factories import lead_input
    from storage.db import Database
    from storage.migrate import upgrade
    from support import make_settings

    env = clean_env(tmp_path)
    upgrade(env["DATABASE_URL"])
    rt = Runtime(settings=make_settings(env["DATABASE_URL"]), config=load_config(EXAMPLE_CONFIG),
                 db=Database(env["DATABASE_URL"]), clock=SystemClock())
    with rt.db.transaction() as session:
        lead_id = ingest(session, rt, lead_input(1, at=rt.clock.now(), owner_email="sanne.devries@handoff-demo.nl"),
                         actor="test").lead_id
    with rt.db.transaction() as session:
        decide(session, rt, lead_id=lead_id, version=2, user_id="U0SANNEDV1", accept=True)
    with rt.db.transaction() as session:
        complete_discovery(session, rt, lead_id=lead_id, user_id="U0SANNEDV1", answers=DiscoveryInput(
            met={"budget": True, "authority": True, "need": True}, notes={}, next_steps="Offerte", opportunity_ref="OPP-7"))
    rt.db.dispose()

    result = run(["outcome", str(lead_id), "lost"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"lead {lead_id}: lost" in result.stdout
    again = run(["outcome", str(lead_id), "won"], env, tmp_path)
    assert again.returncode != 0
    assert "in stage lost" in again.stderr


def test_export_history_and_metrics_for_excel(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    csv_path = write_export(
        tmp_path,
        "1;a@kaasmakerij-fictief.nl;Kaasmakerij Fictief BV;Food & Beverage;120;NL;80;01-12-2026\n",
    )
    assert run(["import", str(csv_path), "--no-deliver"], env, tmp_path).returncode == 0
    history = tmp_path / "history.csv"
    result = run(["export", "history", "--output", str(history), "--excel"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    raw = history.read_bytes()
    assert raw.startswith("\ufeff".encode())
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0] == "lead_id;source;external_id;at;actor;from_stage;to_stage;reason"
    assert len(lines) == 3  # created, then MQL or nurture
    metrics = tmp_path / "metrics.csv"
    result = run(["export", "metrics", "--output", str(metrics), "--period", "2000-01-01..2100-12-31"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    rows = metrics.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "period_start,period_end,metric,value"
    assert any(row.endswith(",mqls,1") or row.endswith(",mqls,0") for row in rows)


def test_export_refuses_unknown_team_and_folder(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    result = run(["export", "metrics", "--output", str(tmp_path / "m.csv"), "--team", "benelux-de"], env, tmp_path)
    assert result.returncode != 0
    assert "--team 'benelux-de': unknown team; configured teams:" in result.stderr
    assert not (tmp_path / "m.csv").exists()
    missing = tmp_path / "no-such-folder" / "m.csv"
    result = run(["export", "metrics", "--output", str(missing)], env, tmp_path)
    assert result.returncode != 0
    assert "does not exist; create it or choose another --output" in result.stderr
    assert "Traceback" not in result.stderr


def test_outbox_lists_items_being_retried(tmp_path: Path) -> None:
    closed_port = free_port()  # nothing listens there, so every Slack call fails
    env = clean_env(tmp_path, SLACK_BOT_TOKEN="xoxb-e2e", SLACK_SIGNING_SECRET="e2e-secret",
                    SLACK_API_URL=f"http://127.0.0.1:{closed_port}/api/")
    csv_path = tmp_path / "export.csv"
    # Active today, so the lead qualifies and gets a card, whenever the test runs.
    today = time.strftime("%d-%m-%Y")
    csv_path.write_text(
        "Record ID;Email;Company Name;Industry;Number of Employees;Country/Region;HubSpot Score;Last Activity Date\n"
        f"1;a@kaasmakerij-fictief.nl;Kaasmakerij Fictief BV;Food & Beverage;120;NL;80;{today}\n",
        encoding="utf-8-sig",
    )
    assert run(["import", str(csv_path)], env, tmp_path).returncode == 0
    result = run(["outbox"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no parked or failed outbox items" in result.stdout
    assert "failed and are being retried (not yet parked)" in result.stdout
    assert "retrying\tcard\tchat.postMessage\tlead=1\tattempts=1" in result.stdout
    retried = run(["outbox", "--retry", "1", "999"], env, tmp_path)
    assert retried.returncode == 1
    assert "no outbox item with id 999" in retried.stdout
    assert "not parked or failed (sent, or still being retried), so not queued: 1" in retried.stdout
    assert "0 items queued again" in retried.stdout


def test_processes_start_while_slack_is_unreachable(tmp_path: Path) -> None:
    port, closed_port = free_port(), free_port()
    env = clean_env(tmp_path, SLACK_BOT_TOKEN="xoxb-e2e", SLACK_SIGNING_SECRET="e2e-secret",
                    SLACK_API_URL=f"http://127.0.0.1:{closed_port}/api/", PORT=str(port), HOST="127.0.0.1",
                    WEB_WORKERS="1", SWEEP_INTERVAL_SECONDS="1")
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    web = subprocess.Popen([*HANDOFF, "web", "--no-clock"], env=env, cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    clock = subprocess.Popen([*HANDOFF, "clock"], env=env, cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert json.load(response) == {"status": "ok"}
                    break
            except OSError:
                if time.monotonic() > deadline or web.poll() is not None:
                    pytest.fail("the web process did not start while Slack was unreachable")
                time.sleep(0.2)
        time.sleep(3)  # a few clock ticks
        assert clock.poll() is None, "the clock process stopped while Slack was unreachable"
    finally:
        for process in (web, clock):
            process.terminate()
        web_output, _ = web.communicate(timeout=20)
        clock_output, _ = clock.communicate(timeout=20)
    assert "slack.unreachable_at_start" in web_output
    assert "Traceback" not in web_output + clock_output


def test_clock_logs_stop_on_sigterm(tmp_path: Path) -> None:
    with SlackStandin() as slack:
        env = clean_env(tmp_path, SLACK_BOT_TOKEN="xoxb-e2e", SLACK_SIGNING_SECRET="e2e-secret",
                        SLACK_API_URL=slack.base_url, SWEEP_INTERVAL_SECONDS="1")
        process = subprocess.Popen([*HANDOFF, "clock"], env=env, cwd=tmp_path,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert process.stdout is not None
            deadline = time.monotonic() + 60
            started = False
            while time.monotonic() < deadline and not started:
                line = process.stdout.readline()
                if not line and process.poll() is not None:
                    break
                started = "clock.started" in line
            assert started, "the clock process did not log clock.started"
        finally:
            process.terminate()
            output, _ = process.communicate(timeout=30)

    assert process.returncode == 0
    assert "clock.stopped" in output
    assert "Traceback" not in output


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    # Port 1 on the loopback refuses the connection at once.
    env = clean_env(tmp_path, DATABASE_URL="postgresql://nobody:db-secret@127.0.0.1:1/x")
    csv_path = tmp_path / "export.csv"
    csv_path.write_text("Record ID;Company Name\n1;Fictief BV\n", encoding="utf-8")
    for command in (["funnel"], ["import", str(csv_path), "--no-deliver"], ["db", "upgrade"], ["outbox"]):
        result = run(command, env, tmp_path)
        assert result.returncode == 1, command
        assert "Traceback" not in result.stderr, command
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "cannot connect to the PostgreSQL server 127.0.0.1:1" in result.stderr, command
        assert "postgresql://user@host:port/db" in result.stderr, command
        assert "db-secret" not in result.stderr, command


@pytest.mark.postgres
def test_missing_postgres_database_is_one_line(tmp_path: Path, postgres_schema_url: str) -> None:
    from sqlalchemy.engine import make_url

    server = make_url(postgres_schema_url)
    url = server.set(drivername="postgresql", database="handoff_no_such_database", query={})
    env = clean_env(tmp_path, DATABASE_URL=url.render_as_string(hide_password=False))
    result = run(["funnel"], env, tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"cannot connect to the PostgreSQL server {server.host}:{server.port or 5432}" in result.stderr
    assert 'database "handoff_no_such_database" does not exist' in result.stderr


def test_unopenable_sqlite_file_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    result = run(["funnel"], clean_env(tmp_path, DATABASE_URL=f"sqlite:///{folder}"), tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"cannot connect to the SQLite database {folder}" in result.stderr
    assert "sqlite:///path.db" in result.stderr


def test_unsupported_database_scheme_is_named(tmp_path: Path) -> None:
    cases = (("mysql://x", "mysql"), ("postgresql+psycopg2://bot:db-secret@127.0.0.1/db", "postgresql+psycopg2"))
    for url, scheme in cases:
        for command in (["funnel"], ["config", "check"]):
            result = run(command, clean_env(tmp_path, DATABASE_URL=url), tmp_path)
            assert result.returncode == 1, (url, command)
            assert "Traceback" not in result.stderr, (url, command)
            assert f"DATABASE_URL: unsupported scheme {scheme!r}" in result.stderr, (url, command)
            assert "sqlite:///path.db or postgresql://user@host/db" in result.stderr, (url, command)
            assert "db-secret" not in result.stderr + result.stdout, (url, command)


def test_log_level_option_is_checked(tmp_path: Path) -> None:
    result = run(["--log-level", "LOUD", "config", "check"], clean_env(tmp_path), tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "argument --log-level: invalid choice: 'LOUD'" in result.stderr
    lower_case = run(["--log-level", "warning", "config", "check"], clean_env(tmp_path), tmp_path)
    assert lower_case.returncode == 0, lower_case.stderr


def test_import_of_utf16_file_names_the_encoding(tmp_path: Path) -> None:
    header = "Record ID\tEmail\tCompany Name\tCountry/Region\n1\ta@fictief.nl\tFictief BV\tNL\n"
    path = tmp_path / "excel-unicode.txt"
    path.write_bytes(header.encode("utf-16"))  # with a byte order mark, as Excel writes it
    result = run(["import", str(path), "--no-deliver"], clean_env(tmp_path), tmp_path)
    assert result.returncode == 1
    assert "the file is UTF-16 text" in result.stderr
    assert "save it as CSV UTF-8" in result.stderr
    assert "\\x00" not in result.stderr


def test_import_of_header_only_fails(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("Record ID;Email;Company Name;Country/Region\n", encoding="utf-8-sig")
    result = run(["import", str(path), "--no-deliver"], clean_env(tmp_path), tmp_path)
    assert result.returncode == 1
    assert "rows 0" in result.stdout
    assert "export.csv: no data rows after the header, so nothing was imported" in result.stderr


def test_config_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    config = tmp_path / "handoff.yml"
    config.write_bytes(b"caf\xe9: 1\n")
    result = run(["config", "check"], clean_env(tmp_path, HANDOFF_CONFIG=str(config)), tmp_path)
    assert result.returncode == 1
    assert f"{config} is not UTF-8 text (invalid byte 0xe9 at byte offset 3); save it as UTF-8" in result.stderr
    assert "YYYY-MM-DD" not in result.stderr


def test_outcome_of_unknown_lead_names_the_id(tmp_path: Path) -> None:
    result = run(["outcome", "999999", "won"], clean_env(tmp_path), tmp_path)
    assert result.returncode == 1
    assert "no lead with id 999999" in result.stderr
    assert "no longer exists" not in result.stderr
