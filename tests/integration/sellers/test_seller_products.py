"""A seller's own products (docs/sellers.md): prices and stock inside the guardrails; another
seller's product is 404 on every route a seller reaches."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
import pytest

from quote_service.config import Settings
from tests.integration.audit.requests import approve, requested
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.sellers.conftest import PRODUCTS, Client

UNKNOWN = "00000000-0000-0000-0000-00000000abcd"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, min_seller_margin_percent=Decimal(50))


async def product_row(pool: asyncpg.Pool, product_id: str) -> dict[str, Any]:
    row = await pool.fetchrow(
        "SELECT current_price, base_price, min_price, cost_price, stock, name, seller_id FROM products WHERE id = $1",
        product_id,
    )
    assert row is not None
    return dict(row)


async def test_another_sellers_product_is_not_found_on_every_route(
    client: Client, seller: Caller, own: dict[str, Any], theirs: dict[str, Any], pool: asyncpg.Pool
) -> None:
    before = await product_row(pool, theirs["id"])
    for product_id in (theirs["id"], UNKNOWN):  # the same answer as for an id that does not exist
        url = f"{PRODUCTS}/{product_id}"
        for method, path, body in [
            ("GET", url, None),
            ("GET", f"{url}/price-history", None),
            ("PATCH", url, {"current_price": "26.00"}),
            ("PUT", f"{url}/price", {"price": "26.00"}),
            ("POST", f"{url}/stock", {"delta": -1, "reason": "sold elsewhere"}),
        ]:
            response = await client.request(method, path, json=body, headers=seller.headers)
            found = expect_error(response, 404, "NOT_FOUND")
            assert found["message"] == f"product {product_id} not found", (method, path)
    assert await product_row(pool, theirs["id"]) == before

    listed = expect_ok(await client.get(PRODUCTS, headers=seller.headers))["items"]
    assert [p["id"] for p in listed] == [own["id"]]
    assert listed[0]["min_price"] == "20.00"  # a seller reads its own floor and cost
    for widening in ({"seller_id": "seller-2"}, {"seller_id": "seller-2", "category_id": "electronics"}):
        expect_error(await client.get(PRODUCTS, params=widening, headers=seller.headers), 404, "NOT_FOUND")
    narrowed = {"seller_id": "seller-1", "q": "Phone", "category_id": "electronics"}
    assert [
        p["id"] for p in expect_ok(await client.get(PRODUCTS, params=narrowed, headers=seller.headers))["items"]
    ] == [own["id"]]


async def test_a_seller_moves_its_own_prices_and_stock_as_a_seller(
    client: Client, admin: Caller, seller: Caller, own: dict[str, Any]
) -> None:
    url = f"{PRODUCTS}/{own['id']}"
    moved = expect_ok(
        await client.patch(url, json={"current_price": "28.00", "min_price": "21.00"}, headers=seller.headers)
    )
    assert (moved["current_price"], moved["min_price"]) == ("28.00", "21.00")
    priced = expect_ok(
        await client.put(f"{url}/price", json={"price": "27.00", "reason": "weekend"}, headers=seller.headers)
    )
    assert priced["current_price"] == "27.00"
    stocked = expect_ok(
        await client.post(f"{url}/stock", json={"delta": 5, "reason": "restock"}, headers=seller.headers)
    )
    assert stocked["stock"] == 15
    assert expect_ok(await client.patch(url, json={"stock": 12}, headers=seller.headers))["stock"] == 12
    assert expect_ok(await client.patch(url, json={"stock": 15}, headers=seller.headers))["stock"] == 15
    admins = await client.patch(url, json={"stock": 3}, headers=admin.headers)  # an admin's stock: POST /stock
    assert set(field_errors(expect_error(admins, 422, "VALIDATION_FAILED"))) == {"stock"}

    history = expect_ok(await client.get(f"{url}/price-history", headers=seller.headers))["items"]
    assert [(h["new_price"], h["source"], h["reason"]) for h in history] == [
        ("27.00", "seller", "weekend"),
        ("28.00", "seller", "manual update"),
        ("25.50", "manual", "product created"),
    ]
    audit = expect_ok(
        await client.get(
            "/api/v1/audit", params={"entity_type": "product", "entity_id": own["id"]}, headers=admin.headers
        )
    )["items"]
    actor = {"kind": "seller", "id": str(seller.id), "name": "bosphorus", "seller_id": "seller-1", "via": "user"}
    assert [row["actor"] for row in audit[:5]] == [actor] * 5
    assert audit[0]["after"]["stock"] == 15


async def test_a_seller_changes_prices_only_and_a_refusal_changes_nothing(
    client: Client, seller: Caller, own: dict[str, Any], pool: asyncpg.Pool
) -> None:
    before = await product_row(pool, own["id"])
    url = f"{PRODUCTS}/{own['id']}"
    body = {"current_price": "26.00", "cost_price": "1.00", "seller_id": "seller-2", "name": "Mine now"}
    refused = expect_error(await client.patch(url, json=body, headers=seller.headers), 422, "VALIDATION_FAILED")
    assert set(field_errors(refused)) == {"cost_price", "seller_id", "name"}
    # min_price at least cost 10.00 + 50 % (MIN_SELLER_MARGIN_PERCENT)
    low = expect_error(
        await client.patch(url, json={"min_price": "14.99"}, headers=seller.headers), 422, "VALIDATION_FAILED"
    )
    assert field_errors(low) == {
        "min_price": "must be at least 15.00: cost_price 10.00 plus 50 % (MIN_SELLER_MARGIN_PERCENT)"
    }
    under = await client.put(f"{url}/price", json={"price": "19.99"}, headers=seller.headers)
    assert set(field_errors(expect_error(under, 422, "VALIDATION_FAILED"))) == {"min_price"}
    assert await product_row(pool, own["id"]) == before
    expect_ok(await client.patch(url, json={"min_price": "15.00"}, headers=seller.headers))


async def test_a_big_price_jump_is_a_change_request_an_admin_approves(
    client: Client, admin: Caller, seller: Caller, own: dict[str, Any], pool: asyncpg.Pool
) -> None:
    url = f"{PRODUCTS}/{own['id']}"
    before = await product_row(pool, own["id"])
    change_id = await requested(await client.put(f"{url}/price", json={"price": "40.00"}, headers=seller.headers))
    assert await product_row(pool, own["id"]) == before  # 25.50 -> 40.00 is 56.9 % > 30 %: not made
    expect_error(await approve(client, change_id, seller.headers), 403, "FORBIDDEN")

    applied = expect_ok(await approve(client, change_id, admin.headers))
    assert applied["status"] == "applied"
    assert applied["author"]["kind"] == "seller"
    assert (await product_row(pool, own["id"]))["current_price"] == Decimal("40.00")
    newest = expect_ok(await client.get(f"{url}/price-history", headers=seller.headers))["items"][0]
    assert (newest["new_price"], newest["source"]) == ("40.00", "seller")


@pytest.mark.parametrize("field", ["current_price", "base_price"])
async def test_small_steps_inside_the_window_add_up_to_a_change_request(
    client: Client, admin: Caller, seller: Caller, pool: asyncpg.Pool, field: str
) -> None:
    product = await create_product(client, admin, seller_id="seller-1", base_price="650.00", min_price="600.00")
    url = f"{PRODUCTS}/{product['id']}"
    steps = ["838.50", "1081.67", "1395.35", "1800.00", "2321.99"]  # +29 % each, 257 % in all
    assert expect_ok(await client.patch(url, json={field: steps[0]}, headers=seller.headers))[field] == steps[0]
    for step in steps[1:]:  # each is 29 % from the price before it, but more than 30 % from 650.00
        await requested(await client.patch(url, json={field: step}, headers=seller.headers))
    assert (await product_row(pool, product["id"]))[field] == Decimal("838.50")
    # Back to where the window started is no big move; nor is it a way round: 650.00 still counts.
    expect_ok(await client.patch(url, json={field: "700.00"}, headers=seller.headers))
    await requested(await client.patch(url, json={field: "1000.00"}, headers=seller.headers))  # +54 % from 650

    # The price an admin approves is where the seller's moves count from again.
    change_id = await requested(await client.patch(url, json={field: "1081.67"}, headers=seller.headers))
    assert expect_ok(await approve(client, change_id, admin.headers))["status"] == "applied"
    expect_ok(await client.patch(url, json={field: "1395.35"}, headers=seller.headers))  # +29 % from 1081.67
    await requested(await client.patch(url, json={field: "1800.00"}, headers=seller.headers))


async def test_small_steps_down_add_up_too(client: Client, admin: Caller, seller: Caller) -> None:
    product = await create_product(client, admin, seller_id="seller-1", base_price="650.00", min_price="100.00")
    url = f"{PRODUCTS}/{product['id']}"
    expect_ok(await client.patch(url, json={"current_price": "461.50"}, headers=seller.headers))  # -29 %
    await requested(await client.patch(url, json={"current_price": "327.67"}, headers=seller.headers))  # -49.6 %
