"""Keyset pagination: one cursor format and one page shape for every list.

A cursor is the name of its list and the sort key of the last row of a page, msgspec-encoded
and base64url'd. Repositories fetch `limit + 1` rows ordered by that key; `page_of` trims and
makes the cursor. A cursor names its list so that one list's cursor given to another is a 422,
not a silently shifted page. It is not signed: it only positions a page within rows the caller
may list anyway, so a hand-made one reveals nothing (PostgreSQL-unbindable values are refused).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, NamedTuple, Protocol, TypeVar
from uuid import UUID

import msgspec
from litestar.params import FromQuery, QueryParameter

from quote_service.errors import invalid
from quote_service.validation import storable_instant

T = TypeVar("T")
R = TypeVar("R")
K = TypeVar("K")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

# Litestar ignores a msgspec.Meta on a request parameter: the bounds must sit in its Parameter.
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="Page size, 1 to 500.")]
_INT64 = range(-(2**63), 2**63)


class PageQuery(NamedTuple):
    """What a list was asked for: at most `limit` rows, after the `cursor` a previous page returned."""

    limit: int
    cursor: str | None


def page_query(limit: FromQuery[Limit] = DEFAULT_LIMIT, cursor: FromQuery[str | None] = None) -> PageQuery:
    """The `limit` and `cursor` query parameters of every list (the `page` dependency)."""
    return PageQuery(limit, cursor)


class Page(msgspec.Struct, Generic[T], kw_only=True):
    """One page of a list; `next_cursor` is null on the last page."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(key: Any, list_name: str) -> str:
    """Opaque cursor for a sort key (a tuple of JSON-encodable values) of the list `list_name`."""
    return base64.urlsafe_b64encode(msgspec.json.encode((list_name, key))).decode().rstrip("=")


def decode_cursor(cursor: str | None, key_type: type[K], list_name: str) -> K | None:
    """The sort key inside a cursor of `list_name`, or a 422 on `cursor` when it is not one."""
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        named, key = msgspec.json.decode(raw, type=tuple[str, key_type])  # type: ignore[valid-type]
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise invalid("cursor", "not a cursor returned by this list") from exc
    if named != list_name:
        raise invalid("cursor", "not a cursor returned by this list")
    if not all(map(_storable, key if isinstance(key, tuple) else (key,))):
        raise invalid("cursor", "not a cursor returned by this list")
    return key


def _storable(part: object) -> bool:
    """False for values PostgreSQL cannot bind (a forged cursor must be a 422, not a 500)."""
    if isinstance(part, int):
        return part in _INT64
    if isinstance(part, str):
        return "\x00" not in part  # PostgreSQL text holds no NUL byte
    if isinstance(part, datetime):
        return storable_instant(part)
    return True


def page_of(
    rows: Sequence[R],
    list_name: str,
    *,
    limit: int,
    key: Callable[[R], Any],
    item: Callable[[R], T],
) -> Page[T]:
    """Build a page from `limit + 1` fetched rows."""
    has_more = len(rows) > limit
    shown = rows[:limit]
    next_cursor = encode_cursor(key(shown[-1]), list_name) if has_more and shown else None
    return Page(items=[item(row) for row in shown], next_cursor=next_cursor)


class Acquiring(Protocol):
    """A connection pool (db/pool.py's, above this module: it is named by what it does)."""

    def acquire(self) -> Any: ...


def by_created(row: Any) -> tuple[datetime, UUID]:
    """The sort key of a list ordered by (created_at, id), the order of most lists."""
    return (row["created_at"], row["id"])


class Keyset(NamedTuple):
    """How a list is ordered: a row's sort key, that key's type inside a cursor, and the
    repository's keyword for the key a page starts from (`after` or `before`)."""

    key: Callable[[Any], Any]
    key_type: Any
    position: str = "after"


OLDEST_FIRST = Keyset(by_created, tuple[datetime, UUID])
NEWEST_FIRST = Keyset(by_created, tuple[datetime, UUID], "before")


async def fetch_page(
    pool: Acquiring,
    list_name: str,
    fetch: Callable[..., Awaitable[Sequence[R]]],
    page: PageQuery,
    item: Callable[[R], T],
    order: Keyset = OLDEST_FIRST,
) -> Page[T]:
    """One page of the list `list_name`: the cursor decoded (a 422 on a foreign one), then
    `fetch(conn, <order.position>=key, limit=page.limit)` on one connection of `pool`, then `page_of`."""
    from_key = decode_cursor(page.cursor, order.key_type, list_name)
    async with pool.acquire() as conn:
        rows = await fetch(conn, **{order.position: from_key}, limit=page.limit)
    return page_of(rows, list_name, limit=page.limit, key=order.key, item=item)


class Listing(NamedTuple):
    """What a list handler reads a page with (the `listing` dependency): the pool for reads that
    may be a little stale (`read_pool`, docs/deployment.md) and the page the caller asked for."""

    pool: Acquiring
    query: PageQuery

    async def page(
        self,
        list_name: str,
        fetch: Callable[..., Awaitable[Sequence[R]]],
        item: Callable[[R], T],
        order: Keyset = OLDEST_FIRST,
    ) -> Page[T]:
        """`fetch_page` of `list_name` on this listing's pool, for its page."""
        return await fetch_page(self.pool, list_name, fetch, self.query, item, order)
