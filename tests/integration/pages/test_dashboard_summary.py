"""The dashboard's JSON: price moves without product creations, refunds per day beside revenue,
and the books page's latest refunds and sellers (admin only)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.clock import utcnow
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok

Client = AsyncTestClient[Litestar]
SUMMARY = "/api/v1/dashboard/summary"
BOOKS = "/api/v1/dashboard/books"


async def placed_and_refunded(client: Client, admin: Caller, shopper: Caller, product_id: str) -> tuple[Any, Any]:
    """An order of 2 units and a refund of one of them."""
    body = {
        "customer_id": str(shopper.id),
        "currency": "TRY",
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "items": [{"product_id": product_id, "quantity": 2}],
    }
    quote = expect_ok(await client.post("/api/v1/quote", json=body, headers=shopper.headers))
    headers = {**shopper.headers, "Idempotency-Key": "sum-1"}
    order = expect_ok(await client.post("/api/v1/orders", json={"quote_id": quote["quote_id"]}, headers=headers), 201)
    lines = {"lines": [{"product_id": product_id, "quantity": 1}], "reason": "too big"}
    headers = {**admin.headers, "Idempotency-Key": "sum-r1"}
    made = expect_ok(await client.post(f"/api/v1/orders/{order['id']}/refunds", json=lines, headers=headers), 201)
    return order, made


async def test_price_moves_leave_out_product_creations(client: Client, admin: Caller) -> None:
    product = await create_product(client, admin, sku="MV-1", name="Kettle")
    assert expect_ok(await client.get(SUMMARY, headers=admin.headers))["recent_price_moves"] == []
    move = {"price": "27.00", "reason": "rival dropped"}
    expect_ok(await client.put(f"/api/v1/products/{product['id']}/price", json=move, headers=admin.headers))
    moves = expect_ok(await client.get(SUMMARY, headers=admin.headers))["recent_price_moves"]
    assert [(m["product_name"], m["old_price"], m["new_price"], m["source"], m["reason"]) for m in moves] == [
        ("Kettle", product["current_price"], "27.00", "manual", "rival dropped")
    ]


async def test_revenue_per_day_carries_the_days_refunds(client: Client, admin: Caller, shopper: Caller) -> None:
    product = await create_product(client, admin, sku="RF-1", name="Lamp")
    order, made = await placed_and_refunded(client, admin, shopper, product["id"])
    rows = expect_ok(await client.get(SUMMARY, headers=admin.headers))["revenue_per_day"]
    assert rows == [
        {
            "date": utcnow().date().isoformat(),
            "currency": "TRY",
            "revenue": order["total_amount"],
            "refunds": made["total_refunded"],
            "orders": 1,
        }
    ]


async def test_books_list_the_latest_refunds_and_sellers(client: Client, admin: Caller, shopper: Caller) -> None:
    product = await create_product(client, admin, sku="BK-1", name="Vase", seller_id="atelier-7")
    await create_product(client, admin, sku="BK-2", name="Mug", seller_id="atelier-7", currency="EUR")
    order, made = await placed_and_refunded(client, admin, shopper, product["id"])
    books = expect_ok(await client.get(BOOKS, headers=admin.headers))
    [listed] = books["recent_refunds"]
    assert (listed["id"], listed["order_id"], listed["kind"], listed["reason"]) == (
        made["id"],
        order["id"],
        "refund",
        "too big",
    )
    assert (listed["currency"], listed["total_refunded"]) == ("TRY", made["total_refunded"])
    assert {"seller_id": "atelier-7", "currencies": ["EUR", "TRY"]} in books["sellers"]
    expect_error(await client.get(BOOKS, headers=shopper.headers), 403, "FORBIDDEN")
