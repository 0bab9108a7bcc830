"""The clock process: sweeps due SLA alerts into the outbox and delivers the outbox."""

from __future__ import annotations

import logging

from apscheduler.schedulers.blocking import BlockingScheduler

from bot.outbox import OutboxSender
from bot.runtime import Runtime
from bot.sla.clocks import sweep

log = logging.getLogger(__name__)


def run_once(rt: Runtime, sender: OutboxSender) -> None:
    """One tick: enqueue what fell due, then deliver what is waiting. Safe to run in several processes."""
    report = sweep(rt)
    if report.due:
        log.info("clock.sweep due=%s enqueued=%s skipped=%s failed=%s", report.due, report.enqueued, report.skipped, report.failed)
    delivered = sender.deliver_due()
    if delivered.sent or delivered.retried or delivered.parked:
        log.info("clock.outbox sent=%s retried=%s parked=%s", delivered.sent, delivered.retried, delivered.parked)


def _tick(rt: Runtime, sender: OutboxSender) -> None:
    try:
        run_once(rt, sender)
    except Exception:  # noqa: BLE001 - the next tick tries again; the error is logged with its trace
        log.exception("clock.tick_failed")


def run_forever(rt: Runtime, sender: OutboxSender) -> None:
    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(
        _tick, "interval", args=(rt, sender), seconds=rt.settings.sweep_interval_seconds,
        id="sweep", max_instances=1, coalesce=True, next_run_time=rt.clock.now(),
    )
    log.info("clock.started interval_s=%s", rt.settings.sweep_interval_seconds)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("clock.stopped")
