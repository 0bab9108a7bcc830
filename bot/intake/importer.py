"""`handoff import`: stream a CSV export into the handoff, a batch per transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.handoff import ingest, ingest_many
from bot.intake.csv_reader import ParsedRow, RowError, read_leads
from bot.intake.mapping import CsvMapping
from bot.runtime import Runtime

log = logging.getLogger(__name__)

# Rows per transaction. Larger batches share more per-batch work (look-ups, serialised JSON,
# card texts), but a failed batch is retried one row per transaction.
BATCH_SIZE = 2500


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    mqls: int = 0
    errors: list[RowError] = field(default_factory=list)
    lead_ids: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.created + self.updated


def import_csv(
    rt: Runtime,
    path: Path,
    mapping: CsvMapping,
    *,
    progress: Callable[[ImportReport], None] | None = None,
    progress_every: int = 1000,
    batched: bool = True,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import every readable row and collect every unreadable one with its line number.

    Rows are stored in batches of `batch_size` rows, one transaction each. When a
    batch fails, its rows are retried one by one, so a single bad row costs only
    itself. With `batched` (the default) the new leads of a batch are written with
    bulk inserts. Without it, every row goes through `ingest` on its own: the same
    rows, stored more slowly.
    """
    report = ImportReport()
    batch: list[ParsedRow] = []
    reader = read_leads(path, mapping, default_tz=rt.config.teams[0].calendar.timezone)
    for result in reader:
        report.rows += 1
        if isinstance(result, RowError):
            report.errors.append(result)
        else:
            batch.append(result)
        if len(batch) >= batch_size:
            _store(rt, batch, report, actor=f"import:{path.name}", batched=batched)
            batch = []
        if progress is not None and report.rows % progress_every == 0:
            progress(report)
    if batch:
        _store(rt, batch, report, actor=f"import:{path.name}", batched=batched)
    report.warnings = list(reader.summary.warnings)
    log.info("import.done file=%s rows=%s created=%s updated=%s mqls=%s errors=%s",
             path.name, report.rows, report.created, report.updated, report.mqls, len(report.errors))
    return report


def _store(rt: Runtime, rows: list[ParsedRow], report: ImportReport, *, actor: str, batched: bool = False) -> None:
    try:
        with rt.db.transaction() as session:
            if batched and len(rows) > 1:
                results = ingest_many(session, rt, [row.lead for row in rows], actor=actor)
            else:
                results = [ingest(session, rt, row.lead, actor=actor) for row in rows]
    except Exception:  # noqa: BLE001 - fall back to one row per transaction to find the culprit
        if len(rows) == 1:
            log.exception("import.row_failed line=%s", rows[0].line)
            report.errors.append(RowError(line=rows[0].line, column=None, reason="could not be stored; see the log"))
            return
        log.warning("import.batch_failed lines=%s-%s: storing its rows one at a time", rows[0].line, rows[-1].line,
                    exc_info=True)
        for row in rows:
            _store(rt, [row], report, actor=actor)
        return
    for result in results:
        report.lead_ids.append(result.lead_id)
        if result.created:
            report.created += 1
        else:
            report.updated += 1
        if result.stage == "mql":
            report.mqls += 1
