"""seed-demo's market: observations for demo products, the signals they raise (and the stock one)."""

from __future__ import annotations

import asyncpg

from quote_service.cli import demo
from quote_service.cli.demo_market import seed_market
from quote_service.clock import utcnow
from quote_service.config import Settings


async def test_seed_demo_shows_signals_and_a_decision(settings: Settings, pool: asyncpg.Pool) -> None:
    await demo.seed_demo(settings, pool)
    signals = await pool.fetch(
        """SELECT p.sku, s.type FROM signals s JOIN products p ON p.id = s.product_id
           WHERE s.status = 'open' ORDER BY 1, 2"""
    )
    assert [(r["sku"], r["type"]) for r in signals] == [
        ("DEMO-ELEC-001", "competitor_undercut"),
        ("DEMO-FASH-001", "competitor_price_drop"),  # the mean four days ago against today's
        ("DEMO-HOME-001", "price_anomaly"),
        ("DEMO-HOME-006", "low_inventory"),  # seed-demo's activity sold it down to 8
    ]
    # The demo's own observations (the generated two-week history adds more for its GEN- products).
    stored = await pool.fetchval(
        "SELECT count(*) FROM competitor_prices c JOIN products p ON p.id = c.product_id WHERE p.sku LIKE 'DEMO-%'"
    )
    assert stored == 21
    # Seeding again within the hour adds nothing.
    assert await seed_market(pool, now=utcnow(), window_hours=72) == 0
