"""seed-demo's market: competitor observations for a few demo products, so a fresh `make run`
shows signals (an undercut, an anomaly) and decisions to make (see docs/market-intelligence.md).

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

# sku -> competitor -> prices as fractions of our price, oldest first, one per hour.
DEMO_MARKET: dict[str, dict[str, list[str]]] = {
    # A competitor 20 % below us: competitor_undercut; the decision moves the price down.
    "DEMO-ELEC-001": {"shopfast": ["0.82", "0.81", "0.80"], "megamart": ["0.96", "0.95"], "buynow": ["1.00"]},
    # Everyone above us: the decision moves the price up (as far as the guardrails allow).
    "DEMO-ELEC-002": {"shopfast": ["1.10", "1.12"], "megamart": ["1.15"]},
    # A steady competitor, then one odd price: price_anomaly.
    "DEMO-HOME-001": {"megamart": ["1.00", "1.01", "0.99", "1.00", "1.01", "0.99", "1.00", "1.40"]},
}


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
        for competitor, fractions in competitors.items():
            # One at a time, oldest first, as a crawler would send them (the anomaly rule compares
            # each observation with the ones before it).
            for age, fraction in enumerate(reversed(fractions)):
                record = ObservationRecord(
                    product_id=product["id"],
                    competitor=competitor,
                    price=(product["current_price"] * Decimal(fraction)).quantize(Decimal("0.01")),
                    currency=product["currency"].strip(),
                    observed_at=hour - timedelta(hours=age),
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
