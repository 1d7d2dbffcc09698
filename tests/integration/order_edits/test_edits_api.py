"""Order edits over HTTP (docs/orders-and-refunds.md#edits-and-exchanges), on real PostgreSQL and Redis.

Each test places an order the way a checkout does (POST /quote, then POST /orders), edits it and looks at
what a user would notice: the preview's money, the order after the commit, the stock, the refund a
negative difference made, and that a refusal changes nothing.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller, make_caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.flash import buy, new_sale
from tests.integration.shipping.test_shipping_orders import ordered as shipped

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


async def test_an_exchange_replaces_units_with_another_item_at_todays_price(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    small = await create_product(client, admin, stock=10)  # 25.50
    large = await create_product(client, admin, stock=3, base_price="27.00")
    order = await place(client, service_key, basket("buyer-4", (small, 2)))
    body = {"replace": [{"product_id": small["id"], "quantity": 1, "with": {"product_id": large["id"], "quantity": 1}}]}
    shown = expect_ok(await preview(client, service_key, order["id"], body), 201)
    assert shown["difference_due"] == "1.77"  # 1.50 more goods, 0.27 more tax
    assert [(i["product_id"], i["quantity"], i["kept"]) for i in shown["items"]] == [
        (small["id"], 1, True),
        (large["id"], 1, False),
    ]
    done = expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    assert [(line["product_id"], line["quantity"]) for line in done["items"]] == [(small["id"], 1), (large["id"], 1)]
    assert [await stock_of(pool, small), await stock_of(pool, large)] == [9, 2]


async def test_an_edit_that_changes_nothing_costs_nothing(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    case = await create_product(client, admin, stock=10)
    order = await place(client, service_key, basket("buyer-5", (case, 2)))
    same = {"replace": [{"product_id": case["id"], "quantity": 1, "with": {"product_id": case["id"], "quantity": 1}}]}
    shown = expect_ok(await preview(client, service_key, order["id"], same), 201)
    assert shown["difference_due"] == "0.00"
    assert shown["tax_delta"] == "0.00"
    assert shown["commission_delta"] == "0.00"
    assert shown["totals"]["total_amount"] == order["total_amount"]
    assert shown["sellers"] == [{"seller_id": "seller-1", "difference_due": "0.00", "commission_delta": "0.00"}]


async def test_refusals_name_the_field_and_change_nothing(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    case = await create_product(client, admin, stock=3)
    other = await create_product(client, admin, stock=1)
    order = await place(client, service_key, basket("buyer-6", (case, 2)))
    too_many = {"remove": [{"product_id": case["id"], "quantity": 3}]}
    refused = expect_error(await preview(client, service_key, order["id"], too_many), 409, "EDIT_EXCEEDS_ORDER")
    assert [d["field"] for d in refused["error"]["details"]] == ["remove[0].quantity"]
    unknown = {"remove": [{"product_id": other["id"], "quantity": 1}]}
    refused = expect_error(await preview(client, service_key, order["id"], unknown), 422, "VALIDATION_FAILED")
    assert [d["field"] for d in refused["error"]["details"]] == ["remove[0].product_id"]
    everything = {"remove": [{"product_id": case["id"], "quantity": 2}]}
    expect_error(await preview(client, service_key, order["id"], everything), 422, "VALIDATION_FAILED")
    priced_by_hand = {"add": [{"product_id": "not-in-catalog", "quantity": 1}]}
    refused = expect_error(await preview(client, service_key, order["id"], priced_by_hand), 422, "VALIDATION_FAILED")
    assert [d["field"] for d in refused["error"]["details"]] == ["add[0].unit_price"]
    # Stock is checked at the commit, under the products' locks: never oversold.
    more = expect_ok(
        await preview(client, service_key, order["id"], {"add": [{"product_id": other["id"], "quantity": 2}]}), 201
    )
    refused = expect_error(await commit(client, service_key, order["id"], more["edit_id"]), 409, "INSUFFICIENT_STOCK")
    assert [d["field"] for d in refused["error"]["details"]] == ["add[0].quantity"]
    assert [await stock_of(pool, case), await stock_of(pool, other)] == [1, 1]
    now = expect_ok(await client.get(f"{ORDERS}/{order['id']}", headers=service_key))
    assert now["revision"] == 1


async def test_the_same_key_replays_the_commit_and_another_edit_under_it_is_a_conflict(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    case = await create_product(client, admin, stock=10)
    order = await place(client, service_key, basket("buyer-7", (case, 2)))
    shown = expect_ok(
        await preview(client, service_key, order["id"], {"add": [{"product_id": case["id"], "quantity": 1}]}), 201
    )
    same = key()
    first = expect_ok(await commit(client, service_key, order["id"], shown["edit_id"], **same))
    again = expect_ok(await commit(client, service_key, order["id"], shown["edit_id"], **same))
    assert again == first
    assert await stock_of(pool, case) == 7  # taken once
    other = expect_ok(
        await preview(client, service_key, order["id"], {"add": [{"product_id": case["id"], "quantity": 1}]}), 201
    )
    expect_error(await commit(client, service_key, order["id"], other["edit_id"], **same), 409, "IDEMPOTENCY_CONFLICT")
    expect_error(
        await client.post(f"{ORDERS}/{order['id']}/edits/{shown['edit_id']}/commit", headers=service_key),
        422,
        "VALIDATION_FAILED",
    )  # no Idempotency-Key


async def test_an_expired_preview_is_gone_and_a_cancelled_order_is_not_editable(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    case = await create_product(client, admin, stock=10)
    order = await place(client, service_key, basket("buyer-8", (case, 2)))
    shown = expect_ok(
        await preview(client, service_key, order["id"], {"add": [{"product_id": case["id"], "quantity": 1}]}), 201
    )
    assert shown["expires_at"].endswith("Z")
    await pool.execute(
        "UPDATE order_edits SET expires_at = now() - interval '1 second' WHERE id = $1", uuid.UUID(shown["edit_id"])
    )
    expect_error(await commit(client, service_key, order["id"], shown["edit_id"]), 410, "EDIT_EXPIRED")
    fresh = expect_ok(
        await preview(client, service_key, order["id"], {"add": [{"product_id": case["id"], "quantity": 1}]}), 201
    )
    expect_ok(await client.post(f"{ORDERS}/{order['id']}/cancel", json={}, headers={**admin.headers, **key()}))
    expect_error(await commit(client, service_key, order["id"], fresh["edit_id"]), 409, "ORDER_NOT_EDITABLE")
    again = {"add": [{"product_id": case["id"], "quantity": 1}]}
    expect_error(await preview(client, service_key, order["id"], again), 409, "ORDER_NOT_EDITABLE")


async def test_who_may_edit_an_order(
    client: Client, admin: Caller, shopper: Caller, settings: Settings, password_hash: str
) -> None:
    case = await create_product(client, admin, stock=10)
    order = await place(client, shopper.headers, basket(str(shopper.id), (case, 1)))
    edit = {"add": [{"product_id": case["id"], "quantity": 1}]}
    # The shopper itself, while it is confirmed and young; an admin at any time.
    mine = expect_ok(await preview(client, shopper.headers, order["id"], edit), 201)
    expect_ok(await commit(client, shopper.headers, order["id"], mine["edit_id"]))
    other = await make_caller(settings, password_hash, "another-shopper", "user")
    expect_error(await preview(client, other.headers, order["id"], edit), 404, "NOT_FOUND")
    seller = await make_caller(settings, password_hash, "a-seller", "seller", seller_id="seller-1")
    expect_error(await preview(client, seller.headers, order["id"], edit), 403, "FORBIDDEN")
    expect_ok(await preview(client, admin.headers, order["id"], edit), 201)


async def test_a_shopper_edits_only_a_confirmed_order_within_the_edit_window(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    case = await create_product(client, admin, stock=10)
    edit = {"add": [{"product_id": case["id"], "quantity": 1}]}
    late = await place(client, shopper.headers, basket(str(shopper.id), (case, 2)))
    await pool.execute(
        "UPDATE orders SET created_at = created_at - interval '61 minutes' WHERE id = $1", uuid.UUID(late["id"])
    )  # ORDER_EDIT_WINDOW_MINUTES (60) ago
    refused = expect_error(await preview(client, shopper.headers, late["id"], edit), 409, "ORDER_NOT_EDITABLE")
    assert "60 minutes" in refused["message"]
    expect_ok(await preview(client, admin.headers, late["id"], edit), 201)  # support may
    refunded = await place(client, shopper.headers, basket(str(shopper.id), (case, 2)))
    body = {"lines": [{"product_id": case["id"], "quantity": 1}]}
    expect_ok(
        await client.post(f"{ORDERS}/{refunded['id']}/refunds", json=body, headers={**admin.headers, **key()}), 201
    )
    expect_error(await preview(client, shopper.headers, refunded["id"], edit), 409, "ORDER_NOT_EDITABLE")


async def test_an_edited_orders_lines_are_refunded_by_their_number(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    case = await create_product(client, admin, stock=10)
    cable = await create_product(client, admin, stock=10, base_price="12.00", min_price="5.00", cost_price="2.00")
    order = await place(client, service_key, basket("buyer-9", (case, 2)))
    shown = expect_ok(
        await preview(client, service_key, order["id"], {"add": [{"product_id": cable["id"], "quantity": 2}]}), 201
    )
    edited = expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    numbers = [line["line"] for line in edited["items"]]
    assert numbers == [1, 2]  # written anew after line 0
    body = {"lines": [{"product_id": cable["id"], "quantity": 1, "line": numbers[1]}]}
    made = expect_ok(
        await client.post(f"{ORDERS}/{order['id']}/refunds", json=body, headers={**admin.headers, **key()}), 201
    )
    assert made["lines"][0]["line"] == 2
    # A unit of the cable's line, with its tax: 14.16 of the 28.32 the edit made due, never paid.
    assert (made["total_refunded"], made["balance_reduced"]) == ("0.00", "14.16")
    # Everything left, then: the order is refunded, exactly what it still charged.
    rest = {"lines": [{"product_id": case["id"], "quantity": 2}, {"product_id": cable["id"], "quantity": 1}],
            "include_fees": True}  # fmt: skip
    expect_ok(await client.post(f"{ORDERS}/{order['id']}/refunds", json=rest, headers={**admin.headers, **key()}), 201)
    done = expect_ok(await client.get(f"{ORDERS}/{order['id']}", headers=admin.headers))
    assert done["status"] == "refunded"
    assert (done["refunded_amount"], done["balance_due"]) == (order["total_amount"], "0.00")  # what was paid
    assert [await stock_of(pool, case), await stock_of(pool, cable)] == [10, 10]
    expect_error(
        await preview(client, admin.headers, order["id"], {"add": [{"product_id": case["id"], "quantity": 1}]}),
        409,
        "ORDER_NOT_EDITABLE",
    )


async def test_a_seller_sees_its_part_of_an_edited_order(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings, password_hash: str
) -> None:
    mine = await create_product(client, admin, stock=10, seller_id="seller-a")
    theirs = await create_product(client, admin, stock=10, seller_id="seller-b", base_price="12.00",
                                  min_price="5.00", cost_price="2.00")  # fmt: skip
    order = await place(client, service_key, basket("buyer-10", (mine, 1), (theirs, 1)))
    shown = expect_ok(
        await preview(client, service_key, order["id"], {"add": [{"product_id": theirs["id"], "quantity": 1}]}), 201
    )
    assert {s["seller_id"]: s["difference_due"] for s in shown["sellers"]} == {"seller-a": "0.00", "seller-b": "14.16"}
    expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    seller = await make_caller(settings, password_hash, "seller-b-user", "seller", seller_id="seller-b")
    seen = expect_ok(await client.get(f"{ORDERS}/{order['id']}", headers=seller.headers))
    assert [(line["product_id"], line["quantity"]) for line in seen["items"]] == [(theirs["id"], 2)]
    assert seen["revision"] == 2
    assert [e["difference_due"] for e in seen["edits"]] == ["14.16"]
    assert seen["balance_due"] == "14.16"
    other = await make_caller(settings, password_hash, "seller-a-user", "seller", seller_id="seller-a")
    theirs_seen = expect_ok(await client.get(f"{ORDERS}/{order['id']}", headers=other.headers))
    assert [e["difference_due"] for e in theirs_seen["edits"]] == ["0.00"]
    assert theirs_seen["balance_due"] == "0.00"


async def test_a_flash_purchase_keeps_its_flash_price_when_its_order_is_edited(
    client: Client, admin: Caller, shopper: Caller, pool: asyncpg.Pool
) -> None:
    sale, deal = await new_sale(client, admin)  # 15.00 instead of 25.50
    bought = expect_ok(await buy(client, shopper.headers, sale, quantity=2), 201)
    extra = await create_product(client, admin, stock=10, base_price="12.00", min_price="5.00", cost_price="2.00")
    body = {"add": [{"product_id": extra["id"], "quantity": 1}], "remove": [{"product_id": deal["id"], "quantity": 1}]}
    shown = expect_ok(await preview(client, shopper.headers, bought["order_id"], body), 201)
    before = await stock_of(pool, deal)
    assert [(i["product_id"], i["quantity"], i["unit_price"], i["price_source"]) for i in shown["items"]] == [
        (deal["id"], 1, "15.00", "flash_sale"),
        (extra["id"], 1, "12.00", "catalog"),
    ]
    done = expect_ok(await commit(client, shopper.headers, bought["order_id"], shown["edit_id"]))
    assert done["revision"] == 2
    # The flash unit taken out goes back to the product's stock, as a refund's would.
    assert await stock_of(pool, deal) == before + 1
    assert await stock_of(pool, extra) == 9


async def test_choosing_another_delivery_option_reprices_that_sellers_shipment(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    _, order = await shipped(client, admin, service_key)
    shown = expect_ok(await preview(client, service_key, order["id"], {"shipping": {"seller-a": "express"}}), 201)
    by_seller = {s["seller_id"]: (s["difference_due"], s["commission_delta"]) for s in shown["sellers"]}
    assert by_seller == {"seller-b": ("0.00", "0.00"), "seller-a": ("3.50", "0.35")}  # 6.40 -> 9.90, 10 % logistics
    assert shown["difference_due"] == "3.50"
    assert shown["totals"]["delivery_fee"] == "19.90"
    done = expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    assert [(s["seller_id"], s["selected"], s["delivery_fee"]) for s in done["shipments"]] == [
        ("seller-b", None, "10.00"),
        ("seller-a", "express", "9.90"),
    ]
    refused = expect_error(
        await preview(client, service_key, order["id"], {"shipping": {"seller-a": "rocket"}}), 422, "VALIDATION_FAILED"
    )
    assert [d["field"] for d in refused["error"]["details"]] == ["shipping.seller-a"]


async def test_a_commit_emits_order_edited_with_the_order_and_the_edit(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    hook = {"url": "https://erp.example/events", "events": ["order.edited"]}  # read from the outbox, never sent
    expect_ok(await client.post("/api/v1/webhooks", json=hook, headers=admin.headers), 201)
    case = await create_product(client, admin, stock=10)
    order = await place(client, service_key, basket("buyer-11", (case, 3)))
    shown = expect_ok(
        await preview(client, service_key, order["id"], {"remove": [{"product_id": case["id"], "quantity": 1}]}), 201
    )
    assert await pool.fetchval("SELECT count(*) FROM webhook_events") == 0  # a preview changes nothing
    done = expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    [event] = [json.loads(row["body"]) for row in await pool.fetch("SELECT body FROM webhook_events")]
    assert event["type"] == "order.edited"
    assert event["data"]["order"]["revision"] == 2
    assert event["data"]["order"]["total_amount"] == done["total_amount"]
    assert event["data"]["edit"] == {
        "edit_id": shown["edit_id"], "revision": 2, "difference_due": "-30.09", "at": done["edits"][0]["at"],
        "refund_id": done["refunds"][0],
    }  # fmt: skip
