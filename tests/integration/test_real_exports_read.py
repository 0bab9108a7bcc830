"""Read two public lead exports end to end and check the results against the stdlib csv module.

The files are not part of the repository. The tests read them from DATA_DIR, a folder next
to the repository root, and are skipped when they are absent.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from bot.intake.csv_reader import ParsedRow, RowError, read_leads
from bot.intake.mapping import CsvMapping, load_mapping

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")

CASES = [
    pytest.param(
        "olist-marketing-funnel/olist_marketing_qualified_leads_dataset.csv",
        "olist.yml",
        8000,
        id="olist",
    ),
    # The file has 9,237 data rows after its header.
    pytest.param("x-education-leads/Leads.csv", "x-education.yml", 9237, id="x-education"),
]


def require_data_file(relative_path: str) -> Path:
    path = DATA_DIR / relative_path
    if not path.is_file():
        pytest.skip(
            f"{path} not found: the public exports live in ../shared/data next to the repository"
        )
    return path


def expected_sources(
    path: Path, mapping: CsvMapping, skip_lines: set[int]
) -> tuple[int, Counter[str]]:
    """Count data rows and sources with the stdlib csv module, following the mapping's settings.

    Returns the number of data rows and the source of each row whose first line is not in
    `skip_lines`.
    """
    (source_column,) = mapping.column_candidates("source")
    conversion = mapping.conversion("source")
    null_values = {value.casefold() for value in mapping.null_values + conversion.null_values}
    value_map = {key.casefold(): value for key, value in conversion.value_map.items()}

    rows = 0
    sources: Counter[str] = Counter()
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        while True:
            first_line = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            rows += 1
            if first_line in skip_lines:
                continue
            raw = record[source_column].strip()
            if raw.casefold() in null_values:
                sources[mapping.source] += 1
            else:
                sources[value_map.get(raw.casefold(), raw) or mapping.source] += 1
    return rows, sources


@pytest.mark.parametrize(("relative_path", "mapping_file", "expected_rows"), CASES)
def test_real_export_reads_every_row(
    relative_path: str, mapping_file: str, expected_rows: int
) -> None:
    path = require_data_file(relative_path)
    mapping = load_mapping(REPO_ROOT / "examples" / "mappings" / mapping_file)

    with read_leads(path, mapping) as reader:
        results = list(reader)
        summary = reader.summary

    parsed = [result for result in results if isinstance(result, ParsedRow)]
    row_errors = [result for result in results if isinstance(result, RowError)]
    assert len(parsed) + len(row_errors) == len(results)

    error_lines = {error.line for error in row_errors}
    stdlib_rows, stdlib_sources = expected_sources(path, mapping, error_lines)
    assert stdlib_rows == expected_rows
    assert len(results) == stdlib_rows
    assert len({result.line for result in results}) == len(results)
    assert (summary.rows_read, summary.ok, summary.errors) == (
        len(results),
        len(parsed),
        len(row_errors),
    )

    assert Counter(result.lead.source for result in parsed) == stdlib_sources


@pytest.mark.parametrize(("relative_path", "mapping_file", "expected_rows"), CASES)
def test_real_export_errors_are_explained(
    relative_path: str, mapping_file: str, expected_rows: int
) -> None:
    path = require_data_file(relative_path)
    mapping = load_mapping(REPO_ROOT / "examples" / "mappings" / mapping_file)

    with read_leads(path, mapping) as reader:
        row_errors = [result for result in reader if isinstance(result, RowError)]
        warnings = reader.summary.warnings

    assert not [error.reason for error in row_errors if EMAIL_RE.search(error.reason)]
    # Both files are valid UTF-8 with every mapped column present, and every row is valid.
    assert warnings == []
    assert [str(error) for error in row_errors[:5]] == []


def test_x_education_engagement_kept_in_extra() -> None:
    path = require_data_file("x-education-leads/Leads.csv")
    mapping = load_mapping(REPO_ROOT / "examples" / "mappings" / "x-education.yml")

    with read_leads(path, mapping) as reader:
        first = next(reader)

    assert isinstance(first, ParsedRow)
    assert first.line == 2
    lead = first.lead
    assert lead.external_id == "7927b2df-8bba-4d29-b9a2-b6e0beafe620"
    assert lead.source == "olark_chat"
    assert lead.job_title == "Unemployed"
    assert lead.requested_demo is False
    assert lead.extra["Last Activity"] == "Page Visited on Website"
    assert lead.extra["Converted"] == "0"
    assert lead.extra["Tags"] == "Interested in other courses"
    assert lead.extra["Specialization"] is None
