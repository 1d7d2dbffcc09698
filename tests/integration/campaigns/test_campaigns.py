"""Campaigns over HTTP with a simulated service clock: the hourly formula, the end, the scheduler."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.cache.products import ProductCache
from quote_service.cache.redis import create_redis
from quote_service.campaigns.service import Campaigns
from quote_service.config import Settings
from quote_service.db.pool import create_pool
from tests.integration.catalog.test_catalog import PRODUCTS, create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.waiting import until

Client = AsyncTestClient[Litestar]
CAMPAIGNS = "/api/v1/campaigns"


class SimClock:
    """The service clock, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, hours: float) -> None:
        self.now += timedelta(hours=hours)


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture
async def app(settings: Settings, clock: SimClock) -> Litestar:
    # The background scheduler stays out of the way: the tests tick when they mean to.
    return create_app(msgspec.structs.replace(settings, campaign_scheduler_interval=3600.0), clock=clock)


@pytest.fixture
async def ticker(settings: Settings, pool: asyncpg.Pool, clock: SimClock) -> AsyncIterator[Campaigns]:
    """Campaign ticks as another process's scheduler makes them (the app runs on its own loop)."""
    redis = create_redis(settings.redis_url or "")
    yield Campaigns(pool, clock=clock, prices_moved=ProductCache(redis, pool).invalidate)
    await redis.aclose()


async def product(client: Client, admin: Caller, **fields: Any) -> dict[str, Any]:
    """A TRY product at 100.00 (min 10.00) with plenty of stock."""
    defaults = {"base_price": "100.00", "min_price": "10.00", "cost_price": "5.00", "stock": 10_000}
    return await create_product(client, admin, **{**defaults, **fields})


async def start(client: Client, admin: Caller, product_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "name": f"C-{uuid.uuid4().hex[:8]}",
        "product_id": product_id,
        "duration_hours": 5,
        "price_manipulation_limit": 20,
        "target_sales_count": 100,
        **fields,
    }
    return expect_ok(await client.post(CAMPAIGNS, json=body, headers=admin.headers), 201)  # type: ignore[no-any-return]


async def buy(client: Client, shopper: Caller, product_id: str, quantity: int) -> dict[str, Any]:
    body = {
        "customer_id": str(shopper.id),
        "items": [{"product_id": product_id, "quantity": quantity}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "currency": "TRY",
    }
    quote = expect_ok(await client.post("/api/v1/quote", json=body, headers=shopper.headers))
    headers = {**shopper.headers, "Idempotency-Key": uuid.uuid4().hex}
    expect_ok(await client.post("/api/v1/orders", json={"quote_id": quote["quote_id"]}, headers=headers), 201)
    return quote  # type: ignore[no-any-return]


async def info(client: Client, admin: Caller, name: str) -> dict[str, Any]:
    return expect_ok(await client.get(f"{CAMPAIGNS}/{name}", headers=admin.headers))  # type: ignore[no-any-return]


async def hours(ticker: Campaigns, clock: SimClock, count: int) -> None:
    clock.advance(count)
    await ticker.tick()


async def quoted_price(client: Client, shopper: Caller, product_id: str, expected: str) -> str:
    """The unit price quoted for one unit, once the quoting process has heard of `expected` (2 s at most)."""
    body = {
        "customer_id": str(shopper.id),
        "items": [{"product_id": product_id, "quantity": 1}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "currency": "TRY",
    }

    async def price() -> str | None:
        quote = expect_ok(await client.post("/api/v1/quote", json=body, headers=shopper.headers))
        found: str = quote["items"][0]["unit_price"]
        return found if found == expected else None

    return await until(price, f"the quote shows {expected}", within=2)


async def test_no_sales_lower_the_price_to_its_bound_and_the_end_restores_it(
    client: Client, admin: Caller, ticker: Campaigns, clock: SimClock
) -> None:
    item = await product(client, admin)
    campaign = await start(client, admin, item["id"])
    assert (campaign["status"], campaign["base_price"], campaign["current_price"]) == ("active", "100.00", "100.00")
    assert campaign["started_at"] == "2026-03-01T00:00:00Z"
    assert campaign["ends_at"] == "2026-03-01T05:00:00Z"
    assert campaign["average_item_price"] is None
    seen = []
    for _ in range(5):
        await hours(ticker, clock, 1)
        now = await info(client, admin, campaign["name"])
        seen.append((now["current_price"], now["hours_elapsed"], now["status"]))
    assert seen == [
        ("95.00", 1, "active"),
        ("90.00", 2, "active"),
        ("85.00", 3, "active"),
        ("80.00", 4, "active"),
        ("100.00", 5, "ended"),
    ]
    ended = await info(client, admin, campaign["name"])
    assert ended["ended_at"] == "2026-03-01T05:00:00Z"
    history = expect_ok(await client.get(f"{PRODUCTS}/{item['id']}/price-history", headers=admin.headers))["items"]
    assert [(h["new_price"], h["source"], h["ref_id"]) for h in history[:5]] == [
        (price, "campaign", campaign["id"]) for price in ("100.00", "80.00", "85.00", "90.00", "95.00")
    ]


async def test_sales_above_target_raise_the_price_and_on_target_hold_it(
    client: Client, admin: Caller, shopper: Caller, ticker: Campaigns, clock: SimClock
) -> None:
    hot = await product(client, admin)
    even = await product(client, admin)
    hot_campaign = await start(client, admin, hot["id"])
    even_campaign = await start(client, admin, even["id"])
    await buy(client, shopper, hot["id"], 30)  # 30 in hour 1 against 20 expected
    await buy(client, shopper, even["id"], 20)  # exactly 20
    await hours(ticker, clock, 1)
    assert (await info(client, admin, hot_campaign["name"]))["current_price"] == "105.00"
    assert (await info(client, admin, even_campaign["name"]))["current_price"] == "100.00"
    # Quotes sell at the campaign's price.
    assert await quoted_price(client, shopper, hot["id"], "105.00") == "105.00"
    quote = await buy(client, shopper, hot["id"], 10)  # 40 by hour 2: on target
    assert quote["items"][0]["unit_price"] == "105.00"
    await hours(ticker, clock, 1)
    hot_now = await info(client, admin, hot_campaign["name"])
    assert hot_now["current_price"] == "105.00"
    assert (hot_now["total_sales"], hot_now["turnover"], hot_now["average_item_price"]) == (40, "4050.00", "101.25")


async def test_only_orders_while_active_count(
    client: Client, admin: Caller, shopper: Caller, ticker: Campaigns, clock: SimClock
) -> None:
    item = await product(client, admin)
    await buy(client, shopper, item["id"], 7)  # before
    campaign = await start(client, admin, item["id"], duration_hours=2)
    await buy(client, shopper, item["id"], 3)
    await hours(ticker, clock, 2)  # ended
    await buy(client, shopper, item["id"], 5)  # after
    ended = await info(client, admin, campaign["name"])
    assert (ended["status"], ended["total_sales"], ended["turnover"]) == ("ended", 3, "300.00")


async def test_ending_early_restores_the_base_price_once(
    client: Client, admin: Caller, ticker: Campaigns, clock: SimClock
) -> None:
    item = await product(client, admin)
    campaign = await start(client, admin, item["id"])
    await hours(ticker, clock, 2)
    clock.advance(0.5)
    ended = expect_ok(await client.post(f"{CAMPAIGNS}/{campaign['name']}/end", headers=admin.headers))
    assert (ended["status"], ended["current_price"], ended["hours_elapsed"]) == ("ended", "100.00", 2)
    assert ended["ended_at"] == "2026-03-01T02:30:00Z"
    expect_error(
        await client.post(f"{CAMPAIGNS}/{campaign['name']}/end", headers=admin.headers), 409, "CAMPAIGN_NOT_ACTIVE"
    )
    await hours(ticker, clock, 5)  # an ended campaign never moves again
    assert (await info(client, admin, campaign["name"]))["current_price"] == "100.00"
    expect_error(await client.post(f"{CAMPAIGNS}/nope/end", headers=admin.headers), 404, "NOT_FOUND")


async def test_missed_hours_are_caught_up_in_order(
    client: Client, admin: Caller, ticker: Campaigns, clock: SimClock, pool: asyncpg.Pool
) -> None:
    item = await product(client, admin)
    campaign = await start(client, admin, item["id"])
    clock.advance(3.5)  # the service was down for three and a half hours
    moves = await ticker.tick()
    assert [(name, move.hour, str(move.price)) for name, move in moves] == [
        (campaign["name"], 1, "95.00"),
        (campaign["name"], 2, "90.00"),
        (campaign["name"], 3, "85.00"),
    ]
    async with pool.acquire() as conn:
        prices = await conn.fetch("SELECT new_price FROM price_history WHERE source = 'campaign' ORDER BY id")
    assert [str(p["new_price"]) for p in prices] == ["95.0000", "90.0000", "85.0000"]
    assert await ticker.tick() == []


async def test_two_schedulers_ticking_at_once_move_each_hour_once(
    client: Client, admin: Caller, settings: Settings, clock: SimClock
) -> None:
    items = [await product(client, admin) for _ in range(3)]
    for item in items:
        await start(client, admin, item["id"])
    clock.advance(4)
    assert settings.database_url is not None
    pools = [await create_pool(settings.database_url, min_size=1, max_size=3) for _ in range(2)]
    try:
        first, second = (Campaigns(p, clock=clock) for p in pools)
        made = await asyncio.gather(first.tick(), second.tick(), first.tick(), second.tick())
    finally:
        for p in pools:
            await p.close()
    applied = sorted((name, move.hour) for moves in made for name, move in moves)
    assert len(applied) == len(set(applied)) == 12  # 3 campaigns x 4 hours, none twice
    for item in items:
        assert (await client.get(f"{PRODUCTS}/{item['id']}", headers=admin.headers)).json()["data"][
            "current_price"
        ] == "80.00"


async def test_one_active_campaign_per_product(
    client: Client, admin: Caller, ticker: Campaigns, clock: SimClock
) -> None:
    item = await product(client, admin)
    first = await start(client, admin, item["id"], duration_hours=1)
    body = {"name": "second", "product_id": item["id"], "duration_hours": 3, "price_manipulation_limit": 10,
            "target_sales_count": 5}  # fmt: skip
    expect_error(await client.post(CAMPAIGNS, json=body, headers=admin.headers), 409, "CAMPAIGN_OVERLAP")
    expect_error(
        await client.post(CAMPAIGNS, json={**body, "name": first["name"]}, headers=admin.headers), 409, "DUPLICATE_KEY"
    )
    await hours(ticker, clock, 1)  # the first one ends
    expect_ok(await client.post(CAMPAIGNS, json=body, headers=admin.headers), 201)
    active = expect_ok(await client.get(CAMPAIGNS, params={"status": "active"}, headers=admin.headers))["items"]
    assert [c["name"] for c in active] == ["second"]


# --- prior price (docs/markets.md#prior-price-for-announced-reductions) -----------------------------


async def shown_price(client: Client, admin: Caller, product_ids: list[str], expected: str) -> list[dict[str, Any]]:
    """POST /prices for the products once the first shows `expected` (the move heard, 2 s at most)."""
    body = {"product_ids": product_ids, "currency": "TRY"}

    async def prices() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = expect_ok(await client.post("/api/v1/prices", json=body, headers=admin.headers))[
            "items"
        ]
        return items if items[0]["price"] == expected else None

    return await until(prices, f"the first price shows {expected}", within=2)


async def quote_line(client: Client, shopper: Caller, product_id: str) -> dict[str, Any]:
    body = {
        "customer_id": str(shopper.id),
        "items": [{"product_id": product_id, "quantity": 1}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "currency": "TRY",
    }
    line: dict[str, Any] = expect_ok(await client.post("/api/v1/quote", json=body, headers=shopper.headers))["items"][0]
    return line


async def test_a_campaign_reduction_shows_the_lowest_price_of_the_30_days_before_it_began(
    client: Client, admin: Caller, shopper: Caller, ticker: Campaigns, clock: SimClock, pool: asyncpg.Pool
) -> None:
    item, other = await product(client, admin), await product(client, admin)
    # its history: 70.00 was replaced before the 30 days; 88.00 was in force when they began
    for ago, price in [(50, "70.00"), (40, "88.00"), (20, "95.00"), (10, "100.00")]:
        await pool.execute(
            """INSERT INTO price_history (product_id, old_price, new_price, reason, source, actor, changed_at)
               VALUES ($1, NULL, $2, 'test', 'manual', 'test', now() - make_interval(days => $3))""",
            uuid.UUID(item["id"]), Decimal(price), ago,
        )  # fmt: skip
    campaign = await start(client, admin, item["id"])
    assert campaign["base_price"] == "100.00"
    # no sales: the first hour lowers 100.00 to 95.00, the second to 90.00
    await hours(ticker, clock, 1)
    await hours(ticker, clock, 1)
    assert await quoted_price(client, shopper, item["id"], "90.00") == "90.00"
    began = await pool.fetchval(
        "SELECT min(changed_at) FROM price_history WHERE ref_id = $1 AND source = 'campaign'",
        uuid.UUID(campaign["id"]),
    )

    reduced, regular = await shown_price(client, admin, [item["id"], other["id"]], "90.00")

    assert (reduced["price"], reduced["prior_price"]) == ("90.00", "88.00")
    assert datetime.fromisoformat(reduced["reduction_started_at"]) == began
    assert (regular["price"], regular["prior_price"], regular["reduction_started_at"]) == ("100.00", None, None)
    line = await quote_line(client, shopper, item["id"])
    assert (line["prior_price"], datetime.fromisoformat(line["reduction_started_at"])) == ("88.00", began)
    untouched = await quote_line(client, shopper, other["id"])
    assert "prior_price" not in untouched
    assert "reduction_started_at" not in untouched

    expect_ok(await client.post(f"{CAMPAIGNS}/{campaign['name']}/end", headers=admin.headers))

    [ended] = await shown_price(client, admin, [item["id"]], "100.00")
    assert (ended["price"], ended["prior_price"], ended["reduction_started_at"]) == ("100.00", None, None)
    line = await quote_line(client, shopper, item["id"])
    assert "prior_price" not in line
    assert "reduction_started_at" not in line


async def test_a_campaign_that_raised_the_price_is_no_reduction(
    client: Client, admin: Caller, shopper: Caller, ticker: Campaigns, clock: SimClock
) -> None:
    item = await product(client, admin)
    campaign = await start(client, admin, item["id"], target_sales_count=5)
    await buy(client, shopper, item["id"], 5)  # far above target: the price goes up
    await hours(ticker, clock, 1)
    assert (await info(client, admin, campaign["name"]))["current_price"] == "105.00"

    [shown] = await shown_price(client, admin, [item["id"]], "105.00")

    assert (shown["price"], shown["prior_price"], shown["reduction_started_at"]) == ("105.00", None, None)
    assert "prior_price" not in await quote_line(client, shopper, item["id"])


async def test_a_campaign_that_ends_on_its_own_leaves_no_reduction(
    client: Client, admin: Caller, shopper: Caller, ticker: Campaigns, clock: SimClock
) -> None:
    item = await product(client, admin)
    await start(client, admin, item["id"], duration_hours=2)
    await hours(ticker, clock, 1)  # no sales: straight to the bound
    [reduced] = await shown_price(client, admin, [item["id"]], "80.00")
    assert (reduced["price"], reduced["prior_price"]) == ("80.00", "100.00")  # its price since it was created

    await hours(ticker, clock, 1)  # the last hour: back to the base

    [ended] = await shown_price(client, admin, [item["id"]], "100.00")
    assert (ended["price"], ended["prior_price"], ended["reduction_started_at"]) == ("100.00", None, None)
    assert "reduction_started_at" not in await quote_line(client, shopper, item["id"])
