"""Inventory repricing: every stock change gets its decision, in the same transaction."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.catalog import service as catalog
from quote_service.catalog.schemas import StockAdjust
from quote_service.cli import demo
from quote_service.config import Settings
from quote_service.db.pool import create_pool
from quote_service.errors import InsufficientStock
from quote_service.pricing.money import MINOR_UNITS
from tests.integration.catalog.test_catalog import PRODUCTS, create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.flash import SALES, sale_body

Client = AsyncTestClient[Litestar]
RULES = "/api/v1/pricing-rules"
EVENTS = "/api/v1/repricing/events"
ORIGINAL = {  # the original system's rule, as seed-demo adds it
    "low_threshold": 10,
    "low_adjust_percent": 10,
    "high_threshold": 100,
    "high_adjust_percent": -10,
    "cooldown_hours": 24,
}


async def inventory_rule(client: Client, admin: Caller, name: str = "inventory", **scope: Any) -> dict[str, Any]:
    config = {**ORIGINAL, **scope.pop("configuration", {})}
    body = {
        "name": name,
        "type": "INVENTORY_LEVEL",
        "configuration": config,
        "effective_from": "2020-01-01T00:00:00Z",
        **scope,
    }
    return expect_ok(await client.post(RULES, json=body, headers=admin.headers), 201)  # type: ignore[no-any-return]


async def priced(client: Client, admin: Caller, *, stock: int, price: str = "100.00", **fields: Any) -> dict[str, Any]:
    """A TRY product at `price` (base 100.00, min 50.00) with `stock` units."""
    defaults = {"base_price": "100.00", "current_price": price, "min_price": "50.00", "cost_price": "10.00"}
    return await create_product(client, admin, stock=stock, **{**defaults, **fields})


async def adjust(client: Client, admin: Caller, product: dict[str, Any], delta: int) -> None:
    response = await client.post(
        f"{PRODUCTS}/{product['id']}/stock", json={"delta": delta, "reason": "count"}, headers=admin.headers
    )
    expect_ok(response)


async def price_of(client: Client, admin: Caller, product: dict[str, Any]) -> str:
    fetched = expect_ok(await client.get(f"{PRODUCTS}/{product['id']}", headers=admin.headers))
    return fetched["current_price"]  # type: ignore[no-any-return]


async def events(client: Client, admin: Caller, product: dict[str, Any], **query: Any) -> list[dict[str, Any]]:
    """The product's decisions, oldest first."""
    response = await client.get(EVENTS, params={"product_id": product["id"], **query}, headers=admin.headers)
    return list(reversed(expect_ok(response)["items"]))


def outcomes(found: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [(e["reason"], e["outcome"], e["old_price"], e["new_price"]) for e in found]


async def age_moves(pool: asyncpg.Pool, hours: int) -> None:
    """Pretend every decision so far was made `hours` ago (the cooldown reads created_at)."""
    async with pool.acquire() as conn:
        await conn.execute("UPDATE repricing_events SET created_at = created_at - make_interval(hours => $1)", hours)


async def test_low_stock_raises_and_high_stock_lowers_the_price(client: Client, admin: Caller) -> None:
    rule = await inventory_rule(client, admin)
    low = await priced(client, admin, stock=15)
    high = await priced(client, admin, stock=50)

    await adjust(client, admin, low, -4)  # 11: above the threshold, nothing to decide
    assert await price_of(client, admin, low) == "100.00"
    await adjust(client, admin, low, -1)  # 10: at the threshold
    await adjust(client, admin, high, 49)  # 99: below it
    assert await price_of(client, admin, high) == "100.00"
    await adjust(client, admin, high, 1)  # 100

    assert await price_of(client, admin, low) == "110.00"
    assert await price_of(client, admin, high) == "90.00"
    [event] = await events(client, admin, low)
    assert event["stock_before"] == 11
    assert event["stock_after"] == 10
    assert (event["rule_id"], event["rule_version"]) == (rule["id"], 1)
    assert outcomes([event]) == [("low_stock", "applied", "100.00", "110.00")]
    assert outcomes(await events(client, admin, high)) == [("high_stock", "applied", "100.00", "90.00")]
    history = expect_ok(await client.get(f"{PRODUCTS}/{low['id']}/price-history", headers=admin.headers))["items"]
    assert (history[0]["source"], history[0]["ref_id"], history[0]["new_price"]) == ("inventory", rule["id"], "110.00")
    assert history[0]["reason"] == "low_stock: stock 11 -> 10"


async def test_rounding_is_half_up_to_the_currency_digits(client: Client, admin: Caller) -> None:
    await inventory_rule(client, admin, configuration={"low_adjust_percent": "12.5"})
    product = await priced(client, admin, stock=11, price="99.98")  # x 1.125 = 112.4775
    await adjust(client, admin, product, -1)
    assert await price_of(client, admin, product) == "112.48"
    yen = await priced(client, admin, stock=11, currency="JPY", price="1002", base_price="1000", min_price="500",
                       cost_price="100")  # fmt: skip
    await adjust(client, admin, yen, -1)  # 1002 x 1.125 = 1127.25
    assert await price_of(client, admin, yen) == "1127"


async def test_the_cooldown_holds_each_reason_apart(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    await inventory_rule(client, admin, configuration={"high_threshold": 20})
    product = await priced(client, admin, stock=12)
    await adjust(client, admin, product, -2)  # 10: low_stock applied -> 110.00
    await adjust(client, admin, product, -1)  # 9: low_stock again, within 24 h
    await adjust(client, admin, product, 11)  # 20: high_stock is another reason -> 99.00
    await age_moves(pool, 23)
    await adjust(client, admin, product, -12)  # 8: still within 24 h of the low_stock move
    await age_moves(pool, 2)
    await adjust(client, admin, product, -1)  # 7: 25 h later -> 108.90
    assert outcomes(await events(client, admin, product)) == [
        ("low_stock", "applied", "100.00", "110.00"),
        ("low_stock", "cooldown", "110.00", "110.00"),
        ("high_stock", "applied", "110.00", "99.00"),
        ("low_stock", "cooldown", "99.00", "99.00"),
        ("low_stock", "applied", "99.00", "108.90"),
    ]
    assert await price_of(client, admin, product) == "108.90"


async def test_prices_stay_between_min_price_and_the_markup_ceiling(client: Client, admin: Caller) -> None:
    await inventory_rule(client, admin, configuration={"cooldown_hours": 0, "high_threshold": 20})
    top = await priced(client, admin, stock=12, price="145.00")  # ceiling: 100.00 x 1.5 = 150.00
    await adjust(client, admin, top, -2)  # 159.50 -> 150.00
    await adjust(client, admin, top, -1)  # already at the ceiling
    bottom = await priced(client, admin, stock=15, price="100.00", min_price="95.00")
    await adjust(client, admin, bottom, 5)  # 90.00 -> 95.00
    await adjust(client, admin, bottom, 1)  # already at min_price
    assert outcomes(await events(client, admin, top)) == [
        ("low_stock", "clamped", "145.00", "150.00"),
        ("low_stock", "clamped", "150.00", "150.00"),
    ]
    assert outcomes(await events(client, admin, bottom)) == [
        ("high_stock", "clamped", "100.00", "95.00"),
        ("high_stock", "clamped", "95.00", "95.00"),
    ]
    assert (await price_of(client, admin, top), await price_of(client, admin, bottom)) == ("150.00", "95.00")


async def test_a_price_above_the_ceiling_is_never_lowered_by_a_raise(client: Client, admin: Caller) -> None:
    await inventory_rule(client, admin)
    product = await priced(client, admin, stock=11, price="180.00")
    await adjust(client, admin, product, -1)
    assert outcomes(await events(client, admin, product)) == [("low_stock", "clamped", "180.00", "180.00")]
    assert await price_of(client, admin, product) == "180.00"


async def test_a_zero_adjustment_is_recorded_as_unchanged(client: Client, admin: Caller) -> None:
    await inventory_rule(client, admin, configuration={"low_adjust_percent": 0})
    product = await priced(client, admin, stock=11)
    await adjust(client, admin, product, -1)
    assert outcomes(await events(client, admin, product)) == [("low_stock", "unchanged", "100.00", "100.00")]


async def test_without_a_rule_nothing_moves(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    product = await priced(client, admin, stock=15)
    await adjust(client, admin, product, -10)
    await adjust(client, admin, product, 200)
    assert await price_of(client, admin, product) == "100.00"
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM repricing_events") == 0


async def test_the_most_specific_rule_decides(client: Client, admin: Caller) -> None:
    await inventory_rule(client, admin, "global", priority=100)
    product = await priced(client, admin, stock=11, category_id="shoes")
    other = await priced(client, admin, stock=11, category_id="hats")
    category = await inventory_rule(
        client, admin, "shoes", category_id="shoes", configuration={"low_adjust_percent": 20}
    )
    own = await inventory_rule(client, admin, "own", product_id=product["id"], configuration={"low_adjust_percent": 30})
    await adjust(client, admin, product, -1)
    await adjust(client, admin, other, -1)
    assert [e["rule_id"] for e in await events(client, admin, product)] == [own["id"]]
    assert await price_of(client, admin, product) == "130.00"
    assert await price_of(client, admin, other) == "110.00"  # the global rule: hats have none of their own
    expect_ok(await client.delete(f"{RULES}/{own['id']}", headers=admin.headers))
    await adjust(client, admin, product, 1)
    await adjust(client, admin, product, -1)  # low_stock again: the category rule now, but in cooldown
    assert [e["rule_id"] for e in await events(client, admin, product)][-1] == category["id"]


async def test_an_order_reprices_in_its_own_transaction(client: Client, admin: Caller, shopper: Caller) -> None:
    await inventory_rule(client, admin)
    product = await priced(client, admin, stock=12)
    body = {
        "customer_id": str(shopper.id),
        "items": [{"product_id": product["id"], "quantity": 3}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "currency": "TRY",
    }
    quote = expect_ok(await client.post("/api/v1/quote", json=body, headers=shopper.headers))
    headers = {**shopper.headers, "Idempotency-Key": uuid.uuid4().hex}
    expect_ok(await client.post("/api/v1/orders", json={"quote_id": quote["quote_id"]}, headers=headers), 201)
    [event] = await events(client, admin, product)
    assert (event["stock_before"], event["stock_after"], event["outcome"]) == (12, 9, "applied")
    # The next quote prices at the new price.
    again = expect_ok(await client.post("/api/v1/quote", json=body, headers=shopper.headers))
    assert again["items"][0]["unit_price"] == "110.00"


async def test_flash_sale_allocation_and_return_reprice(client: Client, admin: Caller) -> None:
    await inventory_rule(client, admin)
    product = await priced(client, admin, stock=20, min_price="10.00", cost_price="5.00")
    body = sale_body(product["id"], item={"allocated_stock": 15, "flash_price": "15.00"})
    sale = expect_ok(await client.post(SALES, json=body, headers=admin.headers), 201)  # 20 -> 5
    assert await price_of(client, admin, product) == "110.00"
    await adjust(client, admin, product, 85)  # 90
    expect_ok(await client.post(f"{SALES}/{sale['id']}/end", headers=admin.headers))  # 15 back: 105
    assert outcomes(await events(client, admin, product)) == [
        ("low_stock", "applied", "100.00", "110.00"),
        ("high_stock", "applied", "110.00", "99.00"),
    ]


async def test_a_rolled_back_stock_change_leaves_no_move_and_no_event(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    await inventory_rule(client, admin)
    product = await priced(client, admin, stock=11)
    pid = uuid.UUID(product["id"])
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("UPDATE products SET stock = 5 WHERE id = $1", pid)
        # Inside the transaction the decision is there...
        assert await conn.fetchval("SELECT current_price FROM products WHERE id = $1", pid) == Decimal(110)
        await transaction.rollback()
        assert await conn.fetchval("SELECT count(*) FROM repricing_events") == 0
        assert await conn.fetchval("SELECT count(*) FROM price_history WHERE source = 'inventory'") == 0
    # ...and a refused stock change is no change.
    with pytest.raises(InsufficientStock):
        await catalog.adjust_stock(pool, pid, StockAdjust(delta=-12, reason="too many"), actor="admin")
    assert await price_of(client, admin, product) == "100.00"


async def test_concurrent_decrements_through_the_threshold_move_the_price_once(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    await inventory_rule(client, admin)
    product = await priced(client, admin, stock=55)
    pid = uuid.UUID(product["id"])

    async def take_one() -> None:
        await catalog.adjust_stock(pool, pid, StockAdjust(delta=-1, reason="sold"), actor="shop")

    await asyncio.gather(*(take_one() for _ in range(50)))
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT stock FROM products WHERE id = $1", pid) == 5
        moves = await conn.fetch("SELECT old_price, new_price FROM price_history WHERE source = 'inventory'")
        decided = await conn.fetch("SELECT outcome, stock_after FROM repricing_events ORDER BY id")
    assert [(m["old_price"], m["new_price"]) for m in moves] == [(Decimal(100), Decimal(110))]
    assert sorted(e["stock_after"] for e in decided) == [5, 6, 7, 8, 9, 10]
    assert sorted(e["outcome"] for e in decided) == ["applied"] + ["cooldown"] * 5


async def test_the_events_list_filters_and_pages(client: Client, admin: Caller, shopper: Caller) -> None:
    await inventory_rule(client, admin, configuration={"cooldown_hours": 0, "high_threshold": 12})
    product = await priced(client, admin, stock=11)
    other = await priced(client, admin, stock=11)
    for _ in range(3):
        await adjust(client, admin, product, -1)
    await adjust(client, admin, product, 10)
    await adjust(client, admin, other, -1)
    assert [e["reason"] for e in await events(client, admin, product, reason="low_stock")] == ["low_stock"] * 3
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = expect_ok(await client.get(EVENTS, params=params, headers=admin.headers))
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == 5
    expect_error(await client.get(EVENTS, headers=shopper.headers), 403, "FORBIDDEN")
    expect_error(
        await client.get(EVENTS, params={"reason": "sideways"}, headers=admin.headers), 422, "VALIDATION_FAILED"
    )


async def test_sql_minor_units_match_the_money_module(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT c, currency_minor_units(c) AS n FROM unnest($1::text[]) AS c", list(MINOR_UNITS)
        )
    assert {r["c"]: r["n"] for r in rows} == MINOR_UNITS


async def test_seed_demo_adds_the_original_rule(
    client: Client, admin: Caller, settings: Settings, pool: asyncpg.Pool
) -> None:
    await demo.seed_demo(settings, pool)
    listed = expect_ok(await client.get(PRODUCTS, params={"q": "DEMO-ELEC-006"}, headers=admin.headers))["items"]
    [cable] = listed
    assert (cable["current_price"], cable["stock"]) == ("89.90", 50)
    await adjust(client, admin, cable, -45)  # what docs/repricing.md shows under `make run`
    assert await price_of(client, admin, cable) == "98.89"
    [event] = await events(client, admin, cable)
    assert (event["reason"], event["outcome"], event["stock_after"]) == ("low_stock", "applied", 5)


async def test_max_markup_percent_reaches_the_trigger(client: Client, admin: Caller, settings: Settings) -> None:
    await inventory_rule(client, admin, configuration={"low_adjust_percent": 50})
    product = await priced(client, admin, stock=11)
    marked = msgspec.structs.replace(settings, max_markup_percent=Decimal(20))
    assert settings.database_url is not None
    pool = await create_pool(settings.database_url, min_size=1, max_size=1, server_settings=marked.database_session())
    try:
        await catalog.adjust_stock(pool, uuid.UUID(product["id"]), StockAdjust(delta=-1, reason="x"), actor="a")
    finally:
        await pool.close()
    assert outcomes(await events(client, admin, product)) == [("low_stock", "clamped", "100.00", "120.00")]
