"""Pricing decisions end to end: dry run changes nothing, apply moves the price through the
price history (source `decision`), a stale apply is 409 PRICE_CHANGED, auto-apply; elasticity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from quote_service.config import Settings
from quote_service.intelligence.scheduler import DecisionScheduler
from quote_service.intelligence.service import Intelligence
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error
from tests.integration.intelligence.test_competitor_prices import NOW, make_product


async def market_at(pool: asyncpg.Pool, product_id: UUID, *prices: str) -> None:
    for i, price in enumerate(prices):
        await pool.execute(
            """INSERT INTO competitor_prices (product_id, competitor, price, currency, observed_at)
               VALUES ($1, $2, $3, 'USD', $4)""",
            product_id,
            f"c{i}",
            Decimal(price),
            NOW - timedelta(hours=1),
        )


async def run(client: AsyncTestClient[Litestar], admin: Caller, **body: object) -> list[dict[str, object]]:
    response = await client.post("/api/v1/decisions/run", json=body, headers=admin.headers)
    assert response.status_code == 200, response.text
    decisions: list[dict[str, object]] = response.json()["data"]
    return decisions


async def test_dry_run_changes_nothing(client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool) -> None:
    product_id = await make_product(pool, price="100", cost="80")
    await market_at(pool, product_id, "104", "106")
    decisions = await run(client, admin, product_ids=[str(product_id)], dry_run=True)
    assert len(decisions) == 1
    decision = decisions[0]
    assert decision["recommended_price"] == "104.00"  # mean 105 -> margin band cost 80 x 1.30 = 104
    assert decision["guardrails"] == ["margin_band"]
    assert decision["status"] == "proposed"
    assert decision["dry_run"] is True
    inputs = decision["inputs"]
    assert isinstance(inputs, dict)
    assert inputs["competitors"] == 2
    assert inputs["competitor_mean"] == "105.0000"
    assert await pool.fetchval("SELECT count(*) FROM pricing_decisions") == 0
    assert await pool.fetchval("SELECT current_price FROM products WHERE id = $1", product_id) == Decimal(100)


async def test_apply_moves_the_price_through_history(
    client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool
) -> None:
    product_id = await make_product(pool, price="100", cost="80")
    await market_at(pool, product_id, "104", "106")
    [decision] = await run(client, admin, product_ids=[str(product_id)])
    assert decision["status"] == "proposed"
    listed = await client.get(f"/api/v1/decisions?product_id={product_id}&status=proposed", headers=admin.headers)
    assert [d["id"] for d in listed.json()["data"]["items"]] == [decision["id"]]
    applied = await client.post(f"/api/v1/decisions/{decision['id']}/apply", headers=admin.headers)
    assert applied.status_code == 200, applied.text
    assert applied.json()["data"]["status"] == "applied"
    assert await pool.fetchval("SELECT current_price FROM products WHERE id = $1", product_id) == Decimal(104)
    history = await pool.fetchrow(
        "SELECT old_price, new_price, source, ref_id FROM price_history WHERE product_id = $1 ORDER BY id DESC LIMIT 1",
        product_id,
    )
    assert history is not None
    assert (history["old_price"], history["new_price"], history["source"]) == (Decimal(100), Decimal(104), "decision")
    assert str(history["ref_id"]) == decision["id"]
    # The product's quotes see the new price at once (the cache was told).
    product = await client.get(f"/api/v1/products/{product_id}", headers=admin.headers)
    assert product.json()["data"]["current_price"] == "104.00"
    again = await client.post(f"/api/v1/decisions/{decision['id']}/apply", headers=admin.headers)
    expect_error(again, 409, "CONFLICT")
    assert await pool.fetchval("SELECT count(*) FROM price_history WHERE source = 'decision'") == 1


async def test_stale_apply_is_price_changed(
    client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool
) -> None:
    product_id = await make_product(pool, price="100", cost="80")
    await market_at(pool, product_id, "104", "106")
    [decision] = await run(client, admin, product_ids=[str(product_id)])
    await pool.execute("SELECT move_price($1, 101, 'manual', 'edit', 'admin', NULL)", product_id)
    response = await client.post(f"/api/v1/decisions/{decision['id']}/apply", headers=admin.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "PRICE_CHANGED"
    assert await pool.fetchval("SELECT current_price FROM products WHERE id = $1", product_id) == Decimal(101)
    assert (
        await pool.fetchval("SELECT status FROM pricing_decisions WHERE id = $1", UUID(str(decision["id"])))
        == "rejected"
    )


async def test_auto_apply_and_skipped(client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool) -> None:
    moving = await make_product(pool, price="100", cost="80")
    await market_at(pool, moving, "95", "95")
    still = await make_product(pool, price="100", cost="80")
    await market_at(pool, still, "100.50")
    decisions = await run(client, admin, product_ids=[str(moving), str(still)], auto_apply=True)
    by_product = {d["product_id"]: d for d in decisions}
    assert by_product[str(moving)]["status"] == "applied"
    assert by_product[str(moving)]["recommended_price"] == "95.00"
    assert by_product[str(still)]["status"] == "skipped"
    assert await pool.fetchval("SELECT current_price FROM products WHERE id = $1", moving) == Decimal(95)
    assert await pool.fetchval("SELECT current_price FROM products WHERE id = $1", still) == Decimal(100)


async def test_unknown_product_is_404_and_decides_nothing(
    client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool
) -> None:
    known = await make_product(pool, price="100", cost="80")
    await market_at(pool, known, "95", "95")
    unknown = "00000000-0000-0000-0000-000000000001"
    response = await client.post(
        "/api/v1/decisions/run", json={"product_ids": [str(known), unknown], "auto_apply": True}, headers=admin.headers
    )
    body = expect_error(response, 404, "NOT_FOUND")
    assert unknown in body["message"]
    # The known product was not decided on either: no decision, no price move.
    assert await pool.fetchval("SELECT count(*) FROM pricing_decisions") == 0
    assert await pool.fetchval("SELECT current_price FROM products WHERE id = $1", known) == Decimal(100)
    missing = await client.post(f"/api/v1/decisions/{unknown}/apply", headers=admin.headers)
    expect_error(missing, 404, "NOT_FOUND")


async def test_elasticity_without_orders_says_why(
    client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool
) -> None:
    product_id = await make_product(pool)
    response = await client.get(f"/api/v1/analytics/elasticity/{product_id}", headers=admin.headers)
    data = response.json()["data"]
    assert data["elasticity"] is None
    assert data["points"] == 0
    assert "too few" in data["reason"]
    assert data["method"] == "log-log OLS"
    assert data["window_days"] == 90


async def test_the_schedule_runs_once_per_slot_across_processes(settings: Settings, pool: asyncpg.Pool) -> None:
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)
    product_id = await make_product(pool, price="100", cost="80")
    await market_at(pool, product_id, "95")
    at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    intelligence = Intelligence(settings, pool, redis)
    try:
        first = DecisionScheduler(intelligence, minutes=15, clock=lambda: at)
        second = DecisionScheduler(intelligence, minutes=15, clock=lambda: at + timedelta(minutes=5))
        assert await first.tick() is True
        assert await second.tick() is False  # same 15-minute slot: already run
        assert await DecisionScheduler(intelligence, minutes=15, clock=lambda: at + timedelta(minutes=15)).tick()
    finally:
        await redis.aclose()
    statuses = await pool.fetch("SELECT status, created_by FROM pricing_decisions")
    assert [(r["status"], r["created_by"]) for r in statuses] == [("proposed", "scheduler")] * 2
