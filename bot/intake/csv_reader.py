"""Read CRM exports (CSV) into `LeadInput` records, one row at a time.

`read_leads` returns a `LeadReader`, an iterator of `ParsedRow` and `RowError` results.
It checks the header against the mapping before the first row and raises
`MappingError` when a required column is missing. Every later problem becomes a
`RowError` for that row, and reading continues with the next row.

Line numbers are physical lines in the file, with the header on line 1 (or later, when
blank lines or an Excel `sep=;` line come first). A row whose quoted field spans
several lines carries the number of its first line.

Input:
- delimiter: comma, semicolon or tab, detected from the header line, or an Excel
  `sep=X` first line;
- encoding: UTF-8 with or without BOM. A file that is not valid UTF-8 is read as
  Windows-1252 (cp1252), and the summary records a warning about it. A file that
  starts with a UTF-16 byte order mark, or looks like UTF-16 without one, is rejected;
- blank lines and rows whose cells are all empty are skipped; rows with more or fewer
  fields than the header are errors.

Values (the rules are spelled out at `parse_number` and `parse_datetime`):
- numbers: decimal comma or decimal point, thousands grouped with '.', ',', spaces or
  apostrophes;
- dates: ISO 8601, DD-MM-YYYY, DD/MM/YYYY, DD.MM.YYYY, each with an optional time.
  Datetimes without an offset get the mapping's `timezone`, else `default_tz`;
- values that a spreadsheet turned into dates (`01-May` for "1-5") are row errors for
  that column.

Error reasons name the column. They quote a cell only in number, date and yes/no
columns, and only when `describe_value` finds no sign of personal data in it (an '@',
a leading '+', 8 or more digits, or an unknown word).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import IO, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from bot.intake.mapping import FIELD_KINDS, CsvMapping, FieldKind, MappingError
from bot.intake.model import LeadInput

__all__ = [
    "CsvReadError",
    "ImportSummary",
    "LeadReader",
    "ParsedRow",
    "RowError",
    "RowResult",
    "describe_value",
    "parse_datetime",
    "parse_number",
    "read_leads",
]

# Non-seekable binary streams are copied to a temporary file, because the encoding check
# reads the input twice. Up to this many bytes of the copy stay in memory.
_SPOOL_MAX_BYTES = 8 * 1024 * 1024
# `readline` chunk size for the encoding check, in bytes.
_SCAN_CHUNK_BYTES = 64 * 1024


# --- Results ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """A row that became a valid lead."""

    line: int
    lead: LeadInput


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that could not be read. `column` is None when the row as a whole is invalid."""

    line: int
    column: str | None
    reason: str

    def __str__(self) -> str:
        if self.column is None:
            return f"line {self.line}: {self.reason}"
        return f"line {self.line}, column {self.column!r}: {self.reason}"


RowResult = ParsedRow | RowError


class CsvReadError(ValueError):
    """The file as a whole cannot be read: empty, no header, or an unknown text encoding."""


@dataclass
class ImportSummary:
    """Counts of one import, its first `max_errors` row errors and its file-level warnings."""

    max_errors: int = 20
    rows_read: int = 0
    ok: int = 0
    errors: int = 0
    blank_rows: int = 0
    first_errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None

    def add(self, result: RowResult) -> None:
        """Count one row result."""
        self.rows_read += 1
        if isinstance(result, ParsedRow):
            self.ok += 1
            return
        self.errors += 1
        if len(self.first_errors) < self.max_errors:
            self.first_errors.append(result)

    def to_text(self) -> str:
        """Format the summary as plain text lines, warnings first."""
        lines = [f"warning: {warning}" for warning in self.warnings]
        lines.append(f"{self.rows_read} rows read, {self.ok} leads, {self.errors} errors")
        lines.extend(str(error) for error in self.first_errors)
        hidden = self.errors - len(self.first_errors)
        if hidden > 0:
            lines.append(f"... and {hidden} more errors")
        return "\n".join(lines)


# --- Values -------------------------------------------------------------------------------

# English, Dutch, French and German month names and the abbreviations spreadsheets show.
_MONTH_WORDS = frozenset(
    {
        *(
            "jan",
            "feb",
            "mar",
            "apr",
            "may",
            "jun",
            "jul",
            "aug",
            "sep",
            "sept",
            "oct",
            "nov",
            "dec",
        ),
        *("january", "february", "march", "april", "june", "july", "august"),
        *("september", "october", "november", "december"),
        *(
            "mrt",
            "mei",
            "okt",
            "januari",
            "februari",
            "maart",
            "juni",
            "juli",
            "augustus",
            "oktober",
        ),
        *("janv", "févr", "fevr", "mars", "avr", "mai", "juin", "juil", "août", "aout", "déc"),
        *("mär", "mrz", "dez", "januar", "februar", "märz", "dezember"),
    }
)
# Words that may appear in a quoted number, date or yes/no cell without being personal data.
_SAFE_WORDS = _MONTH_WORDS | frozenset(
    {
        *("am", "pm", "utc", "gmt", "cet", "cest", "eur", "usd", "gbp"),
        *("yes", "no", "ja", "nee", "true", "false", "waar", "onwaar", "oui", "non"),
        *("unknown", "onbekend", "none", "null", "nan", "select"),
    }
)
_SPREADSHEET_DATE_RE = re.compile(
    r"^(?:\d{1,2}[-/ .]?(?P<month_after>[^\W\d_]{3,9})\.?|(?P<month_before>[^\W\d_]{3,9})\.?[-/ .]?\d{2,4})$"
)
_DATE_LIKE_RE = re.compile(
    r"^(?:\d{1,2}[-/.]\d{1,2}[-/.]\d{4}|\d{4}[-/.]\d{1,2}[-/.]\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?"
)
_CURRENCY_RE = re.compile(r"^(?:€|\$|£|EUR|USD|GBP)\s*|\s*(?:€|\$|£|EUR|USD|GBP)$", re.IGNORECASE)
_SPACE_GROUPS_RE = re.compile(r"\d{1,3}(?:[ \u00a0\u202f']\d{3})+(?:[.,]\d+)?")
_SPACE_GROUP_CHARS_RE = re.compile(r"[ \u00a0\u202f']")


def describe_value(raw: str) -> str:
    """Quote a cell for an error reason, or only give its length when it may be personal data.

    A cell is quoted only when all of these hold: it has at most 25 characters, no '@'
    and no leading '+'. It has fewer than 8 digits, unless it is shaped like a date.
    Every word longer than three letters is a month name or a word from `_SAFE_WORDS`.
    """
    value = raw.strip()
    digits = sum(character.isdigit() for character in value)
    words = re.findall(r"[^\W\d_]+", value)
    may_be_personal = (
        len(value) > 25
        or "@" in value
        or value.startswith("+")
        or (digits >= 8 and not _DATE_LIKE_RE.match(value))
        or any(len(word) > 3 and word.casefold() not in _SAFE_WORDS for word in words)
    )
    if may_be_personal:
        return f"a value of {len(value)} characters (not shown: it may be personal data)"
    return repr(value)


def _is_spreadsheet_date(value: str) -> bool:
    match = _SPREADSHEET_DATE_RE.match(value)
    if match is None:
        return False
    month = match.group("month_after") or match.group("month_before")
    return month.casefold() in _MONTH_WORDS


def parse_number(
    text: str,
    *,
    decimal_separator: Literal[",", "."] = ",",
    auto: bool = True,
    whole: bool = False,
) -> Decimal:
    """Parse a number written with a decimal comma or a decimal point.

    Rules, after stripping spaces, a leading '-' and a currency sign (€, $, £, EUR, USD, GBP):
    1. '.' and ',' both present: the rightmost one is the decimal separator and the other
       groups thousands ("1.234,56" and "1,234.56" are 1234.56).
    2. One of them, more than once: it groups thousands ("1.234.567" is 1234567).
    3. One of them, once, not followed by exactly three digits: decimal ("12,5", "1.5").
    4. One of them, once, followed by exactly three digits after 1-3 digits that do not
       start with 0 ("1.000", "2,500"): ambiguous. For a whole number (`whole=True`) it
       groups thousands, so "1.000" employees is 1000. Otherwise `decimal_separator`
       decides: with ',' the value "2.500" is 2500 and "2,500" is 2.5.
    Spaces, no-break spaces and apostrophes may also group thousands ("1 234 567").
    With `auto=False`, `decimal_separator` is the only decimal separator and the other
    character only groups thousands, in every value.

    Raises ValueError with a reason that does not quote the value.
    """
    value = text.strip()
    if value.isascii() and value.isdigit():
        return Decimal(value)  # the usual case, plain digits, which every rule below reads as this
    value = _CURRENCY_RE.sub("", value).strip()
    negative = value.startswith("-")
    if negative or value.startswith("+"):
        value = value[1:].strip()

    if _is_spreadsheet_date(value) or _DATE_LIKE_RE.fullmatch(value):
        raise ValueError(
            "it looks like a date that a spreadsheet made from a value such as 1-5 or 5-20; "
            "format the column as text and export again"
        )
    if re.fullmatch(r"\d+\s*[-–]\s*\d+", value):
        raise ValueError("it is a range; expected a single number")
    if re.search(r"\d[eE][+-]?\d", value):
        raise ValueError(
            "scientific notation (such as 1,5E+06) loses digits; format the column as a plain number"
        )
    if _SPACE_GROUP_CHARS_RE.search(value):
        if not _SPACE_GROUPS_RE.fullmatch(value):
            raise ValueError("expected a number such as 1234, 1.234,56 or 12,5")
        value = _SPACE_GROUP_CHARS_RE.sub("", value)
    if not re.fullmatch(r"[0-9.,]*[0-9][0-9.,]*", value):
        raise ValueError("expected a number such as 1234, 1.234,56 or 12,5")

    integer_part, fraction = _split_number(value, decimal_separator, auto=auto, whole=whole)
    try:
        number = Decimal(f"{integer_part}.{fraction}" if fraction else integer_part)
    except InvalidOperation:
        raise ValueError("expected a number such as 1234, 1.234,56 or 12,5") from None
    if negative:
        number = -number
    if whole and number != number.to_integral_value():
        raise ValueError("expected a whole number, but it has a fraction")
    return number


def _split_number(
    value: str, decimal_separator: str, *, auto: bool, whole: bool
) -> tuple[str, str]:
    """Split a number of digits, '.' and ',' into its integer digits and its fraction digits."""
    dots = value.count(".")
    commas = value.count(",")
    if not dots and not commas:
        return value, ""

    if dots and commas:
        if auto:
            decimal = "." if value.rfind(".") > value.rfind(",") else ","
        else:
            decimal = decimal_separator
        group = "," if decimal == "." else "."
        if value.count(decimal) != 1 or value.rfind(decimal) < value.rfind(group):
            raise ValueError(
                f"expected at most one decimal separator {decimal!r}, after the digit groups"
            )
        integer_part, fraction = value.split(decimal)
        return _ungroup(integer_part, group), fraction

    separator = "." if dots else ","
    if dots + commas > 1:
        if not auto and separator == decimal_separator:
            raise ValueError(f"expected at most one decimal separator {separator!r}")
        return _ungroup(value, separator), ""

    integer_part, fraction = value.split(separator)
    if not fraction:
        raise ValueError("expected digits after the decimal separator")
    if not auto:
        if separator == decimal_separator:
            return integer_part or "0", fraction
        return _ungroup(value, separator), ""

    ambiguous = (
        len(fraction) == 3 and 1 <= len(integer_part) <= 3 and not integer_part.startswith("0")
    )
    if ambiguous and (whole or separator != decimal_separator):
        return integer_part + fraction, ""
    return integer_part or "0", fraction


def _ungroup(value: str, group: str) -> str:
    """Remove thousands separators, checking that every group after the first has three digits."""
    if not re.fullmatch(rf"\d{{1,3}}(?:{re.escape(group)}\d{{3}})*|\d+", value):
        raise ValueError(
            f"digit groups separated by {group!r} must have three digits, as in 1{group}234{group}567"
        )
    return value.replace(group, "")


_DATETIME_RE = re.compile(
    r"""
    (?P<first>\d{1,4})(?P<separator>[-/.])(?P<second>\d{1,2})(?P=separator)(?P<third>\d{1,4})
    (?:
        (?:T|\s+)
        (?P<hour>\d{1,2}):(?P<minute>\d{2})
        (?::(?P<second_of_minute>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?
        \s*(?P<meridiem>[AaPp]\.?[Mm]\.?)?
    )?
    \s*(?P<zone>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?
    """,
    re.VERBOSE,
)

DateOrder = Literal["auto", "dmy", "mdy", "ymd"]


def parse_datetime(text: str, *, date_order: DateOrder = "auto", tz: tzinfo) -> datetime:
    """Parse a date or datetime cell into an aware datetime.

    Dates have three numbers joined by '-', '/' or '.', with a four-digit year first or
    last. `date_order` sets how to read them:
    - auto: year first is year-month-day, year last is day-month-year (28-03-2025);
    - dmy / mdy / ymd: only that order is accepted, plus ISO 8601 (2025-03-28).
    A time may follow after 'T' or a space: HH:MM, HH:MM:SS or HH:MM:SS.ffffff, with an
    optional AM/PM. An offset (Z, UTC, GMT, +01:00, +0100) is kept. Without one, the
    value is a local time in `tz`; a date alone is midnight in `tz`.
    Two-digit years are rejected because 01-02-03 has no safe reading.

    Raises ValueError with a reason that does not quote the value.
    """
    value = text.strip()
    match = _DATETIME_RE.fullmatch(value)
    if match is None:
        return _parse_other_iso(value, tz)

    year, month, day = _date_parts(match, date_order)
    hour = int(match.group("hour") or 0)
    minute = int(match.group("minute") or 0)
    second = int(match.group("second_of_minute") or 0)
    microsecond = int((match.group("fraction") or "0")[:6].ljust(6, "0"))
    meridiem = match.group("meridiem")
    if meridiem:
        if not 1 <= hour <= 12:
            raise ValueError("hour must be 1-12 with AM/PM")
        is_pm = meridiem.lower().startswith("p")
        hour = hour % 12 + (12 if is_pm else 0)

    try:
        naive = datetime(year, month, day, hour, minute, second, microsecond)
    except ValueError as exc:
        raise ValueError(f"not a valid date or time: {exc}") from None
    return naive.replace(tzinfo=_zone_of(match.group("zone"), tz))


def _date_parts(match: re.Match[str], date_order: DateOrder) -> tuple[int, int, int]:
    first, second, third = match.group("first"), match.group("second"), match.group("third")
    is_iso = (
        match.group("separator") == "-" and len(first) == 4 and len(second) == 2 and len(third) == 2
    )

    if len(first) == 4 and len(third) <= 2:
        if date_order in ("dmy", "mdy") and not is_iso:
            raise ValueError(f"the year comes first, but the mapping sets date_order: {date_order}")
        return int(first), int(second), int(third)

    if len(third) == 4 and len(first) <= 2:
        if date_order == "ymd":
            raise ValueError("the year comes last, but the mapping sets date_order: ymd")
        if date_order == "mdy":
            return int(third), int(first), int(second)
        return int(third), int(second), int(first)

    if len(first) <= 2 and len(third) <= 2:
        raise ValueError("two-digit years are ambiguous; expected a four-digit year")
    raise ValueError("expected a date such as 28-03-2025, 28/03/2025 or 2025-03-28")


def _zone_of(zone: str | None, default: tzinfo) -> tzinfo:
    if zone is None:
        return default
    if zone in ("Z", "UTC", "GMT"):
        return UTC
    sign = -1 if zone.startswith("-") else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _parse_other_iso(value: str, tz: tzinfo) -> datetime:
    """Parse ISO 8601 forms that the main pattern does not cover, such as 20250328."""
    if re.fullmatch(r"\d{8}(?:T\d{4,6}(?:Z|[+-]\d{2}:?\d{2})?)?", value):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)
    if re.fullmatch(r"\d{5}(?:[.,]\d+)?", value):
        raise ValueError(
            "it looks like a spreadsheet serial day number; format the column as a date and export again"
        )
    if _is_spreadsheet_date(value):
        raise ValueError("the year is missing; expected a date such as 28-03-2025")
    raise ValueError(
        "expected a date such as 28-03-2025, 28/03/2025 or 2025-03-28, with an optional time"
    )


# --- Opening the file ---------------------------------------------------------------------


@dataclass
class _TextInput:
    text: IO[str]
    encoding: str
    warning: str | None
    close: Callable[[], object]


def _open_input(source: str | os.PathLike[str] | IO[bytes] | IO[str]) -> _TextInput:
    """Open a path or wrap a stream as text, choosing UTF-8 or, failing that, cp1252."""
    if isinstance(source, (str, os.PathLike)):
        binary: IO[bytes] = open(source, "rb")  # noqa: SIM115 - closed by LeadReader.close
        try:
            return _wrap_binary(binary, owned=True)
        except BaseException:
            binary.close()
            raise

    if isinstance(source, io.TextIOBase) or isinstance(source.read(0), str):
        encoding = getattr(source, "encoding", None) or "text stream"
        return _TextInput(text=source, encoding=encoding, warning=None, close=lambda: None)  # type: ignore[arg-type]

    if not source.seekable():
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MAX_BYTES)  # noqa: SIM115
        shutil.copyfileobj(source, spool)  # type: ignore[misc]
        spool.seek(0)
        return _wrap_binary(spool, owned=True)  # type: ignore[arg-type]
    return _wrap_binary(source, owned=False)  # type: ignore[arg-type]


# Bytes read from the start of a file to tell UTF-16 without a byte order mark from CSV text.
_UTF16_SNIFF_BYTES = 4096


def _looks_like_utf16(head: bytes) -> bool:
    """Return whether nearly every odd or every even byte is NUL, as in UTF-16 text of mostly Latin letters."""
    if len(head) < 4:
        return False
    for half in (head[1::2], head[0::2]):
        if half.count(0) >= 0.9 * len(half):
            return True
    return False


def _wrap_binary(binary: IO[bytes], *, owned: bool) -> _TextInput:
    start = binary.tell()
    head = binary.read(len(codecs.BOM_UTF8))
    has_bom = head == codecs.BOM_UTF8
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode Text" format. Without this check the bytes pass as cp1252 and the
        # header becomes a list of NUL escapes.
        raise CsvReadError("the file is UTF-16 text, as Excel's \"Unicode Text\" format writes it; "
                           "save it as CSV UTF-8 and try again")
    binary.seek(start)
    if _looks_like_utf16(binary.read(_UTF16_SNIFF_BYTES)):
        raise CsvReadError("the file looks like UTF-16 text without a byte order mark (every other byte is "
                           "NUL); save it as CSV UTF-8 and try again")
    binary.seek(start)
    invalid_line = _first_undecodable_line(binary, "utf-8")

    encoding = "utf-8-sig"
    warning = None
    if invalid_line is not None:
        binary.seek(start)
        cp1252_invalid_line = _first_undecodable_line(binary, "cp1252")
        if cp1252_invalid_line is not None:
            raise CsvReadError(
                f"line {cp1252_invalid_line}: the file is neither UTF-8 nor Windows-1252 (cp1252) text; "
                "save it as CSV UTF-8 and try again"
            )
        encoding = "cp1252"
        warning = (
            f"the file is not valid UTF-8 (first invalid byte on line {invalid_line}), so it was read "
            "as Windows-1252 (cp1252); check accented names, and export as CSV UTF-8 next time"
        )

    skip_bom = has_bom and encoding == "cp1252"
    binary.seek(start + (len(codecs.BOM_UTF8) if skip_bom else 0))
    text = io.TextIOWrapper(binary, encoding=encoding, newline="")  # type: ignore[arg-type]
    # A caller's stream stays open: detach() releases it without closing it.
    return _TextInput(
        text=text,
        encoding="utf-8" if encoding == "utf-8-sig" else encoding,
        warning=warning,
        close=text.close if owned else text.detach,
    )


def _first_undecodable_line(binary: IO[bytes], encoding: str) -> int | None:
    """Return the number of the first line that does not decode, or None when all of it does.

    Reads the stream to its end in chunks. Lines are counted by b"\\n", so a file with
    bare CR line endings reports line 1.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    for chunk in iter(lambda: binary.readline(_SCAN_CHUNK_BYTES), b""):
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError:
            return line
        if chunk.endswith(b"\n"):
            line += 1
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return line
    return None


class _CountedLines:
    """Iterator over the physical lines of a text stream that counts the lines consumed.

    With newline="" a text stream yields one item per physical line, whether it ends in
    "\\n", "\\r\\n" or "\\r", so the count matches the line numbers an editor shows.
    `quotes` counts the '"' characters consumed since the caller last set it to 0. In
    well-formed CSV an odd count at the end of a line means a quoted field is still open.
    """

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self._pushed_back: list[str] = []
        self.count = 0
        self.quotes = 0

    def __iter__(self) -> _CountedLines:
        return self

    def __next__(self) -> str:
        line = self._pushed_back.pop() if self._pushed_back else next(self._lines)
        self.count += 1
        self.quotes += line.count('"')
        return line

    def push_back(self, line: str) -> None:
        self._pushed_back.append(line)
        self.count -= 1
        self.quotes -= line.count('"')


def _detect_delimiter(header_line: str) -> str:
    """Pick ',', ';' or tab: the one that occurs most often outside quotes (',' when none does)."""
    counts = {"\t": 0, ";": 0, ",": 0}
    in_quotes = False
    for character in header_line:
        if character == '"':
            in_quotes = not in_quotes
        elif not in_quotes and character in counts:
            counts[character] += 1
    highest = max(counts.values())
    if highest == 0:
        return ","
    return next(delimiter for delimiter, count in counts.items() if count == highest)


# --- Rows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ResolvedColumn:
    """A mapped field and the header column it reads."""

    field_name: str
    index: int
    name: str
    kind: FieldKind
    null_values: frozenset[str]
    # The field's value_map with casefolded keys, or None when it has none. A dict is not
    # hashable, so it is left out of the hash.
    value_map: dict[str, str | None] | None = field(hash=False)


class _RowConverter:
    """Converter from the cells of one row to a `LeadInput`, for one mapping and one header."""

    def __init__(
        self,
        mapping: CsvMapping,
        header: tuple[str, ...],
        *,
        tz: tzinfo,
        decimal_separator: Literal[",", "."],
        warnings: list[str],
    ) -> None:
        self._mapping = mapping
        self._tz = tz
        self._decimal_separator = decimal_separator
        self._auto_decimal = mapping.decimal_separator == "auto"
        self._global_nulls = frozenset(value.strip().casefold() for value in mapping.null_values)
        self._value_maps = {
            field_name: {
                key.strip().casefold(): value for key, value in conversion.value_map.items()
            }
            for field_name, conversion in mapping.conversions.items()
        }

        lookup = _HeaderLookup(header)
        missing_required: list[str] = []
        missing_optional: list[str] = []

        def resolve(field_name: str) -> _ResolvedColumn | None:
            candidates = mapping.column_candidates(field_name)
            if not candidates:
                return None
            found = lookup.find(candidates)
            if found is None:
                described = " / ".join(repr(name) for name in candidates)
                target = missing_required if mapping.is_required(field_name) else missing_optional
                target.append(f"{described} ({field_name})")
                return None
            index, name = found
            return _ResolvedColumn(
                field_name=field_name,
                index=index,
                name=name,
                kind=FIELD_KINDS.get(field_name, FieldKind.TEXT),
                null_values=self._global_nulls | self._field_nulls(field_name),
                value_map=self._value_maps.get(field_name) or None,
            )

        self._external_id = resolve("external_id")
        self._source = resolve("source")
        self._fields = [column for name in mapping.columns if (column := resolve(name)) is not None]
        self._extra: list[tuple[str, int]] = []
        missing_extra: list[str] = []
        for name in mapping.extra:
            found = lookup.find([name])
            if found is None:
                missing_extra.append(repr(name))
            else:
                self._extra.append((name, found[0]))
        self._extra_names = [name for name, _ in self._extra]
        self._extra_indexes = [index for _, index in self._extra]
        self._extra_values = _ExtraValues(self._global_nulls)

        if missing_required:
            raise MappingError(
                f"required column{'s' if len(missing_required) > 1 else ''} not found in the header: "
                f"{', '.join(missing_required)}; columns present: {lookup.describe_columns()}"
            )
        if missing_optional:
            warnings.append(
                "mapped columns not in the file, so these fields stay empty: "
                + ", ".join(missing_optional)
            )
        if missing_extra:
            warnings.append("columns listed under 'extra' in the mapping are missing from the file, "
                            "so they are not kept: " + ", ".join(missing_extra))

    def _field_nulls(self, field_name: str) -> frozenset[str]:
        return frozenset(
            value.strip().casefold() for value in self._mapping.conversion(field_name).null_values
        )

    def convert(self, line: int, cells: list[str]) -> RowResult:
        problems: list[tuple[str | None, str]] = []
        data: dict[str, Any] = dict(self._mapping.fixed)

        assert self._external_id is not None  # external_id is always required
        external_id = self._cell_text(self._external_id, cells)
        if external_id is None:
            problems.append(
                (self._external_id.name, "missing value; every row needs the lead's id")
            )
        else:
            data["external_id"] = external_id

        data["source"] = self._mapping.source
        if self._source is not None:
            source = self._cell_text(self._source, cells)
            if source is not None:
                data["source"] = source

        for column in self._fields:
            value = self._cell_text(column, cells)
            if value is None:
                continue
            try:
                data[column.field_name] = self._convert_value(column, value)
            except ValueError as exc:
                problems.append((column.name, self._value_reason(column, cells[column.index], exc)))

        extra_values = map(self._extra_values.__getitem__, map(cells.__getitem__, self._extra_indexes))
        data["extra"] = dict(zip(self._extra_names, extra_values, strict=True))

        if not problems:
            try:
                return ParsedRow(line=line, lead=LeadInput(**data))
            except ValidationError as exc:
                problems = [self._validation_problem(error, cells) for error in exc.errors()]
        return _row_error(line, problems)

    def _cell_text(self, column: _ResolvedColumn, cells: list[str]) -> str | None:
        """Return the stripped cell after null values and value_map, or None when it is empty."""
        raw = cells[column.index].strip()
        folded = raw.casefold()
        if folded in column.null_values:
            return None
        value_map = column.value_map
        if value_map is None or folded not in value_map:
            return raw
        replacement = value_map[folded]
        if replacement is None or not replacement.strip():
            return None
        return replacement.strip()

    def _convert_value(self, column: _ResolvedColumn, value: str) -> Any:
        kind = column.kind
        if kind is FieldKind.INTEGER:
            number = parse_number(
                value,
                decimal_separator=self._decimal_separator,
                auto=self._auto_decimal,
                whole=True,
            )
            return int(number)
        if kind is FieldKind.DECIMAL:
            return parse_number(
                value, decimal_separator=self._decimal_separator, auto=self._auto_decimal
            )
        if kind is FieldKind.DATETIME:
            return parse_datetime(value, date_order=self._mapping.date_order, tz=self._tz)
        if kind is FieldKind.BOOLEAN:
            return self._parse_boolean(column.field_name, value)
        return value

    def _parse_boolean(self, field_name: str, value: str) -> bool:
        conversion = self._mapping.conversion(field_name)
        true_words = (
            conversion.true_values
            if conversion.true_values is not None
            else self._mapping.true_values
        )
        false_words = (
            conversion.false_values
            if conversion.false_values is not None
            else self._mapping.false_values
        )
        folded = value.casefold()
        if folded in {word.strip().casefold() for word in true_words}:
            return True
        if folded in {word.strip().casefold() for word in false_words}:
            return False
        examples = ", ".join([*true_words[:3], *false_words[:3]])
        raise ValueError(f"expected a yes/no value such as {examples}")

    def _value_reason(self, column: _ResolvedColumn, raw: str, exc: ValueError) -> str:
        noun = {
            FieldKind.INTEGER: "whole number",
            FieldKind.DECIMAL: "number",
            FieldKind.DATETIME: "date",
            FieldKind.BOOLEAN: "yes/no value",
        }.get(column.kind, "value")
        return f"{describe_value(raw)} is not a valid {noun}: {exc}"

    def _validation_problem(self, error: Any, cells: list[str]) -> tuple[str | None, str]:
        """Phrase a `LeadInput` validation error for the column that fed the field."""
        location = error.get("loc", ())
        field_name = str(location[0]) if location else ""
        column = self._column_for(field_name)
        kind = FIELD_KINDS.get(field_name, FieldKind.TEXT)
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")

        if kind is FieldKind.EMAIL:
            return (
                column.name if column else field_name
            ), "not a valid e-mail address (value not shown)"
        if column is None:
            return field_name or None, f"invalid value: {message}"
        if kind is FieldKind.TEXT:
            return column.name, f"invalid value: {message}"
        return column.name, f"{describe_value(cells[column.index])} is invalid: {message}"

    def _column_for(self, field_name: str) -> _ResolvedColumn | None:
        if field_name == "external_id":
            return self._external_id
        if field_name == "source":
            return self._source
        return next((column for column in self._fields if column.field_name == field_name), None)


# Distinct cells that _ExtraValues keeps before it starts over, so that a column of unique
# values (a row number, say) costs a bounded amount of memory.
EXTRA_CACHE_SIZE = 50_000


class _ExtraValues(dict[str, str | None]):
    """Cache from a cell of an `extra` column to the value kept: the stripped cell, or None for a null value.

    The columns under `extra` are kept as text, and most of them repeat a few values in
    every row, so a dictionary look-up replaces stripping and casefolding each cell.
    """

    def __init__(self, null_values: frozenset[str]) -> None:
        super().__init__()
        self._null_values = null_values

    def __missing__(self, cell: str) -> str | None:
        if len(self) >= EXTRA_CACHE_SIZE:
            self.clear()
        raw = cell.strip()
        value = None if raw.casefold() in self._null_values else raw
        self[cell] = value
        return value


def _row_error(line: int, problems: list[tuple[str | None, str]]) -> RowError:
    """Combine the problems of one row: the first names the column, the rest follow in the reason."""
    column, reason = problems[0]
    others = [f"also column {name!r}: {text}" for name, text in problems[1:]]
    return RowError(line=line, column=column, reason="; ".join([reason, *others]))


class _HeaderLookup:
    """Index of the header names, matched exactly or, failing that, ignoring case."""

    def __init__(self, header: tuple[str, ...]) -> None:
        self._header = header
        self._exact: dict[str, list[int]] = {}
        self._folded: dict[str, list[int]] = {}
        for index, name in enumerate(header):
            self._exact.setdefault(name, []).append(index)
            self._folded.setdefault(name.casefold(), []).append(index)

    def find(self, candidates: list[str]) -> tuple[int, str] | None:
        """Return (index, header name) of the first candidate present, or None."""
        for candidate in candidates:
            column_name = candidate.strip()
            indexes = self._exact.get(column_name) or self._folded.get(column_name.casefold())
            if not indexes:
                continue
            if len(indexes) > 1:
                positions = ", ".join(str(index + 1) for index in indexes)
                raise MappingError(
                    f"column {column_name!r} appears more than once in the header (positions {positions}); "
                    "rename the duplicates so that the mapping can tell them apart"
                )
            return indexes[0], self._header[indexes[0]]
        return None

    def describe_columns(self) -> str:
        """List the header names, or only count them when the first line looks like data.

        A file without a header line has a data row in its place, which may contain
        names and e-mail addresses, so none of its cells is shown then.
        """
        if any(_looks_like_data(name) for name in self._header):
            return (
                f"{len(self._header)} columns, not shown because the first line looks like data "
                "(an e-mail address or a long number); the file may lack a header line"
            )
        return ", ".join(repr(name) for name in self._header) or "(none)"


def _looks_like_data(header_name: str) -> bool:
    digits = sum(character.isdigit() for character in header_name)
    return "@" in header_name or header_name.startswith("+") or digits >= 6


# --- Reader -------------------------------------------------------------------------------


class LeadReader(Iterator[RowResult]):
    """Iterator of row results for one CSV file, created by `read_leads`.

    The header has been read and checked when the reader exists. `summary` is updated
    as rows are read. The reader closes a file that it opened itself after the last
    row, on `close()`, or at the end of a `with` block. A caller's stream stays open.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | IO[bytes] | IO[str],
        mapping: CsvMapping,
        *,
        default_tz: str | tzinfo = "Europe/Amsterdam",
        max_errors: int = 20,
    ) -> None:
        tz = _zone(mapping.timezone or default_tz)
        self.summary = ImportSummary(max_errors=max_errors)
        self._input: _TextInput | None = _open_input(source)
        try:
            self.encoding = self._input.encoding
            if self._input.warning:
                self.summary.warnings.append(self._input.warning)
            self._lines = _CountedLines(self._input.text)
            self.delimiter = self._read_preamble()
            self._reader = csv.reader(
                self._lines, delimiter=self.delimiter, quotechar='"', strict=True
            )
            self.header = self._read_header()
            self.summary.encoding = self.encoding
            self.summary.delimiter = self.delimiter

            decimal_separator: Literal[",", "."]
            if mapping.decimal_separator != "auto":
                decimal_separator = mapping.decimal_separator
            else:
                # Spreadsheets write ';' as the list separator in locales with a decimal comma.
                decimal_separator = "," if self.delimiter == ";" else "."
            self._converter = _RowConverter(
                mapping,
                self.header,
                tz=tz,
                decimal_separator=decimal_separator,
                warnings=self.summary.warnings,
            )
        except BaseException:
            self.close()
            raise

    def _read_preamble(self) -> str:
        """Skip blank lines and an Excel `sep=X` line, and return the delimiter."""
        delimiter: str | None = None
        while True:
            try:
                line = next(self._lines)
            except StopIteration:
                raise CsvReadError("the file is empty: no header line found") from None
            if self._lines.count == 1:
                line = line.removeprefix("\ufeff")
            if not line.strip():
                continue
            sep_line = re.fullmatch(r"sep=(.)\s*", line.strip("\r\n"))
            if sep_line and delimiter is None:
                delimiter = sep_line.group(1)
                continue
            self._lines.push_back(line)
            return delimiter or _detect_delimiter(line)

    def _read_header(self) -> tuple[str, ...]:
        line = self._lines.count + 1
        try:
            names = next(self._reader)
        except csv.Error as exc:
            raise CsvReadError(f"line {line}: cannot read the header line: {exc}") from None
        except StopIteration:
            raise CsvReadError("the file is empty: no header line found") from None
        self._width = len(names)
        return tuple(name.strip() for name in names)

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> RowResult:
        result = self._next_result()
        self.summary.add(result)
        return result

    def _next_result(self) -> RowResult:
        while True:
            line = self._lines.count + 1
            self._lines.quotes = 0
            try:
                cells = next(self._reader)
            except StopIteration:
                self.close()
                raise
            except csv.Error as exc:
                if "field larger than field limit" in str(exc):
                    return RowError(line=line, column=None, reason=self._skip_oversized_row(line))
                return RowError(line=line, column=None, reason=self._csv_error_reason(exc, line))

            # The cells are all blank exactly when their concatenation is.
            if not "".join(cells).strip():
                self.summary.blank_rows += 1
                continue
            if len(cells) != self._width:
                return RowError(
                    line=line,
                    column=None,
                    reason=(
                        f"the row has {len(cells)} fields but the header has {self._width}; "
                        f"a value may contain an unquoted {_delimiter_name(self.delimiter)}"
                    ),
                )
            return self._converter.convert(line, cells)

    def _skip_oversized_row(self, line: int) -> str:
        """Skip the rest of a row whose field is over the csv module's limit, and describe it.

        The csv reader stops in the middle of such a field. When the field is quoted and
        spans lines, its later lines would otherwise be read as rows of their own.
        """
        while self._lines.quotes % 2 == 1:
            try:
                next(self._lines)
            except StopIteration:
                break
        return (
            f"a field has more than {csv.field_size_limit()} characters, so lines {line}-{self._lines.count} "
            "were skipped; shorten the value or leave that column out of the export"
        )

    def _csv_error_reason(self, exc: csv.Error, line: int) -> str:
        if "unexpected end of data" in str(exc):
            return (
                f"a quoted field that starts in this row is never closed, so lines {line}-{self._lines.count} "
                "could not be read; check for a stray double quote"
            )
        return f"invalid CSV: {exc}"

    def close(self) -> None:
        """Release the file, so that later iteration stops at once."""
        if getattr(self, "_input", None) is not None:
            self._input.close()  # type: ignore[union-attr]
            self._input = None
            self._lines = _CountedLines(())
            self._reader = csv.reader(())

    def __del__(self) -> None:
        # Without this, the text wrapper around a caller's binary stream would close that
        # stream when the wrapper is garbage-collected.
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _delimiter_name(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab"}.get(delimiter, repr(delimiter))


def _zone(name_or_zone: str | tzinfo) -> tzinfo:
    if isinstance(name_or_zone, tzinfo):
        return name_or_zone
    try:
        return ZoneInfo(name_or_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name_or_zone!r}; expected an IANA name such as Europe/Amsterdam"
        ) from None


def read_leads(
    path_or_stream: str | os.PathLike[str] | IO[bytes] | IO[str],
    mapping: CsvMapping,
    *,
    default_tz: str | tzinfo = "Europe/Amsterdam",
    max_errors: int = 20,
) -> LeadReader:
    """Open a CSV export and return an iterator of `ParsedRow` / `RowError`, one per data row.

    The file is read one row at a time. Before that, the reader reads the whole input
    once to check that it is valid UTF-8, and copies a non-seekable binary stream to a
    temporary file for that. `default_tz` applies to datetimes without an offset unless
    the mapping sets `timezone`. `max_errors` caps the errors kept in `summary`.

    Raises MappingError when the header lacks a column that the mapping requires,
    CsvReadError when the file is empty, is UTF-16, or is neither UTF-8 nor cp1252 text, and
    ValueError for an unknown time zone.
    """
    return LeadReader(path_or_stream, mapping, default_tz=default_tz, max_errors=max_errors)
