"""A catalog without offers quotes byte for byte as before offers existed (docs/offers.md#a-catalog-without-offers):
a differential test over the demo's quotes.

The demo (seed-demo, its offers included) is priced the way the quote service prices a basket (the offers
chosen from the snapshot, then the engine, then the lines marked with their offers) and by the engine of
BEFORE_OFFERS, the last commit without offers, its source taken from git history and run in a process of its
own on the same database (tests/integration/shipping/engine_before.py). With the demo's offers on, the
baskets holding an offered product change (their lines carry `offer_id`), so the comparison is not empty;
with every offer switched off, every quote's JSON must be the same bytes as the engine before."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import pytest

from quote_service.cli import demo
from quote_service.cli.demo_offers import DEMO_OFFERS
from quote_service.config import Settings
from quote_service.errors import ServiceError
from quote_service.pricing.engine import price_quote, region_for
from quote_service.pricing.offers import choose_offers, with_offers
from quote_service.pricing.quote import CatalogProduct, CustomerContext, EngineDefaults, QuoteRequest
from quote_service.snapshot.loader import load_snapshot
from tests.integration.shipping import test_demo_quotes_unchanged as differential

pytestmark = pytest.mark.slow  # seeds the whole demo: in `make test`, not the unit loop

BEFORE_OFFERS = "b34fe70de4c2de14c649bb71fe04510991124043"
"""The last commit before offers (its engine is the one quotes had)."""
PRODUCTS = """SELECT id, currency, current_price, min_price, category_id, seller_id, is_active, prices_include_tax
              FROM products"""
"""As engine_before.py reads them (so both sides weigh the same)."""


async def priced_as_served(pool: asyncpg.Pool, work: list[list[Any]]) -> list[bytes]:
    """Each basket priced as QuoteService.quote prices it: offers chosen only when the snapshot has some."""
    snapshot = await load_snapshot(pool)
    products = {str(r["id"]): CatalogProduct(**dict(r)) for r in await pool.fetch(PRODUCTS)}
    answers, defaults = [], EngineDefaults()
    for request, customer, quote_id in work:
        wanted, who = msgspec.convert(request, QuoteRequest), msgspec.convert(customer, CustomerContext)
        found = {i.product_id: products[i.product_id] for i in wanted.items if i.product_id in products}
        try:
            region = region_for(wanted, snapshot=snapshot, defaults=defaults, now=differential.NOW)
            choices = None
            if snapshot.offers is not None:
                choices = choose_offers(wanted, found, snapshot.offers, region, snapshot.shipping)
            quote = price_quote(
                wanted, snapshot=snapshot, products=found, flash={}, customer=who, defaults=defaults,
                now=differential.NOW, quote_id=UUID(quote_id), region=region, offers=choices,
            )  # fmt: skip
            if choices is not None:
                quote = msgspec.structs.replace(quote, items=with_offers(quote.items, wanted, choices))
        except ServiceError as error:
            answers.append(json.dumps([type(error).__name__]).encode())
            continue
        answers.append(msgspec.json.encode(quote))
    return answers


async def test_demo_quotes_without_offers_are_byte_for_byte_the_engines_before_offers(
    settings: Settings, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    await demo.seed_demo(settings, pool)
    assert settings.database_url is not None
    assert await pool.fetchval("SELECT count(*) FROM offers WHERE is_active") == sum(map(len, DEMO_OFFERS.values()))
    ids = [str(row["id"]) for row in await pool.fetch("SELECT id FROM products WHERE sku LIKE 'DEMO-%'")]
    everywhere = differential.baskets(ids, tuple(differential.PLACES), 200)

    with_demo_offers = await priced_as_served(pool, everywhere)
    assert sum(b'"offer_selection":' in quote for quote in with_demo_offers) >= 10, "the demo's offers are chosen"

    await pool.execute("UPDATE offers SET is_active = false")
    without = await priced_as_served(pool, everywhere)
    assert not any(b'"offer_' in quote for quote in without)
    monkeypatch.setattr(differential, "BEFORE_SHIPMENTS", BEFORE_OFFERS)
    assert without == differential.priced_before(settings.database_url, everywhere)
    assert without != with_demo_offers
