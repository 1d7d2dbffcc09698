"""The incremental demand job: demand_surge at its threshold (not below), low_inventory, orders
counted once whatever the number of passes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from quote_service.intelligence.demand import DemandJob
from quote_service.intelligence.signal_rules import SignalEvaluator
from tests.integration.intelligence.test_competitor_prices import make_product


async def quotes_for(pool: asyncpg.Pool, product_id: UUID, count: int, at: datetime) -> None:
    for i in range(count):
        await pool.execute(
            """INSERT INTO quote_log (quote_id, customer_id, currency, subtotal, discount_amount, tax_amount,
                                      delivery_fee, small_basket_fee, total_amount, total_commission, item_count,
                                      seller_commission, category_commission, logistics_commission,
                                      config_version, lines, created_at, valid_until)
               VALUES ($1, 'c', 'USD', 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, $2, $3, $3)""",
            uuid.uuid4(),
            [  # the quote log's compact lines: [product_id, category_id, seller_id, quantity, ...]
                [str(product_id), "c", "s", 1, "1", "1", "0", "catalog"],
                ["not-a-catalog-id", None, None, 1, "1", "1", "0", "request"],
            ],
            at - timedelta(seconds=i),
        )


async def test_demand_surge_at_the_threshold_and_low_inventory(pool: asyncpg.Pool) -> None:
    surging = await make_product(pool, stock=50)
    below = await make_product(pool, stock=50)
    low = await make_product(pool, stock=10)
    fine = await make_product(pool, stock=11)
    now = datetime.now(UTC)
    await quotes_for(pool, surging, 20, now - timedelta(minutes=10))
    await quotes_for(pool, below, 19, now - timedelta(minutes=10))
    job = DemandJob(pool, SignalEvaluator(pool, window_hours=72), clock=lambda: now, lag=timedelta(0))
    await job.tick()
    await job.tick()  # nothing new: nothing counted twice
    rows = await pool.fetch("SELECT product_id, type, severity FROM signals ORDER BY type")
    found = {(r["product_id"], r["type"]) for r in rows}
    assert found == {(surging, "demand_surge"), (low, "low_inventory")}
    assert fine not in {r["product_id"] for r in rows}
    assert await pool.fetchval("SELECT quotes FROM product_demand_hourly WHERE product_id = $1", surging) == 20
    # Stock back above the threshold: the signal resolves on the next pass.
    await pool.execute("UPDATE products SET stock = 40, updated_at = now() WHERE id = $1", low)
    later = datetime.now(UTC) + timedelta(seconds=1)
    await DemandJob(pool, SignalEvaluator(pool, window_hours=72), clock=lambda: later, lag=timedelta(0)).tick()
    assert await pool.fetchval("SELECT status FROM signals WHERE product_id = $1", low) == "resolved"
