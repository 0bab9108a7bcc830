"""The bot as real processes: `handoff web` (gunicorn) and `handoff clock`, on loopback only.

Peak memory is read from /proc/<pid>/status (VmHWM, the peak resident set
size) of each process and its children, so psutil is not needed.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import BOT_TOKEN, EXAMPLE_CONFIG, REPO, SIGNING_SECRET

HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def bot_environment(*, database_url: str, slack_api_url: str, port: int, workers: int = 2,
                    sweep_interval_seconds: int = 1, channel_interval_seconds: float = 0) -> dict[str, str]:
    """Build the environment of the bot's processes, without the Slack, handoff and database settings of the caller's.

    Per-channel pacing is off by default: the benchmarks measure speed and memory, and at one post
    per second per channel the 1,800 DMs of the memory run to a few people would take minutes.
    """
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SLACK_", "HANDOFF_", "DATABASE_URL", "WEB_", "SWEEP_", "LOG_LEVEL", "OUTBOX_"))}
    env.update({
        "PYTHONPATH": str(REPO),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api_url,
        "DATABASE_URL": database_url,
        "HANDOFF_CONFIG": str(EXAMPLE_CONFIG),
        "HOST": HOST,
        "PORT": str(port),
        "WEB_WORKERS": str(workers),
        "SWEEP_INTERVAL_SECONDS": str(sweep_interval_seconds),
        "OUTBOX_CHANNEL_INTERVAL_SECONDS": str(channel_interval_seconds),
    })
    return env


@dataclass
class Started:
    """A process this benchmark started, with the file that receives its output."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path


def _start(name: str, args: list[str], env: dict[str, str], workdir: Path) -> Started:
    log = workdir / f"{name}.log"
    with log.open("wb") as output:
        # The working folder is the scratch folder, so that no .env file of the repository is read.
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", *args], env=env, cwd=workdir,
                                   stdout=output, stderr=subprocess.STDOUT)
    return Started(name, process, log)


def _stop(started: Started) -> None:
    if started.process.poll() is None:
        started.process.terminate()
        try:
            started.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            started.process.kill()
            started.process.wait(timeout=STOP_TIMEOUT_SECONDS)


def log_tail(started: Started, lines: int = 20) -> str:
    try:
        return "\n".join(started.log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


def wait_healthy(port: int, web: Started) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if web.process.poll() is not None:
            raise RuntimeError(f"handoff web exited with {web.process.returncode}:\n{log_tail(web)}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            body = response.read()
            connection.close()
            if response.status == 200 and json.loads(body) == {"status": "ok"}:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"handoff web did not respond on /healthz within {START_TIMEOUT_SECONDS:.0f} s:\n{log_tail(web)}")


@contextmanager
def bot_processes(env: dict[str, str], workdir: Path, *, clock: bool) -> Iterator[dict[str, Started]]:
    """Start `handoff web --no-clock` and, with `clock`, `handoff clock`; stop both on exit."""
    started: dict[str, Started] = {}
    try:
        started["web"] = _start("web", ["web", "--no-clock"], env, workdir)
        if clock:
            started["clock"] = _start("clock", ["clock"], env, workdir)
        wait_healthy(int(env["PORT"]), started["web"])
        yield started
    finally:
        for process in reversed(list(started.values())):
            _stop(process)


def descendants(pid: int) -> list[int]:
    """Return the ids of every child process of `pid`, recursively, from /proc."""
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = [int(child) for child in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            found.extend(children)
            pending.extend(children)
    return found


def peak_rss_kib(pid: int) -> int | None:
    """Return the peak resident set size (VmHWM) of `pid` in KiB, or None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def tree_peaks(pid: int) -> dict[int, int]:
    """Return the peak RSS in KiB of `pid` and each of its descendants that is still running."""
    peaks = {}
    for member in [pid, *descendants(pid)]:
        peak = peak_rss_kib(member)
        if peak is not None:
            peaks[member] = peak
    return peaks


def cpu_seconds(pid: int) -> float:
    """Return the user plus system CPU time of `pid` so far, in seconds, or 0.0 when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name in field 2 may contain spaces, so split after its closing parenthesis.
    fields = stat.rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    return sum(cpu_seconds(member) for member in [pid, *descendants(pid)])
