"""Price history: one row per change of current_price, newest first, keyset-paginated.

Concurrent price changes race at a real server process (one per test): the in-process test
client answers one request at a time, so through it nothing would race.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.catalog.test_catalog import PRODUCTS, create_product, error_of, put_body, success_data
from tests.integration.conftest import Caller
from tests.integration.servers import RaceServer

Client = AsyncTestClient[Litestar]


async def history(client: Client, caller: Caller, product_id: str, query: str = "") -> dict[str, Any]:
    response = await client.get(f"{PRODUCTS}/{product_id}/price-history{query}", headers=caller.headers)
    page: dict[str, Any] = success_data(response)
    return page


async def all_history(client: Client, caller: Caller, product_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await history(client, caller, product_id, "?limit=500"))["items"]
    return items


async def patch(client: Client, admin: Caller, product_id: str, body: dict[str, Any]) -> dict[str, Any]:
    product: dict[str, Any] = success_data(
        await client.patch(f"{PRODUCTS}/{product_id}", json=body, headers=admin.headers)
    )
    return product


async def test_creation_writes_the_first_row(client: Client, admin: Caller, shopper: Caller) -> None:
    product = await create_product(client, admin, base_price="25.5", current_price="24")
    page = await history(client, shopper, product["id"])
    assert page["next_cursor"] is None
    [row] = page["items"]
    assert row["product_id"] == product["id"]
    assert row["old_price"] is None
    assert row["new_price"] == "24.00"
    assert row["source"] == "manual"
    assert row["actor"] == admin.username == "admin"
    assert row["reason"]
    assert row["changed_at"].endswith("Z")


async def test_each_price_change_appends_one_row_with_its_reason(client: Client, admin: Caller) -> None:
    product = await create_product(client, admin)
    pid = product["id"]
    response = await client.put(
        f"{PRODUCTS}/{pid}",
        json=put_body(product, current_price="23.00", price_change_reason="competitor dropped"),
        headers=admin.headers,
    )
    success_data(response)
    await patch(client, admin, pid, {"current_price": "22.5", "price_change_reason": "weekend promo"})
    await patch(client, admin, pid, {"current_price": "25.50"})  # no reason given: the default

    rows = await all_history(client, admin, pid)
    assert [(r["old_price"], r["new_price"]) for r in rows] == [
        ("22.50", "25.50"),
        ("23.00", "22.50"),
        ("25.50", "23.00"),
        (None, "25.50"),
    ]
    assert rows[0]["reason"] == "manual update"
    assert rows[1]["reason"] == "weekend promo"
    assert rows[2]["reason"] == "competitor dropped"
    assert all(r["source"] == "manual" and r["actor"] == "admin" for r in rows)
    ids = [r["id"] for r in rows]
    assert ids == sorted(ids, reverse=True)
    times = [datetime.fromisoformat(r["changed_at"]) for r in rows]
    assert times == sorted(times, reverse=True)


async def test_writes_that_keep_the_price_add_no_row(client: Client, admin: Caller) -> None:
    product = await create_product(client, admin, current_price="25.50")
    pid = product["id"]
    await patch(client, admin, pid, {"name": "Renamed", "price_change_reason": "not a price change"})
    await patch(client, admin, pid, {"current_price": "25.5"})  # the same amount, written differently
    await patch(client, admin, pid, {"base_price": "30.00", "min_price": "21.00"})
    success_data(await client.put(f"{PRODUCTS}/{pid}", json=put_body(product, name="Again"), headers=admin.headers))
    success_data(await client.delete(f"{PRODUCTS}/{pid}", headers=admin.headers))
    rows = await all_history(client, admin, pid)
    assert len(rows) == 1
    assert rows[0]["old_price"] is None


async def test_refused_price_change_adds_no_row(client: Client, admin: Caller) -> None:
    product = await create_product(client, admin)
    response = await client.patch(f"{PRODUCTS}/{product['id']}", json={"current_price": "1.00"}, headers=admin.headers)
    error_of(response, 422, "VALIDATION_FAILED")
    assert len(await all_history(client, admin, product["id"])) == 1


async def test_an_admin_api_key_is_recorded_as_the_actor(client: Client, admin: Caller) -> None:
    response = await client.post(
        "/api/v1/api-keys", json={"name": "pricing-bot", "role": "admin"}, headers=admin.headers
    )
    key = success_data(response, 201)["key"]
    product = await create_product(client, admin)
    response = await client.patch(
        f"{PRODUCTS}/{product['id']}", json={"current_price": "24.00"}, headers={"X-API-Key": key}
    )
    success_data(response)
    newest = (await all_history(client, admin, product["id"]))[0]
    assert newest["actor"] == "api-key:pricing-bot"


async def test_history_is_per_product(client: Client, admin: Caller) -> None:
    first = await create_product(client, admin)
    second = await create_product(client, admin)
    await patch(client, admin, first["id"], {"current_price": "24.00"})
    assert len(await all_history(client, admin, first["id"])) == 2
    assert [r["product_id"] for r in await all_history(client, admin, second["id"])] == [second["id"]]


async def test_concurrent_price_changes_keep_an_unbroken_chain(
    client: Client, server: RaceServer, admin: Caller
) -> None:
    product = await create_product(client, admin, base_price="100.00", min_price="50.00", cost_price="10.00")
    pid = product["id"]
    prices = [f"{60 + i}.00" for i in range(20)]
    responses = await server.race(
        len(prices),
        lambda http, n: http.patch(f"{PRODUCTS}/{pid}", json={"current_price": prices[n]}, headers=admin.headers),
    )
    assert [r.status_code for r in responses] == [200] * len(prices)
    rows = await all_history(client, admin, pid)
    assert len(rows) == len(prices) + 1
    assert sorted(r["new_price"] for r in rows[:-1]) == prices
    assert [r["old_price"] for r in rows[:-1]] == [r["new_price"] for r in rows[1:]]  # each saw the one before
    current = success_data(await client.get(f"{PRODUCTS}/{pid}", headers=admin.headers))["current_price"]
    assert current == rows[0]["new_price"]


async def test_pages_walk_every_row_once_newest_first(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    product = await create_product(client, admin, base_price="100.00", min_price="50.00", cost_price="10.00")
    pid = product["id"]
    prices = [Decimal("100.00")] + [Decimal("60.00") + i for i in range(25)]  # 25 changes after creation
    for price in prices[1:]:
        await patch(client, admin, pid, {"current_price": str(price), "price_change_reason": f"to {price}"})

    walked: list[dict[str, Any]] = []
    sizes: list[int] = []
    cursor: str | None = None
    while True:
        page = await history(client, admin, pid, f"?limit=7&cursor={cursor}" if cursor else "?limit=7")
        sizes.append(len(page["items"]))
        walked.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert sizes == [7, 7, 7, 5]
    async with pool.acquire() as conn:
        stored = await conn.fetch(
            "SELECT id FROM price_history WHERE product_id = $1 ORDER BY changed_at DESC, id DESC", uuid.UUID(pid)
        )
    assert [r["id"] for r in walked] == [r["id"] for r in stored]  # every row once, in order, no gaps
    assert [Decimal(r["new_price"]) for r in walked] == prices[::-1]
    assert [r["old_price"] for r in walked[:-1]] == [r["new_price"] for r in walked[1:]]  # a continuous chain
    assert walked[-1]["old_price"] is None


async def test_a_page_exactly_as_long_as_the_history_has_no_next_cursor(client: Client, admin: Caller) -> None:
    product = await create_product(client, admin)
    await patch(client, admin, product["id"], {"current_price": "24.00"})
    page = await history(client, admin, product["id"], "?limit=2")
    assert len(page["items"]) == 2
    assert page["next_cursor"] is None


def forged(raw: bytes) -> str:
    """A hand-made cursor of this list holding the sort key `raw`."""
    return base64.urlsafe_b64encode(b'["price-history",' + raw + b"]").decode().rstrip("=")


@pytest.mark.parametrize(
    "query",
    [
        "?limit=0",
        "?limit=501",
        "?limit=many",
        "?cursor=garbage",
        "?cursor=%E2%9C%93",
        "?cursor=" + forged(b"null"),
        "?cursor=" + forged(b'["2026-01-01T00:00:00Z", "not-an-id"]'),
        "?cursor=" + forged(b'["2026-01-01T00:00:00Z", 99999999999999999999999]'),
        "?cursor=" + forged(b'["9999-12-31T23:59:59-23:00", 1]'),
        "?cursor=" + forged(b'["2026-01-01T00:00:00", 1]'),
    ],
    ids=[
        "limit-0",
        "limit-501",
        "limit-word",
        "garbage",
        "non-ascii",
        "null",
        "wrong-type",
        "int-overflow",
        "date-overflow",
        "naive-time",
    ],
)
async def test_bad_page_parameters_are_422(client: Client, admin: Caller, query: str) -> None:
    product = await create_product(client, admin)
    response = await client.get(f"{PRODUCTS}/{product['id']}/price-history{query}", headers=admin.headers)
    field = query[1:].split("=")[0]
    assert error_of(response, 422, "VALIDATION_FAILED") == [field]


async def test_a_product_list_cursor_is_not_a_history_cursor(client: Client, admin: Caller) -> None:
    product = await create_product(client, admin)
    await create_product(client, admin)
    listed = success_data(await client.get(f"{PRODUCTS}?limit=1", headers=admin.headers))
    response = await client.get(
        f"{PRODUCTS}/{product['id']}/price-history?cursor={listed['next_cursor']}", headers=admin.headers
    )
    assert error_of(response, 422, "VALIDATION_FAILED") == ["cursor"]


async def test_the_largest_page_size_is_allowed(client: Client, admin: Caller) -> None:
    product = await create_product(client, admin)
    assert len((await history(client, admin, product["id"], "?limit=500"))["items"]) == 1


async def test_history_of_an_unknown_product_is_404(client: Client, admin: Caller) -> None:
    response = await client.get(f"{PRODUCTS}/{uuid.uuid4()}/price-history", headers=admin.headers)
    error_of(response, 404, "NOT_FOUND")
