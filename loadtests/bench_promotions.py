"""Benchmark: a quote's cost with 200 active promotions against none (docs/promotions.md).

    uv run python loadtests/bench_promotions.py [--quotes 2000] [--rounds 10] [--promotions 200]

The pure engine under `bench_engine.py`'s typical configuration and its 2,000 varied 3-item
baskets, priced with the configuration as it is and with the same configuration plus N active
promotions (a mix of the four kinds: percent and amount off by category, basket thresholds,
segment-only offers, buy-X-get-Y by category, free delivery; combinable or not, several
priorities). Rounds alternate between the two in one process, so the neighbours' load hits
both alike; prints the median CPU microseconds per quote of each and their ratio.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import sys
from decimal import Decimal
from uuid import UUID

from bench_engine import CATEGORIES, SINCE, typical_snapshot, varied_baskets
from engine_rounds import interleaved

from quote_service.pricing.promotions import (
    AmountOff,
    BuyTarget,
    BuyXGetY,
    Conditions,
    FreeDelivery,
    GetTarget,
    PercentOff,
    Promotion,
    PromotionBook,
    PromotionConfig,
)
from quote_service.pricing.snapshot import ConfigSnapshot

D = Decimal


def promotions(count: int, seed: int = 11) -> list[Promotion]:
    """`count` active promotions of every kind, most limited to a category or a basket size."""
    rng = random.Random(seed)
    found = []
    for n in range(count):
        category = frozenset({CATEGORIES[n % len(CATEGORIES)]})
        shape = n % 5
        config: PromotionConfig
        conditions = Conditions(category_ids=category)
        if shape == 0:
            config = PercentOff(percent=D(rng.randint(2, 30)))
        elif shape == 1:
            config = AmountOff(amount=D(rng.randint(5, 50)), currency="TRY")
            conditions = Conditions(currency="TRY", min_subtotal=D(rng.randint(100, 3000)))
        elif shape == 2:
            target = BuyTarget(quantity=rng.randint(1, 3), category_ids=category)
            config = BuyXGetY(buy=target, get=GetTarget(quantity=1, category_ids=category, percent_off=D(50)))
        elif shape == 3:
            config = PercentOff(percent=D(rng.randint(2, 20)))
            conditions = Conditions(customer_segments=frozenset({"loyal"}))
        else:
            config = FreeDelivery()
            conditions = Conditions(currency="TRY", min_subtotal=D(rng.randint(200, 2000)))
        found.append(
            Promotion(
                id=UUID(int=10_000 + n),
                name=f"promotion {n}",
                config=config,
                conditions=conditions,
                priority=rng.randint(0, 5),
                combinable=rng.random() < 0.7,
                starts_at=SINCE,
            )
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quotes", type=int, default=2000, help="quotes per round")
    parser.add_argument("--rounds", type=int, default=10, help="rounds of each, alternating")
    parser.add_argument("--promotions", type=int, default=200)
    args = parser.parse_args()
    baskets = varied_baskets(args.quotes)
    plain = typical_snapshot()
    promoted = dataclasses.replace(plain, promotions=PromotionBook(promotions(args.promotions)))
    snapshots: dict[str, ConfigSnapshot] = {"none": plain, f"{args.promotions}": promoted}
    cpus = interleaved(snapshots, baskets, args.quotes, args.rounds)
    print(f"Python {sys.version.split()[0]}, price_quote, 2,000 varied 3-item baskets, typical configuration")
    for name, values in cpus.items():
        print(
            f"promotions {name:>5}: CPU median {statistics.median(values):.1f} µs/quote "
            f"(min {min(values):.1f}, max {max(values):.1f}; {len(values)} rounds x {args.quotes} quotes)"
        )
    none, many = (statistics.median(values) for values in cpus.values())
    print(f"ratio {args.promotions} promotions / none: {many / none:.2f}")


if __name__ == "__main__":
    main()
