"""Set-sized statements: a whole list of keys as one bound value, and inserts of many rows straight to the driver.

A campaign of 100 000 devices reads and writes hundreds of thousands of rows in one transaction. Built the usual way
(an `IN` of 900 parameters per chunk, `executemany` of dicts) nearly all of its time went to per-row parameter
processing, and on PostgreSQL an `IN` list of separate parameters is searched linearly for every row of a sequential
scan. See docs/adr/0011-bulk-statements.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from sqlalchemy import JSON, ColumnElement, Connection, String, Table, bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY

# Bounds the memory of one statement's parameters; large enough that a 1 000 000-key list is 20 statements.
KEY_CHUNK = 50_000
ROW_CHUNK = 10_000


def key_chunks(keys: Sequence[str], size: int = KEY_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


def member_of(connection: Connection, column: ColumnElement[Any], keys: Sequence[str]) -> ColumnElement[bool]:
    """`column IN (the keys)` with the keys bound as one value: an array on PostgreSQL, a JSON array on SQLite.

    As a subquery, the planner may hash the list or probe an index per key; it never compares each row with each
    key in turn, whatever the table's statistics say.
    """
    if connection.dialect.name == "postgresql":
        keys_array = bindparam(None, list(keys), type_=ARRAY(String))
        return column.in_(select(func.unnest(keys_array)))
    keys_json = bindparam(None, json.dumps(list(keys)), type_=String)
    return column.in_(select(literal_column("value")).select_from(func.json_each(keys_json)))


def insert_rows(connection: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> int:
    """Inserts the rows (dicts with the same keys) in the connection's transaction; returns how many.

    PostgreSQL takes them through COPY; SQLite through the driver's `executemany`, with each column's SQLAlchemy
    bind processing applied once per distinct value (most rows of a batch share their timestamps).
    """
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return 0
    columns = list(first)
    count = 0
    pending: Iterator[dict[str, Any]] = _prepend(first, iterator)
    while chunk := list(islice(pending, ROW_CHUNK)):
        if connection.dialect.name == "postgresql":
            _copy(connection, table, columns, chunk)
        else:
            _executemany(connection, table, columns, chunk)
        count += len(chunk)
    return count


def _prepend(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest


def _copy(connection: Connection, table: Table, columns: list[str], chunk: list[dict[str, Any]]) -> None:
    to_text = [_copy_value(table, name) for name in columns]
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in chunk:
            copy.write_row([convert(row[name]) for name, convert in zip(columns, to_text, strict=True)])


def _copy_value(table: Table, name: str) -> Callable[[Any], Any]:
    """COPY's text format takes str, numbers, bools, datetimes and None as they are; JSON goes as its text."""
    if isinstance(table.c[name].type, JSON):
        return lambda value: None if value is None else json.dumps(value)
    return lambda value: value


def _executemany(connection: Connection, table: Table, columns: list[str], chunk: list[dict[str, Any]]) -> None:
    dialect = connection.dialect
    processors = [_memoized(table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in columns]
    placeholders = ", ".join("?" for _ in columns)
    statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608
    connection.exec_driver_sql(
        statement,
        [tuple(process(row[name]) for name, process in zip(columns, processors, strict=True)) for row in chunk],
    )


def _memoized(process: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    if process is None:
        return lambda value: value
    seen: dict[Any, Any] = {}

    def memoized(value: Any) -> Any:
        if value is None:
            return None
        try:
            return seen[value]
        except KeyError:
            seen[value] = result = process(value)
            return result
        except TypeError:  # unhashable (a JSON payload): nothing to share
            return process(value)

    return memoized
