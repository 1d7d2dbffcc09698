"""Orders over HTTP (docs/quotes-and-orders.md and the Idempotency rules of §1), on real PostgreSQL and Redis.

Quotes are built here as `Quote` objects and stored with a QuoteStore of the test's own
pointed at the same Redis, exactly as the quote endpoint would leave them; the app's store
reads them from Redis. One test goes end to end through `POST /api/v1/quote`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.auth.policy import Maker
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.pricing.money import round_money
from quote_service.pricing.quote import (
    AppliedCoupon,
    CommissionBreakdown,
    CommissionDetail,
    PricingBreakdown,
    Quote,
    QuoteLine,
)
from quote_service.quotes.store import QuoteStore
from tests.cluster_fixtures import redis_client
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller, make_caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.flash import new_sale
from tests.waiting import until

Client = AsyncTestClient[Litestar]
ORDERS = "/api/v1/orders"
TAX_RATE = Decimal(18)
COMMISSION_RATE = Decimal(15)


# --- quotes as the quote endpoint stores them ---------------------------------------------------


def line(
    product: dict[str, Any],
    quantity: int,
    *,
    discount: str = "0",
    price_source: str = "catalog",
    flash_sale_id: uuid.UUID | None = None,
) -> QuoteLine:
    """A priced line for a catalog product (its current price), with its tax at 18 %."""
    currency = product["currency"]
    unit = Decimal(product["current_price"])
    subtotal = round_money(unit * quantity, currency)
    off = round_money(Decimal(discount), currency)
    return QuoteLine(
        product_id=product["id"],
        quantity=quantity,
        list_unit_price=unit,
        unit_price=unit,
        line_subtotal=subtotal,
        discount=off,
        tax=round_money((subtotal - off) * TAX_RATE / 100, currency),
        price_source=price_source,  # type: ignore[arg-type]
        category_id=product["category_id"],
        seller_id=product["seller_id"],
        flash_sale_id=flash_sale_id,
        tax_rate=TAX_RATE,
    )


def build_quote(
    customer_id: str,
    lines: Sequence[QuoteLine],
    *,
    currency: str = "TRY",
    coupons: Sequence[AppliedCoupon] = (),
    valid_for: timedelta = timedelta(minutes=15),
) -> Quote:
    """A quote whose totals are the exact sums of its lines, with a 15 % category commission per line."""
    now = utcnow()
    subtotal = sum((item.line_subtotal for item in lines), Decimal(0))
    discount = sum((item.discount for item in lines), Decimal(0))
    tax = sum((item.tax for item in lines), Decimal(0))
    delivery = round_money(Decimal(10), currency)
    small_basket = round_money(Decimal(0), currency)
    total = subtotal - discount + tax + delivery + small_basket
    details = [
        CommissionDetail(
            product_id=item.product_id,
            rate_id=None,
            dimension="category",
            commission_type="PERCENTAGE",
            base=item.line_subtotal - item.discount,
            rate=COMMISSION_RATE,
            amount=round_money((item.line_subtotal - item.discount) * COMMISSION_RATE / 100, currency),
        )
        for item in lines
    ]
    commission = sum((d.amount for d in details), Decimal(0))
    zero = round_money(Decimal(0), currency)
    return Quote(
        quote_id=uuid.uuid4(),
        customer_id=customer_id,
        subtotal=subtotal,
        discount_amount=discount,
        tax_amount=tax,
        delivery_fee=delivery,
        small_basket_fee=small_basket,
        total_amount=total,
        currency=currency,
        items=list(lines),
        commission_breakdown=CommissionBreakdown(
            total_commission=commission,
            seller_commission=zero,
            category_commission=commission,
            logistics_commission=zero,
            currency=currency,
            details=details,
        ),
        pricing_breakdown=PricingBreakdown(
            item_total=subtotal,
            subtotal=subtotal,
            tax_amount=tax,
            delivery_fee=delivery,
            small_basket_fee=small_basket,
            total_amount=total,
            currency=currency,
            calculations=[],
        ),
        applied_rules=[],
        applied_coupons=list(coupons),
        rejected_coupons=[],
        feature_flags={},
        experiments={},
        created_at=now,
        valid_until=now + valid_for,
    )


@contextlib.asynccontextmanager
async def quote_store(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[QuoteStore]:
    """A QuoteStore on the app's Redis and PostgreSQL, as another process would have."""
    assert settings.redis_url is not None
    redis = redis_client(settings.redis_url)
    store = QuoteStore(redis, pool, spool=settings.quote_log_spool)
    await store.start()
    try:
        yield store
    finally:
        await store.stop()
        await redis.aclose()


@pytest.fixture
async def quotes(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[QuoteStore]:
    async with quote_store(settings, pool) as store:
        yield store


async def stored(store: QuoteStore, quote: Quote, maker: Maker) -> Quote:
    """Store `quote` as made by `maker`: only that caller or an admin may order it."""
    await store.put(quote, now=utcnow(), caller=maker)
    return quote


async def expired(store: QuoteStore, quote: Quote) -> bool:
    """Whether the store no longer holds `quote` as valid (past its `valid_until`, or gone)."""
    return await store.get(quote.quote_id, now=utcnow()) is None


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def order(client: httpx.AsyncClient, caller_headers: dict[str, str], quote: Quote, **headers: str) -> Any:
    """POST the order of `quote` with a fresh Idempotency-Key (or the one given)."""
    all_headers = {**caller_headers, **(headers or key())}
    return await client.post(ORDERS, json={"quote_id": str(quote.quote_id)}, headers=all_headers)


async def coupon(client: Client, admin: Caller, code: str, **fields: Any) -> None:
    body = {"code": code, "type": "PERCENTAGE", "value": 10, "valid_from": "2025-01-01T00:00:00Z", **fields}
    expect_ok(await client.post("/api/v1/coupons", json=body, headers=admin.headers), 201)


async def stock_of(pool: asyncpg.Pool, product: dict[str, Any]) -> int:
    value: int = await pool.fetchval("SELECT stock FROM products WHERE id = $1", uuid.UUID(product["id"]))
    return value


async def count(pool: asyncpg.Pool, table: str) -> int:
    value: int = await pool.fetchval(f"SELECT count(*) FROM {table}")
    return value


# --- placing an order ---------------------------------------------------------------------------


def save10(amount: str) -> dict[str, str]:
    """A line's share of the SAVE10 coupon, as the order's priced record shows it."""
    coupon = {"source": "coupon", "id": "SAVE10", "name": "SAVE10", "code": "SAVE10"}
    return {**coupon, "funded_by": "seller", "amount": amount}


@pytest.mark.redis_backends  # Redis key layout, Lua or slots: on a Redis Cluster too
async def test_an_order_confirms_the_quote_takes_stock_and_counts_the_coupon(
    client: Client, admin: Caller, shopper: Caller, quotes: QuoteStore, pool: asyncpg.Pool, redis_url: str
) -> None:
    case = await create_product(client, admin, stock=10)
    cable = await create_product(
        client, admin, stock=5, current_price="4.99", min_price="1.00", cost_price="0.50", category_id="cables"
    )
    await coupon(client, admin, "SAVE10", usage_limit=100, per_customer_limit=3)
    quote = await stored(
        quotes,
        build_quote(
            str(shopper.id),
            [line(case, 2, discount="5.10"), line(cable, 3, discount="1.50")],
            coupons=[AppliedCoupon(code="SAVE10", type="PERCENTAGE", amount=Decimal("6.60"))],
        ),
        shopper.maker,
    )

    placed = expect_ok(await order(client, shopper.headers, quote), 201)

    assert placed == {
        "id": placed["id"],
        "quote_id": str(quote.quote_id),
        "customer_id": str(shopper.id),
        "status": "confirmed",
        "currency": "TRY",
        "subtotal": "65.97",
        "discount_amount": "6.60",
        "tax_amount": "10.68",
        "delivery_fee": "10.00",
        "small_basket_fee": "0.00",
        "total_amount": "80.05",
        "items": [
            {
                "line": 0,
                "product_id": case["id"],
                "quantity": 2,
                "list_unit_price": "25.50",
                "unit_price": "25.50",
                "line_subtotal": "51.00",
                "discount": "5.10",
                "tax": "8.26",
                "tax_rate": "18",
                "price_source": "catalog",
                "flash_sale_id": None,
                "category_id": "electronics",
                "seller_id": "seller-1",
                "price_list_id": None,
                "prices_include_tax": False,
                "net": "45.90",
                "discounts": [save10("5.10")],
                "commission": {"seller": "0.00", "category": "6.89"},
            },
            {
                "line": 1,
                "product_id": cable["id"],
                "quantity": 3,
                "list_unit_price": "4.99",
                "unit_price": "4.99",
                "line_subtotal": "14.97",
                "discount": "1.50",
                "tax": "2.42",
                "tax_rate": "18",
                "price_source": "catalog",
                "flash_sale_id": None,
                "category_id": "cables",
                "seller_id": "seller-1",
                "price_list_id": None,
                "prices_include_tax": False,
                "net": "13.47",
                "discounts": [save10("1.50")],
                "commission": {"seller": "0.00", "category": "2.02"},
            },
        ],
        "commission_breakdown": {
            "total_commission": "8.91",
            "seller_commission": "0.00",
            "category_commission": "8.91",
            "logistics_commission": "0.00",
            "currency": "TRY",
            "details": [
                {
                    "product_id": case["id"],
                    "rate_id": None,
                    "dimension": "category",
                    "commission_type": "PERCENTAGE",
                    "base": "45.90",
                    "rate": "15",
                    "amount": "6.89",
                    "line": 0,
                },
                {
                    "product_id": cable["id"],
                    "rate_id": None,
                    "dimension": "category",
                    "commission_type": "PERCENTAGE",
                    "base": "13.47",
                    "rate": "15",
                    "amount": "2.02",
                    "line": 1,
                },
            ],
        },
        "applied_coupons": [{"code": "SAVE10", "type": "PERCENTAGE", "amount": "6.60"}],
        "applied_promotions": [],
        "logistics_commission": "0.00",
        "priced_record": True,
        "created_by": "shopper",
        "created_at": placed["created_at"],
        "refunded_amount": "0.00",
        "refunds": [],
        "revision": 1,
        "edits": [],
        "balance_due": "0.00",
        "paid_amount": "0.00",
        "payments": [],
    }
    assert placed["created_at"].endswith("Z")
    assert await stock_of(pool, case) == 8
    assert await stock_of(pool, cable) == 2
    movements = await pool.fetch("SELECT product_id, delta, stock_after, reason, actor FROM stock_movements")
    assert sorted((str(m["product_id"]), m["delta"], m["stock_after"], m["reason"], m["actor"]) for m in movements) == (
        sorted(
            [
                (case["id"], -2, 8, f"order {placed['id']}", "shopper"),
                (cable["id"], -3, 2, f"order {placed['id']}", "shopper"),
            ]
        )
    )
    assert await pool.fetchval("SELECT times_used FROM coupons WHERE code = 'SAVE10'") == 1
    redemptions = await pool.fetch("SELECT order_id, customer_id FROM coupon_redemptions")
    assert [(str(r["order_id"]), r["customer_id"]) for r in redemptions] == [(placed["id"], str(shopper.id))]
    redis = redis_client(redis_url)
    try:
        assert await redis.get(f"qs:coupon-uses:SAVE10:{shopper.id}") == b"1:1"  # one use, one change
    finally:
        await redis.aclose()

    fetched = expect_ok(await client.get(f"{ORDERS}/{placed['id']}", headers=shopper.headers))
    assert fetched == placed
    assert expect_ok(await client.get(f"{ORDERS}/{placed['id']}", headers=admin.headers)) == placed
    listed = expect_ok(await client.get(ORDERS, headers=shopper.headers))
    assert listed == {"items": [placed], "next_cursor": None}


@pytest.mark.redis_backends  # Redis key layout, Lua or slots: on a Redis Cluster too
async def test_a_quote_from_the_quote_endpoint_can_be_ordered(
    client: Client, admin: Caller, shopper: Caller, pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, stock=3)
    body = {
        "customer_id": str(shopper.id),
        "items": [{"product_id": product["id"], "quantity": 2}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "currency": "TRY",
    }
    quote = expect_ok(await client.post("/api/v1/quote", json=body, headers=shopper.headers))

    placed = expect_ok(
        await client.post(ORDERS, json={"quote_id": quote["quote_id"]}, headers={**shopper.headers, **key()}), 201
    )

    for name in ("subtotal", "discount_amount", "tax_amount", "delivery_fee", "small_basket_fee", "total_amount"):
        assert placed[name] == quote[name], name
    assert placed["commission_breakdown"]["total_commission"] == quote["commission_breakdown"]["total_commission"]
    assert [i["line_subtotal"] for i in placed["items"]] == [i["line_subtotal"] for i in quote["items"]]
    assert await stock_of(pool, product) == 1


@pytest.mark.redis_backends  # Redis key layout, Lua or slots: on a Redis Cluster too
async def test_flash_sale_and_request_priced_lines_are_recorded_but_take_no_catalog_stock(
    client: Client,
    admin: Caller,
    service_key: dict[str, str],
    key_maker: Maker,
    quotes: QuoteStore,
    pool: asyncpg.Pool,
) -> None:
    product = await create_product(client, admin, stock=14)
    sale, _ = await new_sale(client, admin, product=product, item={"flash_price": "21.00"})  # allocates 10
    sale_id = uuid.UUID(sale["id"])
    outside = {**product, "id": "ext-widget-7", "current_price": "3.00"}
    quote = await stored(
        quotes,
        build_quote(
            "cust-42",
            [
                line(product, 1, price_source="flash_sale", flash_sale_id=sale_id),
                line(product, 2),
                line(outside, 5, price_source="request"),
            ],
        ),
        key_maker,
    )

    placed = expect_ok(await order(client, service_key, quote), 201)

    assert [(i["product_id"], i["price_source"], i["flash_sale_id"]) for i in placed["items"]] == [
        (product["id"], "flash_sale", str(sale_id)),
        (product["id"], "catalog", None),
        ("ext-widget-7", "request", None),
    ]
    assert placed["customer_id"] == "cust-42"
    assert placed["created_by"] == "api-key:checkout"
    assert await stock_of(pool, product) == 2
    assert await count(pool, "stock_movements") == 2  # the sale's allocation, then the order's catalog units
    assert await pool.fetchval("SELECT sum(quantity) FROM flash_purchases WHERE order_id IS NOT NULL") == 1


async def test_money_is_rendered_with_the_currency_digits(
    client: Client, admin: Caller, service_key: dict[str, str], key_maker: Maker, quotes: QuoteStore
) -> None:
    product = await create_product(
        client, admin, currency="JPY", base_price="1200", min_price="1000", cost_price="500", stock=5
    )
    quote = await stored(quotes, build_quote("cust-jp", [line(product, 3)], currency="JPY"), key_maker)

    placed = expect_ok(await order(client, service_key, quote), 201)

    assert (placed["subtotal"], placed["tax_amount"], placed["delivery_fee"], placed["total_amount"]) == (
        "3600",
        "648",
        "10",
        "4258",
    )
    assert placed["items"][0]["unit_price"] == "1200"
    assert placed["commission_breakdown"]["total_commission"] == "540"


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.redis_backends  # Redis key layout, Lua or slots: on a Redis Cluster too
async def test_an_unknown_or_expired_quote_is_409_quote_expired(
    client: Client, admin: Caller, shopper: Caller, quotes: QuoteStore, pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, stock=5)
    never_stored = build_quote(str(shopper.id), [line(product, 1)])
    expect_error(await order(client, shopper.headers, never_stored), 409, "QUOTE_EXPIRED")

    short_lived = await stored(
        quotes, build_quote(str(shopper.id), [line(product, 1)], valid_for=timedelta(milliseconds=300)), shopper.maker
    )
    await until(lambda: expired(quotes, short_lived), "the 300 ms quote expires")
    expect_error(await order(client, shopper.headers, short_lived), 409, "QUOTE_EXPIRED")

    assert await stock_of(pool, product) == 5
    assert await count(pool, "orders") == 0


@pytest.mark.parametrize(
    ("headers", "reason"),
    [({}, "missing"), ({"Idempotency-Key": ""}, "empty"), ({"Idempotency-Key": "k" * 129}, "too long")],
)
async def test_the_idempotency_key_is_required_and_bounded(
    client: Client,
    admin: Caller,
    shopper: Caller,
    quotes: QuoteStore,
    pool: asyncpg.Pool,
    headers: dict[str, str],
    reason: str,
) -> None:
    product = await create_product(client, admin, stock=5)
    quote = await stored(quotes, build_quote(str(shopper.id), [line(product, 1)]), shopper.maker)

    response = await client.post(ORDERS, json={"quote_id": str(quote.quote_id)}, headers={**shopper.headers, **headers})

    body = expect_error(response, 422, "VALIDATION_FAILED")
    assert [field.lower() for field in field_errors(body)] == ["idempotency-key"], (reason, body)
    assert await count(pool, "orders") == 0


async def test_a_128_character_key_is_accepted(
    client: Client, admin: Caller, shopper: Caller, quotes: QuoteStore
) -> None:
    product = await create_product(client, admin, stock=5)
    quote = await stored(quotes, build_quote(str(shopper.id), [line(product, 1)]), shopper.maker)
    expect_ok(await order(client, shopper.headers, quote, **{"Idempotency-Key": "k" * 128}), 201)


@pytest.mark.parametrize(
    ("body", "field"),
    [({"quote_id": "not-a-uuid"}, "quote_id"), ({}, "quote_id"), ({"quote_id": str(uuid.uuid4()), "x": 1}, "x")],
)
async def test_a_bad_body_is_422_on_its_field(
    client: Client, shopper: Caller, body: dict[str, Any], field: str
) -> None:
    response = await client.post(ORDERS, json=body, headers={**shopper.headers, **key()})
    assert field in field_errors(expect_error(response, 422, "VALIDATION_FAILED"))


async def test_only_a_multi_line_order_that_fits_takes_stock(
    client: Client, admin: Caller, shopper: Caller, quotes: QuoteStore, pool: asyncpg.Pool
) -> None:
    plenty = await create_product(client, admin, stock=10)
    scarce = await create_product(client, admin, stock=2)
    await coupon(client, admin, "SAVE10")
    quote = await stored(
        quotes,
        build_quote(
            str(shopper.id),
            [line(plenty, 4, discount="10.20"), line(scarce, 3)],
            coupons=[AppliedCoupon(code="SAVE10", type="PERCENTAGE", amount=Decimal("10.20"))],
        ),
        shopper.maker,
    )
    idempotency = key()

    body = expect_error(await order(client, shopper.headers, quote, **idempotency), 409, "INSUFFICIENT_STOCK")

    assert scarce["id"] in body["message"]
    assert plenty["id"] not in body["message"]
    assert field_errors(body) == {"items[1].quantity": f"product {scarce['id']}: 3 ordered, 2 in stock"}
    assert (await stock_of(pool, plenty), await stock_of(pool, scarce)) == (10, 2)
    for table in ("orders", "order_lines", "order_commissions", "coupon_redemptions", "stock_movements"):
        assert await count(pool, table) == 0, table
    assert await pool.fetchval("SELECT times_used FROM coupons WHERE code = 'SAVE10'") == 0

    # One key, one answer: once restocked, the same key still answers its refusal (a double submit
    # or a late retry never turns it into an order); a new key places the order.
    expect_ok(
        await client.post(
            f"/api/v1/products/{scarce['id']}/stock", json={"delta": 1, "reason": "found"}, headers=admin.headers
        )
    )
    again = expect_error(await order(client, shopper.headers, quote, **idempotency), 409, "INSUFFICIENT_STOCK")
    assert (again["message"], field_errors(again)) == (body["message"], field_errors(body))
    assert await count(pool, "orders") == 0
    expect_ok(await order(client, shopper.headers, quote), 201)
    assert (await stock_of(pool, plenty), await stock_of(pool, scarce)) == (6, 0)


async def test_an_inactive_product_cannot_be_ordered(
    client: Client, admin: Caller, shopper: Caller, quotes: QuoteStore, pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, stock=5)
    quote = await stored(quotes, build_quote(str(shopper.id), [line(product, 1)]), shopper.maker)
    expect_ok(await client.delete(f"/api/v1/products/{product['id']}", headers=admin.headers))

    body = expect_error(await order(client, shopper.headers, quote), 409, "PRODUCT_UNAVAILABLE")

    assert field_errors(body) == {"items[0].product_id": "product is inactive"}
    assert await stock_of(pool, product) == 5


async def test_only_the_quotes_maker_or_an_admin_orders_it(
    client: Client,
    admin: Caller,
    shopper: Caller,
    service_key: dict[str, str],
    key_maker: Maker,
    quotes: QuoteStore,
    pool: asyncpg.Pool,
    settings: Settings,
    password_hash: str,
) -> None:
    product = await create_product(client, admin, stock=5)
    other = expect_ok(await client.post("/api/v1/api-keys", json={"name": "other"}, headers=admin.headers), 201)
    other_key = {"X-API-Key": other["key"]}
    stranger = await make_caller(settings, password_hash, "stranger", "user")
    by_checkout = await stored(quotes, build_quote(str(shopper.id), [line(product, 1)]), key_maker)  # for the shopper
    by_shopper = await stored(quotes, build_quote(str(shopper.id), [line(product, 1)]), shopper.maker)

    # Anyone else meets the quote as an unknown one, whatever its customer_id says.
    for quote, headers in ((by_checkout, shopper.headers), (by_checkout, other_key), (by_shopper, stranger.headers)):
        refused = expect_error(await order(client, headers, quote), 404, "NOT_FOUND")
        assert refused["message"] == f"quote {quote.quote_id} not found"
    assert (await stock_of(pool, product), await count(pool, "orders")) == (5, 0)

    expect_ok(await order(client, service_key, by_checkout), 201)
    expect_ok(await order(client, admin.headers, by_shopper), 201)
    assert (await stock_of(pool, product), await count(pool, "orders")) == (3, 2)


@pytest.mark.redis_backends  # Redis key layout, Lua or slots: on a Redis Cluster too
async def test_a_coupon_at_its_per_customer_limit_refuses_the_order(
    client: Client, admin: Caller, shopper: Caller, quotes: QuoteStore, pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, stock=10)
    await coupon(client, admin, "ONCE", per_customer_limit=1)
    applied = [AppliedCoupon(code="ONCE", type="PERCENTAGE", amount=Decimal("2.55"))]
    first, second = [
        await stored(
            quotes, build_quote(str(shopper.id), [line(product, 1, discount="2.55")], coupons=applied), shopper.maker
        )
        for _ in range(2)
    ]
    expect_ok(await order(client, shopper.headers, first), 201)

    body = expect_error(await order(client, shopper.headers, second), 409, "COUPON_LIMIT_REACHED")

    assert field_errors(body) == {"applied_coupons[0]": "coupon ONCE reached its limit per customer (1)"}
    assert await stock_of(pool, product) == 9
    assert await pool.fetchval("SELECT times_used FROM coupons WHERE code = 'ONCE'") == 1


# --- idempotency --------------------------------------------------------------------------------


async def test_the_same_key_and_body_return_the_first_order_again(
    client: Client, admin: Caller, shopper: Caller, quotes: QuoteStore, pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, stock=5)
    quote = await stored(quotes, build_quote(str(shopper.id), [line(product, 2)]), shopper.maker)
    idempotency = key()

    first = expect_ok(await order(client, shopper.headers, quote, **idempotency), 201)
    again = expect_ok(await order(client, shopper.headers, quote, **idempotency), 201)

    assert again == first
    assert await stock_of(pool, product) == 3
    assert await count(pool, "orders") == 1


async def test_a_replay_still_answers_after_the_quote_expired(
    client: Client, admin: Caller, shopper: Caller, quotes: QuoteStore
) -> None:
    product = await create_product(client, admin, stock=5)
    quote = await stored(
        quotes, build_quote(str(shopper.id), [line(product, 1)], valid_for=timedelta(milliseconds=500)), shopper.maker
    )
    idempotency = key()
    first = expect_ok(await order(client, shopper.headers, quote, **idempotency), 201)
    await until(lambda: expired(quotes, quote), "the 500 ms quote expires")

    assert expect_ok(await order(client, shopper.headers, quote, **idempotency), 201) == first


async def test_the_same_key_with_another_body_is_409_idempotency_conflict(
    client: Client, admin: Caller, shopper: Caller, quotes: QuoteStore, pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, stock=5)
    first, other = [
        await stored(quotes, build_quote(str(shopper.id), [line(product, 1)]), shopper.maker) for _ in range(2)
    ]
    idempotency = key()
    expect_ok(await order(client, shopper.headers, first, **idempotency), 201)

    expect_error(await order(client, shopper.headers, other, **idempotency), 409, "IDEMPOTENCY_CONFLICT")

    assert await stock_of(pool, product) == 4


async def test_keys_belong_to_their_caller(
    client: Client,
    admin: Caller,
    shopper: Caller,
    service_key: dict[str, str],
    key_maker: Maker,
    quotes: QuoteStore,
    pool: asyncpg.Pool,
) -> None:
    product = await create_product(client, admin, stock=5)
    mine = await stored(quotes, build_quote(str(shopper.id), [line(product, 1)]), shopper.maker)
    theirs = await stored(quotes, build_quote("cust-9", [line(product, 1)]), key_maker)
    shared = key()

    expect_ok(await order(client, shopper.headers, mine, **shared), 201)
    expect_ok(await order(client, service_key, theirs, **shared), 201)

    assert await stock_of(pool, product) == 3


@pytest.mark.redis_backends  # Redis key layout, Lua or slots: on a Redis Cluster too
async def test_a_quote_is_ordered_once(
    client: Client, admin: Caller, shopper: Caller, quotes: QuoteStore, pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, stock=5)
    quote = await stored(quotes, build_quote(str(shopper.id), [line(product, 1)]), shopper.maker)
    expect_ok(await order(client, shopper.headers, quote), 201)

    expect_error(await order(client, shopper.headers, quote), 409, "QUOTE_ALREADY_ORDERED")

    assert await stock_of(pool, product) == 4


# --- reading ------------------------------------------------------------------------------------


async def test_orders_are_visible_to_their_customer_their_client_and_admins_only(
    client: Client,
    admin: Caller,
    shopper: Caller,
    service_key: dict[str, str],
    key_maker: Maker,
    quotes: QuoteStore,
    settings: Settings,
    password_hash: str,
) -> None:
    stranger = await make_caller(settings, password_hash, "stranger", "user")
    product = await create_product(client, admin, stock=10)
    by_shopper = expect_ok(
        await order(
            client,
            shopper.headers,
            await stored(quotes, build_quote(str(shopper.id), [line(product, 1)]), shopper.maker),
        ),
        201,
    )
    by_service = expect_ok(
        await order(client, service_key, await stored(quotes, build_quote("cust-7", [line(product, 1)]), key_maker)),
        201,
    )
    for_shopper_by_service = expect_ok(
        await order(
            client, service_key, await stored(quotes, build_quote(str(shopper.id), [line(product, 1)]), key_maker)
        ),
        201,
    )

    expect_error(await client.get(f"{ORDERS}/{by_shopper['id']}", headers=stranger.headers), 404, "NOT_FOUND")
    expect_error(await client.get(f"{ORDERS}/{by_shopper['id']}", headers=service_key), 404, "NOT_FOUND")
    expect_error(await client.get(f"{ORDERS}/{uuid.uuid4()}", headers=admin.headers), 404, "NOT_FOUND")
    assert expect_ok(await client.get(f"{ORDERS}/{for_shopper_by_service['id']}", headers=shopper.headers))

    def ids(response: Any) -> list[str]:
        return [o["id"] for o in expect_ok(response)["items"]]

    assert ids(await client.get(ORDERS, headers=stranger.headers)) == []
    assert ids(await client.get(ORDERS, headers=shopper.headers)) == [for_shopper_by_service["id"], by_shopper["id"]]
    assert ids(await client.get(ORDERS, headers=service_key)) == [for_shopper_by_service["id"], by_service["id"]]
    assert ids(await client.get(ORDERS, headers=admin.headers)) == [
        for_shopper_by_service["id"],
        by_service["id"],
        by_shopper["id"],
    ]
    assert ids(await client.get(ORDERS, params={"customer_id": "cust-7"}, headers=admin.headers)) == [by_service["id"]]
    assert ids(await client.get(ORDERS, params={"customer_id": "cust-7"}, headers=shopper.headers)) == []


async def test_the_list_is_keyset_paginated_newest_first(
    client: Client, admin: Caller, shopper: Caller, quotes: QuoteStore
) -> None:
    product = await create_product(client, admin, stock=10)
    placed = [
        expect_ok(
            await order(
                client,
                shopper.headers,
                await stored(quotes, build_quote(str(shopper.id), [line(product, 1)]), shopper.maker),
            ),
            201,
        )["id"]
        for _ in range(5)
    ]

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = expect_ok(await client.get(ORDERS, params=params, headers=shopper.headers))
        seen += [o["id"] for o in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == placed[::-1]
    assert pages == 3
    expect_error(await client.get(ORDERS, params={"cursor": "nope"}, headers=shopper.headers), 422, "VALIDATION_FAILED")
