"""A bulk price write is not cut short by DB_STATEMENT_TIMEOUT: each price writes its audit row too,
and 10,000 of them took over 5 s on a loaded 2-core box (503 DEPENDENCY_UNAVAILABLE under the
default 5 s). Writes of more than 1,000 prices run their one statement under 60 s instead
(quote_service/price_lists/repository.py)."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from quote_service.price_lists.schemas import MAX_PRICES
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.price_lists.test_price_lists_api import LISTS, list_body, make_product
from tests.integration.quotes.test_quote_api import client_with

Client = AsyncTestClient[Litestar]


async def test_ten_thousand_prices_are_written_under_a_tight_statement_timeout(
    settings: Settings, admin: Caller, pool: asyncpg.Pool
) -> None:
    async with client_with(settings, db_statement_timeout=0.5) as tight:
        products = [await make_product(tight, admin) for _ in range(10)]
        prices = [
            {"product_id": products[n % 10], "amount": "12.50", "min_quantity": 1 + n // 10} for n in range(MAX_PRICES)
        ]
        created = expect_ok(await tight.post(LISTS, json=list_body(prices=prices), headers=admin.headers), 201)
        again = [{**price, "amount": "13.00"} for price in prices]
        path = f"{LISTS}/{created['id']}/prices"
        saved = expect_ok(await tight.put(path, json={"prices": again}, headers=admin.headers))
    assert (saved["upserted"], saved["price_count"]) == (MAX_PRICES, MAX_PRICES)
    amounts = await pool.fetch("SELECT DISTINCT amount FROM price_list_prices")
    assert [row["amount"] for row in amounts] == [Decimal("13.00")]
    assert await pool.fetchval("SHOW statement_timeout") != "1min"  # the longer limit stayed in its transaction
