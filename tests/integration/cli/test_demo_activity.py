"""seed-demo's recent activity, read as the dashboard reads it: price moves of every source made
through the one price path, proposed decisions whose Apply works, open signals of several types,
a running campaign that moved its price, the running experiment; and nothing twice."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.cli import demo
from quote_service.cli.seed_demo import schedule_flash_sale
from quote_service.config import Settings
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok

Client = AsyncTestClient[Litestar]


async def get(client: Client, admin: Caller, path: str, **params: Any) -> Any:
    return expect_ok(await client.get(path, params=params, headers=admin.headers))


async def product(client: Client, admin: Caller, sku: str) -> dict[str, Any]:
    [found] = (await get(client, admin, "/api/v1/products", q=sku))["items"]
    return dict(found)


async def moves(client: Client, admin: Caller, sku: str) -> list[tuple[str | None, str, str]]:
    """(old, new, source) of the product's price history, oldest first."""
    item = await product(client, admin, sku)
    history = (await get(client, admin, f"/api/v1/products/{item['id']}/price-history"))["items"]
    return [(h["old_price"], h["new_price"], h["source"]) for h in reversed(history)]


async def test_seed_demo_gives_the_dashboard_moves_decisions_signals_and_a_campaign(
    client: Client, admin: Caller, settings: Settings, pool: asyncpg.Pool
) -> None:
    await demo.seed_demo(settings, pool)

    summary = await get(client, admin, "/api/v1/dashboard/summary")
    sources = {m["source"] for m in summary["recent_price_moves"] if m["old_price"] is not None}
    assert {"inventory", "campaign", "decision", "manual"} <= sources, summary["recent_price_moves"]
    # Each move is in its product's price history: the one price path wrote both.
    created = (None, "279.00", "manual")
    assert await moves(client, admin, "DEMO-HOME-006") == [created, ("279.00", "306.90", "inventory")]
    assert await moves(client, admin, "DEMO-GROC-002") == [
        (None, "459.00", "manual"),
        ("459.00", "413.10", "inventory"),
    ]
    assert (await moves(client, admin, "DEMO-GROC-003"))[-1] == ("299.00", "319.93", "manual")
    assert (await moves(client, admin, "DEMO-ELEC-007"))[-1] == ("2199.00", "2286.96", "decision")
    # 24 h, 20 %, target 240, no sales: each hour 1/(24 - h) of the way down to 1499.00 x 0.8.
    assert (await moves(client, admin, "DEMO-FASH-002"))[1:] == [
        ("1499.00", "1485.97", "campaign"),
        ("1485.97", "1472.94", "campaign"),
        ("1472.94", "1459.90", "campaign"),
    ]
    events = (await get(client, admin, "/api/v1/repricing/events"))["items"]
    assert {(e["reason"], e["outcome"], e["stock_after"]) for e in events} >= {
        ("low_stock", "applied", 8),
        ("high_stock", "applied", 115),
    }

    [campaign] = (await get(client, admin, "/api/v1/campaigns", status="active"))["items"]
    assert (campaign["name"], campaign["hours_elapsed"]) == ("demo-denim-days", 3)
    assert (campaign["base_price"], campaign["current_price"]) == ("1499.00", "1459.90")

    signals = (await get(client, admin, "/api/v1/signals", status="open"))["items"]
    assert {s["type"] for s in signals} >= {
        "competitor_undercut",
        "price_anomaly",
        "competitor_price_drop",
        "low_inventory",
    }

    experiment = await get(client, admin, "/api/v1/experiments/checkout_banner")
    assert experiment["status"] == "running"
    assert all(variant["exposures"] > 0 for variant in experiment["variants"])

    proposed = (await get(client, admin, "/api/v1/decisions", status="proposed"))["items"]
    assert len(proposed) == 3
    # The dashboard's Apply button: the decision's price becomes the product's.
    undercut = await product(client, admin, "DEMO-ELEC-001")
    [decision] = [d for d in proposed if d["product_id"] == undercut["id"]]
    assert (decision["old_price"], decision["recommended_price"]) == ("899.90", "824.91")
    path = f"/api/v1/decisions/{decision['id']}/apply"
    assert expect_ok(await client.post(path, headers=admin.headers))["status"] == "applied"
    assert (await product(client, admin, "DEMO-ELEC-001"))["current_price"] == "824.91"

    # The next demo flash sale (seed-demo again, an hour on) still starts: 20 % off the moved
    # price would be below the product's floor (719.92), so that item sells at the floor.
    scheduled = await schedule_flash_sale(settings)
    assert scheduled is not None
    sale = await get(client, admin, f"/api/v1/flash-sales/{scheduled[0]}")
    prices = {item["product_id"]: item["flash_price"] for item in sale["items"]}
    assert prices[undercut["id"]] == "719.92"
    assert prices[(await product(client, admin, "DEMO-ELEC-003"))["id"]] == "1039.20"  # 1299.00 - 20 %


async def test_seed_demo_twice_adds_no_second_activity(
    client: Client, admin: Caller, settings: Settings, pool: asyncpg.Pool
) -> None:
    first = await demo.seed_demo(settings, pool)
    assert first.activity.describe() != "already present"
    counts = """SELECT (SELECT count(*) FROM price_history), (SELECT count(*) FROM pricing_decisions),
                       (SELECT count(*) FROM campaigns), (SELECT count(*) FROM stock_movements)"""
    before = await pool.fetchrow(counts)
    again = await demo.seed_demo(settings, pool)
    assert again.activity.describe() == "already present"
    assert await pool.fetchrow(counts) == before


async def test_an_order_of_every_demo_product_and_its_cancel_move_no_price(
    client: Client, settings: Settings, pool: asyncpg.Pool
) -> None:
    """The seeded stock sits between the inventory rule's thresholds (10 and 100), not on them:
    one unit out and back in is no reason to reprice anything."""
    await demo.seed_demo(settings, pool)
    prices = "SELECT sku, current_price FROM products WHERE sku LIKE 'DEMO-%' ORDER BY sku"
    before = await pool.fetch(prices)
    ids = [row["id"] for row in await pool.fetch("SELECT id FROM products WHERE sku LIKE 'DEMO-%' ORDER BY sku")]
    username, password = demo.DEMO_USER
    login = expect_ok(await client.post("/api/v1/auth/token", json={"username": username, "password": password}))
    shopper = {"Authorization": f"Bearer {login['access_token']}"}
    me = expect_ok(await client.get("/api/v1/users/me", headers=shopper))
    basket = {
        "customer_id": me["id"],
        "currency": demo.DEMO_CURRENCY,
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "items": [{"product_id": str(product_id), "quantity": 1} for product_id in ids],
    }
    quote = expect_ok(await client.post("/api/v1/quote", json=basket, headers=shopper))
    order = expect_ok(
        await client.post(
            "/api/v1/orders",
            json={"quote_id": quote["quote_id"]},
            headers={**shopper, "Idempotency-Key": "demo-stock-order"},
        ),
        201,
    )
    cancelled = expect_ok(
        await client.post(
            f"/api/v1/orders/{order['id']}/cancel", json={}, headers={**shopper, "Idempotency-Key": "demo-stock-cancel"}
        )
    )

    assert cancelled["status"] == "cancelled"
    moved = {
        row["sku"]: (was["current_price"], row["current_price"])
        for was, row in zip(before, await pool.fetch(prices), strict=True)
        if was != row
    }
    assert moved == {}
