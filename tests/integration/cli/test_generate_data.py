"""`generate-data` writes only what the API reads back (docs/analytics.md#generate-data)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.cli.generate import generate
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok

NOW = datetime(2026, 3, 11, 14, 30, tzinfo=UTC)


async def _every(client: AsyncTestClient[Litestar], caller: Caller, path: str) -> list[dict[str, Any]]:
    """Every item of a keyset-paginated list, page by page."""
    items: list[dict[str, Any]] = []
    cursor = None
    separator = "&" if "?" in path else "?"
    while True:
        query = f"{separator}limit=100" + (f"&cursor={cursor}" if cursor else "")
        page = expect_ok(await client.get(path + query, headers=caller.headers))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_everything_generated_reads_back_over_http(
    client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool
) -> None:
    await generate(pool, products=12, days=1, quotes_per_day=150, seed=22, now=NOW, progress=False)

    rules = await _every(client, admin, "/api/v1/pricing-rules?include_retired=true")
    assert {rule["type"] for rule in rules} == {"TIME_WINDOW", "QUANTITY_TIER"}
    for rule in rules:
        one = expect_ok(await client.get(f"/api/v1/pricing-rules/{rule['id']}", headers=admin.headers))
        assert one["configuration"] == rule["configuration"]
        versions = expect_ok(
            await client.get(f"/api/v1/pricing-rules/versions?name={rule['name']}", headers=admin.headers)
        )
        assert [v["id"] for v in versions["items"]] == [rule["id"]]

    products = await _every(client, admin, "/api/v1/products")
    assert len(products) == 12
    for product in products:
        expect_ok(await client.get(f"/api/v1/products/{product['id']}", headers=admin.headers))
        history = expect_ok(await client.get(f"/api/v1/products/{product['id']}/price-history", headers=admin.headers))
        assert history["items"]
        expect_ok(await client.get(f"/api/v1/products/{product['id']}/market", headers=admin.headers))

    coupons = await _every(client, admin, "/api/v1/coupons")
    assert [coupon["code"] for coupon in coupons] == ["GEN10"]
    expect_ok(await client.get("/api/v1/coupons/GEN10", headers=admin.headers))

    # What it writes beside the catalog reads back too (it writes no rates or flags of its own).
    assert await _every(client, admin, "/api/v1/commission-rates") == []
    assert await _every(client, admin, "/api/v1/feature-flags") == []
    sales = expect_ok(await client.get("/api/v1/flash-sales", headers=admin.headers))
    assert len(sales["items"]) == 1
    for sale in sales["items"]:
        expect_ok(await client.get(f"/api/v1/flash-sales/{sale['id']}", headers=admin.headers))
        expect_ok(await client.get(f"/api/v1/flash-sales/{sale['id']}/purchases", headers=admin.headers))
    observations = await _every(client, admin, "/api/v1/competitor-prices")
    assert observations
    orders = await _every(client, admin, "/api/v1/orders")
    assert orders
    for order in orders[:20]:
        expect_ok(await client.get(f"/api/v1/orders/{order['id']}", headers=admin.headers))
