"""Benchmark of the pure quote engine: microseconds per 3-item quote under a typical configuration.

    .venv/bin/python loadtests/bench_engine.py [--quotes 2000] [--rounds 15] [--targeting]

The configuration: 5 commission rates (category, seller, regional, default-less, logistics),
10 pricing rules (delivery with bands, express, regional, free delivery, small basket, two tax
rates, time window, quantity tier, user tier), 3 flags (dynamic pricing, a 50 % rollout of the
express multiplier, a 2-arm experiment) and one coupon. The basket: two catalog products (one
with a flash offer) and one client-priced item, express delivery with coordinates, one coupon.
Two workloads: the same basket every time (every memoized lookup warm), and a different basket
each time (2000 baskets over a 300-product catalog, five cities, random quantities, tiers,
coordinates, coupons and express; the first round warms what can be warmed). `--targeting` adds
a fourth flag with two targeting rules (customer_tier in [gold, silver], subtotal gte 100): what
rules cost; without it no flag has rules, the quote path's everyday case.
Prints the median and the spread (min, max) of the per-round means, in microseconds per quote,
wall clock and this process's CPU time (on a shared box the CPU figure moves far less with the
neighbours' load; compare two trees with alternating runs in one sitting).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quote_service.pricing.commission import CommissionRate
from quote_service.pricing.coupons import Coupon
from quote_service.pricing.engine import price_quote
from quote_service.pricing.flags import FeatureFlag, Rollout, Variant
from quote_service.pricing.quote import (
    Address,
    CatalogProduct,
    CustomerContext,
    EngineDefaults,
    FlashOffer,
    QuoteItemIn,
    QuoteRequest,
)
from quote_service.pricing.rules import (
    DeliveryFeeConfig,
    DistanceBand,
    ExpressFeeConfig,
    FreeDeliveryConfig,
    PricingRule,
    QuantityTier,
    QuantityTierConfig,
    RegionalFeeConfig,
    RuleConfig,
    SmallBasketConfig,
    TaxRateConfig,
    TimeWindowConfig,
    UserTierConfig,
)
from quote_service.pricing.snapshot import ConfigSnapshot

NOW = datetime(2025, 6, 2, 18, 30, tzinfo=UTC)
SINCE = NOW - timedelta(days=30)
D = Decimal


def _rule(name: str, config: RuleConfig, **fields: object) -> PricingRule:
    rule_type = type(config).__struct_config__.tag
    assert isinstance(rule_type, str)
    return PricingRule(
        id=uuid4(),
        name=name,
        version=1,
        type=rule_type,  # type: ignore[arg-type]
        configuration=config,
        effective_from=SINCE,
        **fields,  # type: ignore[arg-type]
    )


def _rate(**fields: object) -> CommissionRate:
    values: dict[str, object] = {
        "id": uuid4(),
        "commission_type": "PERCENTAGE",
        "rate": D("10"),
        "currency": "TRY",
        "effective_from": SINCE,
        "created_at": SINCE,
    }
    values.update(fields)
    return CommissionRate(**values)  # type: ignore[arg-type]


def targeted_flag() -> FeatureFlag:
    """A flag with two targeting rules (imported here: older trees compared with this script have none)."""
    from quote_service.pricing.targeting import TargetingRule

    rules = (
        TargetingRule(attribute="customer_tier", operator="in", values=("gold", "silver")),
        TargetingRule(attribute="subtotal", operator="gte", values=(100,)),
    )
    return FeatureFlag(
        key="loyal_big_baskets",
        type="BOOLEAN",
        value=True,
        default_value=False,
        is_enabled=True,
        rollout=Rollout(rules=rules),
    )


def typical_snapshot(targeting: bool = False) -> ConfigSnapshot:
    """A configuration with a bit of everything, as a small marketplace would run."""
    rules = [
        _rule(
            "delivery",
            DeliveryFeeConfig(
                base_fee=D("12.00"),
                per_km=D("0.80"),
                max_fee=D("60.00"),
                distance_bands=(
                    DistanceBand(max_km=D("5"), fee=D("9.90")),
                    DistanceBand(max_km=D("15"), fee=D("19.90")),
                ),
            ),
        ),
        _rule("express", ExpressFeeConfig(multiplier=D("1.8"), distance_factor=D("0.25"), max_fee=D("90.00"))),
        _rule("istanbul-surcharge", RegionalFeeConfig(amount=D("4.50")), region="Istanbul"),
        _rule("free-over-1500", FreeDeliveryConfig(min_subtotal=D("1500.00"))),
        _rule("small-basket", SmallBasketConfig(threshold=D("100.00"), fee=D("7.50"))),
        _rule("vat", TaxRateConfig(rate=D("20")), region="TR"),
        _rule("vat-books", TaxRateConfig(rate=D("10")), region="TR", category_id="books"),
        _rule("evening", TimeWindowConfig(adjust_percent=D("-5"), start_time="18:00", end_time="22:00"), priority=5),
        _rule(
            "bulk",
            QuantityTierConfig(
                tiers=(
                    QuantityTier(min_quantity=3, adjust_percent=D("-3")),
                    QuantityTier(min_quantity=10, adjust_percent=D("-8")),
                )
            ),
            category_id="electronics",
        ),
        _rule("loyalty", UserTierConfig(tiers={"gold": D("-10"), "silver": D("-5")}), priority=10),
    ]
    rates = [
        _rate(category_id="electronics", rate=D("8")),
        _rate(category_id="books", rate=D("12")),
        _rate(seller_id="seller-7", rate=D("6"), priority=1),
        _rate(category_id="electronics", region="Istanbul", rate=D("7.5")),
        _rate(logistics_provider="FastShip", rate=D("5")),
    ]
    flags = [
        FeatureFlag(key="dynamic_pricing", type="BOOLEAN", value=True, default_value=False, is_enabled=True),
        FeatureFlag(
            key="express_delivery_multiplier",
            type="NUMBER",
            value=D("1.5"),
            default_value=None,
            is_enabled=True,
            rollout=Rollout(percentage=D("50")),
        ),
        FeatureFlag(
            key="checkout_layout",
            type="STRING",
            value="classic",
            default_value="classic",
            is_enabled=True,
            rollout=Rollout(
                variants=(Variant(key="a", weight=50, value="one"), Variant(key="b", weight=50, value="two"))
            ),
        ),
    ]
    coupons = [
        Coupon(
            code="SPRING10",
            type="PERCENTAGE",
            value=D("10"),
            max_discount=D("200.00"),
            currency="TRY",
            valid_from=SINCE,
        )
    ]
    if targeting:
        flags.append(targeted_flag())
    return ConfigSnapshot.build(version=7, rates=rates, rules=rules, flags=flags, coupons=coupons)


PHONE, NOVEL = UUID(int=1), UUID(int=2)
PRODUCTS = {
    str(PHONE): CatalogProduct(
        id=PHONE,
        currency="TRY",
        current_price=D("899.90"),
        min_price=D("700.00"),
        category_id="electronics",
        seller_id="seller-7",
        is_active=True,
    ),
    str(NOVEL): CatalogProduct(
        id=NOVEL,
        currency="TRY",
        current_price=D("129.50"),
        min_price=D("90.00"),
        category_id="books",
        seller_id="seller-2",
        is_active=True,
    ),
}
FLASH = {
    str(NOVEL): FlashOffer(
        flash_sale_id=UUID(int=9),
        product_id=NOVEL,
        flash_price=D("99.00"),
        remaining_stock=40,
        customer_remaining_limit=1,
    )
}
REQUEST = QuoteRequest(
    customer_id="customer-42",
    seller_id="seller-2",
    items=[
        QuoteItemIn(product_id=str(PHONE), quantity=3),
        QuoteItemIn(product_id=str(NOVEL), quantity=2),
        QuoteItemIn(product_id="gift-wrap", quantity=1, unit_price=D("24.90"), category_id="services"),
    ],
    delivery_address=Address(city="Istanbul", country="TR", latitude=41.0082, longitude=28.9784),
    pickup_address=Address(city="Istanbul", country="TR", latitude=41.0766, longitude=29.0122),
    is_express_delivery=True,
    coupon_codes=["spring10"],
    currency="TRY",
    logistics_provider="FastShip",
)
CUSTOMER = CustomerContext(customer_id="customer-42", tier="gold", segment="loyal")


_DEFAULTS = EngineDefaults()
"""One object for every run: the pricing plans are kept per defaults object."""
CITIES = (("Istanbul", "TR"), ("Ankara", "TR"), ("Izmir", "TR"), ("Bursa", "TR"), ("Antalya", "TR"))
CATEGORIES = ("electronics", "books", "home", "toys", "garden", "beauty", "sports", "food")


def varied_baskets(count: int, seed: int = 7) -> list[tuple[QuoteRequest, CustomerContext]]:
    """`count` different 3-item baskets over a 300-product catalog: other customers, places, quantities."""
    rng = random.Random(seed)
    for n in range(300):
        pid = UUID(int=1000 + n)
        price = D(rng.randrange(500, 200_000)) / 100
        PRODUCTS[str(pid)] = CatalogProduct(
            id=pid,
            currency="TRY",
            current_price=price,
            min_price=(price * D("0.7")).quantize(D("0.01")),
            category_id=CATEGORIES[n % len(CATEGORIES)],
            seller_id=f"seller-{n % 20}",
            is_active=True,
        )
    catalog = [key for key in PRODUCTS if key.startswith("00000000-0000-0000-0000-0000000")]
    baskets = []
    for n in range(count):
        city, country = rng.choice(CITIES)
        coordinates = rng.random() < 0.5
        items = [QuoteItemIn(product_id=pid, quantity=rng.randint(1, 4)) for pid in rng.sample(catalog, 3)]
        request = QuoteRequest(
            customer_id=f"customer-{n}",
            items=items,
            delivery_address=Address(
                city=city,
                country=country,
                latitude=41.0 + rng.random() / 10 if coordinates else None,
                longitude=29.0 + rng.random() / 10 if coordinates else None,
            ),
            pickup_address=Address(city="Istanbul", country="TR", latitude=41.05, longitude=29.01),
            is_express_delivery=rng.random() < 0.5,
            coupon_codes=["spring10"] if rng.random() < 0.3 else [],
            currency="TRY",
            logistics_provider="FastShip" if rng.random() < 0.5 else None,
        )
        tier = rng.choice((None, None, "gold", "silver"))
        baskets.append((request, CustomerContext(customer_id=f"customer-{n}", tier=tier)))
    return baskets


def run(
    baskets: list[tuple[QuoteRequest, CustomerContext]],
    quotes: int,
    rounds: int,
    targeting: bool = False,
    snapshot: ConfigSnapshot | None = None,
) -> tuple[list[float], list[float]]:
    """Mean wall-clock and CPU microseconds per quote of each round, cycling through `baskets`
    (under `snapshot`, else the typical configuration)."""
    snapshot, defaults, quote_id = snapshot or typical_snapshot(targeting), _DEFAULTS, uuid4()
    walls, cpus = [], []
    for _ in range(rounds):
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        for n in range(quotes):
            request, customer = baskets[n % len(baskets)]
            price_quote(
                request,
                snapshot=snapshot,
                products=PRODUCTS,
                flash=FLASH,
                customer=customer,
                defaults=defaults,
                now=NOW,
                quote_id=quote_id,
            )
        walls.append((time.perf_counter() - start) / quotes * 1e6)
        cpus.append((time.process_time() - cpu) / quotes * 1e6)
    return walls, cpus


def report(name: str, means: tuple[list[float], list[float]], quotes: int) -> None:
    walls, cpus = means
    print(
        f"{name}: median {statistics.median(walls):.1f} µs/quote "
        f"(min {min(walls):.1f}, max {max(walls):.1f}; {len(walls)} rounds x {quotes} quotes), "
        f"CPU median {statistics.median(cpus):.1f} (min {min(cpus):.1f})"
    )


WORKLOADS = ("same basket every time      ", "a different basket each time")


def measure(args: argparse.Namespace) -> dict[str, tuple[list[float], list[float]]]:
    """Both workloads: (wall, CPU) per-round means by workload."""
    same = [(REQUEST, CUSTOMER)]
    run(same, 200, 1, args.targeting)  # warm-up
    results = {WORKLOADS[0]: run(same, args.quotes, args.rounds, args.targeting)}
    results[WORKLOADS[1]] = run(varied_baskets(args.quotes), args.quotes, args.rounds, args.targeting)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quotes", type=int, default=2000, help="quotes per round")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--targeting", action="store_true", help="add a flag with two targeting rules")
    parser.add_argument("--json", action="store_true", help="print only each workload's CPU median, as JSON")
    args = parser.parse_args()
    results = measure(args)
    if args.json:
        print(json.dumps({workload: statistics.median(cpus) for workload, (_, cpus) in results.items()}))
        return
    extra = ", a flag with targeting rules" if args.targeting else ""
    print(f"Python {sys.version.split()[0]}, price_quote, 3 items, typical configuration{extra}")
    for workload, means in results.items():
        report(workload, means, args.quotes)


if __name__ == "__main__":
    main()
