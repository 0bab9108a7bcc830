"""`handoff import`: stream a CSV export into the handoff, a batch per transaction."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    """Counts of an import: `rows` are lines of the file, and the lead counts take each lead once."""

    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    lead_ids: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # The stage of each imported lead after its last row, so that a lead in several rows counts once.
    stages: dict[int, str] = field(default_factory=dict)
    # The leads that this import created. The other leads in `stages` existed before it.
    created_leads: set[int] = field(default_factory=set)
    stored_rows: int = 0

    @property
    def imported(self) -> int:
        """Count the rows that were stored."""
        return self.stored_rows

    @property
    def created(self) -> int:
        """Count the leads that this import created."""
        return len(self.created_leads)

    @property
    def updated(self) -> int:
        """Count the leads that existed before this import and that it updated."""
        return len(self.stages) - len(self.created_leads)

    @property
    def mqls(self) -> int:
        """Count the imported leads that are MQLs after the import."""
        return sum(1 for stage in self.stages.values() if stage == "mql")


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
    with _old_objects_frozen():
        report = _import_rows(rt, path, mapping, progress=progress, progress_every=progress_every, batched=batched,
                              batch_size=batch_size)
    log.info("import.done file=%s rows=%s created=%s updated=%s mqls=%s errors=%s",
             path.name, report.rows, report.created, report.updated, report.mqls, len(report.errors))
    return report


def _import_rows(rt: Runtime, path: Path, mapping: CsvMapping, *, progress: Callable[[ImportReport], None] | None,
                 progress_every: int, batched: bool, batch_size: int) -> ImportReport:
    report = ImportReport()
    batch: list[ParsedRow] = []
    # The line of each record id's first row, to report the rows that repeat one.
    # NOTE: an estimated 150 to 200 bytes per distinct record id, so some 150 MB for a million rows.
    first_lines: dict[tuple[str, str], int] = {}
    repeats: list[tuple[int, int]] = []
    reader = read_leads(path, mapping, default_tz=rt.config.teams[0].calendar.timezone)
    for result in reader:
        report.rows += 1
        if isinstance(result, RowError):
            report.errors.append(result)
        else:
            if result.lead.external_id:
                first = first_lines.setdefault((result.lead.source, result.lead.external_id), result.line)
                if first != result.line:
                    repeats.append((result.line, first))
            batch.append(result)
        if len(batch) >= batch_size:
            _store(rt, batch, report, actor=f"import:{path.name}", batched=batched)
            batch = []
        if progress is not None and report.rows % progress_every == 0:
            progress(report)
    if batch:
        _store(rt, batch, report, actor=f"import:{path.name}", batched=batched)
    report.warnings = list(reader.summary.warnings)
    if repeats:
        report.warnings.append(_repeats_warning(repeats))
    return report


def _repeats_warning(repeats: list[tuple[int, int]], max_listed: int = 5) -> str:
    """Describe the rows that repeat an earlier row's record id. Each one updated the lead of that earlier row."""
    examples = ", ".join(f"line {line} repeats line {first}" for line, first in repeats[:max_listed])
    more = f" and {len(repeats) - max_listed} more" if len(repeats) > max_listed else ""
    rows = "1 row repeats" if len(repeats) == 1 else f"{len(repeats)} rows repeat"
    return (f"{rows} the record id of an earlier row ({examples}{more}): each updated the lead of that row, "
            "which counts once")


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
        report.stored_rows += 1
        if result.created:
            report.created_leads.add(result.lead_id)
        report.stages[result.lead_id] = result.stage


_frozen_lock = threading.Lock()
_frozen_depth = 0
_frozen_here = False


@contextmanager
def _old_objects_frozen() -> Iterator[None]:
    """Keep the objects that exist on entry out of the garbage collector's work until the block ends.

    An import allocates many objects that live until their batch is stored, which triggers
    full collections, and each full collection walks every object of the process (the
    modules, the ORM mappings, the configuration). gc.freeze() moves the objects that exist
    now to a permanent generation that collections skip, and gc.unfreeze() moves them back,
    so garbage made during the import is still collected. With imports in several threads,
    the objects are unfrozen when the last of them ends. When objects were frozen already
    on entry (a server may freeze them before it forks), this leaves the freezing alone.
    """
    global _frozen_depth, _frozen_here
    with _frozen_lock:
        if _frozen_depth == 0:
            _frozen_here = gc.get_freeze_count() == 0
            if _frozen_here:
                gc.freeze()
        _frozen_depth += 1
    try:
        yield
    finally:
        with _frozen_lock:
            _frozen_depth -= 1
            if _frozen_depth == 0 and _frozen_here:
                gc.unfreeze()
                _frozen_here = False
