"""Helpers shared by the benchmarks: scratch databases, statistics, the machine, result rows."""

from __future__ import annotations

import io
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bot.clock import FixedClock
from bot.config import load_config
from bot.runtime import Runtime
from bot.settings import Settings
from storage.db import Database
from storage.migrate import upgrade

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = REPO / "examples" / "handoff.example.yml"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"
SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench"
# Friday 28 March 2025, 10:00 in Amsterdam: a working moment, as in the tests.
START = datetime(2025, 3, 28, 9, 0, tzinfo=UTC)

# Slack member ids and e-mails of the people in examples/handoff.example.yml.
EXAMPLE_PEOPLE = {
    "U0SANNEDV1": "sanne.devries@handoff-demo.nl",
    "U0DAANBKR1": "daan.bakker@handoff-demo.nl",
    "U0PIETERJ1": "pieter.janssens@handoff-demo.be",
    "U0LOTTEPT1": "lotte.peeters@handoff-demo.be",
    "U0EVAVSR01": "eva.visser@handoff-demo.nl",
    "U0MARCCLS1": "marc.claes@handoff-demo.be",
}
SANNE = "U0SANNEDV1"


@dataclass
class Options:
    """Command-line choices that every benchmark reads."""

    quick: bool
    postgres_url: str
    profile: bool
    workdir: Path
    databases: tuple[str, ...] = ("sqlite", "postgres")


@dataclass
class Row:
    """One line of the results table; `ratio` is measured / floor where a floor exists."""

    benchmark: str
    case: str
    database: str
    measured: str
    floor: str = "-"
    ratio: float | None = None
    target: str = "-"
    met: bool | None = None
    notes: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class Skipped(Exception):
    """A benchmark, or one case of it, cannot run here; the message gives the reason."""


# ---- statistics ---------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile, e.g. fraction=0.99 for p99."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


# ---- databases ----------------------------------------------------------------------------


def postgres_problem(url: str) -> str | None:
    """Return why the PostgreSQL server at `url` cannot be used, or None when it accepts queries."""
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - any failure means the server is not usable
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"
    return None


@contextmanager
def scratch_database(kind: str, options: Options, name: str = "handoff") -> Iterator[str]:
    """Yield the URL of a new, migrated database: a SQLite file or a PostgreSQL schema of its own.

    The SQLite file is removed and the PostgreSQL schema dropped afterwards.
    """
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix=f"bench-{name}-", dir=options.workdir))
        url = f"sqlite:///{folder / 'handoff.db'}"
        upgrade(url)
        try:
            yield url
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    if kind != "postgres":
        raise ValueError(f"unknown database kind {kind!r}: use sqlite or postgres")
    problem = postgres_problem(options.postgres_url)
    if problem is not None:
        raise Skipped(f"PostgreSQL not reachable at {options.postgres_url} ({problem}); pass --postgres-url")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(options.postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in options.postgres_url else "?"
    url = f"{options.postgres_url}{separator}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "database_url": database_url,
        "handoff_config": EXAMPLE_CONFIG,
        "default_language": "nl",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def make_runtime(database_url: str, *, config_path: Path = EXAMPLE_CONFIG, now: datetime = START,
                 **settings: object) -> Runtime:
    """Build a Runtime on `database_url` with a FixedClock at `now` and per-channel pacing off.

    With pacing on, a sender on the FixedClock moves the clock a second per post to one channel
    and books that channel's next slot minutes ahead, which then holds up the real processes.
    """
    settings.setdefault("outbox_channel_interval_seconds", 0)
    return Runtime(
        settings=make_settings(database_url, handoff_config=config_path, **settings),
        config=load_config(config_path),
        db=Database(database_url),
        clock=FixedClock(now),
    )


def add_example_users(standin: Any) -> None:
    """Register the example configuration's people, so that users.info finds them."""
    for user_id, email in EXAMPLE_PEOPLE.items():
        standin.add_user(user_id, email=email, real_name=email.split("@")[0])


# ---- profiling ----------------------------------------------------------------------------


def profile_call(label: str, function: Callable[[], Any], *, top: int = 25) -> Any:
    """Run `function` under cProfile and print the `top` entries by cumulative time."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    result = profiler.runcall(function)
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer)
    stats.sort_stats("cumulative").print_stats(top)
    print(f"\n---- cProfile: {label} (top {top} by cumulative time) ----")
    print(buffer.getvalue())
    return result


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


# ---- the machine --------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _postgres_version(url: str) -> str:
    if postgres_problem(url) is not None:
        return "not reachable"
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SHOW server_version")).scalar())
    finally:
        engine.dispose()


def machine(options: Options) -> dict[str, str]:
    import slack_bolt
    import sqlalchemy

    try:
        kernel = subprocess.run(["uname", "-sr"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        kernel = platform.platform()
    return {
        "cpus (nproc)": str(os.cpu_count()),
        "cpu model": _cpu_model(),
        "ram": _ram_gib(),
        "kernel": kernel,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": _postgres_version(options.postgres_url),
        "sqlalchemy": sqlalchemy.__version__,
        "slack_bolt": slack_bolt.version.__version__,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
