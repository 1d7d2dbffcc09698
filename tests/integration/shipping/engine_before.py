"""Prices baskets with whatever `quote_service` is first on PYTHONPATH: run by test_demo_quotes_unchanged.py
with the source tree of the commit before shipments, so the quotes are the engine's from before.

Reads one JSON document on stdin, `{database_url, now, baskets: [[request, customer, quote_id], ...]}`, loads
the configuration snapshot and the catalog from that database with that tree's own loader, and writes each
basket's quote as JSON, one a line (a refusal: its error's class name). Imports nothing from the tests.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from quote_service.db.pool import create_pool
from quote_service.errors import ServiceError
from quote_service.pricing.engine import price_quote
from quote_service.pricing.quote import CatalogProduct, CustomerContext, EngineDefaults, QuoteRequest
from quote_service.snapshot.loader import load_snapshot

PRODUCTS = """SELECT id, currency, current_price, min_price, category_id, seller_id, is_active, prices_include_tax
              FROM products"""


async def load(url: str) -> tuple[Any, dict[str, CatalogProduct]]:
    pool = await create_pool(url, min_size=1, max_size=1)
    try:
        snapshot = await load_snapshot(pool)
        rows = await pool.fetch(PRODUCTS)
    finally:
        await pool.close()
    return snapshot, {str(r["id"]): CatalogProduct(**dict(r)) for r in rows}


def main() -> None:
    job = json.load(sys.stdin)
    snapshot, products = asyncio.run(load(job["database_url"]))
    now, defaults = datetime.fromisoformat(job["now"]), EngineDefaults()
    for request, customer, quote_id in job["baskets"]:
        wanted, who = msgspec.convert(request, QuoteRequest), msgspec.convert(customer, CustomerContext)
        found = {i.product_id: products[i.product_id] for i in wanted.items if i.product_id in products}
        try:
            quote = price_quote(
                wanted, snapshot=snapshot, products=found, flash={}, customer=who,
                defaults=defaults, now=now, quote_id=UUID(quote_id),
            )  # fmt: skip
        except ServiceError as error:
            sys.stdout.write(json.dumps([type(error).__name__]) + "\n")
            continue
        sys.stdout.write(msgspec.json.encode(quote).decode() + "\n")


if __name__ == "__main__":
    main()
