"""The INSERT and UPDATE of one row, as the repositories write them: the columns named once, their
`$n` placeholders counted here, and an admin write stamped with who made it (`created_by`,
`updated_by`) and when (`updated_at`).

`insert_row(conn, "promotions", picked(fields, WRITABLE), COLUMNS, actor=actor)` inserts a row and
returns its columns; `update_row(conn, "coupons", "code", code, picked(fields, WRITABLE), COLUMNS,
actor=actor)` replaces the columns given of the row whose `code` is `code` (None: no such row).
`update_sql` is the same UPDATE as text, for a statement with more to it (a CASE over a column, a
guard in its WHERE): its placeholders start at `$3` ($1 the key, $2 the actor) unless told.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import asyncpg

from quote_service.db.pool import Connection


def picked(fields: Mapping[str, Any], columns: Iterable[str]) -> dict[str, Any]:
    """The values of `columns` in `fields`, in the order of `columns` (a KeyError for one missing)."""
    return {column: fields[column] for column in columns}


def insert_sql(table: str, columns: Iterable[str], returning: str | None = None) -> str:
    """`INSERT INTO table (columns) VALUES ($1, …)`, `RETURNING returning` when given."""
    names = list(columns)
    values = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    tail = f" RETURNING {returning}" if returning else ""
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({values}){tail}"


async def insert_row(
    conn: Connection, table: str, values: Mapping[str, Any], returning: str, *, actor: str | None = None
) -> asyncpg.Record:
    """Insert one row of `values` (column → value) and return its `returning` columns; `actor`: it
    is also the row's `created_by` and `updated_by`."""
    if actor is not None:
        values = {**values, "created_by": actor, "updated_by": actor}
    row = await conn.fetchrow(insert_sql(table, values, returning), *values.values())
    assert row is not None
    return row


def update_sql(
    table: str, key: str, columns: Iterable[str], returning: str | None = None, *, now: str = "now()", start: int = 3
) -> str:
    """`UPDATE table SET column = $start, …, updated_by = $2, updated_at = <now> WHERE key = $1`,
    `RETURNING returning` when given. `now`: `now()` (the transaction's start) or `clock_timestamp()`."""
    assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(columns, start=start))
    tail = f" RETURNING {returning}" if returning else ""
    return f"UPDATE {table} SET {assignments}, updated_by = $2, updated_at = {now} WHERE {key} = $1{tail}"


async def update_row(
    conn: Connection,
    table: str,
    key: str,
    key_value: Any,
    values: Mapping[str, Any],
    returning: str,
    *,
    actor: str,
    now: str = "now()",
) -> asyncpg.Record | None:
    """Set `values` (column → value) on the row of `table` whose `key` is `key_value`, stamped by
    `actor`; its `returning` columns, or None when there is no such row."""
    sql = update_sql(table, key, values, returning, now=now)
    return await conn.fetchrow(sql, key_value, actor, *values.values())


def deactivate_sql(table: str, key: str, returning: str, *, now: str = "now()") -> str:
    """`UPDATE table SET is_active = false`, stamped by the actor ($2), of the row whose `key` is $1."""
    return (
        f"UPDATE {table} SET is_active = false, updated_by = $2, updated_at = {now} WHERE {key} = $1"
        f" RETURNING {returning}"
    )
