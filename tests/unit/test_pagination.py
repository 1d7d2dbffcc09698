"""Keyset cursors: opaque round trips, refusal of anything we did not issue, page shapes."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from quote_service.errors import FieldError, ValidationFailed
from quote_service.pagination import Listing, PageQuery, decode_cursor, encode_cursor, page_of

KEY = (datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC), uuid.UUID("0b6f3f5e-0c1d-4f38-9d7e-52a3c1f0e9aa"))


def test_cursor_round_trips_its_sort_key() -> None:
    cursor = encode_cursor(KEY, "products")

    assert decode_cursor(cursor, tuple[datetime, uuid.UUID], "products") == KEY


def test_cursor_is_url_safe_and_unpadded() -> None:
    cursor = encode_cursor(KEY, "products")

    assert "=" not in cursor
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_integer_keys_round_trip() -> None:
    key = (datetime(2030, 1, 1, tzinfo=UTC), 42)

    assert decode_cursor(encode_cursor(key, "products"), tuple[datetime, int], "products") == key


@pytest.mark.parametrize("cursor", [None, ""])
def test_no_cursor_means_the_first_page(cursor: str | None) -> None:
    assert decode_cursor(cursor, tuple[datetime, uuid.UUID], "products") is None


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "a",
        "%%%%",
        "ünïcode",
        encode_cursor([1, 2], "products"),  # ours in form, but not this list's key
        encode_cursor({"id": 1}, "products"),
        encode_cursor(KEY, "products")[:-3],  # truncated
        encode_cursor([KEY[0], "not-a-uuid"], "products"),
        encode_cursor(["2031-05-06T07:08:09", str(KEY[1])], "products"),  # no offset: ambiguous instant
    ],
)
def test_garbage_cursor_is_a_validation_error_on_cursor(cursor: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        decode_cursor(cursor, tuple[datetime, uuid.UUID], "products")

    assert raised.value.status_code == 422
    assert raised.value.details == [FieldError("cursor", "not a cursor returned by this list")]


def test_a_cursor_of_another_list_is_refused() -> None:
    cursor = encode_cursor(KEY, "api-keys")  # same key shape, another list

    with pytest.raises(ValidationFailed) as raised:
        decode_cursor(cursor, tuple[datetime, uuid.UUID], "products")

    assert raised.value.details == [FieldError("cursor", "not a cursor returned by this list")]


def test_a_full_page_points_at_its_last_row() -> None:
    rows = [(n, f"row-{n}") for n in range(4)]  # limit + 1 fetched

    page = page_of(rows, "products", limit=3, key=lambda r: [r[0]], item=lambda r: r[1])

    assert page.items == ["row-0", "row-1", "row-2"]
    assert page.next_cursor is not None
    assert decode_cursor(page.next_cursor, tuple[int], "products") == (2,)


@pytest.mark.parametrize("count", [0, 2, 3])
def test_the_last_page_has_no_cursor(count: int) -> None:
    rows = list(range(count))

    page = page_of(rows, "products", limit=3, key=lambda r: [r], item=str)

    assert page.items == [str(n) for n in range(count)]
    assert page.next_cursor is None


class _Pool:
    """A pool whose one connection is a marker (`acquire` as asyncpg's, an async context manager)."""

    def acquire(self) -> contextlib.AbstractAsyncContextManager[str]:
        @contextlib.asynccontextmanager
        async def connection() -> AsyncIterator[str]:
            yield "conn"

        return connection()


async def test_a_listing_reads_its_page_from_its_pool_after_its_cursor() -> None:
    seen: list[tuple[object, object, int]] = []
    key = (datetime(2026, 1, 1, tzinfo=UTC), uuid.uuid4())

    async def fetch(conn: object, *, after: object, limit: int) -> list[dict[str, object]]:
        seen.append((conn, after, limit))
        return [{"created_at": key[0], "id": key[1], "n": n} for n in range(limit + 1)]

    listing = Listing(_Pool(), PageQuery(2, encode_cursor(key, "things")))
    page = await listing.page("things", fetch, lambda row: row["n"])
    assert seen == [("conn", key, 2)]
    assert page.items == [0, 1]
    assert decode_cursor(page.next_cursor, tuple[datetime, uuid.UUID], "things") == key
