"""A live 3-line quote costs at most 1,000 bytes of Redis (docs/hot-path.md#stored-quotes-and-their-bytes).

Measured as an operator would: a private redis-server (nothing else in it), the store's own
writes (the group commit, with its dictionary trained on the deployment's first quotes, as in
production), and Redis's `used_memory` growth divided by the quotes stored — key, value, TTL and
Redis's own per-key overhead included, not just the payload. The quotes are priced by the real
engine under a typical configuration (delivery, express and regional fees, two tax rates, three
price rules, four commission rates, flags with an experiment, a coupon) over a 300-product
catalog, each basket different. `pytest -s` prints the figure (BENCHMARKS.md's headline row).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from decimal import Decimal
from pathlib import Path

import asyncpg
import msgspec
import pytest

from quote_service.cache.redis import create_redis
from quote_service.clock import utcnow
from quote_service.pricing.flags import Rollout, Variant
from quote_service.pricing.quote import Address, CatalogProduct, CustomerContext, Quote
from quote_service.pricing.rules import (
    DeliveryFeeConfig,
    ExpressFeeConfig,
    QuantityTier,
    QuantityTierConfig,
    RegionalFeeConfig,
    TaxRateConfig,
    UserTierConfig,
)
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.quotes import compact
from quote_service.quotes.store import QuoteStore
from tests.faults.private import PrivateRedis
from tests.unit.pricing.test_engine_support import coupon, flag, item, product, rate, request, rule, snapshot
from tests.unit.pricing.test_engine_support import quote as price
from tests.waiting import until

pytestmark = pytest.mark.slow

D = Decimal
CATEGORIES = ("electronics", "books", "home", "toys", "garden", "beauty")
CITIES = ("Istanbul", "Ankara", "Izmir", "Bursa")
MEASURED = 3000
MAKER = uuid.uuid4()
"""The API key that made every measured quote."""
BYTES_PER_LIVE_QUOTE = 1000


def typical_config() -> ConfigSnapshot:
    experiment = Rollout(variants=(Variant(key="a", weight=50, value="one"), Variant(key="b", weight=50, value="two")))
    return snapshot(
        rules=[
            rule(DeliveryFeeConfig(base_fee=D("12.00"), per_km=D("0.80"), max_fee=D("60.00")), name="delivery"),
            rule(ExpressFeeConfig(multiplier=D("1.8")), name="express"),
            rule(RegionalFeeConfig(amount=D("4.50")), name="istanbul-surcharge", region="Istanbul"),
            rule(TaxRateConfig(rate=D("20")), name="vat", region="TR"),
            rule(TaxRateConfig(rate=D("10")), name="vat-books", region="TR", category_id="books"),
            rule(UserTierConfig(tiers={"gold": D("-10"), "silver": D("-5")}), name="loyalty", priority=10),
            rule(
                QuantityTierConfig(tiers=(QuantityTier(min_quantity=3, adjust_percent=D("-3")),)),
                name="bulk",
                category_id="electronics",
            ),
        ],
        rates=[
            rate(category_id="electronics", rate=D("8"), currency="TRY"),
            rate(category_id="books", rate=D("12"), currency="TRY"),
            rate(seller_id="seller-7", rate=D("6"), priority=1, currency="TRY"),
            rate(logistics_provider="FastShip", rate=D("5"), currency="TRY"),
        ],
        flags=[flag("dynamic_pricing", True), flag("checkout_layout", "classic", rollout=experiment)],
        coupons=[coupon("SPRING10", max_discount=D("200.00"))],
    )


def catalog(rng: random.Random) -> list[CatalogProduct]:
    return [
        product(
            str(D(rng.randrange(500, 200_000)) / 100),
            category=CATEGORIES[n % len(CATEGORIES)],
            seller=f"seller-{n % 20}",
            currency="TRY",
        )
        for n in range(300)
    ]


def three_line_quotes(count: int, seed: int) -> list[Quote]:
    """`count` different 3-line baskets, priced now (valid for 15 minutes)."""
    rng, config, now = random.Random(seed), typical_config(), utcnow()
    products = catalog(rng)
    quotes = []
    for n in range(count):
        basket = request(
            *(item(p, rng.randint(1, 4)) for p in rng.sample(products, 3)),
            customer_id=f"customer-{n}",
            currency="TRY",
            delivery_address=Address(city=rng.choice(CITIES), country="TR", latitude=41.0, longitude=29.0),
            pickup_address=Address(city="Istanbul", country="TR", latitude=41.05, longitude=29.01),
            is_express_delivery=rng.random() < 0.5,
            coupon_codes=["SPRING10"] if rng.random() < 0.3 else [],
            logistics_provider="FastShip" if rng.random() < 0.5 else None,
        )
        customer = CustomerContext(customer_id=f"customer-{n}", tier=rng.choice((None, "gold", "silver")))
        quoted = price(basket, config=config, products=products, customer=customer, now=now)
        quotes.append(msgspec.structs.replace(quoted, quote_id=uuid.uuid4()))
    return quotes


async def test_a_live_three_line_quote_costs_at_most_1000_bytes_of_redis(
    private_redis: PrivateRedis, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    redis = create_redis(private_redis.url)
    store = QuoteStore(redis, pool, spool=tmp_path)
    first, measured = three_line_quotes(compact.MIN_SAMPLES, seed=1), three_line_quotes(MEASURED, seed=2)
    await store.start()
    try:
        for quote in first:  # the deployment's first quotes, stored while the dictionary is trained
            await store.put(quote, now=utcnow())
        await until(lambda: store.codec.dictionary_id is not None, "the store trained its dictionary")
        before = int((await redis.info("memory"))["used_memory"])
        for start in range(0, MEASURED, 100):  # 100 requests at a time share group commits, as under load
            # Stored as the service stores them: with their maker (17 bytes before the value).
            batch = measured[start : start + 100]
            await asyncio.gather(*(store.put(q, now=utcnow(), caller=("api_key", MAKER)) for q in batch))
        after = int((await redis.info("memory"))["used_memory"])
        json_bytes = sum(len(msgspec.json.encode(q)) for q in measured) / MEASURED
    finally:
        await store.stop()
        await redis.aclose()
    per_quote = (after - before) / MEASURED
    print(f"used_memory growth per live 3-line quote: {per_quote:.0f} B (its JSON: {json_bytes:.0f} B)")
    assert per_quote <= BYTES_PER_LIVE_QUOTE
