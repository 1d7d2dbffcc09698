"""The one keyset-paginated SELECT of every list (pagination.py makes its cursors and pages).

A list is a `SELECT … FROM …`, the filters the caller sent (a filter left out is None and adds no
condition), and a sort key that is unique per row (`created_at, id` for most). A page is the
`limit + 1` rows after the key of the previous page's last row (before it, newest first): the extra
row tells `page_of` whether another page follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import asyncpg

from quote_service.db.pool import Connection


class Sort(NamedTuple):
    """A list's order: its unique sort key (columns), their SQL types, and its direction."""

    key: str = "created_at, id"
    key_types: str = "timestamptz, uuid"
    newest_first: bool = False


OLDEST_FIRST = Sort()
NEWEST_FIRST = Sort(newest_first=True)
NEWEST_CHANGE_FIRST = Sort("changed_at, id", "timestamptz, bigint", newest_first=True)


async def fetch_keyset(
    conn: Connection,
    select: str,
    where: Sequence[tuple[str, Any]],
    start: Sequence[Any] | None,
    limit: int,
    sort: Sort = OLDEST_FIRST,
) -> list[asyncpg.Record]:
    """`limit + 1` rows of `select` past `start` (a value of the sort key), in `sort`'s order. Each
    `where` condition is kept only when its value is not None; a `{}` in it stands for that value."""
    key, key_types, newest_first = sort
    conditions: list[str] = []
    args: list[Any] = []
    for condition, value in where:
        if value is None:
            continue
        if "{}" in condition:
            args.append(value)
            condition = condition.replace("{}", f"${len(args)}")
        conditions.append(condition)
    if start is not None:
        placeholders = []
        for part, cast in zip(start, key_types.split(", "), strict=True):
            args.append(part)
            placeholders.append(f"${len(args)}::{cast}")
        conditions.append(f"({key}) {'<' if newest_first else '>'} ({', '.join(placeholders)})")
    args.append(limit + 1)
    filtered = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    order = ", ".join(f"{column} DESC" if newest_first else column for column in key.split(", "))
    return await conn.fetch(f"{select}{filtered} ORDER BY {order} LIMIT ${len(args)}", *args)
