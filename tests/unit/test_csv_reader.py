"""Tests for reading CSV exports into LeadInput records."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.intake import csv_reader
from bot.intake.csv_reader import (
    CsvReadError,
    ParsedRow,
    RowError,
    describe_value,
    parse_datetime,
    parse_number,
    read_leads,
)
from bot.intake.mapping import (
    CsvMapping,
    MappingError,
    builtin_mapping_names,
    load_mapping,
    parse_mapping,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")

HEADER = [
    "Id",
    "Source",
    "Email",
    "First Name",
    "Company",
    "Employees",
    "Revenue",
    "Score",
    "Created",
    "Pricing",
    "Country",
    "Notes",
]


def make_mapping(**overrides: object) -> CsvMapping:
    data: dict[str, object] = {
        "source": "test",
        "source_column": "Source",
        "external_id": "Id",
        "columns": {
            "email": "Email",
            "first_name": "First Name",
            "company": "Company",
            "employees": "Employees",
            "annual_revenue": "Revenue",
            "lead_score": "Score",
            "created_at": "Created",
            "visited_pricing": "Pricing",
            "country": "Country",
        },
        "extra": ["Notes"],
    }
    data.update(overrides)
    return parse_mapping(data, origin="test mapping")


def csv_text(rows: list[list[str]], delimiter: str = ",", header: list[str] = HEADER) -> str:
    lines = [delimiter.join(header)]
    lines.extend(delimiter.join(row) for row in rows)
    return "\r\n".join(lines) + "\r\n"


def row(
    lead_id: str = "1",
    *,
    source: str = "web",
    email: str = "anna.proef@zwaluw-demo.nl",
    first_name: str = "Anna",
    company: str = "Zwaluw Demo BV",
    employees: str = "120",
    revenue: str = "",
    score: str = "",
    created: str = "",
    pricing: str = "",
    country: str = "NL",
    notes: str = "",
) -> list[str]:
    return [
        lead_id,
        source,
        email,
        first_name,
        company,
        employees,
        revenue,
        score,
        created,
        pricing,
        country,
        notes,
    ]


def write(tmp_path: Path, text: str, *, encoding: str = "utf-8", name: str = "leads.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def read_all(
    source: object, mapping: CsvMapping | None = None, **kwargs: object
) -> list[ParsedRow | RowError]:
    with read_leads(source, mapping or make_mapping(), **kwargs) as reader:  # type: ignore[arg-type]
        return list(reader)


def leads(results: list[ParsedRow | RowError]) -> list[ParsedRow]:
    return [result for result in results if isinstance(result, ParsedRow)]


def errors(results: list[ParsedRow | RowError]) -> list[RowError]:
    return [result for result in results if isinstance(result, RowError)]


# --- Delimiters and encodings ----------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiter_detected_from_header(tmp_path: Path, delimiter: str) -> None:
    path = write(tmp_path, csv_text([row("1"), row("2", company="Kwakkel Demo BV")], delimiter))

    with read_leads(path, make_mapping()) as reader:
        assert reader.delimiter == delimiter
        results = list(reader)

    assert [result.line for result in results] == [2, 3]
    assert [result.lead.company for result in leads(results)] == [
        "Zwaluw Demo BV",
        "Kwakkel Demo BV",
    ]
    assert errors(results) == []


def test_comma_file_with_quoted_commas(tmp_path: Path) -> None:
    path = write(
        tmp_path, csv_text([row(company='"Zwaluw, Kwakkel & Co BV"', revenue='"1,234.56"')])
    )

    (result,) = read_all(path)

    assert isinstance(result, ParsedRow)
    assert result.lead.company == "Zwaluw, Kwakkel & Co BV"
    assert result.lead.annual_revenue == Decimal("1234.56")


def test_excel_sep_line_sets_delimiter(tmp_path: Path) -> None:
    path = write(tmp_path, "sep=;\r\n" + csv_text([row()], ";"))

    results = read_all(path)

    assert [result.line for result in results] == [3]
    assert isinstance(results[0], ParsedRow)


@pytest.mark.parametrize("bom", [True, False])
def test_utf8_with_and_without_bom(tmp_path: Path, bom: bool) -> None:
    text = csv_text([row(first_name="Jérôme", company="Brasserie Zoë Fictief")], ";")
    path = write(tmp_path, text, encoding="utf-8-sig" if bom else "utf-8")

    with read_leads(path, make_mapping()) as reader:
        results = list(reader)
        summary = reader.summary

    assert reader.header[0] == "Id"
    (result,) = results
    assert isinstance(result, ParsedRow)
    assert result.lead.first_name == "Jérôme"
    assert result.lead.company == "Brasserie Zoë Fictief"
    assert summary.warnings == []
    assert summary.encoding == "utf-8"


def test_cp1252_fallback_reported_once(tmp_path: Path) -> None:
    text = csv_text(
        [row("1", first_name="Jérôme"), row("2", first_name="Noël"), row("3", first_name="Anaïs")],
        ";",
    )
    path = write(tmp_path, text, encoding="cp1252")

    with read_leads(path, make_mapping()) as reader:
        results = list(reader)
        summary = reader.summary

    assert [result.lead.first_name for result in leads(results)] == ["Jérôme", "Noël", "Anaïs"]
    assert summary.encoding == "cp1252"
    assert len(summary.warnings) == 1
    assert "not valid UTF-8" in summary.warnings[0]
    assert "line 2" in summary.warnings[0]
    assert "cp1252" in summary.warnings[0]


def test_bytes_neither_utf8_nor_cp1252_raise(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(csv_text([row()]).encode("ascii") + b"2,web,\x81\x81,x,y,1,,,,,NL,\r\n")

    with pytest.raises(CsvReadError, match="line 3: the file is neither UTF-8 nor Windows-1252"):
        read_leads(path, make_mapping())


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_file_raises(tmp_path: Path, encoding: str) -> None:
    # Excel's "Unicode Text": a byte order mark, then UTF-16 with tabs.
    path = write(tmp_path, "\ufeff" + csv_text([row()], "\t"), encoding=encoding)

    with pytest.raises(CsvReadError, match="the file is UTF-16 text") as raised:
        read_leads(path, make_mapping())
    assert "save it as CSV UTF-8" in str(raised.value)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_raises(tmp_path: Path, encoding: str) -> None:
    # Without the mark the bytes would decode as cp1252, and the header would be full of NUL characters.
    path = write(tmp_path, csv_text([row()], ";"), encoding=encoding)

    with pytest.raises(CsvReadError, match="looks like UTF-16 text without a byte order mark") as raised:
        read_leads(path, make_mapping())
    assert "save it as CSV UTF-8" in str(raised.value)


def test_empty_file_raises(tmp_path: Path) -> None:
    path = write(tmp_path, "\r\n\r\n")

    with pytest.raises(CsvReadError, match="empty"):
        read_leads(path, make_mapping())


def test_binary_and_text_streams(tmp_path: Path) -> None:
    text = csv_text([row(first_name="Zoë")], ";")
    binary = io.BytesIO(text.encode("utf-8-sig"))
    text_stream = io.StringIO(text, newline="")

    from_binary = read_all(binary)
    from_text = read_all(text_stream)

    assert [result.lead.first_name for result in leads(from_binary)] == ["Zoë"]
    assert [result.lead.first_name for result in leads(from_text)] == ["Zoë"]
    assert not binary.closed


def test_abandoned_reader_leaves_stream_open() -> None:
    binary = io.BytesIO(csv_text([row("1"), row("2")]).encode("utf-8"))
    reader = read_leads(binary, make_mapping())
    next(reader)

    del reader

    assert not binary.closed


def test_non_seekable_stream_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text([row("1"), row("2")], ";"), encoding="cp1252")

    with open(path, "rb", buffering=0) as raw:
        raw.seekable = lambda: False  # type: ignore[method-assign]
        results = read_all(raw)

    assert [result.lead.external_id for result in leads(results)] == ["1", "2"]


# --- Dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("28-03-2025", datetime(2025, 3, 28, tzinfo=AMSTERDAM)),
        ("28/03/2025", datetime(2025, 3, 28, tzinfo=AMSTERDAM)),
        ("28.03.2025", datetime(2025, 3, 28, tzinfo=AMSTERDAM)),
        ("1-4-2025", datetime(2025, 4, 1, tzinfo=AMSTERDAM)),
        ("28-03-2025 14:30", datetime(2025, 3, 28, 14, 30, tzinfo=AMSTERDAM)),
        ("28-03-2025 14:30:15", datetime(2025, 3, 28, 14, 30, 15, tzinfo=AMSTERDAM)),
    ],
)
def test_day_month_year_dates(tmp_path: Path, cell: str, expected: datetime) -> None:
    path = write(tmp_path, csv_text([row(created=cell)], ";"))

    (result,) = read_all(path)

    assert isinstance(result, ParsedRow)
    assert result.lead.created_at == expected


def test_naive_datetimes_get_default_zone_offsets(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        csv_text([row("1", created="15-01-2025 09:00"), row("2", created="15-07-2025 09:00")], ";"),
    )

    winter, summer = (result.lead.created_at for result in leads(read_all(path)))

    assert winter is not None and summer is not None
    assert winter.utcoffset() == timedelta(hours=1)
    assert summer.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2025-03-28", datetime(2025, 3, 28, tzinfo=AMSTERDAM)),
        ("2025-03-28T16:00:00", datetime(2025, 3, 28, 16, tzinfo=AMSTERDAM)),
        ("2025-03-28 16:00", datetime(2025, 3, 28, 16, tzinfo=AMSTERDAM)),
        ("2025-03-28T15:00:00Z", datetime(2025, 3, 28, 15, tzinfo=UTC)),
        ("2025-03-28T16:00:00+01:00", datetime(2025, 3, 28, 15, tzinfo=UTC)),
        (
            "2025-03-28T16:00:00.250+0100",
            datetime(2025, 3, 28, 15, 0, 0, 250000, tzinfo=UTC),
        ),
        ("20250328", datetime(2025, 3, 28, tzinfo=AMSTERDAM)),
    ],
)
def test_iso_dates(tmp_path: Path, cell: str, expected: datetime) -> None:
    path = write(tmp_path, csv_text([row(created=cell)]))

    (result,) = read_all(path)

    assert isinstance(result, ParsedRow)
    assert result.lead.created_at == expected


def test_mapping_timezone_overrides_default(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text([row(created="28-03-2025 10:00")], ";"))

    (result,) = read_all(
        path, make_mapping(timezone="America/Sao_Paulo"), default_tz="Europe/Amsterdam"
    )

    assert isinstance(result, ParsedRow)
    assert result.lead.created_at is not None
    assert result.lead.created_at.utcoffset() == timedelta(hours=-3)


def test_unknown_default_zone_raises(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text([row()]))

    with pytest.raises(ValueError, match="unknown time zone 'Europe/Nowhere'"):
        read_leads(path, make_mapping(), default_tz="Europe/Nowhere")


@pytest.mark.parametrize(
    ("order", "cell", "expected"),
    [
        ("mdy", "03/28/2025", datetime(2025, 3, 28, tzinfo=AMSTERDAM)),
        ("mdy", "3/28/2025 4:05 PM", datetime(2025, 3, 28, 16, 5, tzinfo=AMSTERDAM)),
        ("mdy", "2025-03-28", datetime(2025, 3, 28, tzinfo=AMSTERDAM)),
        ("ymd", "2025/03/28", datetime(2025, 3, 28, tzinfo=AMSTERDAM)),
        ("dmy", "2025-03-28", datetime(2025, 3, 28, tzinfo=AMSTERDAM)),
        ("auto", "2025/03/28", datetime(2025, 3, 28, tzinfo=AMSTERDAM)),
    ],
)
def test_date_order_setting(order: str, cell: str, expected: datetime) -> None:
    assert parse_datetime(cell, date_order=order, tz=AMSTERDAM) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("order", "cell", "reason"),
    [
        ("ymd", "28-03-2025", "date_order: ymd"),
        ("dmy", "2025/03/28", "date_order: dmy"),
        ("auto", "03/28/2025", "month must be in 1..12"),
        ("auto", "31-02-2025", "day is out of range"),
        ("auto", "28-03-25", "two-digit years"),
        ("auto", "45744", "serial day number"),
        ("auto", "next week", "expected a date"),
        ("auto", "28-03-2025 25:00", "hour must be in 0..23"),
    ],
)
def test_invalid_dates_rejected(order: str, cell: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_datetime(cell, date_order=order, tz=AMSTERDAM)  # type: ignore[arg-type]


def test_bad_date_is_row_error_naming_column(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text([row(created="31-02-2025")], ";"))

    (result,) = read_all(path)

    assert isinstance(result, RowError)
    assert result.column == "Created"
    assert result.reason.startswith("'31-02-2025' is not a valid date")


# --- Numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "separator", "whole", "expected"),
    [
        ("1.234,56", ",", False, Decimal("1234.56")),
        ("1,234.56", ",", False, Decimal("1234.56")),
        ("12,5", ".", False, Decimal("12.5")),
        ("1.5", ",", False, Decimal("1.5")),
        ("1.234.567", ".", False, Decimal(1234567)),
        ("1,234,567", ",", False, Decimal(1234567)),
        ("2.500", ",", False, Decimal(2500)),
        ("2.500", ".", False, Decimal("2.500")),
        ("2,500", ",", False, Decimal("2.500")),
        ("2,500", ".", False, Decimal(2500)),
        ("0,500", ".", False, Decimal("0.500")),
        ("1.000", ".", True, Decimal(1000)),
        ("1,000", ",", True, Decimal(1000)),
        ("250,0", ",", True, Decimal(250)),
        ("1 234 567", ",", True, Decimal(1234567)),
        ("1\u00a0234,50", ",", False, Decimal("1234.50")),
        ("€ 1.234,56", ",", False, Decimal("1234.56")),
        ("-12,5", ",", False, Decimal("-12.5")),
        ("42", ",", True, Decimal(42)),
    ],
)
def test_parse_number_rules(cell: str, separator: str, whole: bool, expected: Decimal) -> None:
    assert parse_number(cell, decimal_separator=separator, whole=whole) == expected  # type: ignore[arg-type]


def test_parse_number_explicit_separator() -> None:
    assert parse_number("1,234.5", decimal_separator=".", auto=False) == Decimal("1234.5")
    assert parse_number("2,500", decimal_separator=",", auto=False) == Decimal("2.5")
    with pytest.raises(ValueError, match="three digits"):
        parse_number("1.5", decimal_separator=",", auto=False)


@pytest.mark.parametrize(
    ("cell", "whole", "reason"),
    [
        ("1.5", True, "whole number"),
        ("12,5", True, "whole number"),
        ("01-May", False, "looks like a date"),
        ("May-20", False, "looks like a date"),
        ("1-mei", True, "looks like a date"),
        ("12-05-2025", False, "looks like a date"),
        ("1,5E+06", False, "scientific notation"),
        ("20-50", True, "it is a range"),
        ("1.23.4", False, "three digits"),
        ("1.234,5.6", False, "decimal separator"),
        ("abc", False, "expected a number"),
        ("12.", False, "digits after the decimal separator"),
    ],
)
def test_parse_number_rejects(cell: str, whole: bool, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_number(cell, decimal_separator=",", whole=whole)


def test_decimal_commas_in_semicolon_file(tmp_path: Path) -> None:
    path = write(
        tmp_path, csv_text([row(employees="1.000", revenue="1.234,56", score="12,5")], ";")
    )

    (result,) = read_all(path)

    assert isinstance(result, ParsedRow)
    assert result.lead.employees == 1000
    assert result.lead.annual_revenue == Decimal("1234.56")
    assert result.lead.lead_score == Decimal("12.5")


def test_decimal_points_in_comma_file(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text([row(employees='"1,000"', revenue="2.500", score="12.5")]))

    (result,) = read_all(path)

    assert isinstance(result, ParsedRow)
    assert result.lead.employees == 1000
    assert result.lead.annual_revenue == Decimal("2.5")
    assert result.lead.lead_score == Decimal("12.5")


def test_mapping_decimal_separator_overrides_delimiter(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text([row(revenue="2.500")]))

    (result,) = read_all(path, make_mapping(decimal_separator=","))

    assert isinstance(result, ParsedRow)
    assert result.lead.annual_revenue == Decimal(2500)


def test_fraction_in_whole_number_column_is_error(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text([row(employees="1.5")], ";"))

    (result,) = read_all(path)

    assert isinstance(result, RowError)
    assert result.column == "Employees"
    assert "'1.5' is not a valid whole number" in result.reason


def test_spreadsheet_date_in_number_column_is_error(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text([row("1"), row("2", employees="01-May"), row("3")], ";"))

    results = read_all(path)

    assert [result.line for result in results] == [2, 3, 4]
    (error,) = errors(results)
    assert error.line == 3
    assert error.column == "Employees"
    assert "'01-May'" in error.reason
    assert "spreadsheet" in error.reason
    assert [result.lead.external_id for result in leads(results)] == ["1", "3"]


# --- Rows and line numbers -------------------------------------------------------------------


def test_quoted_newline_keeps_line_numbers(tmp_path: Path) -> None:
    text = csv_text(
        [
            row("1", notes='"first line\r\nsecond line\r\nthird line"'),
            row("2", employees="many"),
            row("3", notes='"one\nmore"'),
            row("4"),
        ]
    )
    path = write(tmp_path, text)

    results = read_all(path)

    assert [result.line for result in results] == [2, 5, 6, 8]
    assert isinstance(results[0], ParsedRow)
    assert results[0].lead.extra["Notes"] == "first line\r\nsecond line\r\nthird line"
    assert isinstance(results[1], RowError)
    assert results[1].column == "Employees"


def test_bad_row_reported_while_others_are_read(tmp_path: Path) -> None:
    text = csv_text(
        [row("1"), row("2", revenue="lots"), row("3"), row("4", created="99-99-2025"), row("5")],
        ";",
    )
    path = write(tmp_path, text)

    with read_leads(path, make_mapping()) as reader:
        results = list(reader)
        summary = reader.summary

    assert [result.lead.external_id for result in leads(results)] == ["1", "3", "5"]
    assert [(error.line, error.column) for error in errors(results)] == [
        (3, "Revenue"),
        (5, "Created"),
    ]
    assert (summary.rows_read, summary.ok, summary.errors) == (5, 3, 2)


def test_several_bad_columns_give_one_error(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text([row(employees="x", created="y", pricing="maybe")], ";"))

    (result,) = read_all(path)

    assert isinstance(result, RowError)
    assert result.column == "Employees"
    assert "also column 'Created'" in result.reason
    assert "also column 'Pricing'" in result.reason


def test_field_count_mismatch_reported(tmp_path: Path) -> None:
    too_many = row("2") + ["surplus"]
    too_few = row("3")[:5]
    path = write(tmp_path, csv_text([row("1"), too_many, too_few, row("4")], ";"))

    results = read_all(path)

    assert [result.line for result in results] == [2, 3, 4, 5]
    first_error, second_error = errors(results)
    assert first_error.line == 3
    assert first_error.column is None
    assert "13 fields but the header has 12" in first_error.reason
    assert second_error.line == 4
    assert "5 fields but the header has 12" in second_error.reason


def test_blank_lines_skipped(tmp_path: Path) -> None:
    text = (
        "\r\n".join(
            [",".join(HEADER), ",".join(row("1")), "", ",,,,,,,,,,,", ",".join(row("2")), ""]
        )
        + "\r\n"
    )
    path = write(tmp_path, text)

    with read_leads(path, make_mapping()) as reader:
        results = list(reader)
        summary = reader.summary

    assert [result.line for result in results] == [2, 5]
    assert all(isinstance(result, ParsedRow) for result in results)
    assert summary.blank_rows == 3


def test_blank_lines_before_header_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "\r\n\r\n" + csv_text([row()]))

    results = read_all(path)

    assert [result.line for result in results] == [4]


def test_unclosed_quote_reported(tmp_path: Path) -> None:
    text = csv_text([row("1"), row("2", notes='"never closed'), row("3")])
    path = write(tmp_path, text)

    results = read_all(path)

    assert isinstance(results[0], ParsedRow)
    (error,) = errors(results)
    assert error.line == 3
    assert "never closed" in error.reason
    assert "lines 3-4" in error.reason


def test_missing_external_id_is_row_error(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text([row(""), row("2")]))

    first, second = read_all(path)

    assert isinstance(first, RowError)
    assert first.column == "Id"
    assert "missing value" in first.reason
    assert isinstance(second, ParsedRow)


def test_select_treated_as_empty(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        csv_text(
            [row(source="Select", company="select", country="N/A", notes="Select", pricing="-")]
        ),
    )

    (result,) = read_all(path)

    assert isinstance(result, ParsedRow)
    assert result.lead.source == "test"
    assert result.lead.company is None
    assert result.lead.country is None
    assert result.lead.visited_pricing is False
    assert result.lead.extra == {"Notes": None}


def test_extra_values_past_cache_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The cache of extra cells starts over after EXTRA_CACHE_SIZE distinct cells, and every value stays right.
    monkeypatch.setattr(csv_reader, "EXTRA_CACHE_SIZE", 2)
    notes = ["  first ", "Select", "second", "  first ", "third", "N/A", "second", "SELECT"]
    path = write(tmp_path, csv_text([row(str(number), notes=note) for number, note in enumerate(notes, 1)]))

    results = read_all(path)

    assert all(isinstance(result, ParsedRow) for result in results)
    stored_notes = [result.lead.extra["Notes"] for result in results]  # type: ignore[union-attr]
    assert stored_notes == ["first", None, "second", "first", "third", None, "second", None]


def test_invalid_email_is_error_without_value(tmp_path: Path) -> None:
    path = write(tmp_path, csv_text([row("1", email="anna.proef@@zwaluw-demo"), row("2")]))

    first, second = read_all(path)

    assert isinstance(first, RowError)
    assert first.column == "Email"
    assert first.reason == "not a valid e-mail address (value not shown)"
    assert "anna" not in str(first)
    assert isinstance(second, ParsedRow)


def test_personal_value_in_number_column_not_shown(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        csv_text(
            [row("1", employees="anna.proef@zwaluw-demo.nl"), row("2", revenue="+31 6 0000 0000")]
        ),
    )

    results = read_all(path)

    reasons = [error.reason for error in errors(results)]
    assert len(reasons) == 2
    assert all("not shown" in reason for reason in reasons)
    assert not any(EMAIL_RE.search(reason) for reason in reasons)
    assert not any("0000" in reason for reason in reasons)


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("01-May", True),
        ("1.5", True),
        ("31-02-2025 14:30", True),
        ("maybe", False),
        ("jan.devries@zwaluw-demo.nl", False),
        ("+31 20 000 0000", False),
        ("0612345678", False),
        ("Fenna Fictiefsma", False),
    ],
)
def test_describe_value_hides_personal_data(cell: str, shown: bool) -> None:
    assert (describe_value(cell) == repr(cell)) is shown


def test_booleans(tmp_path: Path) -> None:
    cells = ["Yes", "ja", "TRUE", "1", "x", "No", "Nee", "false", "0", ""]
    rows = [row(str(index), pricing=cell) for index, cell in enumerate(cells, start=1)]
    path = write(tmp_path, csv_text(rows + [row("99", pricing="maybe")]))

    results = read_all(path)

    assert [result.lead.visited_pricing for result in leads(results)] == [True] * 5 + [False] * 5
    (error,) = errors(results)
    assert error.column == "Pricing"
    assert "yes/no" in error.reason


def test_value_map_and_fixed(tmp_path: Path) -> None:
    mapping = make_mapping(
        conversions={
            "source": {"value_map": {"Organic Search": "organic_search", "Offline": None}}
        },
        fixed={"region": "Benelux"},
    )
    path = write(
        tmp_path,
        csv_text(
            [row("1", source="organic search"), row("2", source="Offline"), row("3", source="Fair")]
        ),
    )

    results = read_all(path, mapping)

    assert [result.lead.source for result in leads(results)] == ["organic_search", "test", "Fair"]
    assert {result.lead.region for result in leads(results)} == {"Benelux"}


def test_summary_keeps_first_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path, csv_text([row(str(index), employees="x") for index in range(1, 6)] + [row("6")])
    )

    with read_leads(path, make_mapping(), max_errors=2) as reader:
        list(reader)
        summary = reader.summary

    assert (summary.rows_read, summary.ok, summary.errors) == (6, 1, 5)
    assert [error.line for error in summary.first_errors] == [2, 3]
    assert "... and 3 more errors" in summary.to_text()


# --- Header checks ---------------------------------------------------------------------------


def test_missing_required_column_raises(tmp_path: Path) -> None:
    header = [name for name in HEADER if name != "Id"]
    body = [[cell for name, cell in zip(HEADER, row()) if name != "Id"]]
    path = write(tmp_path, csv_text(body, header=header))

    with pytest.raises(MappingError) as raised:
        read_leads(path, make_mapping())

    message = str(raised.value)
    assert "'Id' (external_id)" in message
    assert "columns present: 'Source', 'Email'" in message


def test_required_field_column_missing_raises(tmp_path: Path) -> None:
    header = [name for name in HEADER if name != "Created"]
    body = [[cell for name, cell in zip(HEADER, row()) if name != "Created"]]
    path = write(tmp_path, csv_text(body, header=header))

    with pytest.raises(MappingError, match=r"'Created' \(created_at\)"):
        read_leads(path, make_mapping(required=["created_at"]))


def test_missing_optional_column_warns(tmp_path: Path) -> None:
    header = [name for name in HEADER if name != "Revenue"]
    body = [[cell for name, cell in zip(HEADER, row()) if name != "Revenue"]]
    path = write(tmp_path, csv_text(body, header=header))

    with read_leads(path, make_mapping()) as reader:
        results = list(reader)
        warnings = reader.summary.warnings

    assert isinstance(results[0], ParsedRow)
    assert warnings == [
        "mapped columns not in the file, so these fields stay empty: 'Revenue' (annual_revenue)"
    ]


def test_header_names_match_ignoring_case(tmp_path: Path) -> None:
    header = [name.upper() for name in HEADER]
    path = write(tmp_path, csv_text([row()], header=header))

    (result,) = read_all(path)

    assert isinstance(result, ParsedRow)
    assert result.lead.company == "Zwaluw Demo BV"


def test_duplicate_mapped_column_raises(tmp_path: Path) -> None:
    header = HEADER[:-1] + ["Email"]
    path = write(tmp_path, csv_text([row()], header=header))

    with pytest.raises(MappingError, match="'Email' appears more than once"):
        read_leads(path, make_mapping(extra=[]))


def test_file_without_header_hides_data_in_error(tmp_path: Path) -> None:
    path = write(tmp_path, "\r\n".join(",".join(row(str(index))) for index in range(1, 3)) + "\r\n")

    with pytest.raises(MappingError) as raised:
        read_leads(path, make_mapping())

    message = str(raised.value)
    assert "'Id' (external_id)" in message
    assert "looks like data" in message
    assert not EMAIL_RE.search(message)
    assert "Anna" not in message


# --- Mappings --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["hubspot", "salesforce", "marketo"])
def test_builtin_mapping_loads(name: str) -> None:
    mapping = load_mapping(name)

    assert mapping.name == name
    assert mapping.source == name
    assert "email" in mapping.columns
    assert name in builtin_mapping_names()


@pytest.mark.parametrize("file_name", ["olist.yml", "x-education.yml"])
def test_example_mapping_loads_by_path(file_name: str) -> None:
    path = REPO_ROOT / "examples" / "mappings" / file_name

    assert load_mapping(path).name == path.stem
    assert load_mapping(str(path)).name == path.stem


def test_unknown_builtin_mapping_raises() -> None:
    with pytest.raises(
        MappingError, match="unknown built-in mapping 'pipedrive'; expected one of hubspot"
    ):
        load_mapping("pipedrive")


def test_missing_mapping_file_raises(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="mapping file not found"):
        load_mapping(tmp_path / "absent.yml")


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "source: x\nexternal_id: Id\ndate_order: dmyy\n",
            "key 'date_order': Input should be 'auto', 'dmy', 'mdy' or 'ymd' (got 'dmyy')",
        ),
        ("source: x\nexternal_id: Id\ncolums: {}\n", "unknown key 'colums'; expected one of: name"),
        (
            "source: x\nexternal_id: Id\ncolumns: {employes: Employees}\n",
            "unknown LeadInput field 'employes'",
        ),
        ("source: x\n", "key 'external_id' is missing"),
        ("source: x\nexternal_id: Id\nfixed: {employees: many}\n", "key 'fixed.employees'"),
        ("source: x\nexternal_id: Id\ntimezone: Mars/Olympus\n", "unknown time zone"),
        (
            "source: x\nexternal_id: Id\ncolumns: {employees: E}\nconversions: {employees: {true_values: [ja]}}\n",
            "apply only to yes/no fields",
        ),
        (
            "source: x\nexternal_id: Id\ncolumns: {country: C}\nfixed: {country: NL}\n",
            "in both 'columns' and 'fixed'",
        ),
        ("source: x\nexternal_id: [Id\n", "invalid YAML at line"),
        ("- just\n- a list\n", "expected a YAML mapping"),
    ],
)
def test_mapping_errors_name_key_and_value(tmp_path: Path, yaml_text: str, expected: str) -> None:
    path = tmp_path / "custom.yml"
    path.write_text(yaml_text, encoding="utf-8")

    with pytest.raises(MappingError) as raised:
        load_mapping(path)

    assert expected in str(raised.value)
    assert "custom.yml" in str(raised.value)


def test_yaml_keeps_yes_no_and_numbers_as_text(tmp_path: Path) -> None:
    path = tmp_path / "norway.yml"
    path.write_text(
        "source: fair\nexternal_id: Id\nfixed: {country: NO}\n"
        "columns: {requested_demo: Demo}\nconversions: {requested_demo: {true_values: [Yes, 1, on]}}\n",
        encoding="utf-8",
    )

    mapping = load_mapping(path)

    assert mapping.fixed == {"country": "NO"}
    assert mapping.conversions["requested_demo"].true_values == ["Yes", "1", "on"]


# --- Demo export -----------------------------------------------------------------------------


def test_demo_csv_reads_with_one_error() -> None:
    path = REPO_ROOT / "examples" / "demo-leads.csv"

    with read_leads(path, load_mapping("hubspot")) as reader:
        results = list(reader)
        summary = reader.summary

    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert reader.delimiter == ";"
    assert len(results) == 24
    (error,) = errors(results)
    assert error.column == "Number of Employees"
    assert "'1-mei'" in error.reason
    assert summary.ok == 23

    by_company = {result.lead.company: result.lead for result in leads(results)}
    assert "<!channel> Tools BV" in by_company
    assert by_company["Zwaluwstaart Metaalwerk NV"].first_name == "Jérôme"
    assert by_company["Scheldekrat Verpakkingen NV"].last_name == "Van den Broeck"
    assert by_company["Scheldekrat Verpakkingen NV"].employees == 1200
    assert by_company["Kwakkel Kunststof BV"].annual_revenue == Decimal("12750000.50")
    assert by_company["Kartonkoepel Verpakking BV"].lead_score == Decimal("58.5")
    assert by_company["Gentse Graanlogistiek NV"].owner_email == "pieter.janssens@handoff-demo.be"
    assert by_company["Gentse Graanlogistiek NV"].last_activity_at == datetime(
        2026, 12, 2, 17, 40, tzinfo=AMSTERDAM
    )
    assert {lead.source for lead in by_company.values()} >= {
        "organic_search",
        "paid_search",
        "referral",
    }
