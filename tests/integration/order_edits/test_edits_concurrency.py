"""Order edits under concurrency, at a real served process (servers.race_server: the in-process client
answers one request at a time, so nothing would race): a preview is committed once, added units are never
oversold, and an edit racing a refund of the same order never applies to a basket that moved."""

from __future__ import annotations

import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.order_edits.test_edits_api import basket, place
from tests.integration.servers import RaceServer

pytestmark = pytest.mark.slow

Client = AsyncTestClient[Litestar]
ORDERS = "/api/v1/orders"


def outcomes(responses: list[httpx.Response]) -> Counter[tuple[int, str]]:
    return Counter((r.status_code, "ok" if r.status_code < 400 else r.json()["error"]["code"]) for r in responses)


async def _preview(client: Client, headers: dict[str, str], order_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"{ORDERS}/{order_id}/edits", json=body, headers=headers)
    assert response.status_code == 201, response.text
    preview: dict[str, Any] = response.json()["data"]
    return preview


@pytest.mark.long
async def test_racing_commits_of_one_order_apply_one_edit(
    client: Client, admin: Caller, service_key: dict[str, str], server: RaceServer, pool: asyncpg.Pool
) -> None:
    case = await create_product(client, admin, stock=100)
    order = await place(client, service_key, basket("race-1", (case, 2)))
    previews = [
        await _preview(client, service_key, order["id"], {"add": [{"product_id": case["id"], "quantity": n + 1}]})
        for n in range(6)
    ]

    async def send(http: httpx.AsyncClient, n: int) -> httpx.Response:
        url = f"{ORDERS}/{order['id']}/edits/{previews[n]['edit_id']}/commit"
        return await http.post(url, headers={**service_key, "Idempotency-Key": f"race-{n}"})

    responses = await server.race(len(previews), send)
    assert outcomes(responses) == Counter({(200, "ok"): 1, (409, "ORDER_CHANGED"): 5})
    won = next(n for n, r in enumerate(responses) if r.status_code == 200)
    added = won + 1
    stock = await pool.fetchval("SELECT stock FROM products WHERE id = $1", uuid.UUID(case["id"]))
    assert stock == 100 - 2 - added
    lines = await pool.fetch(
        "SELECT quantity FROM order_lines WHERE order_id = $1 AND retired_by IS NULL", uuid.UUID(order["id"])
    )
    assert [r["quantity"] for r in lines] == [2 + added]


async def test_racing_edits_never_oversell_the_units_they_add(
    client: Client, admin: Caller, service_key: dict[str, str], server: RaceServer, pool: asyncpg.Pool
) -> None:
    plenty = await create_product(client, admin, stock=100)
    scarce = await create_product(client, admin, stock=3)
    orders = [await place(client, service_key, basket(f"race-{n}", (plenty, 1))) for n in range(8)]
    previews = [
        await _preview(client, service_key, o["id"], {"add": [{"product_id": scarce["id"], "quantity": 1}]})
        for o in orders
    ]

    async def send(http: httpx.AsyncClient, n: int) -> httpx.Response:
        url = f"{ORDERS}/{orders[n]['id']}/edits/{previews[n]['edit_id']}/commit"
        return await http.post(url, headers={**service_key, "Idempotency-Key": f"scarce-{n}"})

    responses = await server.race(len(orders), send)
    assert outcomes(responses) == Counter({(200, "ok"): 3, (409, "INSUFFICIENT_STOCK"): 5})
    assert await pool.fetchval("SELECT stock FROM products WHERE id = $1", uuid.UUID(scarce["id"])) == 0


@pytest.mark.long
async def test_an_edit_racing_a_refund_of_its_order_commits_only_on_the_basket_it_priced(
    client: Client, admin: Caller, service_key: dict[str, str], server: RaceServer, pool: asyncpg.Pool
) -> None:
    case = await create_product(client, admin, stock=100)
    order = await place(client, service_key, basket("race-9", (case, 4)))
    preview = await _preview(client, service_key, order["id"], {"remove": [{"product_id": case["id"], "quantity": 1}]})

    async def send(http: httpx.AsyncClient, n: int) -> httpx.Response:
        if n == 0:
            url = f"{ORDERS}/{order['id']}/edits/{preview['edit_id']}/commit"
            return await http.post(url, headers={**service_key, "Idempotency-Key": "race-edit"})
        body = {"lines": [{"product_id": case["id"], "quantity": 1}]}
        return await http.post(
            f"{ORDERS}/{order['id']}/refunds", json=body, headers={**service_key, "Idempotency-Key": "race-refund"}
        )

    edit, refund = await server.race(2, send)
    assert refund.status_code == 201, refund.text
    assert edit.status_code in (200, 409), edit.text
    oid = uuid.UUID(order["id"])
    live = await pool.fetch(
        "SELECT quantity, refunded_quantity FROM order_lines WHERE order_id = $1 AND retired_by IS NULL", oid
    )
    units_left = sum(r["quantity"] - r["refunded_quantity"] for r in live)
    stock = await pool.fetchval("SELECT stock FROM products WHERE id = $1", uuid.UUID(case["id"]))
    if edit.status_code == 200:  # the edit first: 3 units left, of which the refund gave one back
        assert units_left == 2
    else:  # the refund first: the preview's basket is gone
        assert edit.json()["error"]["code"] == "ORDER_CHANGED"
        assert units_left == 3
    assert stock + units_left == 100  # stock conserved either way
    refunded = await pool.fetchval("SELECT sum(total_refunded) FROM refunds WHERE order_id = $1", oid)
    assert await pool.fetchval("SELECT refunded_amount FROM orders WHERE id = $1", oid) == Decimal(refunded)
