"""The clock process: sweeps due SLA alerts into the outbox, delivers the outbox and applies retention."""

from __future__ import annotations

import logging
import os
import signal
import threading
from datetime import timedelta
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler

from bot.clicks import recover_clicks
from bot.digest import due_weekly_digest
from bot.events import forget_old_events
from bot.nurture import reengage_due
from bot.outbox import OutboxSender
from bot.privacy import apply_configured_retention
from bot.reviews import due_monthly_review, due_quarterly_review
from bot.runtime import Runtime
from bot.sla.clocks import WAITING_SAL_CLOCKS_GRACE, start_overdue_sal_clocks, sweep

log = logging.getLogger(__name__)

RETENTION_INTERVAL = timedelta(hours=24)
# The first retention run waits a few minutes, so that it does not compete with the first sweep after a start.
RETENTION_FIRST_DELAY = timedelta(minutes=5)


def run_once(rt: Runtime, sender: OutboxSender) -> None:
    """Run one tick: enqueue what fell due, then deliver what is waiting. Safe to run in several processes."""
    # First, so that a click a stopped web process left undecided changes the lead before its alerts are swept.
    recover_clicks(rt, sender)
    # Before the sweep, so that alerts of the clocks started here that are already due go out in this tick.
    started = start_overdue_sal_clocks(rt)
    if started:
        log.warning("clock.sal_clocks_started leads=%s: the web process did not switch them within %s s of the Accept",
                    started, int(WAITING_SAL_CLOCKS_GRACE.total_seconds()))
    report = sweep(rt)
    if report.due:
        log.info("clock.sweep due=%s enqueued=%s skipped=%s failed=%s", report.due, report.enqueued, report.skipped, report.failed)
    reengaged = reengage_due(rt)
    if reengaged.due:
        log.info("clock.reengage due=%s mql=%s nurture=%s failed=%s", reengaged.due, reengaged.requalified,
                 reengaged.still_nurture, reengaged.failed)
    forget_old_events(rt)
    due_weekly_digest(rt)
    due_monthly_review(rt)
    due_quarterly_review(rt)
    delivered = sender.deliver_due()
    if delivered.sent or delivered.retried or delivered.parked:
        log.info("clock.outbox sent=%s retried=%s parked=%s", delivered.sent, delivered.retried, delivered.parked)


def _tick(rt: Runtime, sender: OutboxSender) -> None:
    try:
        run_once(rt, sender)
    except Exception:  # noqa: BLE001 - the next tick tries again; the error is logged with its trace
        log.exception("clock.tick_failed")


def _apply_retention(rt: Runtime) -> None:
    # apply_retention logs the count; only a failure needs logging here.
    try:
        apply_configured_retention(rt)
    except Exception:  # noqa: BLE001 - the next daily run tries again; the error is logged with its trace
        log.exception("privacy.retention_failed")


def run_forever(rt: Runtime, sender: OutboxSender) -> None:
    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(
        _tick, "interval", args=(rt, sender), seconds=rt.settings.sweep_interval_seconds,
        id="sweep", max_instances=1, coalesce=True, next_run_time=rt.clock.now(),
    )
    retention_days = rt.settings.personal_data_retention_days
    if retention_days is not None:
        scheduler.add_job(
            _apply_retention, "interval", args=(rt,), seconds=RETENTION_INTERVAL.total_seconds(),
            id="retention", max_instances=1, coalesce=True, next_run_time=rt.clock.now() + RETENTION_FIRST_DELAY,
        )
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (Procfile platforms, systemd, `docker stop`) would end the process without a word.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        log.info("clock.started interval_s=%s retention_days=%s", rt.settings.sweep_interval_seconds, retention_days)
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("clock.stopped")


def _exit_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    """Log the stop and end the process at once, as SIGTERM's default action would.

    A sweep or send in progress stops where it is, which is as safe as a crash: every step is
    its own transaction, and the outbox finds a send that Slack already took. Raising SystemExit
    instead left, once in a test run, a clock process still running an hour later; the cause
    was not found.
    """
    log.info("clock.stopped signal=SIGTERM")
    logging.shutdown()
    os._exit(0)
