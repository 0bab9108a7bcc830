"""Bulk INSERT of many rows: the values SQLAlchemy Core would send, without its per-row work.

`session.execute(insert(table), rows)` runs every value of every row through its
column type's bind processor and builds the parameters row by row. For imports of
thousands of rows that costs more than the database's own work. `insert_rows` runs the
same processors once per distinct value object and hands the rows to the driver in one
call: an executemany on SQLite and a COPY on PostgreSQL with psycopg.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Table, and_, bindparam, false, func, insert, or_, select, tuple_
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]],
                types: Mapping[str, TypeEngine[Any]] | None = None) -> None:
    """Insert `rows`, dicts with the same keys, into `table` in the session's transaction.

    The stored rows are those of `session.execute(insert(table), rows)`: values go through
    the bind processors of the column types (or of `types`, by column name), and columns
    missing from the rows get their scalar Python default. A processor runs once per
    distinct value object, so a value shared by many rows, such as one datetime or one
    JSON dict, is converted once. The rows must not change while this runs.

    Raises ValueError when the rows have different keys, or when a missing column has
    a default that is not a constant. Database errors propagate; on PostgreSQL they
    come from psycopg unwrapped, because COPY does not pass through SQLAlchemy.
    """
    if not rows:
        return
    # Objects added to the session go first, as session.execute() would flush them.
    session.flush()
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name == "sqlite":
        finish = None
    elif dialect.name == "postgresql" and dialect.driver == "psycopg":
        finish = _psycopg_json_text(connection.connection.driver_connection)
    else:
        session.execute(insert(table), list(rows))
        return

    keys = rows[0].keys()
    names = list(keys)
    different_keys = ValueError(f"rows for {table.name} have different keys: give every row the same columns")
    # Every row has the keys of the first exactly when every row has as many keys and none is
    # missing, which _columns finds out as it reads them.
    if set(map(len, rows)) != {len(names)}:
        raise different_keys
    try:
        values_by_column = _columns(rows, names)
    except KeyError:
        raise different_keys from None
    columns = [_converted(values, _processor(table, name, types, dialect, finish))
               for name, values in zip(names, values_by_column, strict=True)]
    for column in table.columns:
        if column.key in keys or column.default is None:
            continue
        if not column.default.is_scalar:
            raise ValueError(f"column {table.name}.{column.name} has a computed default: give it a value in every row")
        names.append(column.key)
        processor = _processor(table, column.key, types, dialect, finish)
        constant = column.default.arg if processor is None else processor(column.default.arg)
        columns.append([constant] * len(rows))
    data = list(zip(*columns, strict=True))

    quote = dialect.identifier_preparer.quote
    column_list = ", ".join(quote(table.c[name].name) for name in names)
    if dialect.name == "sqlite":
        placeholders = ", ".join("?" * len(names))
        connection.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({column_list}) VALUES ({placeholders})", data)
        return
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY {quote(table.name)} ({column_list}) FROM STDIN") as copy:
            for row in data:
                copy.write_row(row)
    finally:
        cursor.close()


def _psycopg_json_text(driver_connection: Any) -> Callable[[Any], Any]:
    """Return a function that turns psycopg's JSON wrappers into their text, as psycopg would send it.

    psycopg serialises a wrapper each time it is sent, so a wrapper shared by many rows
    would be serialised once per row. COPY reads the text into a json column unchanged.
    """
    from psycopg.adapt import PyFormat
    from psycopg.types.json import Json, Jsonb

    dumpers: dict[type[Any], Any] = {}

    def text(value: Any) -> Any:
        if not isinstance(value, (Json, Jsonb)):
            return value
        kind = type(value)
        if kind not in dumpers:
            dumpers[kind] = driver_connection.adapters.get_dumper(kind, PyFormat.TEXT)(kind, driver_connection)
        return bytes(dumpers[kind].dump(value)).decode()

    return text


def _processor(table: Table, name: str, types: Mapping[str, TypeEngine[Any]] | None, dialect: Dialect,
               finish: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    column_type = (types or {}).get(name) or table.c[name].type
    processor = column_type.dialect_impl(dialect).bind_processor(dialect)
    if processor is None or finish is None:
        return processor
    return lambda value: finish(processor(value))


def _columns(rows: Sequence[Mapping[str, Any]], names: list[str]) -> list[Sequence[Any]]:
    """Return the values of `rows` column by column, in the order of `names`."""
    if len(names) == 1:
        return [[row[names[0]] for row in rows]]
    return list(zip(*map(itemgetter(*names), rows), strict=True))


def _converted(values: Sequence[Any], processor: Callable[[Any], Any] | None) -> Sequence[Any]:
    if processor is None:
        return values
    # By identity, not equality: equal values of some types convert differently (Decimal 1.0 and 1).
    # The values stay referenced by `values`, so no id is reused while this runs. map, zip and dict
    # keep the per-value loop in C, leaving Python work only for each distinct object.
    keys = list(map(id, values))
    distinct = dict(zip(keys, values))
    done = {key: processor(value) for key, value in distinct.items()}
    return list(map(done.__getitem__, keys))


def pairs_in(first: ColumnElement[Any], second: ColumnElement[Any], pairs: Iterable[tuple[Any, Any]], *,
             dialect: Dialect) -> ColumnElement[bool]:
    """Return a WHERE clause for rows whose (`first`, `second`) is one of `pairs`, fast on `dialect`.

    PostgreSQL gets the pairs as two array parameters, because thousands of separate
    parameters cost more to send and plan than the search itself. SQLite gets
    `first = a AND second IN (...) OR ...`, one term per value of `first`, so that it
    searches an index on (first, second) once per pair. SQLite scans the table for a
    row-value IN, and for two IN lists it searches every combination of their values.
    """
    pairs = list(pairs)
    if dialect.name == "postgresql":
        firsts = [value for value, _ in pairs]
        seconds = [other for _, other in pairs]
        requested = func.unnest(
            bindparam("pairs_first", firsts, type_=ARRAY(first.type), unique=True),
            bindparam("pairs_second", seconds, type_=ARRAY(second.type), unique=True),
        ).table_valued("first", "second").render_derived()
        return tuple_(first, second).in_(select(requested.c.first, requested.c.second))
    grouped: dict[Any, list[Any]] = {}
    for value, other in pairs:
        grouped.setdefault(value, []).append(other)
    return or_(false(), *(and_(first == value, second.in_(others)) for value, others in grouped.items()))
