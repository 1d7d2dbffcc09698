"""Features a quote does not use must cost it nothing: the pure engine with and without them (one run).

    uv run python loadtests/bench_unused.py [--quotes 2000] [--rounds 9] [--lists 20] [--prices 50000]
                                            [--promotions 200] [--flags 10]

The engine benchmark's typical configuration and its 2,000 varied 3-item TRY baskets
(loadtests/bench_engine.py), priced under these snapshots, round after round in turn, in one process:

    none          the typical configuration: no price list, promotion or targeted flag
    price lists   + `--prices` prices in `--lists` lists that never apply to these baskets: half in
                  EUR for the baskets' own products, half in TRY for a customer group no basket has
    promotions    + `--promotions` active promotions whose conditions fail for every basket: a
                  minimum subtotal no basket reaches (on the baskets' own categories, so the index
                  hands them to the quote and the conditions are checked), another currency, a
                  segment nobody is in
    flag rules    + `--flags` enabled flags with targeting rules (a tier nobody has, a subtotal no
                  basket reaches): every quote answers them, so they are work the quote does
    all unused    all three at once

Prints each one's median CPU µs per quote and its ratio to `none` (the target for the first two
and for `all unused` without flag rules: 1.00 within the noise). Reservations are not in the
engine (a quote without `reserve_stock` never looks at them): bench_unused_e2e.py covers them.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import sys
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from bench_engine import CATEGORIES, NOW, PRODUCTS, SINCE, typical_snapshot, varied_baskets
from engine_rounds import interleaved

from quote_service.pricing.flags import FeatureFlag, FlagSet, Rollout
from quote_service.pricing.price_lists import ListPrice, PriceBook, PriceList
from quote_service.pricing.promotions import Conditions, PercentOff, Promotion, PromotionBook
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.pricing.targeting import TargetingRule

D = Decimal


def unused_price_lists(lists: int, prices: int, seed: int = 11) -> PriceBook:
    """Lists that price the baskets' products, but in EUR or for a group no basket's customer has."""
    rng = random.Random(seed)
    catalog = [product.id for product in PRODUCTS.values()]
    made = []
    for n in range(lists):
        entries = [ListPrice(product, D(rng.randrange(500, 90_000)) / 100, 1) for product in catalog]
        entries += [
            ListPrice(UUID(int=10**9 + n * 10**6 + k), D(rng.randrange(500, 90_000)) / 100, 1)
            for k in range(prices // lists - len(entries))
        ]
        in_euros = n % 2 == 0
        made.append(
            PriceList(
                id=UUID(int=n + 1), name=f"unused-{n}", currency="EUR" if in_euros else "TRY",
                priority=rng.randint(0, 3), created_at=NOW - timedelta(days=n + 1),
                customer_groups=frozenset() if in_euros else frozenset({"nobody-here"}),
                channels=frozenset(), prices=tuple(entries),
            )
        )  # fmt: skip
    return PriceBook.of(made)


def failing_promotions(count: int) -> PromotionBook:
    """Active promotions whose conditions no basket meets (see module docstring)."""
    found = []
    for n in range(count):
        shape = n % 3
        if shape == 0:  # the baskets' own categories, so the index offers them to every quote
            conditions = Conditions(category_ids=frozenset({CATEGORIES[n % 2]}), min_subtotal=D("1000000000"))
        elif shape == 1:
            conditions = Conditions(currency="EUR")
        else:
            conditions = Conditions(customer_segments=frozenset({"nobody-here"}))
        found.append(
            Promotion(
                id=UUID(int=10_000 + n), name=f"never {n}", config=PercentOff(percent=D(10)),
                conditions=conditions, priority=n % 5, combinable=n % 2 == 0, starts_at=SINCE,
            )
        )  # fmt: skip
    return PromotionBook(found)


def targeted_flags(count: int) -> list[FeatureFlag]:
    """Enabled flags whose targeting rules admit nobody (every quote still answers them)."""
    rules = (
        TargetingRule(attribute="customer_tier", operator="in", values=("platinum-nobody",)),
        TargetingRule(attribute="subtotal", operator="gte", values=(1_000_000_000,)),
    )
    made = []
    for n in range(count):
        flag = FeatureFlag(key=f"targeted_{n}", type="BOOLEAN", value=True, default_value=False, is_enabled=True, rollout=Rollout(rules=rules))  # fmt: skip  # noqa: E501
        made.append(flag)
    return made


def with_flags(base: ConfigSnapshot, flags: list[FeatureFlag]) -> ConfigSnapshot:
    """`base` with more flags, compiled as a loaded snapshot's are."""
    return dataclasses.replace(base, flags=FlagSet.of([*base.flags.by_key.values(), *flags]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quotes", type=int, default=2000, help="quotes per round")
    parser.add_argument("--rounds", type=int, default=9, help="rounds of each, in turn")
    parser.add_argument("--lists", type=int, default=20)
    parser.add_argument("--prices", type=int, default=50_000)
    parser.add_argument("--promotions", type=int, default=200)
    parser.add_argument("--flags", type=int, default=10)
    args = parser.parse_args()
    baskets = varied_baskets(args.quotes)
    plain = typical_snapshot()
    lists, promotions = unused_price_lists(args.lists, args.prices), failing_promotions(args.promotions)
    snapshots = {
        "none": plain,
        "price lists": dataclasses.replace(plain, price_lists=lists),
        "promotions": dataclasses.replace(plain, promotions=promotions),
        "flag rules": with_flags(plain, targeted_flags(args.flags)),
        "lists + promotions": dataclasses.replace(plain, price_lists=lists, promotions=promotions),
    }
    snapshots["all unused"] = with_flags(snapshots["lists + promotions"], targeted_flags(args.flags))
    cpus = interleaved(snapshots, baskets, args.quotes, args.rounds)
    print(
        f"Python {sys.version.split()[0]}, price_quote, {args.quotes} varied 3-item TRY baskets, {args.rounds} rounds; "
        f"unused: {lists.prices()} prices in {len(lists)} lists, {args.promotions} failing promotions, "
        f"{args.flags} flags with rules admitting nobody"
    )
    none = statistics.median(cpus["none"])
    for name, values in cpus.items():
        median = statistics.median(values)
        print(
            f"{name:<20} CPU median {median:6.1f} µs/quote (min {min(values):6.1f}) ratio to none {median / none:.2f}"
        )


if __name__ == "__main__":
    main()
