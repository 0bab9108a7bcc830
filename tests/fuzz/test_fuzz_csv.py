"""Property tests: malformed CSV exports give row errors, never a crash or a half-stored import.

The files are built from random cells (unicode, quotes, delimiters, line breaks, NUL,
fields over the csv module's 131072-character limit, odd numbers and dates), random
missing and extra fields, and random encodings. The expected physical line of every
row is computed while the file is written, so the reader's line numbers are checked
exactly.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.intake.csv_reader import CsvReadError, ParsedRow, RowError, read_leads
from bot.intake.importer import import_csv
from bot.intake.mapping import MappingError, load_mapping
from bot.runtime import Runtime
from storage.models import Lead

HUBSPOT = load_mapping("hubspot")
EMAIL_RE = re.compile(r"[^\s@<>\"',;]+@[^\s@<>\"',;]+\.[^\s@<>\"',;]+")
LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
CSV_FIELD_LIMIT = csv.field_size_limit()

# Header names of the built-in hubspot mapping (one name per field) and its extra columns.
MAPPED_COLUMNS = [
    "Original Source", "Email", "First Name", "Last Name", "Phone Number", "Company Name", "Job Title",
    "Department", "Seniority", "Industry", "Number of Employees", "Annual Revenue", "Country/Region",
    "State/Region", "HubSpot Score", "Visited pricing page", "Requested demo", "Asset downloads",
    "Last Activity Date", "Contact owner", "Campaign", "Create Date", "Lifecycle Stage", "Lead Status",
]

# Invented addresses: none of them may come back in an error reason or a log line.
EMAILS = ["jan.jansen@voorbeeld-demo.nl", "x@y.be", "Info@Fictief-BV.NL", "a+b@c.lu", "\"q\"@d.nl"]

ODD_VALUES = [
    # dates a spreadsheet or a person could write
    "31-02-2025", "01-May", "May-01", "1-mei", "2025-13-01", "2025-02-29", "29/02/2024", "12/31/2025 13:00 PM",
    "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "0001-01-01", "9999-12-31", "20250230",
    "20250328T1200+0100", "45000", "45000,5", "28-03-25", "2025-03-28T25:61", "28.03.2025 09:30",
    "2025-03-28 10:00 UTC", "2025-03-28T10:00:00+24:00", "2025-03-28T10:00:00.1234567891Z",
    # numbers in odd formats
    "1.234,56", "1,234.56", "1 234 567", "1\u00a0234", "1'234", "1e5", "1,5E+06", "-0", "-5", "+7",
    "€ 1.000", "1.000 EUR", "NaN", "Infinity", "-Infinity", "\u0661\u0662\u0663", "0x1F", "3-7", "1..2",
    "99999999999999999999999", "2147483648", "9223372036854775808", "1.000.000.000.000.000", "0,0001",
    "12,34567", "1.2.3", ".5", "5.", "00012", "1_000", "٣",
    # yes/no cells
    "ja", "Nee", "TRUE", "x", "Y", "maybe",
    # cells that look like spreadsheet formulas, phone numbers and ids
    "=1+1", "+31 6 12345678", "+32470123456", "NL91ABNA0417164300",
    # CSV syntax and control characters
    '"', '""', '"a"b', "a\"", ",", ";", "\t", "\n", "\r\n", "\r", "\x00", "a\x00b", "\ufeff", "\u2028",
    "\x85", "\x1c", " ", "\u00a0", "sep=;", "Record ID",
    # null words of the mapping
    "Select", "NULL", "N/A", "-",
]

FRAGMENTS = st.one_of(
    st.sampled_from(ODD_VALUES),
    st.sampled_from(EMAILS),
    st.text(max_size=12),
    st.sampled_from(['"', ",", ";", "\t", "\n", "\r", "\x00", "@", " "]),
)
HUGE_CELLS = st.builds(
    lambda text, count: text * count,
    st.sampled_from(["x", "é", '"', "\n", "1", "a@b.nl "]),
    st.sampled_from([5_000, 131_072, 131_073, 140_000]),
)
CELLS = st.one_of(
    st.sampled_from(ODD_VALUES),
    st.sampled_from(EMAILS),
    st.text(max_size=40),
    st.lists(FRAGMENTS, max_size=6).map("".join),
    st.just(""),
)

# Plausible values per column kind, so that many rows parse and reach the database.
NUMBER_VALUES = st.one_of(
    st.integers(0, 10**6).map(str),
    st.integers(-10**20, 10**20).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
    st.integers(0, 10**12).map(lambda number: f"{number:,}"),
    st.integers(0, 10**12).map(lambda number: f"{number:,}".replace(",", ".")),
)
DATE_VALUES = st.one_of(
    st.dates().map(lambda day: day.isoformat()),
    st.dates().map(lambda day: day.strftime("%d-%m-") + f"{day.year:04d}"),
    st.datetimes().map(lambda moment: moment.isoformat(sep=" ", timespec="seconds")),
    st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat(timespec="minutes")),
)
VALID_VALUES: dict[str, st.SearchStrategy[str]] = {
    "Record ID": st.one_of(st.integers(1, 30).map(lambda number: f"HS-{number}"), st.text(min_size=1, max_size=130)),
    "Original Source": st.sampled_from(["Organic Search", "Paid Social", "webinar", "Offline Sources", ""]),
    "Email": st.sampled_from(EMAILS),
    "Contact owner": st.sampled_from(["sanne.devries@handoff-demo.nl", "pieter.janssens@handoff-demo.be", "", *EMAILS]),
    "Country/Region": st.sampled_from(["NL", "BE", "Nederland", "LU", "DE", ""]),
    "Number of Employees": NUMBER_VALUES,
    "Annual Revenue": NUMBER_VALUES,
    "HubSpot Score": NUMBER_VALUES,
    "Asset downloads": NUMBER_VALUES,
    "Visited pricing page": st.sampled_from(["yes", "no", "ja", "Nee", "1", "0", "true", ""]),
    "Requested demo": st.sampled_from(["yes", "no", "ja", "Nee", "1", "0", "true", ""]),
    "Last Activity Date": DATE_VALUES,
    "Create Date": DATE_VALUES,
}
TEXT_VALUES = st.one_of(st.text(max_size=30), st.sampled_from(["Drentse Dozen BV", "Packaging", "CFO", "Zuid-Holland"]))


def cell_values(column: str, row_kind: str) -> st.SearchStrategy[str]:
    """Return a strategy for the cells of one column in a row of the given kind (see `csv_files`)."""
    valid = VALID_VALUES.get(column, TEXT_VALUES)
    if row_kind == "plausible":
        return valid
    if row_kind == "odd":
        return st.one_of(valid, valid, valid, CELLS)
    return st.one_of(valid, CELLS, HUGE_CELLS)


EXTRA_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ", min_size=1, max_size=12).map(
    lambda name: f"Notes {name.strip() or 'x'}"
)


@dataclass
class CsvFile:
    """A rendered CSV file with the physical line and the cells of every data row."""

    data: bytes
    encoding: str
    delimiter: str
    header: list[str]
    rows: list[tuple[int, list[str]]]

    def __repr__(self) -> str:
        # Files with huge cells would fill the failure report; show the start and the row layout.
        shape = [(line, len(cells)) for line, cells in self.rows]
        head = self.data[:600] + (b"..." if len(self.data) > 600 else b"")
        return f"CsvFile(encoding={self.encoding!r}, rows (line, fields)={shape}, {len(self.data)} bytes: {head!r})"

    def expected_lines(self) -> list[int]:
        """Return the lines of the rows that the reader reports.

        Those are the rows with a non-blank cell or with a cell over the csv module's field
        limit, which the reader reports before it can see that the cell is blank.
        """
        return [line for line, cells in self.rows if not all(not cell.strip() for cell in cells)
                or any(len(cell) > CSV_FIELD_LIMIT for cell in cells)]

    def row_widths(self) -> dict[int, int]:
        return {line: len(cells) for line, cells in self.rows}


def render_cell(cell: str, delimiter: str, quote_all: bool) -> str:
    """Write one field as RFC 4180 does; the csv module writer leaves a bare CR or LF unquoted."""
    needs_quotes = quote_all or any(character in cell for character in (delimiter, '"', "\r", "\n"))
    if not needs_quotes:
        return cell
    return '"' + cell.replace('"', '""') + '"'


def render_row(cells: list[str], delimiter: str, quote_all: bool) -> str:
    if len(cells) == 1 and cells[0] == "":
        return '""'
    return delimiter.join(render_cell(cell, delimiter, quote_all) for cell in cells)


@st.composite
def csv_files(draw: st.DrawFn, *, max_rows: int = 8, huge: bool = True) -> CsvFile:
    """Draw a hubspot export with random columns, cells, row widths, line endings and encoding."""
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    terminator = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    quote_all = draw(st.booleans())
    mapped = draw(st.lists(st.sampled_from(MAPPED_COLUMNS), unique=True, max_size=8))
    extra = draw(st.lists(EXTRA_NAMES, unique_by=str.casefold, max_size=3))
    header = ["Record ID", *mapped, *extra]
    if len(header) == 1:
        header.append("Notes")
    header = draw(st.permutations(header))

    preamble = ""
    if draw(st.booleans()):
        preamble += terminator * draw(st.integers(1, 2))
    if draw(st.booleans()):
        preamble += f"sep={delimiter}{terminator}"
    text = preamble + render_row(list(header), delimiter, quote_all) + terminator

    columns = [*header, "Notes overflow", "Notes overflow"]
    rows: list[tuple[int, list[str]]] = []
    for _ in range(draw(st.integers(0, max_rows))):
        # Most rows are plausible or have a few odd cells; some have huge cells or a wrong width.
        row_kind = draw(st.sampled_from(["plausible", "plausible", "odd", "odd", "odd", "huge" if huge else "odd"]))
        width = len(header) + draw(st.sampled_from([0] * 9 + [-1, 1, 2, -len(header)]))
        cells = [draw(cell_values(column, row_kind)) for column in columns[:width]]
        line = len(LINE_BREAK_RE.findall(text)) + 1
        rows.append((line, cells))
        text += render_row(cells, delimiter, quote_all) + terminator

    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        encoding = "utf-8"
        data = text.encode(encoding)
    return CsvFile(data=data, encoding=encoding, delimiter=delimiter, header=list(header), rows=rows)


class LogCollector(logging.Handler):
    """Collects every log line, with its formatted traceback, for the personal-data check."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def collected_logs() -> Iterator[LogCollector]:
    collector = LogCollector()
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(collector)
    root.setLevel(logging.DEBUG)
    yield collector
    root.removeHandler(collector)
    root.setLevel(previous_level)


def assert_clean_row_error(error: RowError) -> None:
    assert error.reason.strip(), f"line {error.line}: empty reason"
    assert EMAIL_RE.search(error.reason) is None, f"line {error.line}: e-mail in reason {error.reason!r}"
    assert EMAIL_RE.search(str(error)) is None, f"line {error.line}: e-mail in {str(error)!r}"


def assert_no_email_in_logs(lines: list[str]) -> None:
    for line in lines:
        for email in EMAILS:
            assert email.casefold() not in line.casefold(), f"e-mail address in log line {line[:300]!r}"


def read_all(path: Path) -> list[ParsedRow | RowError]:
    with read_leads(path, HUBSPOT) as reader:
        return list(reader)


def stored_keys(rt: Runtime) -> set[tuple[str, str]]:
    with rt.db.transaction() as session:
        return {(source, external_id) for source, external_id in session.execute(select(Lead.source, Lead.external_id))}


# With these example counts each test ran in under 12 s when they were chosen.
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow,
                                                                           HealthCheck.data_too_large])
FUZZ_WITH_DATABASE = settings(FUZZ, max_examples=200)


@FUZZ
@given(csv_file=csv_files())
def test_reader_gives_one_result_per_row(tmp_path: Path, csv_file: CsvFile) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(csv_file.data)

    results = read_all(path)

    assert [result.line for result in results] == csv_file.expected_lines()
    widths = csv_file.row_widths()
    for result in results:
        if widths[result.line] != len(csv_file.header):
            assert isinstance(result, RowError), f"line {result.line}: a row of the wrong width was read"
            assert result.column is None
        if isinstance(result, RowError):
            assert_clean_row_error(result)
        else:
            assert result.lead.external_id


@FUZZ
@given(
    header=st.lists(st.sampled_from(["Record ID", "Email", "Company Name", "Notes", "x"]), min_size=1, max_size=4),
    body=st.lists(st.one_of(CELLS, st.sampled_from(['"', '""x', 'a"b', '"a"b', "\r", "\n"])), max_size=30).map("".join),
)
def test_reader_survives_stray_quotes(tmp_path: Path, header: list[str], body: str) -> None:
    """Text that is no well-formed CSV: only whole-file errors escape, and lines only go forward."""
    text = ",".join(header) + "\n" + body
    path = tmp_path / "export.csv"
    path.write_bytes(text.encode("utf-8"))
    last_line = len(LINE_BREAK_RE.findall(text)) + 1

    try:
        results = read_all(path)
    except (MappingError, CsvReadError) as error:
        assert EMAIL_RE.search(str(error)) is None
        return

    lines = [result.line for result in results]
    assert lines == sorted(set(lines)), f"line numbers repeat or go back: {lines}"
    assert all(2 <= line <= last_line for line in lines), f"line numbers outside 2-{last_line}: {lines}"
    for result in results:
        if isinstance(result, RowError):
            assert_clean_row_error(result)


@FUZZ
@given(
    text=st.text(max_size=200),
    encoding=st.sampled_from(["utf-16", "utf-16-be", "utf-32", "latin-1", "cp1252", "shift_jis", "utf-8-sig"]),
    garbage=st.binary(max_size=64),
)
def test_reader_survives_foreign_encodings(tmp_path: Path, text: str, encoding: str, garbage: bytes) -> None:
    data = ("Record ID,Email\n" + text).encode(encoding, errors="replace") + garbage
    path = tmp_path / "export.csv"
    path.write_bytes(data)

    try:
        results = read_all(path)
    except (MappingError, CsvReadError) as error:
        assert str(error).strip()
        assert EMAIL_RE.search(str(error)) is None
        return

    for result in results:
        if isinstance(result, RowError):
            assert_clean_row_error(result)


@FUZZ_WITH_DATABASE
@given(csv_file=csv_files(max_rows=6))
def test_import_stores_exactly_the_parsed_rows(
    runtime: Runtime, tmp_path: Path, collected_logs: LogCollector, csv_file: CsvFile
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(csv_file.data)
    before = stored_keys(runtime)
    collected_logs.lines.clear()
    parsed_keys = {(result.lead.source, result.lead.external_id) for result in read_all(path) if isinstance(result, ParsedRow)}

    report = import_csv(runtime, path, HUBSPOT)

    assert [error.reason for error in report.errors if error.reason.startswith("could not be stored")] == []
    assert report.rows == len(csv_file.expected_lines())
    assert stored_keys(runtime) == before | parsed_keys
    assert report.imported == report.rows - len(report.errors)
    for error in report.errors:
        assert_clean_row_error(error)
    assert_no_email_in_logs(collected_logs.lines)


# --- Cases the properties found ---------------------------------------------------------------


def test_oversized_quoted_field_is_one_row_error(tmp_path: Path) -> None:
    notes = "\n" * (CSV_FIELD_LIMIT + 1)
    path = tmp_path / "export.csv"
    path.write_text(f'Record ID,Notes\r\nHS-1,"{notes}"\r\nHS-2,ok\r\n', encoding="utf-8")

    results = read_all(path)

    assert [result.line for result in results] == [2, CSV_FIELD_LIMIT + 4]
    error, row = results
    assert isinstance(error, RowError)
    assert error.column is None
    assert f"more than {CSV_FIELD_LIMIT} characters" in error.reason
    assert f"lines 2-{CSV_FIELD_LIMIT + 3}" in error.reason
    assert isinstance(row, ParsedRow)
    assert row.lead.external_id == "HS-2"


@pytest.mark.parametrize(
    ("column", "cell", "expected"),
    [
        ("Company Name", "Dozen\x00BV", "NUL"),
        ("Number of Employees", "2147483648", "less than or equal to 2147483647"),
        ("Asset downloads", "99999999999", "less than or equal to 2147483647"),
        ("Annual Revenue", "100000000000000", "less than or equal to 99999999999999.9999"),
        ("HubSpot Score", "-100000000000000", "greater than or equal to -99999999999999.9999"),
        ("Last Activity Date", "0001-01-01", "out of range"),
        ("Create Date", "9999-12-31T23:00:00-05:00", "out of range"),
    ],
)
def test_value_that_storage_rejects_is_row_error(
    runtime: Runtime, tmp_path: Path, column: str, cell: str, expected: str
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(f"Record ID,Email,{column}\r\nHS-1,x@y.be,{cell}\r\nHS-2,x@y.be,\r\n", encoding="utf-8")

    report = import_csv(runtime, path, HUBSPOT)

    assert [(error.line, error.column) for error in report.errors] == [(2, column)]
    assert expected in report.errors[0].reason
    assert stored_keys(runtime) == {("hubspot", "HS-2")}
