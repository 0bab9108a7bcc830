"""Column mappings for CSV exports: which column feeds which `LeadInput` field, and how.

A mapping is a YAML file. Three mappings for common CRMs ship in `mappings/` next to
this module and load by name (`load_mapping("hubspot")`); any other file loads by path.

Example::

    source: hubspot                  # stored when source_column is absent or empty
    source_column: Original Source   # optional
    external_id: Record ID           # required column: the lead's id in the CRM
    required: [email]                # fields whose column must be in the header
    date_order: auto                 # auto | dmy | mdy | ymd
    decimal_separator: auto          # auto | "," | "."
    timezone: Europe/Amsterdam       # optional, for datetimes without an offset
    null_values: ["", Select, NULL, N/A, "-"]
    true_values: [yes, "true", "1", ja]
    false_values: ["no", "false", "0", nee]
    columns:
      email: Email
      phone: [Phone Number, Phone]   # alternatives: the first one in the header wins
      visited_pricing: Visited pricing page
    conversions:
      source:
        value_map: {Organic Search: organic_search}
      country:
        null_values: [unknown]
    fixed:
      region: Benelux
    extra: [Lifecycle Stage]

Column names match the header exactly or, failing that, ignoring case. Null values,
true/false values and value_map keys also compare ignoring case. Plain YAML scalars
are read as strings, except `true`/`false` and null, so `NO` stays the country code
and `1` stays the text "1".
"""

from __future__ import annotations

import os
import re
import types
import typing
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.intake.model import LeadInput

DEFAULT_NULL_VALUES: tuple[str, ...] = ("", "Select", "NULL", "N/A", "-")
DEFAULT_TRUE_VALUES: tuple[str, ...] = ("yes", "y", "true", "1", "ja", "j", "waar", "oui", "x")
DEFAULT_FALSE_VALUES: tuple[str, ...] = ("no", "n", "false", "0", "nee", "onwaar", "non")

BUILTIN_MAPPINGS_DIR = Path(__file__).resolve().with_name("mappings")

# `LeadInput` fields that a mapping fills in its own way instead of through `columns`.
_SPECIAL_FIELDS = frozenset({"source", "external_id", "extra"})

# Fields that hold personal data: error messages never quote their values.
PERSONAL_FIELDS = frozenset({"email", "owner_email", "first_name", "last_name", "phone"})


class FieldKind(StrEnum):
    """Conversion that the reader applies to a cell for a `LeadInput` field."""

    TEXT = "text"
    EMAIL = "email"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATETIME = "datetime"


def _field_kind(annotation: Any) -> FieldKind:
    """Derive the conversion from a `LeadInput` annotation such as `int | None`."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return _field_kind(members[0])
        return FieldKind.TEXT
    if annotation is bool:
        return FieldKind.BOOLEAN
    if annotation is int:
        return FieldKind.INTEGER
    if annotation is Decimal:
        return FieldKind.DECIMAL
    if annotation is datetime:
        return FieldKind.DATETIME
    if getattr(annotation, "__name__", "") == "EmailStr":
        return FieldKind.EMAIL
    return FieldKind.TEXT


FIELD_KINDS: dict[str, FieldKind] = {
    name: _field_kind(info.annotation) for name, info in LeadInput.model_fields.items()
}
MAPPABLE_FIELDS: tuple[str, ...] = tuple(
    name for name in LeadInput.model_fields if name not in _SPECIAL_FIELDS
)


class MappingError(ValueError):
    """A mapping file is invalid, or a CSV header lacks a column that the mapping requires."""


ColumnNames = str | list[str]


def _as_text(value: Any) -> Any:
    """Turn YAML booleans into their usual spelling so that lists of words stay strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class FieldConversion(BaseModel):
    """Conversion options for one field, applied to the stripped cell text in this order:
    null check, then `value_map`, then the conversion for the field's type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    null_values: list[str] = Field(
        default_factory=list,
        description="Values read as empty for this field, on top of the global list.",
    )
    value_map: dict[str, str | None] = Field(
        default_factory=dict,
        description="Raw value to replacement value; null maps a value to empty. Other values pass unchanged.",
    )
    true_values: list[str] | None = Field(
        default=None, description="Yes/no fields only; replaces the global list."
    )
    false_values: list[str] | None = Field(
        default=None, description="Yes/no fields only; replaces the global list."
    )

    @field_validator("null_values", "true_values", "false_values", mode="before")
    @classmethod
    def _words_as_text(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [_as_text(item) for item in value]
        return value

    @field_validator("value_map", mode="before")
    @classmethod
    def _map_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {_as_text(key): _as_text(item) for key, item in value.items()}
        return value

    @field_validator("value_map")
    @classmethod
    def _check_case_conflicts(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        seen: dict[str, tuple[str, str | None]] = {}
        for key, replacement in value.items():
            folded = key.strip().casefold()
            if folded in seen and seen[folded][1] != replacement:
                raise ValueError(
                    f"keys {seen[folded][0]!r} and {key!r} differ only in case but map to different "
                    "values; keys compare ignoring case"
                )
            seen[folded] = (key, replacement)
        return value


class CsvMapping(BaseModel):
    """Mapping from the columns of one kind of CSV export to `LeadInput` fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(
        default=None, description="Label for messages; defaults to the file name."
    )
    description: str | None = None
    source: str = Field(
        min_length=1, max_length=64, description="Lead source when no column gives one."
    )
    source_column: ColumnNames | None = Field(
        default=None, description="Column that contains the lead source."
    )
    external_id: ColumnNames = Field(
        description="Column that contains the lead's id in the source system."
    )
    columns: dict[str, ColumnNames] = Field(
        default_factory=dict, description="LeadInput field to column name."
    )
    required: list[str] = Field(
        default_factory=list,
        description="Fields whose column must be in the header; external_id always is.",
    )
    conversions: dict[str, FieldConversion] = Field(default_factory=dict)
    fixed: dict[str, Any] = Field(
        default_factory=dict, description="LeadInput field to a constant value."
    )
    extra: list[str] = Field(
        default_factory=list, description="Columns copied as text into LeadInput.extra."
    )
    null_values: list[str] = Field(default_factory=lambda: list(DEFAULT_NULL_VALUES))
    true_values: list[str] = Field(default_factory=lambda: list(DEFAULT_TRUE_VALUES))
    false_values: list[str] = Field(default_factory=lambda: list(DEFAULT_FALSE_VALUES))
    date_order: Literal["auto", "dmy", "mdy", "ymd"] = Field(
        default="auto",
        description=(
            "Order of day, month and year in dates such as 03/04/2025. auto reads year-first dates as "
            "year-month-day and year-last dates as day-month-year; dmy, mdy and ymd accept only that "
            "order, plus ISO 8601 (2025-04-03)."
        ),
    )
    decimal_separator: Literal["auto", ",", "."] = Field(
        default="auto",
        description="auto decides per value and, when a value is ambiguous, from the file's delimiter.",
    )
    timezone: str | None = Field(
        default=None,
        description="IANA zone for datetimes without an offset; overrides the reader's default.",
    )

    @field_validator(
        "null_values", "true_values", "false_values", "extra", "required", mode="before"
    )
    @classmethod
    def _words_as_text(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [_as_text(item) for item in value]
        return value

    @field_validator("source_column", "external_id")
    @classmethod
    def _check_column_names(cls, value: ColumnNames | None) -> ColumnNames | None:
        if value is not None:
            _check_names(value)
        return value

    @field_validator("columns")
    @classmethod
    def _check_columns(cls, value: dict[str, ColumnNames]) -> dict[str, ColumnNames]:
        for field_name, names in value.items():
            _check_field_name(field_name)
            _check_names(names)
        return value

    @field_validator("required")
    @classmethod
    def _check_required(cls, value: list[str]) -> list[str]:
        for field_name in value:
            if field_name != "source":
                _check_field_name(field_name)
        return value

    @field_validator("conversions")
    @classmethod
    def _check_conversions(cls, value: dict[str, FieldConversion]) -> dict[str, FieldConversion]:
        for field_name, conversion in value.items():
            if field_name != "source":
                _check_field_name(field_name)
            is_boolean = FIELD_KINDS.get(field_name) is FieldKind.BOOLEAN
            if not is_boolean and (
                conversion.true_values is not None or conversion.false_values is not None
            ):
                raise ValueError(
                    f"{field_name}: true_values and false_values apply only to yes/no fields "
                    f"({', '.join(_fields_of_kind(FieldKind.BOOLEAN))})"
                )
        return value

    @field_validator("fixed")
    @classmethod
    def _check_fixed(cls, value: dict[str, Any]) -> dict[str, Any]:
        for field_name in value:
            _check_field_name(field_name)
        return value

    @field_validator("extra")
    @classmethod
    def _check_extra(cls, value: list[str]) -> list[str]:
        if value:
            _check_names(value)
        return list(dict.fromkeys(value))

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    "unknown time zone; expected an IANA name such as Europe/Amsterdam"
                ) from None
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> CsvMapping:
        both = sorted(set(self.columns) & set(self.fixed))
        if both:
            raise ValueError(
                f"fields {both} are in both 'columns' and 'fixed'; keep each in one place"
            )
        for field_name in self.conversions:
            if field_name == "source":
                if self.source_column is None:
                    raise ValueError("conversions.source needs a source_column")
            elif field_name not in self.columns:
                raise ValueError(
                    f"conversions.{field_name}: field {field_name!r} has no entry in 'columns'"
                )
        for field_name in self.required:
            if field_name == "source":
                if self.source_column is None:
                    raise ValueError("required lists 'source' but no source_column is set")
            elif field_name not in self.columns:
                raise ValueError(f"required lists {field_name!r}, which has no entry in 'columns'")
        overlap = _folded(self.true_values) & _folded(self.false_values)
        if overlap:
            raise ValueError(f"values {sorted(overlap)} are in both true_values and false_values")
        return self

    def column_candidates(self, field_name: str) -> list[str]:
        """Return the column names that may hold `field_name`, in order of preference."""
        if field_name == "source":
            names = self.source_column
        elif field_name == "external_id":
            names = self.external_id
        else:
            names = self.columns.get(field_name)
        if names is None:
            return []
        return [names] if isinstance(names, str) else list(names)

    def conversion(self, field_name: str) -> FieldConversion:
        """Return the conversion options for a field, or empty options when none are set."""
        return self.conversions.get(field_name) or _NO_CONVERSION

    def is_required(self, field_name: str) -> bool:
        return field_name == "external_id" or field_name in self.required


_NO_CONVERSION = FieldConversion()


def _fields_of_kind(kind: FieldKind) -> list[str]:
    return [name for name in MAPPABLE_FIELDS if FIELD_KINDS[name] is kind]


def _folded(values: list[str]) -> set[str]:
    return {value.strip().casefold() for value in values}


def _check_field_name(field_name: str) -> None:
    if field_name in _SPECIAL_FIELDS:
        raise ValueError(
            f"{field_name!r} is set by its own key (source, source_column, external_id, extra), "
            "not per field"
        )
    if field_name not in FIELD_KINDS:
        raise ValueError(
            f"unknown LeadInput field {field_name!r}; expected one of: {', '.join(MAPPABLE_FIELDS)}"
        )


def _check_names(names: ColumnNames) -> None:
    items = [names] if isinstance(names, str) else names
    if not items:
        raise ValueError("expected at least one column name")
    for item in items:
        if not item.strip():
            raise ValueError("column names must not be empty")


# --- YAML loading ---------------------------------------------------------------------


class _MappingLoader(yaml.SafeLoader):
    """Safe YAML loader that resolves plain scalars to strings, except null, true and false.

    YAML 1.1 would turn `NO` (Norway) and `Yes` into booleans and `1:30` into a number,
    which breaks country codes, value maps and lists of yes/no words.
    """


_MappingLoader.yaml_implicit_resolvers = {}
_MappingLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_MappingLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def builtin_mapping_names() -> list[str]:
    """Return the names of the mappings shipped in `mappings/`, such as 'hubspot'."""
    return sorted(path.stem for path in BUILTIN_MAPPINGS_DIR.glob("*.yml"))


def load_mapping(name_or_path: str | os.PathLike[str]) -> CsvMapping:
    """Load a built-in mapping by name ('hubspot') or a mapping file by path.

    A string without a path separator and without a .yml/.yaml suffix is a built-in name.
    Raises MappingError naming the file, the key, the value and what is expected.
    """
    path = _resolve_mapping_path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MappingError(f"mapping file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"cannot read mapping file {path}: {exc}") from None

    try:
        data = yaml.load(text, Loader=_MappingLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise MappingError(f"{path}: invalid YAML{where}: {problem}") from None

    if not isinstance(data, dict):
        raise MappingError(
            f"{path}: expected a YAML mapping of keys (source, external_id, columns, ...)"
        )
    data.setdefault("name", path.stem)
    return parse_mapping(data, origin=str(path))


def _resolve_mapping_path(name_or_path: str | os.PathLike[str]) -> Path:
    if not isinstance(name_or_path, str):
        return Path(name_or_path)
    looks_like_path = (
        "/" in name_or_path or os.sep in name_or_path or name_or_path.endswith((".yml", ".yaml"))
    )
    if looks_like_path:
        return Path(name_or_path)
    path = BUILTIN_MAPPINGS_DIR / f"{name_or_path}.yml"
    if not path.is_file():
        raise MappingError(
            f"unknown built-in mapping {name_or_path!r}; expected one of "
            f"{', '.join(builtin_mapping_names())}, or a path to a .yml file"
        )
    return path


def parse_mapping(data: dict[str, Any], *, origin: str = "mapping") -> CsvMapping:
    """Validate mapping data (as loaded from YAML) into a `CsvMapping`.

    Raises MappingError listing every problem with its key and value. `fixed` values are
    checked against `LeadInput` here, so that a bad constant fails before any row is read.
    """
    try:
        mapping = CsvMapping.model_validate(data)
    except ValidationError as exc:
        problems = [_describe_problem(error) for error in exc.errors()]
        raise MappingError(_join_problems(origin, problems)) from None

    try:
        LeadInput(source=mapping.source, external_id="mapping-check", **mapping.fixed)
    except ValidationError as exc:
        problems = [_describe_problem(error, prefix=("fixed",)) for error in exc.errors()]
        raise MappingError(_join_problems(origin, problems)) from None
    return mapping


def _join_problems(origin: str, problems: list[str]) -> str:
    if len(problems) == 1:
        return f"invalid mapping {origin}: {problems[0]}"
    return f"invalid mapping {origin}:\n" + "\n".join(f"  - {problem}" for problem in problems)


_EXPECTED_FOR_MISSING = {
    "source": "the lead source to store when no column gives one, e.g. hubspot",
    "external_id": "the name of the column with the lead's id in the source system",
}


def _describe_problem(error: Any, prefix: tuple[str | int, ...] = ()) -> str:
    """Phrase one pydantic error as "key 'a.b': what is wrong or expected (got value)"."""
    location = prefix + tuple(error.get("loc", ()))
    key = ".".join(str(part) for part in location) or "(top level)"
    kind = error.get("type", "")
    if kind == "missing":
        expected = _EXPECTED_FOR_MISSING.get(key, "a value")
        return f"key {key!r} is missing; expected {expected}"
    if kind == "extra_forbidden":
        parent = location[:-1]
        allowed = _allowed_keys(parent)
        hint = f"; expected one of: {', '.join(allowed)}" if allowed else ""
        return f"unknown key {key!r}{hint}"

    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    hide_value = len(location) >= 2 and location[0] == "fixed" and location[1] in PERSONAL_FIELDS
    if hide_value or "input" not in error or isinstance(error["input"], dict):
        return f"key {key!r}: {message}"
    return f"key {key!r}: {message} (got {error['input']!r})"


def _allowed_keys(parent: tuple[str | int, ...]) -> list[str]:
    if not parent:
        return list(CsvMapping.model_fields)
    if len(parent) == 2 and parent[0] == "conversions":
        return list(FieldConversion.model_fields)
    return []
