"""Order edits over HTTP (docs/orders-and-refunds.md#edits-and-exchanges), on real PostgreSQL and Redis.

Each test places an order the way a checkout does (POST /quote, then POST /orders), edits it and looks at
what a user would notice: the preview's money, the order after the commit, the stock, the refund a
negative difference made, and that a refusal changes nothing.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok

Client = AsyncTestClient[Litestar]
D = Decimal
ORDERS = "/api/v1/orders"


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"edit-{uuid.uuid4()}"}


def basket(customer_id: str, *lines: tuple[dict[str, Any], int], **extra: Any) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "items": [{"product_id": product["id"], "quantity": quantity} for product, quantity in lines],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "currency": "TRY",
        **extra,
    }


async def place(client: Client, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    """POST /quote then POST /orders, as a checkout does; the order."""
    quote = expect_ok(await client.post("/api/v1/quote", json=body, headers=headers))
    order: dict[str, Any] = expect_ok(
        await client.post(ORDERS, json={"quote_id": quote["quote_id"]}, headers={**headers, **key()}), 201
    )
    return order


async def preview(client: Client, headers: dict[str, str], order_id: str, body: dict[str, Any]) -> Any:
    return await client.post(f"{ORDERS}/{order_id}/edits", json=body, headers=headers)


async def commit(client: Client, headers: dict[str, str], order_id: str, edit_id: str, **extra: str) -> Any:
    return await client.post(f"{ORDERS}/{order_id}/edits/{edit_id}/commit", headers={**headers, **(extra or key())})


async def stock_of(pool: asyncpg.Pool, product: dict[str, Any]) -> int:
    stock: int = await pool.fetchval("SELECT stock FROM products WHERE id = $1", uuid.UUID(product["id"]))
    return stock


async def test_adding_a_forgotten_item_charges_the_difference_and_keeps_the_lines_price(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    case = await create_product(client, admin, stock=10)  # 25.50
    cable = await create_product(client, admin, stock=5, base_price="12.00", min_price="5.00", cost_price="2.00")
    order = await place(client, service_key, basket("buyer-1", (case, 2)))
    # Today the case costs more: the order's line keeps its 25.50.
    moved = await client.patch(f"/api/v1/products/{case['id']}", json={"base_price": "30.00"}, headers=admin.headers)
    assert moved.status_code == 200, moved.text

    shown = expect_ok(
        await preview(client, service_key, order["id"], {"add": [{"product_id": cable["id"], "quantity": 1}]}), 201
    )
    assert shown["revision"] == 1
    assert shown["order_id"] == order["id"]
    # 12.00 more goods, 18 % tax on them: 14.16 more.
    assert shown["difference_due"] == "14.16"
    assert shown["tax_delta"] == "2.16"
    assert shown["totals"]["subtotal"] == "63.00"  # 2 x 25.50 + 12.00
    assert D(shown["totals"]["total_amount"]) - D(order["total_amount"]) == D(shown["difference_due"])
    assert await stock_of(pool, cable) == 5  # a preview moves nothing

    done = expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    assert done["revision"] == 2
    assert done["total_amount"] == shown["totals"]["total_amount"]
    assert done["balance_due"] == "14.16"
    assert [(line["product_id"], line["quantity"], line["unit_price"]) for line in done["items"]] == [
        (case["id"], 2, "25.50"),
        (cable["id"], 1, "12.00"),
    ]
    assert done["edits"] == [
        {"edit_id": shown["edit_id"], "revision": 2, "difference_due": "14.16", "at": done["edits"][0]["at"],
         "refund_id": None}
    ]  # fmt: skip
    assert await stock_of(pool, cable) == 4
    assert await stock_of(pool, case) == 8


async def test_removing_units_refunds_them_with_their_tax_and_commission(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    case = await create_product(client, admin, stock=10)
    order = await place(client, service_key, basket("buyer-2", (case, 3)))
    shown = expect_ok(
        await preview(client, service_key, order["id"], {"remove": [{"product_id": case["id"], "quantity": 1}]}), 201
    )
    assert shown["difference_due"] == "-30.09"  # 25.50 + 18 % tax
    done = expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    assert done["status"] == "confirmed"
    assert done["refunded_amount"] == "30.09"
    assert len(done["refunds"]) == 1
    refunds = expect_ok(await client.get(f"{ORDERS}/{order['id']}/refunds", headers=service_key))
    assert refunds[0]["kind"] == "edit"
    assert refunds[0]["total_refunded"] == "30.09"
    assert await stock_of(pool, case) == 8


async def test_an_empty_edit_is_refused_and_a_stale_preview_is_a_conflict(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    case = await create_product(client, admin, stock=10)
    order = await place(client, service_key, basket("buyer-3", (case, 2)))
    expect_error(await preview(client, service_key, order["id"], {}), 422, "VALIDATION_FAILED")
    first = expect_ok(
        await preview(client, service_key, order["id"], {"add": [{"product_id": case["id"], "quantity": 1}]}), 201
    )
    second = expect_ok(
        await preview(client, service_key, order["id"], {"remove": [{"product_id": case["id"], "quantity": 1}]}), 201
    )
    expect_ok(await commit(client, service_key, order["id"], first["edit_id"]))
    expect_error(await commit(client, service_key, order["id"], second["edit_id"]), 409, "ORDER_CHANGED")
