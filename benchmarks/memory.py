"""Peak memory of the web process tree and the clock process while both do work.

`handoff web --no-clock` (gunicorn master and 2 workers) and `handoff clock`
run as real processes against the same scratch database and a Slack stand-in.
The web tree gets sequential clicks and then bursts of 50 simultaneous clicks.
The clock process sweeps every second. It finds leads whose decision deadline
passed two weeks ago and delivers their cards and escalations. The peak
resident set size (VmHWM) of every process is read while they still run.

VmHWM counts shared pages too, so the workers' figures include the memory they
share with the master after the fork, and the tree sum counts that memory more than once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from benchmarks.common import (
    Options,
    Row,
    Skipped,
    add_example_users,
    make_runtime,
    scratch_database,
)
from benchmarks.concurrent_clicks import THREADS, BurstResult, check_after, click_burst
from benchmarks.processes import bot_environment, bot_processes, free_port, log_tail, tree_peaks
from benchmarks.slack_drive import add_leads, deliver_cards
from bot.slack_standin import SlackStandin
from storage.models import OutboxItem

NAME = "memory"
TARGET_MB = 150
CLOCK_TIMEOUT_SECONDS = 120.0
# Far enough back that every step of a 5-working-day schedule (reminders, then the escalation) is due.
OVERDUE_BY = timedelta(days=14)


def _outbox_waiting(rt: Any, prefix_ids: list[int]) -> int:
    with rt.db.transaction() as session:
        return int(session.scalar(
            select(func.count()).select_from(OutboxItem)
            .where(OutboxItem.lead_id.in_(prefix_ids), OutboxItem.status != "sent")
        ) or 0)


def _alerts_enqueued(rt: Any, lead_ids: list[int]) -> int:
    with rt.db.transaction() as session:
        return int(session.scalar(
            select(func.count()).select_from(OutboxItem)
            .where(OutboxItem.lead_id.in_(lead_ids), OutboxItem.kind.in_(["reminder", "escalation"]))
        ) or 0)


def _measure(kind: str, options: Options, clicks: int, overdue: int) -> dict[str, Any]:
    with scratch_database(kind, options, name="memory") as url, SlackStandin() as standin:
        add_example_users(standin)
        now = datetime.now(UTC)
        rt = make_runtime(url, slack_api_url=standin.base_url, now=now)
        click_ids = add_leads(rt, clicks, prefix="CLICK")
        cards = deliver_cards(rt, standin.base_url, click_ids)
        # Leads that became MQLs two weeks ago: their cards wait in the outbox for the clock process.
        past = make_runtime(url, slack_api_url=standin.base_url, now=now - OVERDUE_BY)
        overdue_ids = add_leads(past, overdue, prefix="OVERDUE")
        past.db.dispose()

        port = free_port()
        env = bot_environment(database_url=url, slack_api_url=standin.base_url, port=port)
        with bot_processes(env, options.workdir, clock=True) as started:
            clicked = BurstResult()
            sequential = clicks // 3
            for card in cards[:sequential]:
                click_burst(port, standin, [card], clicked)
            for first in range(sequential, clicks, THREADS):
                click_burst(port, standin, cards[first:first + THREADS], clicked)
            check_after(rt, click_ids, clicked)

            deadline = time.monotonic() + CLOCK_TIMEOUT_SECONDS
            while time.monotonic() < deadline:
                if _alerts_enqueued(rt, overdue_ids) >= overdue and _outbox_waiting(rt, overdue_ids) == 0:
                    break
                time.sleep(0.5)
            alerts = _alerts_enqueued(rt, overdue_ids)
            waiting = _outbox_waiting(rt, overdue_ids)
            web = tree_peaks(started["web"].process.pid)
            clock = tree_peaks(started["clock"].process.pid)
            clock_log = log_tail(started["clock"])
        rt.db.dispose()
    if clicked.errors:
        raise RuntimeError(f"{len(clicked.errors)} clicks failed, first: {clicked.errors[:3]}")
    if alerts < overdue or waiting:
        raise RuntimeError(f"the clock process enqueued {alerts} alerts for {overdue} overdue leads and left "
                           f"{waiting} outbox items unsent within {CLOCK_TIMEOUT_SECONDS:.0f} s; the clock's log "
                           f"ends with:\n{clock_log}")
    return {"web": web, "clock": clock, "clicks": clicks, "overdue": overdue, "alerts": alerts}


def _mb(kib: int) -> float:
    """Convert KiB, as /proc reports them, to MB of 10**6 bytes, the unit of the target."""
    return kib * 1024 / 1_000_000


def run(options: Options) -> list[Row]:
    clicks, overdue = (150, 200) if options.quick else (300, 600)
    rows: list[Row] = []
    for kind in options.databases:
        try:
            print(f"  memory: {kind}, {clicks} clicks, {overdue} overdue leads for the clock ...", flush=True)
            result = _measure(kind, options, clicks, overdue)
        except Skipped as reason:
            rows.append(Row(NAME, "peak RSS", kind, "skipped", notes=str(reason)))
            continue
        for name in ("web", "clock"):
            peaks = result[name]
            largest = max(peaks.values())
            each = ", ".join(f"{_mb(value):.0f}" for value in peaks.values())
            rows.append(Row(
                NAME, f"peak RSS, {name} process tree", kind, f"{_mb(largest):.1f} MB (largest process)",
                target=f"< {TARGET_MB} MB each", met=_mb(largest) < TARGET_MB,
                notes=(f"{len(peaks)} process{'es' if len(peaks) > 1 else ''}, VmHWM each (MB): {each}; sum {_mb(sum(peaks.values())):.0f} MB; "
                       + (f"{result['clicks']} clicks" if name == "web" else
                          f"{result['overdue']} overdue leads: cards and {result['alerts']} alerts delivered")),
                data={"peaks_kib": peaks},
            ))
    return rows
