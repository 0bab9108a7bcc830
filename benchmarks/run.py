"""Run the benchmarks and print a Markdown table of medians, floors and ratios.

    .venv/bin/python -m benchmarks.run [--quick] [--only NAME ...] [--database KIND ...] [--profile] [--json PATH]

Each benchmark runs on its own scratch databases: a SQLite file in a temporary
folder and a PostgreSQL schema `bench_<random>` that is dropped at the end.
Every server it starts listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import multiprocessing
import os
import sys
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

from benchmarks.common import DEFAULT_POSTGRES_URL, Options, Row, Skipped, machine

BENCHMARKS = {
    "sla_sweep": "benchmarks.sla_sweep",
    "accept_click": "benchmarks.accept_click",
    "csv_import": "benchmarks.csv_import",
    "memory": "benchmarks.memory",
    "concurrent_clicks": "benchmarks.concurrent_clicks",
    "funnel": "benchmarks.funnel",
}


def run_benchmark(name: str, options: Options) -> list[Row]:
    """Run one benchmark and return its rows; a failure or a skip becomes a row of its own."""
    # The bot's INFO lines (one per sent message) would flood the output and cost time per click.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s", stream=sys.stderr)
    try:
        module = importlib.import_module(BENCHMARKS[name])
        rows: list[Row] = module.run(options)
    except Skipped as reason:
        return [Row(name, "all", "-", "skipped", notes=str(reason))]
    except Exception as error:  # noqa: BLE001 - one failed benchmark must not hide the others' results
        traceback.print_exc()
        return [Row(name, "all", "-", "failed", notes=f"{type(error).__name__}: {error}")]
    sys.stdout.flush()
    return rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="Smaller run: 100,000 instead of 1,000,000 open leads, fewer repetitions and clicks.")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), metavar="NAME",
                        help=f"Run only this benchmark; repeat for several. Names: {', '.join(BENCHMARKS)}.")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
                        help="SQLAlchemy URL of a PostgreSQL server on loopback (default: BENCH_POSTGRES_URL or "
                             f"{DEFAULT_POSTGRES_URL}); each benchmark creates and drops a schema of its own there.")
    parser.add_argument("--database", action="append", choices=["sqlite", "postgres"],
                        help="Run on this database kind only; repeat for both (default: sqlite and postgres).")
    parser.add_argument("--profile", action="store_true",
                        help="Also profile one sweep (sla_sweep), the click loop (accept_click) and one import (csv_import) "
                             "with cProfile and print the top entries by cumulative time.")
    parser.add_argument("--json", type=Path, metavar="PATH", help="Also write the machine and every result row to PATH.")
    return parser


def format_table(rows: list[Row]) -> str:
    lines = [
        "| benchmark | case | database | measured | floor | ratio | target | met | notes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}"
        if row.met is None:
            met = "-"
        elif row.met:
            met = "yes"
        else:
            met = "**no**"
        lines.append(f"| {row.benchmark} | {row.case} | {row.database} | {row.measured} | {row.floor} | {ratio} | "
                     f"{row.target} | {met} | {row.notes} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The bot's INFO lines (one per sent message) would flood the output and cost time per click.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s", stream=sys.stderr)
    names = args.only or list(BENCHMARKS)
    rows: list[Row] = []
    durations: dict[str, float] = {}
    loads: dict[str, tuple[float, float]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="handoff-bench-") as workdir:
        options = Options(quick=args.quick, postgres_url=args.postgres_url, profile=args.profile, workdir=Path(workdir),
                          databases=tuple(args.database or ("sqlite", "postgres")))
        info = machine(options)
        for name in names:
            print(f"== {name} ==", flush=True)
            began = time.perf_counter()
            load_before = os.getloadavg()[0]
            # Each benchmark runs in a new process. Run in one process, csv_import after sla_sweep, which
            # builds 1,000,000 rows, took about 50 % more CPU time than on its own.
            with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
                rows.extend(pool.submit(run_benchmark, name, options).result())
            durations[name] = time.perf_counter() - began
            # Other work on the machine slows every figure down; the load average shows how much there was.
            loads[name] = (load_before, os.getloadavg()[0])
            print(f"   {name} took {durations[name]:.0f} s", flush=True)
    total = time.perf_counter() - started

    command = "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:])
    print()
    print(f"Command: `{command.strip()}`; {total:.0f} s in all")
    print("Machine: " + "; ".join(f"{key} {value}" for key, value in info.items()))
    print("Run time and 1-minute load average before and after each benchmark: " + "; ".join(
        f"{name} {durations[name]:.0f} s, load {before:.2f} to {after:.2f}" for name, (before, after) in loads.items()))
    print()
    print(format_table(rows))
    if args.json is not None:
        args.json.write_text(json.dumps({"command": command.strip(), "seconds": total, "machine": info,
                                         "durations_s": durations, "load_average": loads,
                                         "rows": [asdict(row) for row in rows]}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
