"""seed-demo's market: competitor observations for a few demo products, so a fresh `make run`
shows signals (an undercut, an anomaly, a competitor's price drop) and decisions to make (see
docs/market-intelligence.md).

Observation times are whole hours back from now: re-seeding within the hour stores nothing new
(the (product, competitor, observed_at) key), later it adds a fresh round, like a crawler would.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg

from quote_service.intelligence import repository
from quote_service.intelligence.schemas import ObservationRecord
from quote_service.intelligence.signal_rules import SignalEvaluator

# sku -> competitor -> (hours ago, price as a fraction of our price), oldest first.
DEMO_MARKET: dict[str, dict[str, list[tuple[int, str]]]] = {
    # A competitor 20 % below us: competitor_undercut; the decision moves the price down.
    "DEMO-ELEC-001": {
        "shopfast": [(2, "0.82"), (1, "0.81"), (0, "0.80")],
        "megamart": [(1, "0.96"), (0, "0.95")],
        "buynow": [(0, "1.00")],
    },
    # Everyone above us: the decision moves the price up (as far as the margin band allows).
    "DEMO-ELEC-007": {"shopfast": [(1, "1.10"), (0, "1.12")], "megamart": [(0, "1.15")]},
    # A steady competitor, then one odd price: price_anomaly.
    "DEMO-HOME-001": {
        "megamart": [(7, "1.00"), (6, "1.01"), (5, "0.99"), (4, "1.00"), (3, "1.01"), (2, "0.99"), (1, "1.00"),
                     (0, "1.40")],
    },
    # Four days ago the market sat at our price, now it is 16 % lower: competitor_price_drop
    # (the mean against the previous MARKET_WINDOW_HOURS window), no competitor 15 % below us.
    "DEMO-FASH-001": {"megamart": [(100, "1.03"), (1, "0.86")], "buynow": [(98, "1.05"), (0, "0.88")]},
}  # fmt: skip


async def seed_market(pool: asyncpg.Pool, *, now: datetime, window_hours: int) -> int:
    """Store the demo observations and raise their signals; returns the rows stored."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    stored = 0
    evaluator = SignalEvaluator(pool, window_hours=window_hours)
    async with pool.acquire() as conn:
        products = {
            row["sku"]: row
            for row in await conn.fetch(
                "SELECT id, sku, currency, current_price FROM products WHERE sku = any($1::text[])", list(DEMO_MARKET)
            )
        }
    for sku, competitors in DEMO_MARKET.items():
        product = products.get(sku)
        if product is None:
            continue
        for competitor, series in competitors.items():
            # One at a time, oldest first, as a crawler would send them (the anomaly rule compares
            # each observation with the ones before it).
            for hours_ago, fraction in series:
                record = ObservationRecord(
                    product_id=product["id"],
                    competitor=competitor,
                    price=(product["current_price"] * Decimal(fraction)).quantize(Decimal("0.01")),
                    currency=product["currency"].strip(),
                    observed_at=hour - timedelta(hours=hours_ago),
                )
                async with pool.acquire() as conn:
                    stored += len(await repository.insert_observations(conn, [record]))
        # Evaluate in time order so the anomaly compares the last price with the earlier ones.
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT product_id, competitor, price, currency, observed_at FROM competitor_prices
                   WHERE product_id = $1 ORDER BY observed_at""",
                product["id"],
            )
        latest = [
            ObservationRecord(
                product_id=r["product_id"],
                competitor=r["competitor"],
                price=r["price"],
                currency=r["currency"].strip(),
                observed_at=r["observed_at"],
            )
            for r in rows
            if r["observed_at"] == max(x["observed_at"] for x in rows if x["competitor"] == r["competitor"])
        ]
        await evaluator.observations_arrived(latest, now=now)
    return stored
