"""The shape both JSON-written pages share (device_report_json.py, license_page_json.py, docs/adr/0034): a page of
items aggregated in key order by the database, with its count and last key, and whether any row follows it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, TextClause, text

from fota.services.ports import WrittenItems


def page_statement(dialect: str, *, item: str, rows: str) -> TextClause:
    """`item`: the SQL of one item's JSON text; `rows`: `FROM ... WHERE ...` of the page's rows, which have a
    `device_id` and take the parameters `:after` and `:limit`."""
    # SQLite's group_concat reads the inner query's rows in its ORDER BY: SQLite does not flatten a subquery with a
    # LIMIT into an aggregate, and steps it as a co-routine (the tests page a shuffled fleet to hold it to that).
    aggregate = "group_concat(item, ',')" if dialect == "sqlite" else "string_agg(item, ',' ORDER BY device_id)"
    # Only the callers' constants go into the text; every value is a bound parameter.
    return text(
        f"SELECT count(*), max(device_id), {aggregate} FROM ("  # noqa: S608
        f"SELECT device_id, {item} AS item {rows} AND device_id > :after ORDER BY device_id LIMIT :limit) AS page"
    )


def written_page(
    connection: Connection, page: TextClause, more: TextClause, parameters: dict[str, Any], *, after: str | None
) -> WrittenItems:
    """The page `page` reads after `after`; `more` is asked, from the page's last key, whether a row follows."""
    count, last, items = connection.execute(page, {**parameters, "after": after or ""}).one()
    has_more = last is not None and connection.execute(more, {**parameters, "after": last}).first() is not None
    return WrittenItems(items or "", int(count), last, has_more)
