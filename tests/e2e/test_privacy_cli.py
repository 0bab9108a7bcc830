"""`handoff privacy` as an operator runs it: real processes on a temporary SQLite database."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FixedClock
from bot.config import load_config
from bot.handoff import decide, ingest
from bot.lifecycle import RejectionReason
from bot.runtime import Runtime
from factories import lead_input
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Lead
from support import EXAMPLE_CONFIG, REPO, START, make_settings

HANDOFF = [sys.executable, "-m", "bot.cli"]
SANNE = "U0SANNEDV1"

# Invented people: Zoë's lead is rejected, Carla's rejected, Bram's accepted (still open).
ZOE = {"email": "zoe.de.wit@fictief-bouw.nl", "first_name": "Zoë", "last_name": "de Wit", "phone": "+31 6 1111 2222"}
CARLA = {"email": "carla.maes@fictief-hout.be", "first_name": "Carla", "last_name": "Maes"}
BRAM = {"email": "bram.smit@fictief-staal.nl", "first_name": "Bram", "last_name": "Smit"}
PERSONAL_TEXTS = ("zoe", "Zoë", "de Wit", "1111 2222", "carla", "Maes", "bram", "Smit")


def clean_env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SLACK_", "HANDOFF_", "DATABASE_URL", "PERSONAL_DATA_"))}
    env["PYTHONPATH"] = str(REPO)
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'handoff.db'}"
    env["HANDOFF_CONFIG"] = str(EXAMPLE_CONFIG)
    env.update(values)
    return env


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*HANDOFF, *args], env=env, cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL,
                          timeout=120, check=False)


def assert_nothing_personal(result: subprocess.CompletedProcess[bytes]) -> None:
    output = (result.stdout + result.stderr).decode("utf-8", errors="replace").lower()
    for text in PERSONAL_TEXTS:
        assert text.lower() not in output, text


@pytest.fixture
def leads(tmp_path: Path) -> dict[str, int]:
    """Seed the database the subprocesses use, with leads created and decided at START (2025)."""
    url = f"sqlite:///{tmp_path / 'handoff.db'}"
    upgrade(url)
    db = Database(url)
    rt = Runtime(settings=make_settings(url), config=load_config(EXAMPLE_CONFIG), db=db, clock=FixedClock(START))
    ids: dict[str, int] = {}
    for number, (name, person) in enumerate((("zoe", ZOE), ("carla", CARLA), ("bram", BRAM)), start=1):
        data = lead_input(number, at=START, owner_email="sanne.devries@handoff-demo.nl", **person)
        with db.transaction() as session:
            ids[name] = ingest(session, rt, data, actor="test").lead_id
    for name in ("zoe", "carla", "bram"):
        with db.transaction() as session:
            outcome = decide(session, rt, lead_id=ids[name], version=2, user_id=SANNE, accept=name == "bram",
                             reason=None if name == "bram" else RejectionReason.INCORRECT_FIT)
            assert outcome.status == "done"
    db.dispose()
    return ids


def stored(tmp_path: Path, lead_id: int) -> Lead:
    db = Database(f"sqlite:///{tmp_path / 'handoff.db'}")
    try:
        with db.transaction() as session:
            lead = session.get(Lead, lead_id)
            assert lead is not None
            session.expunge(lead)
            return lead
    finally:
        db.dispose()


def test_export_prints_utf8_json(tmp_path: Path, leads: dict[str, int]) -> None:
    # An ASCII locale for Python's text streams: the export must still be UTF-8.
    env = clean_env(tmp_path, PYTHONIOENCODING="ascii", LC_ALL="C")
    result = run(["privacy", "export", "Zoe.De.Wit@Fictief-Bouw.NL"], env, tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    exported: dict[str, Any] = json.loads(result.stdout.decode("utf-8"))
    assert [entry["lead"]["id"] for entry in exported["leads"]] == [leads["zoe"]]
    assert exported["leads"][0]["lead"]["first_name"] == "Zoë"
    assert "Zoë".encode() in result.stdout
    assert [t["to_stage"] for t in exported["leads"][0]["transitions"]] == ["raw", "mql", "rejected"]
    assert [item["kind"] for item in exported["leads"][0]["outbox"]] == ["card", "card_update"]
    assert b"bram" not in result.stdout.lower()
    assert b"zoe" not in result.stderr.lower()


def test_export_writes_file(tmp_path: Path, leads: dict[str, int]) -> None:
    output = tmp_path / "export.json"
    result = run(["privacy", "export", ZOE["email"], "--output", str(output)], clean_env(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    assert b"1 lead exported to" in result.stderr
    assert result.stdout == b""
    exported = json.loads(output.read_text(encoding="utf-8"))
    assert exported["leads"][0]["lead"]["last_name"] == "de Wit"


def test_export_of_unknown_address_says_so(tmp_path: Path, leads: dict[str, int]) -> None:
    result = run(["privacy", "export", "niemand@fictief.nl"], clean_env(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout)["leads"] == []
    assert b"no lead has this e-mail address" in result.stderr


def test_erase_without_terminal_needs_yes(tmp_path: Path, leads: dict[str, int]) -> None:
    result = run(["privacy", "erase", ZOE["email"]], clean_env(tmp_path), tmp_path)
    assert result.returncode != 0
    assert b"pass --yes" in result.stderr
    assert stored(tmp_path, leads["zoe"]).email == ZOE["email"]


def test_erase_with_yes_prints_count_only(tmp_path: Path, leads: dict[str, int]) -> None:
    result = run(["privacy", "erase", ZOE["email"].upper(), "--yes"], clean_env(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().strip() == "1 lead erased"
    assert_nothing_personal(result)
    lead = stored(tmp_path, leads["zoe"])
    assert (lead.email, lead.first_name, lead.last_name, lead.phone) == (None, None, None, None)
    assert lead.stage == "rejected"
    assert lead.personal_data_erased_at is not None
    assert stored(tmp_path, leads["carla"]).email == CARLA["email"]

    again = run(["privacy", "erase", ZOE["email"], "--yes"], clean_env(tmp_path), tmp_path)
    assert again.returncode == 0, again.stderr.decode()
    assert again.stdout.decode().strip() == "0 leads erased"


def erase_on_terminal(tmp_path: Path, email: str, answer: bytes) -> tuple[int, bytes]:
    """Run `privacy erase` with a pseudo-terminal as standard input and type `answer`."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen([*HANDOFF, "privacy", "erase", email], env=clean_env(tmp_path), cwd=tmp_path,
                                   stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        os.write(controller, answer)
        output, _ = process.communicate(timeout=120)
    finally:
        os.close(controller)
        os.close(terminal)
    return process.returncode, output


def test_erase_on_terminal_asks_first(tmp_path: Path, leads: dict[str, int]) -> None:
    code, output = erase_on_terminal(tmp_path, ZOE["email"], b"n\n")
    assert code == 1
    assert b"Erase the personal data of 1 lead? This cannot be undone. [y/N]" in output
    assert b"nothing erased" in output
    assert stored(tmp_path, leads["zoe"]).email == ZOE["email"]

    code, output = erase_on_terminal(tmp_path, ZOE["email"], b"yes\n")
    assert code == 0, output.decode()
    assert b"1 lead erased" in output
    assert stored(tmp_path, leads["zoe"]).email is None


def test_retention_off_says_how_to_enable(tmp_path: Path, leads: dict[str, int]) -> None:
    result = run(["privacy", "retention"], clean_env(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    assert b"retention is off" in result.stdout
    assert b"PERSONAL_DATA_RETENTION_DAYS" in result.stdout
    assert stored(tmp_path, leads["zoe"]).email == ZOE["email"]


def test_retention_erases_old_closed_leads(tmp_path: Path, leads: dict[str, int]) -> None:
    env = clean_env(tmp_path, PERSONAL_DATA_RETENTION_DAYS="30")
    result = run(["privacy", "retention"], env, tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().strip() == "2 leads erased: closed and unchanged for more than 30 days"
    assert_nothing_personal(result)
    assert stored(tmp_path, leads["zoe"]).email is None
    assert stored(tmp_path, leads["carla"]).email is None
    assert stored(tmp_path, leads["bram"]).email == BRAM["email"]  # accepted: still open


def test_retention_rejects_zero_days(tmp_path: Path, leads: dict[str, int]) -> None:
    result = run(["privacy", "retention"], clean_env(tmp_path, PERSONAL_DATA_RETENTION_DAYS="0"), tmp_path)
    assert result.returncode != 0
    assert b"PERSONAL_DATA_RETENTION_DAYS: Input should be greater than or equal to 1" in result.stderr
    assert b"greater than or equal to 1" in result.stderr
