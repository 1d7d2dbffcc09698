"""seed-demo's price lists: a B2B list (TRY, group `b2b`, a tier from 10 units) and a euro list
for the web shop, tax-inclusive as EU shelf prices are, over the demo catalog (docs/price-lists.md,
docs/markets.md)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import asyncpg

from quote_service.price_lists import service
from quote_service.price_lists.schemas import PriceIn, PriceListCreate

DEMO_B2B = "Demo B2B"
DEMO_EUR_WEB = "Demo EU web"
_TRY_PER_EUR = Decimal(35)
"""A fixed demo rate: the euro list is the TRY price / 35, on the cent, taken as a gross price."""


async def seed_price_lists(pool: asyncpg.Pool) -> bool:
    """Create both demo lists once (the B2B list's name marks it done); False when already there."""
    async with pool.acquire() as conn:
        if await conn.fetchval("SELECT 1 FROM price_lists WHERE name = $1", DEMO_B2B):
            return False
        products = await conn.fetch(
            "SELECT id, current_price FROM products WHERE sku LIKE 'DEMO-%' AND currency = 'TRY' ORDER BY sku"
        )
    if not products:
        return False
    cent = Decimal("0.01")
    b2b = [
        PriceIn(
            product_id=str(row["id"]),
            amount=(row["current_price"] * factor).quantize(cent, ROUND_HALF_UP),
            min_quantity=q,
        )
        for row in products
        for q, factor in ((1, Decimal("0.90")), (10, Decimal("0.85")))
    ]
    euros = [
        PriceIn(product_id=str(row["id"]), amount=(row["current_price"] / _TRY_PER_EUR).quantize(cent, ROUND_HALF_UP))
        for row in products
    ]
    lists = (
        PriceListCreate(name=DEMO_B2B, currency="TRY", customer_groups=["b2b"], priority=10, prices=b2b),
        PriceListCreate(name=DEMO_EUR_WEB, currency="EUR", channels=["web"], prices=euros, prices_include_tax=True),
    )
    for price_list in lists:
        await service.create_price_list(pool, price_list, actor="seed-demo")
    return True
