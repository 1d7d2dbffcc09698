"""Cancels and refunds over HTTP (docs/orders-and-refunds.md), on real PostgreSQL and Redis.

Orders are placed as in test_orders_api (a stored quote confirmed by POST /orders); each test
then undoes some of one and looks at what a user would notice: the money given back, the
order's status, the stock, the coupon's uses, a campaign's sales, and that a refusal changes
nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from quote_service.pricing.quote import AppliedCoupon, CommissionDetail, Quote
from quote_service.quotes.store import QuoteStore
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller, maker_of
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.flash import new_sale
from tests.integration.orders.test_orders_api import (
    build_quote,
    coupon,
    key,
    line,
    order,
    quotes,
    stock_of,
    stored,
)
from tests.integration.repricing.test_inventory_repricing import events, inventory_rule, price_of, priced
from tests.integration.servers import cli_env, running_server

__all__ = ["quotes"]  # the fixture, shared with test_orders_api

Client = AsyncTestClient[Litestar]
ORDERS = "/api/v1/orders"
D = Decimal


async def placed(client: Client, headers: dict[str, str], store: QuoteStore, quote: Quote) -> dict[str, Any]:
    """`quote` stored as made by the caller of `headers`, then ordered by it."""
    await stored(store, quote, await maker_of(client, headers))
    data: dict[str, Any] = expect_ok(await order(client, headers, quote), 201)
    return data


async def refund(client: Client, headers: dict[str, str], order_id: str, body: dict[str, Any], **extra: str) -> Any:
    return await client.post(f"{ORDERS}/{order_id}/refunds", json=body, headers={**headers, **(extra or key())})


async def cancel(client: Client, headers: dict[str, str], order_id: str, **extra: str) -> Any:
    return await client.post(f"{ORDERS}/{order_id}/cancel", json={}, headers={**headers, **(extra or key())})


async def state(pool: asyncpg.Pool, order_id: str, products: list[dict[str, Any]]) -> tuple[Any, ...]:
    """Everything a refund could change: the order, its lines, refunds, stock, coupon counts."""
    oid = uuid.UUID(order_id)
    return (
        await pool.fetchrow("SELECT status, refunded_amount, fees_refunded FROM orders WHERE id = $1", oid),
        await pool.fetch("SELECT refunded_quantity FROM order_lines WHERE order_id = $1 ORDER BY position", oid),
        await pool.fetchval("SELECT count(*) FROM refunds"),
        await pool.fetchval("SELECT count(*) FROM refund_lines"),
        [await stock_of(pool, p) for p in products],
        await pool.fetch("SELECT code, times_used FROM coupons ORDER BY code"),
    )


async def test_refunds_in_parts_give_back_exactly_what_was_charged(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str], quotes: QuoteStore, pool: asyncpg.Pool
) -> None:
    case = await create_product(client, admin, stock=10)  # 25.50
    cable = await create_product(
        client, admin, stock=5, current_price="4.99", min_price="1.00", cost_price="0.50", category_id="cables"
    )
    quote = build_quote(str(shopper.id), [line(case, 3, discount="5.00"), line(cable, 3, discount="1.00")])
    # Placed by the checkout's key, refunded by it (a shopper may only cancel).
    the_order = await placed(client, service_key, quotes, quote)
    assert await stock_of(pool, case) == 7

    one = {"lines": [{"product_id": case["id"], "quantity": 1}], "reason": "damaged"}
    first = expect_ok(await refund(client, service_key, the_order["id"], one), 201)
    # A unit's share: 76.50 / 3 = 25.50, discount 5.00 / 3 = 1.67, tax 12.87 / 3 = 4.29, commission 10.73 / 3 = 3.58.
    assert first["lines"] == [
        {
            "line": 0,
            "product_id": case["id"],
            "quantity": 1,
            "amount": "25.50",
            "discount": "1.67",
            "tax": "4.29",
            "commission": {"seller": "0.00", "category": "3.58"},
        }
    ]
    assert first["total_refunded"] == "28.12"  # 25.50 - 1.67 + 4.29
    assert first["commission_reversed"] == "3.58"
    assert first["delivery_fee"] == "0.00"
    assert first["currency"] == "TRY"
    assert await stock_of(pool, case) == 8
    now = expect_ok(await client.get(f"{ORDERS}/{the_order['id']}", headers=service_key))
    assert now["status"] == "partially_refunded"
    assert now["refunded_amount"] == "28.12"
    assert now["refunds"] == [first["id"]]

    rest = expect_ok(
        await refund(
            client,
            service_key,
            the_order["id"],
            {"lines": [{"product_id": case["id"], "quantity": 2}, {"product_id": cable["id"], "quantity": 3}],
             "include_fees": True},
        ),
        201,
    )  # fmt: skip
    assert rest["lines"][0]["discount"] == "3.33"  # the last units take the exact remainder: 5.00 - 1.67
    assert rest["delivery_fee"] == "10.00"
    done = expect_ok(await client.get(f"{ORDERS}/{the_order['id']}", headers=admin.headers))
    assert done["status"] == "refunded"
    # Everything, to the minor unit: the customer's total and the commission, part by part.
    assert D(first["total_refunded"]) + D(rest["total_refunded"]) == D(the_order["total_amount"])
    assert done["refunded_amount"] == the_order["total_amount"]
    charged = the_order["commission_breakdown"]["total_commission"]
    assert D(first["commission_reversed"]) + D(rest["commission_reversed"]) == D(charged)
    assert [await stock_of(pool, p) for p in (case, cable)] == [10, 5]
    moved = await pool.fetchval("SELECT count(*) FROM stock_movements WHERE reason LIKE 'refund of order %'")
    assert moved == 3

    # Closed now: nothing more comes back, whatever is asked.
    closed = expect_error(
        await refund(client, admin.headers, the_order["id"], {"include_fees": True}), 409, "ORDER_CLOSED"
    )
    assert closed["error"]["code"] == "ORDER_CLOSED"


async def test_the_same_key_replays_the_refund_and_another_body_is_a_conflict(
    client: Client, admin: Caller, shopper: Caller, quotes: QuoteStore, pool: asyncpg.Pool
) -> None:
    case = await create_product(client, admin, stock=10)
    the_order = await placed(client, shopper.headers, quotes, build_quote(str(shopper.id), [line(case, 4)]))
    same = key()
    body = {"lines": [{"product_id": case["id"], "quantity": 1}]}
    first = expect_ok(await refund(client, admin.headers, the_order["id"], body, **same), 201)
    again = expect_ok(await refund(client, admin.headers, the_order["id"], body, **same), 201)
    assert again == first
    # The refund reads back as it was answered, to whoever may see the order (the shopper too).
    assert expect_ok(await client.get(f"{ORDERS}/{the_order['id']}/refunds", headers=shopper.headers)) == [first]
    expect_error(await client.get(f"{ORDERS}/{uuid.uuid4()}/refunds", headers=admin.headers), 404, "NOT_FOUND")
    assert await stock_of(pool, case) == 7  # 10 - 4 + 1, once
    other = {"lines": [{"product_id": case["id"], "quantity": 2}]}
    expect_error(await refund(client, admin.headers, the_order["id"], other, **same), 409, "IDEMPOTENCY_CONFLICT")
    assert await pool.fetchval("SELECT count(*) FROM refunds") == 1


async def test_every_refusal_names_its_field_and_changes_nothing(
    client: Client, admin: Caller, shopper: Caller, quotes: QuoteStore, pool: asyncpg.Pool
) -> None:
    case = await create_product(client, admin, stock=10)
    cable = await create_product(client, admin, stock=5, current_price="4.99", min_price="1.00", cost_price="0.50")
    the_order = await placed(
        client, shopper.headers, quotes, build_quote(str(shopper.id), [line(case, 2), line(cable, 1)])
    )
    oid = the_order["id"]
    before = await state(pool, oid, [case, cable])

    body = {"lines": [{"product_id": case["id"], "quantity": 1}]}
    expect_error(await refund(client, admin.headers, str(uuid.uuid4()), body), 404, "NOT_FOUND")
    unknown = expect_error(
        await refund(client, admin.headers, oid, {"lines": [{"product_id": case["id"], "quantity": 1},
                                                            {"product_id": "not-in-it", "quantity": 1}]}),
        422,
        "VALIDATION_FAILED",
    )  # fmt: skip
    assert "not-in-it" in field_errors(unknown)["lines[1].product_id"]
    too_many = expect_error(
        await refund(client, admin.headers, oid, {"lines": [{"product_id": case["id"], "quantity": 1},
                                                             {"product_id": cable["id"], "quantity": 2}]}),
        409,
        "REFUND_EXCEEDS_ORDER",
    )  # fmt: skip
    assert "1 left" in field_errors(too_many)["lines[1].quantity"]
    zero = expect_error(
        await refund(client, admin.headers, oid, {"lines": [{"product_id": case["id"], "quantity": 0}]}),
        422,
        "VALIDATION_FAILED",
    )
    assert "lines[0].quantity" in field_errors(zero)
    expect_error(await refund(client, admin.headers, oid, {"lines": []}), 422, "VALIDATION_FAILED")
    expect_error(await refund(client, shopper.headers, oid, body), 403, "FORBIDDEN")
    assert await state(pool, oid, [case, cable]) == before

    expect_ok(await cancel(client, admin.headers, oid))
    after_cancel = await state(pool, oid, [case, cable])
    expect_error(await refund(client, admin.headers, oid, body), 409, "ORDER_CLOSED")
    expect_error(await cancel(client, admin.headers, oid), 409, "ORDER_CLOSED")
    assert await state(pool, oid, [case, cable]) == after_cancel


async def test_a_cancel_refunds_everything_and_releases_the_coupon(
    client: Client, admin: Caller, shopper: Caller, quotes: QuoteStore, pool: asyncpg.Pool, redis_url: str
) -> None:
    case = await create_product(client, admin, stock=10)
    await coupon(client, admin, "ONCE", usage_limit=1, per_customer_limit=1)
    with_coupon = [AppliedCoupon(code="ONCE", type="PERCENTAGE", amount=D("5.10"))]
    two = build_quote(str(shopper.id), [line(case, 2, discount="5.10")], coupons=with_coupon)
    first = await placed(client, shopper.headers, quotes, two)
    # The coupon is used up: another order with it is refused.
    second = build_quote(str(shopper.id), [line(case, 1, discount="2.55")], coupons=with_coupon)
    expect_error(
        await order(client, shopper.headers, await stored(quotes, second, shopper.maker)), 409, "COUPON_LIMIT_REACHED"
    )

    cancelled = expect_ok(await cancel(client, shopper.headers, first["id"]))
    assert cancelled["status"] == "cancelled"
    assert cancelled["refunded_amount"] == first["total_amount"]
    assert len(cancelled["refunds"]) == 1
    assert cancelled["applied_coupons"] == first["applied_coupons"]  # what it applied stays on record
    assert await stock_of(pool, case) == 10
    assert await pool.fetchval("SELECT times_used FROM coupons WHERE code = 'ONCE'") == 0

    # Released: the same customer may use it again (PostgreSQL and the quote path's Redis count agree).
    third = build_quote(str(shopper.id), [line(case, 1, discount="2.55")], coupons=with_coupon)
    expect_ok(await order(client, shopper.headers, await stored(quotes, third, shopper.maker)), 201)
    assert await pool.fetchval("SELECT times_used FROM coupons WHERE code = 'ONCE'") == 1


async def test_a_shopper_cancels_only_within_the_window_and_only_before_a_refund(
    client: Client, admin: Caller, shopper: Caller, quotes: QuoteStore, pool: asyncpg.Pool
) -> None:
    case = await create_product(client, admin, stock=10)
    late = await placed(client, shopper.headers, quotes, build_quote(str(shopper.id), [line(case, 1)]))
    await pool.execute(
        "UPDATE orders SET created_at = created_at - interval '31 minutes' WHERE id = $1", uuid.UUID(late["id"])
    )
    expect_error(await cancel(client, shopper.headers, late["id"]), 409, "CANCEL_NOT_ALLOWED")
    # An admin may cancel it still; the body ({reason}) is optional.
    no_body = await client.post(f"{ORDERS}/{late['id']}/cancel", headers={**admin.headers, **key()})
    assert expect_ok(no_body)["status"] == "cancelled"

    refunded = await placed(client, shopper.headers, quotes, build_quote(str(shopper.id), [line(case, 2)]))
    body = {"lines": [{"product_id": case["id"], "quantity": 1}]}
    expect_ok(await refund(client, admin.headers, refunded["id"], body), 201)
    expect_error(await cancel(client, admin.headers, refunded["id"]), 409, "CANCEL_NOT_ALLOWED")


async def test_racing_refunds_for_the_last_units_exactly_one_wins(
    client: Client, admin: Caller, shopper: Caller, quotes: QuoteStore, pool: asyncpg.Pool, settings: Settings
) -> None:
    case = await create_product(client, admin, stock=10)
    the_order = await placed(client, shopper.headers, quotes, build_quote(str(shopper.id), [line(case, 3)]))
    body = {"lines": [{"product_id": case["id"], "quantity": 2}]}
    expect_ok(await refund(client, admin.headers, the_order["id"], body), 201)
    # Thirty refunds, each for the last unit, at once, each with its own key, against a real
    # server (the in-process test client answers one request at a time).
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, LOG_LEVEL="WARNING")
    last = {"lines": [{"product_id": case["id"], "quantity": 1}]}
    url = f"{ORDERS}/{the_order['id']}/refunds"
    with running_server(env) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            answers = await asyncio.gather(
                *(http.post(url, json=last, headers={**admin.headers, **key()}) for _ in range(30))
            )
    outcomes = Counter((a.status_code, "ok" if a.status_code < 400 else a.json()["error"]["code"]) for a in answers)
    assert outcomes == {(201, "ok"): 1, (409, "REFUND_EXCEEDS_ORDER"): 29}, [a.text for a in answers]
    assert await stock_of(pool, case) == 10
    assert await pool.fetchval("SELECT count(*) FROM refunds") == 2
    done = expect_ok(await client.get(f"{ORDERS}/{the_order['id']}", headers=admin.headers))
    assert done["refunded_amount"] == str(D(the_order["total_amount"]) - D(the_order["delivery_fee"]))


async def test_campaign_sales_count_units_net_of_refunds(
    client: Client, admin: Caller, shopper: Caller, quotes: QuoteStore, pool: asyncpg.Pool
) -> None:
    case = await create_product(client, admin, stock=50)
    campaign = {"name": "spring", "product_id": case["id"], "duration_hours": 24,
                "price_manipulation_limit": 10, "target_sales_count": 100}  # fmt: skip
    expect_ok(await client.post("/api/v1/campaigns", json=campaign, headers=admin.headers), 201)
    the_order = await placed(client, shopper.headers, quotes, build_quote(str(shopper.id), [line(case, 4)]))
    body = {"lines": [{"product_id": case["id"], "quantity": 3}]}
    expect_ok(await refund(client, admin.headers, the_order["id"], body), 201)
    shown = expect_ok(await client.get("/api/v1/campaigns/spring", headers=admin.headers))
    assert shown["total_sales"] == 1
    assert shown["turnover"] == "25.50"


async def test_flash_units_go_back_to_the_product_and_inventory_repricing_sees_them(
    client: Client, admin: Caller, service_key: dict[str, str], quotes: QuoteStore, pool: asyncpg.Pool
) -> None:
    # Stock at the high threshold after the refund: the original system's rule lowers the price 10 %.
    await inventory_rule(client, admin, configuration={"high_threshold": 100, "low_threshold": 0})
    product = await priced(client, admin, stock=109)
    sale, _ = await new_sale(client, admin, product=product, item={"flash_price": "60.00"})  # allocates 10
    outside = {**product, "id": "ext-widget-7", "current_price": "3.00"}
    quote = build_quote(
        "cust-42",
        [
            line(product, 1, price_source="flash_sale", flash_sale_id=uuid.UUID(sale["id"])),
            line(product, 2),
            line(outside, 5, price_source="request"),
        ],
    )
    the_order = await placed(client, service_key, quotes, quote)
    assert await stock_of(pool, product) == 97  # 109 - 10 for the sale - 2 ordered from the catalog
    assert await price_of(client, admin, product) == "100.00"
    left = expect_ok(await client.get(f"/api/v1/flash-sales/{sale['id']}", headers=admin.headers))
    body = {"lines": [{"product_id": product["id"], "quantity": 3}, {"product_id": "ext-widget-7", "quantity": 5}]}
    made = expect_ok(await refund(client, service_key, the_order["id"], body), 201)

    assert [(line["product_id"], line["quantity"]) for line in made["lines"]] == [
        (product["id"], 1),  # the flash-sale line first
        (product["id"], 2),
        ("ext-widget-7", 5),  # request-priced: no stock to return
    ]
    assert await stock_of(pool, product) == 100  # to the product, not to the sale
    after = expect_ok(await client.get(f"/api/v1/flash-sales/{sale['id']}", headers=admin.headers))
    assert after["items"][0]["remaining_stock"] == left["items"][0]["remaining_stock"]
    # Back at the high threshold: inventory repricing moved the price in the refund's transaction.
    decided = await events(client, admin, product)
    assert [(e["reason"], e["stock_before"], e["stock_after"], e["outcome"]) for e in decided] == [
        ("high_stock", 97, 100, "applied")
    ]
    assert await price_of(client, admin, product) == "90.00"


async def test_an_order_is_refunded_only_when_its_fees_and_logistics_commission_came_back(
    client: Client, admin: Caller, service_key: dict[str, str], quotes: QuoteStore
) -> None:
    case = await create_product(client, admin, stock=10)
    base = build_quote("cust-7", [line(case, 2)])
    # Free delivery, but a flat logistics commission per order.
    logistics = CommissionDetail(product_id=None, rate_id=None, dimension="logistics", commission_type="FLAT",
                                 base=D("0.00"), rate=D("2"), amount=D("2.00"))  # fmt: skip
    charged = base.commission_breakdown
    quote = msgspec.structs.replace(
        base,
        delivery_fee=D("0.00"),
        total_amount=base.total_amount - base.delivery_fee,
        commission_breakdown=msgspec.structs.replace(
            charged,
            logistics_commission=D("2.00"),
            total_commission=charged.total_commission + D("2.00"),
            details=[*charged.details, logistics],
        ),
    )
    the_order = await placed(client, service_key, quotes, quote)
    every_unit = {"lines": [{"product_id": case["id"], "quantity": 2}]}
    expect_ok(await refund(client, service_key, the_order["id"], every_unit), 201)
    shown = expect_ok(await client.get(f"{ORDERS}/{the_order['id']}", headers=service_key))
    assert (shown["status"], shown["refunded_amount"]) == ("partially_refunded", the_order["total_amount"])
    fees = expect_ok(await refund(client, service_key, the_order["id"], {"include_fees": True}), 201)
    assert (fees["lines"], fees["total_refunded"], fees["logistics_commission"]) == ([], "0.00", "2.00")
    assert expect_ok(await client.get(f"{ORDERS}/{the_order['id']}", headers=service_key))["status"] == "refunded"


async def test_an_order_is_refunded_only_when_every_line_came_back(
    client: Client, admin: Caller, shopper: Caller, quotes: QuoteStore
) -> None:
    case = await create_product(client, admin, stock=10)
    cable = await create_product(client, admin, stock=5, current_price="4.99", min_price="1.00", cost_price="0.50")
    the_order = await placed(
        client, shopper.headers, quotes, build_quote(str(shopper.id), [line(case, 2), line(cable, 1)])
    )
    url = f"{ORDERS}/{the_order['id']}"

    # Every unit of one line and the fees: the other line is still the customer's.
    one_line = {"lines": [{"product_id": case["id"], "quantity": 2}], "include_fees": True}
    expect_ok(await refund(client, admin.headers, the_order["id"], one_line), 201)
    assert expect_ok(await client.get(url, headers=admin.headers))["status"] == "partially_refunded"

    expect_ok(
        await refund(client, admin.headers, the_order["id"], {"lines": [{"product_id": cable["id"], "quantity": 1}]}),
        201,
    )
    done = expect_ok(await client.get(url, headers=admin.headers))
    assert (done["status"], done["refunded_amount"]) == ("refunded", the_order["total_amount"])
