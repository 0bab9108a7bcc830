"""SLA sweep: 100 due alerts among many open leads with running decision clocks.

The rows are bulk loaded (SQLAlchemy Core executemany on SQLite, COPY on
PostgreSQL) from template leads that `bot.handoff.ingest` created, so every
column contains what the bot itself writes. Exactly 100 clocks, spread evenly over
the id range, have their first reminder due at the sweep moment. Every other
clock's first alert is still ahead. Between repetitions the 100 due clocks are
reset and their outbox rows deleted, so each sweep does the same work.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, select, text, update

from benchmarks.common import (
    START,
    Options,
    Row,
    Skipped,
    make_runtime,
    median,
    ms,
    profile_call,
    scratch_database,
)
from bot.handoff import ingest
from bot.intake.model import LeadInput
from bot.runtime import Runtime
from bot.sla.clocks import RUNNING, decision_schedule, sweep
from storage.models import Lead, OutboxItem, SlaClock

NAME = "sla_sweep"
DUE = 100
CHUNK = 20_000
# The sweep runs on Tuesday 1 April 2025, 14:30 in Amsterdam: half an hour after the halfway
# reminder of a clock started at START (Friday 28 March, 10:00).
SWEEP_AT = datetime(2025, 4, 1, 12, 30, tzinfo=START.tzinfo)
# Clocks that are not due started between 0 and 8 hours before the sweep, so their
# first alert (halfway through 5 working days) lies between about 1.5 and 2.5 working days ahead.
NOT_DUE_START_SPREAD_MINUTES = 480
REP_EMAILS = (
    "sanne.devries@handoff-demo.nl",
    "daan.bakker@handoff-demo.nl",
    "pieter.janssens@handoff-demo.be",
    "lotte.peeters@handoff-demo.be",
)


def _template_leads(options: Options) -> list[dict[str, Any]]:
    """Ingest one qualifying lead per rep and return the stored rows as column dicts."""
    templates = []
    with scratch_database("sqlite", options, name="templates") as url:
        rt = make_runtime(url)
        for number, email in enumerate(REP_EMAILS, 1):
            country = "BE" if email.endswith(".be") else "NL"
            data = LeadInput(
                source="hubspot", external_id=f"TEMPLATE-{number}", email=f"contact{number}@bench.example",
                first_name="Bench", last_name=f"Contact {number}", company=f"Bench {number} BV",
                industry="Packaging", employees=250, country=country, lead_score=Decimal(75),
                last_activity_at=START, owner_email=email,
            )
            with rt.db.transaction() as session:
                ingest(session, rt, data, actor="bench")
        with rt.db.engine.connect() as connection:
            for row in connection.execute(select(Lead.__table__).order_by(Lead.id)).mappings():
                templates.append(dict(row))
        rt.db.dispose()
    return templates


class _Schedules:
    """Decision schedules per (team, start), computed with the bot's own calendar code."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.cache: dict[tuple[str, datetime], tuple[datetime, list[dict[str, Any]]]] = {}

    def get(self, team_id: str, start: datetime) -> tuple[datetime, list[dict[str, Any]]]:
        key = (team_id, start)
        if key not in self.cache:
            due = self.rt.calendar(team_id).add_working_days(start, self.rt.config.sla.decision_working_days)
            self.cache[key] = (due, decision_schedule(self.rt, team_id, start, due))
        return self.cache[key]


def _due_positions(size: int) -> set[int]:
    step = size // DUE
    return {index * step for index in range(DUE)}


def _rows(size: int, templates: list[dict[str, Any]], schedules: _Schedules) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Yield (lead rows, clock rows) in chunks; ids run from 1 to `size`."""
    due_positions = _due_positions(size)
    leads: list[dict[str, Any]] = []
    clocks: list[dict[str, Any]] = []
    for index in range(size):
        template = templates[index % len(templates)]
        team_id = template["team_id"]
        if index in due_positions:
            start = START
        else:
            start = SWEEP_AT - timedelta(minutes=index % NOT_DUE_START_SPREAD_MINUTES)
        due, schedule = schedules.get(team_id, start)
        lead_id = index + 1
        lead = dict(template)
        lead.update(
            id=lead_id, external_id=f"BENCH-{lead_id}", email=f"contact{lead_id}@bench-{lead_id}.example",
            company=f"Bench {lead_id} BV", mql_at=start, decision_due_at=due, created_at=start, updated_at=start,
        )
        if "first_mql_at" in lead:
            lead["first_mql_at"] = start
        leads.append(lead)
        clocks.append({
            "id": lead_id, "lead_id": lead_id, "kind": "decision", "generation": 1, "rep_email": template["rep_email"],
            "started_at": start, "due_at": due, "status": RUNNING, "stopped_at": None, "breached_at": None,
            "schedule": schedule, "next_step": 0, "next_alert_at": datetime.fromisoformat(schedule[0]["at"]),
        })
        if len(leads) >= CHUNK:
            yield leads, clocks
            leads, clocks = [], []
    if leads:
        yield leads, clocks


def _load_sqlite(rt: Runtime, size: int, templates: list[dict[str, Any]]) -> None:
    schedules = _Schedules(rt)
    lead_table: Table = Lead.__table__  # type: ignore[assignment]
    clock_table: Table = SlaClock.__table__  # type: ignore[assignment]
    with rt.db.engine.begin() as connection:
        for leads, clocks in _rows(size, templates, schedules):
            connection.execute(insert(lead_table), leads)
            connection.execute(insert(clock_table), clocks)
    with rt.db.engine.begin() as connection:
        connection.execute(text("ANALYZE"))


def _copy_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _load_postgres(rt: Runtime, size: int, templates: list[dict[str, Any]]) -> None:
    schedules = _Schedules(rt)
    lead_columns = [column.name for column in Lead.__table__.columns]
    clock_columns = [column.name for column in SlaClock.__table__.columns]
    raw = rt.db.engine.raw_connection()
    try:
        connection = raw.driver_connection
        with connection.cursor() as cursor:  # type: ignore[union-attr]
            for leads, clocks in _rows(size, templates, schedules):
                with cursor.copy(f"COPY leads ({', '.join(lead_columns)}) FROM STDIN") as copy:
                    for lead in leads:
                        copy.write_row([_copy_value(lead.get(name)) for name in lead_columns])
                with cursor.copy(f"COPY sla_clocks ({', '.join(clock_columns)}) FROM STDIN") as copy:
                    for clock in clocks:
                        copy.write_row([_copy_value(clock.get(name)) for name in clock_columns])
            for table in ("leads", "sla_clocks"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        raw.commit()
        # VACUUM cannot run inside a transaction. Without it, autovacuum would start on the new
        # rows during the measured sweeps and compete with them for the two cores.
        connection.autocommit = True  # type: ignore[union-attr]
        with connection.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute("VACUUM (ANALYZE) leads")
            cursor.execute("VACUUM (ANALYZE) sla_clocks")
        connection.autocommit = False  # type: ignore[union-attr]
    finally:
        raw.close()


def _due_clocks(rt: Runtime) -> list[tuple[int, datetime]]:
    with rt.db.engine.connect() as connection:
        rows = connection.execute(
            select(SlaClock.id, SlaClock.next_alert_at).where(SlaClock.status == RUNNING, SlaClock.next_alert_at <= SWEEP_AT)
        ).all()
    return [(row[0], row[1]) for row in rows]


def _reset(rt: Runtime, due: list[tuple[int, datetime]]) -> None:
    """Put the due clocks back at step 0 and forget their alerts, so the next sweep redoes the work."""
    ids = [clock_id for clock_id, _ in due]
    with rt.db.transaction() as session:
        session.execute(
            update(SlaClock.__table__)
            .where(SlaClock.__table__.c.id == bindparam("clock_id"))
            .values(next_step=0, breached_at=None, next_alert_at=bindparam("alert_at")),
            [{"clock_id": clock_id, "alert_at": alert_at} for clock_id, alert_at in due],
        )
        session.execute(delete(OutboxItem).where(OutboxItem.lead_id.in_(ids)))


def _select_due_only(rt: Runtime) -> float:
    """Time the sweep's own due-clock query alone: the part that depends on the table size."""
    started = time.perf_counter()
    with rt.db.transaction() as session:
        rows = list(session.execute(
            select(SlaClock.id, SlaClock.next_step)
            .where(SlaClock.status == RUNNING, SlaClock.next_alert_at <= rt.clock.now())
            .order_by(SlaClock.next_alert_at)
            .limit(500)
        ))
    elapsed = time.perf_counter() - started
    assert len(rows) == DUE, f"expected {DUE} due clocks, the query found {len(rows)}"
    return elapsed


def _measure(kind: str, size: int, repetitions: int, templates: list[dict[str, Any]], options: Options) -> dict[str, Any]:
    with scratch_database(kind, options, name="sweep") as url:
        rt = make_runtime(url, now=SWEEP_AT)
        started = time.perf_counter()
        if kind == "sqlite":
            _load_sqlite(rt, size, templates)
        else:
            _load_postgres(rt, size, templates)
        build_seconds = time.perf_counter() - started
        with rt.db.engine.connect() as connection:
            open_clocks = connection.execute(select(func.count()).select_from(SlaClock).where(SlaClock.status == RUNNING)).scalar()
        due = _due_clocks(rt)
        if open_clocks != size or len(due) != DUE:
            raise RuntimeError(f"built {open_clocks} running clocks with {len(due)} due; expected {size} with {DUE}")

        first_seconds: float | None = None
        sweep_times: list[float] = []
        cpu_times: list[float] = []
        select_times: list[float] = []
        for repetition in range(repetitions + 1):
            _reset(rt, due)
            select_times.append(_select_due_only(rt))
            started, started_cpu = time.perf_counter(), time.process_time()
            report = sweep(rt)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
            if report.enqueued != DUE or report.failed:
                raise RuntimeError(f"sweep enqueued {report.enqueued} alerts with {report.failed} failures; expected {DUE}")
            if repetition == 0:
                first_seconds = elapsed
            else:
                sweep_times.append(elapsed)
                cpu_times.append(cpu)
        if options.profile:
            _reset(rt, due)
            profile_call(f"sla sweep, {kind}, {size:,} open leads", lambda: sweep(rt))
        rt.db.dispose()
    return {
        "build_s": build_seconds,
        "first_s": first_seconds,
        "median_s": median(sweep_times),
        "cpu_median_s": median(cpu_times),
        "select_median_s": median(select_times),
        "samples_s": sweep_times,
    }


def run(options: Options) -> list[Row]:
    small, large = 10_000, (100_000 if options.quick else 1_000_000)
    repetitions = 5 if options.quick else 9
    templates = _template_leads(options)
    rows: list[Row] = []
    for kind in options.databases:
        results: dict[int, dict[str, Any]] = {}
        try:
            for size in (small, large):
                print(f"  sla_sweep: {kind}, building {size:,} open leads ...", flush=True)
                results[size] = _measure(kind, size, repetitions, templates, options)
                print(f"  sla_sweep: {kind}, {size:,}: built in {results[size]['build_s']:.1f} s, "
                      f"median sweep {ms(results[size]['median_s'])}", flush=True)
        except Skipped as reason:
            rows.append(Row(NAME, "100 due alerts", kind, "skipped", notes=str(reason)))
            continue
        for size, result in results.items():
            rows.append(Row(
                NAME, f"100 due among {size:,}", kind, ms(result["median_s"]),
                target="< 1 s", met=result["median_s"] < 1.0,
                notes=(f"median of {repetitions}; CPU time of this process {ms(result['cpu_median_s'])}; "
                       f"first sweep {ms(result['first_s'])}; due-clock query alone "
                       f"{ms(result['select_median_s'])}; rows built in {result['build_s']:.1f} s"),
                data=result,
            ))
        ratio = results[large]["median_s"] / results[small]["median_s"]
        rows.append(Row(
            NAME, f"ratio {large:,} / {small:,}", kind, ms(results[large]["median_s"]), floor=ms(results[small]["median_s"]),
            ratio=ratio, target="same order (< 10x)", met=ratio < 10,
            notes=f"due-clock query alone: {results[large]['select_median_s'] / results[small]['select_median_s']:.2f}x",
        ))
    return rows
