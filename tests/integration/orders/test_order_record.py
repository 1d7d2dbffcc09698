"""An order's priced record and the filtered order list (docs/orders-and-refunds.md; docs/orders-and-refunds.md),
over HTTP on real PostgreSQL and Redis.

The record tests price real quotes (`POST /api/v1/quote`: promotions, coupons, tax-inclusive
prices), order them, then drop the quote from Redis: the order alone must still explain itself.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.quotes.store import QuoteStore, quote_key
from tests.cluster_fixtures import redis_client
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.orders.test_orders_api import build_quote, line, order, quotes, stored
from tests.integration.promotions.test_promotions_api import create_promotion

Client = AsyncTestClient[Litestar]
ORDERS = "/api/v1/orders"
QUOTE = "/api/v1/quote"
D = Decimal
__all__ = ["quotes"]  # the QuoteStore fixture, used here


def basket(customer_id: str, *items: tuple[str, int], coupons: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "items": [{"product_id": product_id, "quantity": quantity} for product_id, quantity in items],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "currency": "TRY",
        "coupon_codes": list(coupons),
    }


async def quoted_and_ordered(client: Client, caller: Caller, body: dict[str, Any], redis_url: str) -> tuple[Any, Any]:
    """The quote of `body`, and its order read back after the quote was dropped from Redis."""
    quote = expect_ok(await client.post(QUOTE, json=body, headers=caller.headers))
    headers = {**caller.headers, "Idempotency-Key": uuid.uuid4().hex}
    placed = expect_ok(await client.post(ORDERS, json={"quote_id": quote["quote_id"]}, headers=headers), 201)
    redis = redis_client(redis_url)
    try:
        assert await redis.delete(quote_key(uuid.UUID(quote["quote_id"]))) == 1
    finally:
        await redis.aclose()
    read = expect_ok(await client.get(f"{ORDERS}/{placed['id']}", headers=caller.headers))
    assert read == placed
    return quote, read


def quote_commissions(quote: Any) -> list[dict[str, str]]:
    """Each quote line's commission parts, from its details (category, then seller when charged)."""
    parts = []
    for item in quote["items"]:
        found = {"category": "0.00", "seller": "0.00"}
        for detail in quote["commission_breakdown"]["details"]:
            if detail["product_id"] == item["product_id"] and detail["dimension"] in found:
                found[detail["dimension"]] = detail["amount"]
        parts.append(found)
    return parts


def discount_sum(item: Any) -> Decimal:
    return sum((D(part["amount"]) for part in item["discounts"]), D(0))


@pytest.mark.redis_backends  # Redis key layout, Lua or slots: on a Redis Cluster too
async def test_a_promotion_and_a_coupon_over_two_lines_are_recorded_by_line_and_source(
    client: Client, admin: Caller, shopper: Caller, redis_url: str
) -> None:
    cheap = {"min_price": "1.00", "cost_price": "0.50"}
    phone = await create_product(client, admin, current_price="33.33", seller_id="seller-1", **cheap)
    cable = await create_product(
        client, admin, current_price="12.47", category_id="cables", seller_id="seller-2", **cheap
    )
    promotion = await create_promotion(client, admin, name="7 % off", kind="PERCENT_OFF", config={"percent": 7})
    body = {"code": "SAVE15", "type": "PERCENTAGE", "value": 15, "valid_from": "2025-01-01T00:00:00Z"}
    expect_ok(await client.post("/api/v1/coupons", json=body, headers=admin.headers), 201)

    quote, record = await quoted_and_ordered(
        client, shopper, basket(str(shopper.id), (phone["id"], 1), (cable["id"], 3), coupons=("save15",)), redis_url
    )

    assert [p["name"] for p in quote["applied_promotions"]] == ["7 % off"]
    assert [c["code"] for c in quote["applied_coupons"]] == ["SAVE15"]
    promotion_amount = D(quote["applied_promotions"][0]["amount"])
    coupon_amount = D(quote["applied_coupons"][0]["amount"])
    assert promotion_amount > 0
    assert coupon_amount > 0
    assert record["priced_record"] is True
    assert record["applied_promotions"] == [
        {
            "promotion_id": promotion["id"],
            "name": "7 % off",
            "kind": "PERCENT_OFF",
            "amount": quote["applied_promotions"][0]["amount"],
            "funded_by": "seller",
        }
    ]
    assert record["applied_coupons"] == quote["applied_coupons"]
    for name in ("currency", "delivery_fee", "small_basket_fee", "discount_amount", "tax_amount", "total_amount"):
        assert record[name] == quote[name], name
    assert record["logistics_commission"] == quote["commission_breakdown"]["logistics_commission"]
    assert record["refunds"] == []

    by_source = {"promotion": D(0), "coupon": D(0)}
    for item, quoted, commission in zip(record["items"], quote["items"], quote_commissions(quote), strict=True):
        for name in ("product_id", "quantity", "unit_price", "line_subtotal", "discount", "tax", "tax_rate"):
            assert item[name] == quoted[name], name
        assert [part["source"] for part in item["discounts"]] == ["promotion", "coupon"]
        assert discount_sum(item) == D(item["discount"])  # to the minor unit
        promoted, couponed = item["discounts"]
        assert (promoted["id"], promoted["name"], promoted["funded_by"]) == (promotion["id"], "7 % off", "seller")
        assert "code" not in promoted
        assert (couponed["id"], couponed["name"], couponed["code"], couponed["funded_by"]) == (
            "SAVE15",
            "SAVE15",
            "SAVE15",
            "seller",
        )
        for part in item["discounts"]:
            by_source[part["source"]] += D(part["amount"])
        assert item["prices_include_tax"] is False
        assert D(item["net"]) == D(item["line_subtotal"]) - D(item["discount"])
        assert item["commission"] == commission
    assert by_source == {"promotion": promotion_amount, "coupon": coupon_amount}


async def test_a_promotion_limited_to_a_category_is_recorded_on_its_lines_only(
    client: Client, admin: Caller, shopper: Caller, redis_url: str
) -> None:
    cheap = {"min_price": "1.00", "cost_price": "0.50"}
    phone = await create_product(client, admin, current_price="40.00", **cheap)
    cable = await create_product(client, admin, current_price="9.99", category_id="cables", **cheap)
    await create_promotion(
        client,
        admin,
        name="Cables 20 %",
        kind="PERCENT_OFF",
        config={"percent": 20},
        conditions={"category_ids": ["cables"]},
    )
    body = {"code": "ALL5", "type": "PERCENTAGE", "value": 5, "valid_from": "2025-01-01T00:00:00Z"}
    expect_ok(await client.post("/api/v1/coupons", json=body, headers=admin.headers), 201)

    quote, record = await quoted_and_ordered(
        client, shopper, basket(str(shopper.id), (phone["id"], 1), (cable["id"], 2), coupons=("ALL5",)), redis_url
    )

    assert [p["amount"] for p in quote["applied_promotions"]] == ["4.00"]  # 20 % of 19.98
    phone_line, cable_line = record["items"]
    assert [(p["source"], p["amount"]) for p in phone_line["discounts"]] == [("coupon", phone_line["discount"])]
    assert [p["source"] for p in cable_line["discounts"]] == ["promotion", "coupon"]
    assert cable_line["discounts"][0]["amount"] == "4.00"
    for item in record["items"]:
        assert discount_sum(item) == D(item["discount"])
    coupon_total = sum(
        (D(p["amount"]) for i in record["items"] for p in i["discounts"] if p["source"] == "coupon"), D(0)
    )
    assert coupon_total == D(quote["applied_coupons"][0]["amount"])


async def test_a_tax_inclusive_line_records_its_contained_tax_and_net(
    client: Client, admin: Caller, shopper: Caller, redis_url: str
) -> None:
    free = {"min_price": "0.00", "cost_price": "0.00"}
    gross = await create_product(
        client, admin, current_price="118.00", base_price="118.00", prices_include_tax=True, **free
    )
    net = await create_product(client, admin, current_price="50.00", base_price="50.00", **free)
    body = {"code": "TEN", "type": "PERCENTAGE", "value": 10, "valid_from": "2025-01-01T00:00:00Z"}
    expect_ok(await client.post("/api/v1/coupons", json=body, headers=admin.headers), 201)

    quote, record = await quoted_and_ordered(
        client, shopper, basket(str(shopper.id), (gross["id"], 1), (net["id"], 1), coupons=("TEN",)), redis_url
    )

    inclusive, exclusive = record["items"]
    # 118.00 - 11.80 = 106.20 gross, of which 16.20 tax (18 %): net 90.00
    assert (inclusive["prices_include_tax"], inclusive["discount"], inclusive["tax"], inclusive["net"]) == (
        True,
        "11.80",
        "16.20",
        "90.00",
    )
    assert inclusive["gross"] == "106.20"
    assert (exclusive["prices_include_tax"], exclusive["discount"], exclusive["tax"], exclusive["net"]) == (
        False,
        "5.00",
        "8.10",
        "45.00",
    )
    for item, quoted, commission in zip(record["items"], quote["items"], quote_commissions(quote), strict=True):
        assert (item["net"], item["tax"], item["prices_include_tax"]) == (
            quoted["net"],
            quoted["tax"],
            quoted["prices_include_tax"],
        )
        assert [(p["source"], p["code"], p["amount"]) for p in item["discounts"]] == [
            ("coupon", "TEN", item["discount"])
        ]
        assert item["commission"] == commission
    assert record["tax_included"] == quote["tax_included"] == "16.20"


async def test_an_order_placed_before_the_record_still_answers_with_what_is_known(
    client: Client, admin: Caller, shopper: Caller, pool: asyncpg.Pool, redis_url: str
) -> None:
    phone = await create_product(client, admin, current_price="40.00", min_price="1.00", cost_price="0.50")
    body = {"code": "FIVE", "type": "PERCENTAGE", "value": 5, "valid_from": "2025-01-01T00:00:00Z"}
    expect_ok(await client.post("/api/v1/coupons", json=body, headers=admin.headers), 201)
    quote, record = await quoted_and_ordered(
        client, shopper, basket(str(shopper.id), (phone["id"], 2), coupons=("FIVE",)), redis_url
    )
    # What migration 0500 leaves of an order placed before it: no record rows, no line commissions.
    order_id = uuid.UUID(record["id"])
    await pool.execute("DELETE FROM order_line_discounts WHERE order_id = $1", order_id)
    await pool.execute("DELETE FROM order_promotions WHERE order_id = $1", order_id)
    await pool.execute(
        "UPDATE order_lines SET commission_category = NULL, commission_seller = NULL WHERE order_id = $1", order_id
    )
    await pool.execute("UPDATE orders SET record = NULL WHERE id = $1", order_id)

    old = expect_ok(await client.get(f"{ORDERS}/{record['id']}", headers=shopper.headers))

    assert old["priced_record"] is False
    assert old["items"][0]["discounts"] == []
    assert old["applied_promotions"] == []
    assert old["items"][0]["commission"] == record["items"][0]["commission"] == quote_commissions(quote)[0]
    assert {k: v for k, v in old.items() if k not in ("items", "priced_record")} == {
        k: v for k, v in record.items() if k not in ("items", "priced_record")
    }
    assert {k: v for k, v in old["items"][0].items() if k != "discounts"} == {
        k: v for k, v in record["items"][0].items() if k != "discounts"
    }


# --- GET /orders filters ------------------------------------------------------------------------


async def test_every_filter_works_alone_and_combined_within_the_callers_own_orders(
    client: Client,
    admin: Caller,
    shopper: Caller,
    service_key: dict[str, str],
    key_maker: Any,
    quotes: QuoteStore,
) -> None:
    first = await create_product(client, admin, seller_id="seller-1")
    second = await create_product(client, admin, seller_id="seller-2")

    async def place(headers: dict[str, str], maker: Any, customer: str, product: dict[str, Any]) -> str:
        quote = await stored(quotes, build_quote(customer, [line(product, 1)]), maker)
        placed: str = expect_ok(await order(client, headers, quote), 201)["id"]
        return placed

    cancelled = await place(shopper.headers, shopper.maker, str(shopper.id), first)
    own = await place(shopper.headers, shopper.maker, str(shopper.id), second)
    by_service = await place(service_key, key_maker, "cust-7", second)
    cancel_headers = {**shopper.headers, "Idempotency-Key": uuid.uuid4().hex}
    expect_ok(await client.post(f"{ORDERS}/{cancelled}/cancel", headers=cancel_headers))
    created = {o["id"]: o["created_at"] for o in expect_ok(await client.get(ORDERS, headers=admin.headers))["items"]}

    async def ids(headers: dict[str, str], **params: str) -> list[str]:
        return [o["id"] for o in expect_ok(await client.get(ORDERS, params=params, headers=headers))["items"]]

    today = datetime.now(UTC).date()
    assert await ids(admin.headers, seller_id="seller-2") == [by_service, own]
    assert await ids(admin.headers, seller_id="seller-9") == []
    assert await ids(admin.headers, status="cancelled") == [cancelled]
    assert await ids(admin.headers, status="confirmed") == [by_service, own]
    assert await ids(admin.headers, customer_id="cust-7") == [by_service]
    assert await ids(admin.headers, **{"from": created[own]}) == [by_service, own]
    assert await ids(admin.headers, to=created[own]) == [cancelled]  # `to` as an instant is excluded
    assert await ids(admin.headers, **{"from": str(today)}, to=str(today)) == [by_service, own, cancelled]
    assert await ids(admin.headers, **{"from": str(today + timedelta(days=1))}) == []
    assert await ids(admin.headers, to=str(today - timedelta(days=1))) == []
    assert await ids(admin.headers, seller_id="seller-2", customer_id=str(shopper.id)) == [own]
    assert await ids(admin.headers, seller_id="seller-1", status="confirmed") == []
    assert await ids(admin.headers, seller_id="seller-2", status="confirmed", **{"from": created[own]}) == [
        by_service,
        own,
    ]

    # Visibility: a filter narrows the caller's own orders, never widens them.
    assert await ids(shopper.headers, seller_id="seller-2") == [own]
    assert await ids(shopper.headers, customer_id="cust-7") == []
    assert await ids(shopper.headers, status="cancelled") == [cancelled]
    assert await ids(service_key, seller_id="seller-2") == [by_service]
    assert await ids(service_key, seller_id="seller-1") == []

    # Pagination with a filter: the cursor keeps it.
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"seller_id": "seller-2", "limit": "1", **({"cursor": cursor} if cursor else {})}
        page = expect_ok(await client.get(ORDERS, params=params, headers=admin.headers))
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [by_service, own]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sellerid": "seller-1"}, "sellerid"),
        ({"seller_id": "seller-1", "page": "2"}, "page"),
        ({"status": "shipped"}, "status"),
        ({"status": ""}, "status"),
        ({"from": "2026-13-01"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-01-01T00:00:00"}, "to"),  # an instant needs its offset
        ({"from": "2026-02-02", "to": "2026-02-01"}, "from"),
    ],
)
async def test_an_unknown_parameter_or_a_bad_value_is_422_naming_it(
    client: Client, shopper: Caller, params: dict[str, str], field: str
) -> None:
    body = expect_error(await client.get(ORDERS, params=params, headers=shopper.headers), 422, "VALIDATION_FAILED")
    assert list(field_errors(body)) == [field]
