"""CSV import of the X Education export end to end, against a raw bulk insert of the same rows.

The import is `bot.intake.importer.import_csv` with `examples/mappings/x-education.yml`
and the configuration `tests/data/real-exports.yml`, on a new database each
repetition: reading, checking, qualifying, routing, clocks and queued cards.

The floor inserts the same rows into `leads` with one SQLAlchemy Core executemany
in one transaction. Its rows are parsed beforehand with the csv module (outside
the timing) and carry the columns the mapping fills, with the same `extra` JSON.

NOTE: the import writes 35,163 rows where the floor writes 9,237: the leads, 15,726
history rows, 6,798 clocks and 3,402 outbox items, 3,399 of them cards of about 2.4 kB
of JSON each. So the ratio stays well below 1 even with no Python cost.
"""

from __future__ import annotations

import csv
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Table, delete, func, insert, select

from benchmarks.common import (
    REPO,
    START,
    Options,
    Row,
    Skipped,
    make_runtime,
    median,
    profile_call,
    scratch_database,
    timed,
)
from bot.intake.importer import import_csv
from bot.intake.mapping import load_mapping
from storage.db import Database
from storage.models import Lead

NAME = "csv_import"
DATA = REPO.parent / "shared" / "data" / "x-education-leads" / "Leads.csv"
MAPPING = REPO / "examples" / "mappings" / "x-education.yml"
CONFIG = REPO / "tests" / "data" / "real-exports.yml"
TARGET_SHARE = 0.25


def _raw_rows(path: Path, now: datetime) -> list[dict[str, Any]]:
    """Parse the export with the csv module into `leads` rows, with only the conversions the mapping names."""
    mapping = load_mapping(MAPPING)
    sources = {key.casefold(): value for key, value in mapping.conversions["source"].value_map.items()}
    extra_columns = list(mapping.extra)
    rows = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for record in csv.DictReader(handle):
            country = record["Country"]
            score = record["Asymmetrique Activity Score"]
            occupation = record["What is your current occupation"]
            rows.append({
                "source": sources.get(record["Lead Source"].casefold(), "unknown"),
                "external_id": record["Prospect ID"],
                "country": None if country in ("", "unknown", "Select") else country,
                "job_title": None if occupation in ("", "Select") else occupation,
                "asset_downloads": 1 if record["A free copy of Mastering The Interview"] == "Yes" else 0,
                "lead_score": Decimal(score) if score else None,
                "visited_pricing": False,
                "requested_demo": False,
                "extra": {name: record.get(name, "") for name in extra_columns},
                "stage": "raw",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            })
    return rows


def _floor(url: str, rows: list[dict[str, Any]], repetitions: int) -> list[float]:
    db = Database(url)
    table: Table = Lead.__table__  # type: ignore[assignment]
    times = []
    for _ in range(repetitions):
        with db.engine.begin() as connection:
            connection.execute(delete(table))

        def bulk_insert() -> None:
            with db.engine.begin() as connection:
                connection.execute(insert(table), rows)

        elapsed, _ = timed(bulk_insert)
        times.append(elapsed)
        with db.engine.connect() as connection:
            stored = connection.execute(select(func.count()).select_from(table)).scalar()
        if stored != len(rows):
            raise RuntimeError(f"the floor stored {stored} rows of {len(rows)}")
    db.dispose()
    return times


def _import_once(kind: str, options: Options, profile: bool) -> tuple[float, float, int]:
    with scratch_database(kind, options, name="import") as url:
        rt = make_runtime(url, config_path=CONFIG, now=START)
        mapping = load_mapping(MAPPING)
        started_cpu = time.process_time()
        if profile:
            report = profile_call(f"csv import, {kind}", lambda: import_csv(rt, DATA, mapping))
            elapsed = float("nan")
        else:
            elapsed, report = timed(lambda: import_csv(rt, DATA, mapping))
        cpu = time.process_time() - started_cpu
        rt.db.dispose()
    if report.errors or report.created != report.rows:
        raise RuntimeError(f"import read {report.rows} rows, created {report.created}, {len(report.errors)} errors")
    return elapsed, cpu, report.rows


def run(options: Options) -> list[Row]:
    if not DATA.is_file():
        raise Skipped(f"{DATA} not found: the public X Education export is expected in ../shared/data")
    import_repetitions, floor_repetitions = (1, 3) if options.quick else (2, 5)
    parse_seconds, raw = timed(lambda: _raw_rows(DATA, START))
    rows: list[Row] = []
    for kind in options.databases:
        try:
            print(f"  csv_import: {kind}, floor ...", flush=True)
            with scratch_database(kind, options, name="import-floor") as url:
                floor_times = _floor(url, raw, floor_repetitions)
            print(f"  csv_import: {kind}, import ...", flush=True)
            import_times = []
            import_cpu = []
            count = 0
            for _ in range(import_repetitions):
                elapsed, cpu, count = _import_once(kind, options, profile=False)
                import_times.append(elapsed)
                import_cpu.append(cpu)
                print(f"  csv_import: {kind}, {count:,} rows in {elapsed:.2f} s", flush=True)
            if options.profile:
                _import_once(kind, options, profile=True)
        except Skipped as reason:
            rows.append(Row(NAME, "X Education export", kind, "skipped", notes=str(reason)))
            continue
        if count != len(raw):
            raise RuntimeError(f"the import read {count} rows, the csv module {len(raw)}")
        import_rate = count / median(import_times)
        floor_rate = len(raw) / median(floor_times)
        share = import_rate / floor_rate
        rows.append(Row(
            NAME, f"{count:,} rows, rows/s", kind, f"{import_rate:,.0f} rows/s", floor=f"{floor_rate:,.0f} rows/s",
            ratio=share, target=f"ratio >= {TARGET_SHARE:.2f}", met=share >= TARGET_SHARE,
            notes=(f"import median of {import_repetitions}: {median(import_times):.2f} s, of which CPU time of this "
                   f"process {median(import_cpu):.2f} s; floor median of "
                   f"{floor_repetitions}: {median(floor_times) * 1000:.0f} ms, csv parse before it {parse_seconds * 1000:.0f} ms"),
            data={"import_s": import_times, "import_cpu_s": import_cpu, "floor_s": floor_times, "parse_s": parse_seconds, "rows": count},
        ))
    return rows
