"""Set-sized statements: a whole list of keys as one bound value, and inserts of many rows straight to the driver.

A campaign of 100 000 devices reads and writes hundreds of thousands of rows in one transaction. Built the usual way
(an `IN` of 900 parameters per chunk, `executemany` of dicts) nearly all of its time went to per-row parameter
processing, and on PostgreSQL an `IN` list of separate parameters is searched linearly for every row of a sequential
scan. See docs/adr/0011-bulk-statements.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cache
from itertools import chain, islice
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    BindParameter,
    ColumnElement,
    Connection,
    FromClause,
    Insert,
    String,
    Table,
    any_,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    select,
)

# Bounds the memory of one statement's parameters; large enough that a 1 000 000-key list is 20 statements.
KEY_CHUNK = 50_000
ROW_CHUNK = 10_000
# A group of rows this large that differ only in their key is written as one INSERT ... SELECT from the key list.
GROUP_FROM = 1_000
# An insert this large changes a table's shape enough to re-read its statistics, for the tables that are paged.
ANALYZE_FROM = 20_000


def key_chunks(keys: Sequence[str], size: int = KEY_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


def member_of(connection: Connection, column: ColumnElement[Any], keys: Sequence[str]) -> ColumnElement[bool]:
    """`column IN (the keys)` with the keys bound as one value, a JSON array (its text is made in C on our side and
    parsed in C on the database's, where a driver's array of 50 000 strings is built value by value in Python).

    As a subquery, the planner may hash the list or probe an index per key; it never compares each row with each
    key in turn, whatever the table's statistics say.
    """
    return _member_of(connection.dialect.name, column, bindparam(None, keys_json(keys), type_=String))


# The name `keys_in` and `keyed_rows` bind their keys under, as `keys_json` of them.
KEYS = "keys"


def keys_json(keys: Sequence[str]) -> str:
    return json.dumps(list(keys))


def keys_in(dialect: str, column: ColumnElement[Any]) -> ColumnElement[bool]:
    """`member_of` for a statement built once per dialect and run many times with a batch's keys, a few hundred at
    most (building and keying a statement cost more than running it, for a batch of check-ins): the keys are bound
    at execution, as `KEYS`.

    On PostgreSQL as `= ANY(ARRAY(SELECT ...))`: a prepared statement's generic plan costs a set-returning function
    at 100 rows, and for a table of a few thousand rows it hashed a scan of the whole table against them, at twice
    the time of probing the key's index once per key, which is what a plan for an array of unknown size does.
    """
    keys = bindparam(KEYS, type_=String)
    if dialect == "postgresql":
        return column == any_(func.array(select(func.json_array_elements_text(cast(keys, JSON))).scalar_subquery()))
    return _member_of(dialect, column, keys)


def _member_of(dialect: str, column: ColumnElement[Any], keys: BindParameter[str]) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return column.in_(select(func.json_array_elements_text(cast(keys, JSON))))
    return column.in_(select(literal_column("value")).select_from(func.json_each(keys)))


def keys_table(connection: Connection, keys: Sequence[str]) -> FromClause:
    """The keys as a one-column table (`value`), bound as one JSON array like `member_of`'s. Joined to a table by
    its key, it is faster than `member_of` (no set of the keys is built first: 100 000 licenses are written in half
    the time) where the keys are known to be distinct."""
    return _keys_table(connection.dialect.name, bindparam(None, keys_json(keys), type_=String))


def keyed_rows(dialect: str) -> FromClause:
    """`keys_table` for a statement built once per dialect: the keys are bound at execution, as `KEYS`."""
    return _keys_table(dialect, bindparam(KEYS, type_=String))


def _keys_table(dialect: str, keys: BindParameter[str]) -> FromClause:
    if dialect == "postgresql":
        return func.json_array_elements_text(cast(keys, JSON)).table_valued("value")
    return func.json_each(keys).table_valued("value")


def insert_keyed(
    connection: Connection, table: Table, key: str, keys: Sequence[str], shared: Mapping[str, Any]
) -> None:
    """Inserts one row per key (column `key`) whose other columns all hold the `shared` values, in key order, as
    `INSERT ... SELECT` from the key list: the database makes the rows, and nothing is done per row in Python.

    Each value is bound through its column's type (the SQLite timestamp text, JSON), as `insert_rows` binds it. The
    statement is built once per table and columns: a batch of check-ins runs it every few milliseconds.
    """
    statement = _keyed_insert(connection.dialect.name, table, key, tuple(shared))
    values = {_SHARED + name: value for name, value in shared.items()}
    for chunk in key_chunks(keys):
        connection.execute(statement, {KEYS: keys_json(chunk), **values})


# A bound value cannot take the name of a column the statement inserts.
_SHARED = "shared_"


@cache
def _keyed_insert(dialect: str, table: Table, key: str, names: tuple[str, ...]) -> Insert:
    values = [bindparam(_SHARED + name, type_=table.c[name].type) for name in names]
    return insert(table).from_select([key, *names], select(keyed_rows(dialect).c.value, *values))


def insert_rows(
    connection: Connection, table: Table, rows: Iterable[dict[str, Any]], *, analyze_from: int | None = None
) -> int:
    """Inserts the rows (dicts with the same keys) in the connection's transaction; returns how many.

    PostgreSQL takes them through COPY; SQLite through the driver's `executemany`, with each column's SQLAlchemy
    bind processing applied once per distinct value (most rows of a batch share their timestamps).
    With `analyze_from`, PostgreSQL re-reads the table's statistics after that many rows or more: until autovacuum
    gets to it (a minute or more later), the planner would take a just-loaded campaign for a few hundred rows and
    sort all of them for every page of its report.
    """
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return 0
    columns = list(first)
    count = 0
    pending = chain([first], iterator)
    while chunk := list(islice(pending, ROW_CHUNK)):
        if connection.dialect.name == "postgresql":
            _copy(connection, table, columns, chunk)
        else:
            _executemany(connection, table, columns, chunk)
        count += len(chunk)
    if analyze_from is not None and count >= analyze_from and connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"ANALYZE {table.name}")
    return count


def _copy(connection: Connection, table: Table, columns: list[str], chunk: list[dict[str, Any]]) -> None:
    # COPY's text format takes str, numbers, bools, datetimes and None as they are; JSON goes as its text.
    converters = {i: _json_text for i, name in enumerate(columns) if isinstance(table.c[name].type, JSON)}
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for values in _tuples(columns, chunk, converters):
            copy.write_row(values)


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _executemany(connection: Connection, table: Table, columns: list[str], chunk: list[dict[str, Any]]) -> None:
    dialect = connection.dialect
    converters = {
        i: _memoized(process)
        for i, name in enumerate(columns)
        if (process := table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
    }
    placeholders = ", ".join("?" for _ in columns)
    statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608
    connection.exec_driver_sql(statement, list(_tuples(columns, chunk, converters)))


def _tuples(
    columns: list[str], chunk: list[dict[str, Any]], converters: Mapping[int, Callable[[Any], Any]]
) -> Iterator[tuple[Any, ...]]:
    """Each row's values in column order, converted where a column needs it (most columns need nothing)."""
    pick = itemgetter(*columns)
    for row in chunk:
        values = pick(row)
        if len(columns) == 1:
            values = (values,)
        if converters:
            converted = list(values)
            for i, convert in converters.items():
                converted[i] = convert(converted[i])
            values = tuple(converted)
        yield values


def _memoized(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
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
