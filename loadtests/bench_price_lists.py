"""Benchmark: what price lists add to a quote (pure `price_quote`, one core, one run).

    .venv/bin/python loadtests/bench_price_lists.py [--quotes 2000] [--rounds 9] [--lists 20] [--prices 50000]

The engine benchmark's typical configuration and its 2000 varied 3-item baskets
(loadtests/bench_engine.py), each basket from a customer with a group (b2b, wholesale, none)
on a channel (web, app, none), priced three ways, round after round in turn:

    none          no price list at all (today's quote)
    lists         `--prices` prices in `--lists` TRY lists (groups, channels, priorities, quantity
                  tiers): every catalog product of the baskets is in every list, the rest of the
                  prices name other products; most lines are priced by a list
    lists, unused the same number of prices, none of them for a basket's product

Prints each one's median µs per quote (wall and CPU) and its ratio to `none`: selection looks
up (currency, product) and walks that product's few lists, so the ratio must not grow with
`--prices`.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtests.bench_engine import FLASH, NOW, PRODUCTS, typical_snapshot, varied_baskets
from quote_service.pricing.engine import price_quote
from quote_service.pricing.price_lists import ListPrice, PriceBook, PriceList
from quote_service.pricing.quote import CustomerContext, EngineDefaults, QuoteRequest
from quote_service.pricing.snapshot import ConfigSnapshot

DEFAULTS = EngineDefaults()
"""One object for the whole run: the snapshot's pricing plans are kept per defaults object."""
GROUPS = (None, "b2b", "wholesale")
CHANNELS = (None, "web", "app")


def price_lists(lists: int, prices: int, *, cover_catalog: bool, seed: int = 11) -> list[PriceList]:
    """`prices` prices over `lists` TRY lists; the catalog's products in each unless not `cover_catalog`."""
    rng = random.Random(seed)
    catalog = [product.id for product in PRODUCTS.values()]
    per_list = prices // lists
    made = []
    for n in range(lists):
        entries: list[ListPrice] = []
        if cover_catalog:
            for product in catalog:
                entries.append(ListPrice(product, Decimal(rng.randrange(500, 90_000)) / 100, 1))
                entries.append(ListPrice(product, Decimal(rng.randrange(500, 90_000)) / 100, 3))
        filler = 0
        while len(entries) < per_list:
            product = UUID(int=10**9 + n * 10**6 + filler)
            entries.append(ListPrice(product, Decimal(rng.randrange(500, 90_000)) / 100, 1))
            filler += 1
        made.append(
            PriceList(
                id=UUID(int=n + 1),
                name=f"list-{n}",
                currency="TRY",
                priority=rng.randint(0, 3),
                created_at=NOW - timedelta(days=n + 1),
                customer_groups=frozenset(rng.sample(["b2b", "wholesale"], rng.choice([0, 1]))),
                channels=frozenset(rng.sample(["web", "app"], rng.choice([0, 0, 1]))),
                prices=tuple(entries[:per_list]),
            )
        )
    return made


def baskets(count: int) -> list[tuple[QuoteRequest, CustomerContext]]:
    """The engine benchmark's varied baskets, each with a customer group and a channel."""
    rng = random.Random(5)
    found = []
    for request, customer in varied_baskets(count):
        request = msgspec.structs.replace(request, channel=rng.choice(CHANNELS))
        customer = msgspec.structs.replace(customer, customer_group=rng.choice(GROUPS))
        found.append((request, customer))
    return found


def one_round(
    snapshot: ConfigSnapshot, work: list[tuple[QuoteRequest, CustomerContext]], quotes: int
) -> tuple[float, float]:
    quote_id = UUID(int=1)
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    for n in range(quotes):
        request, customer = work[n % len(work)]
        price_quote(
            request, snapshot=snapshot, products=PRODUCTS, flash=FLASH, customer=customer,
            defaults=DEFAULTS, now=NOW, quote_id=quote_id,
        )  # fmt: skip
    return (time.perf_counter() - start) / quotes * 1e6, (time.process_time() - cpu) / quotes * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quotes", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--lists", type=int, default=20)
    parser.add_argument("--prices", type=int, default=50_000)
    args = parser.parse_args()
    work = baskets(args.quotes)
    base = typical_snapshot()
    made = price_lists(args.lists, args.prices, cover_catalog=True)
    built = time.perf_counter()
    used = PriceBook.of(made)
    compile_ms = (time.perf_counter() - built) * 1000
    variants = {
        "none         ": base,
        "lists        ": dataclasses.replace(base, price_lists=used),
        "lists, unused": dataclasses.replace(
            base, price_lists=PriceBook.of(price_lists(args.lists, args.prices, cover_catalog=False))
        ),
    }
    priced_by_list = sum(
        line.price_source == "price_list"
        for request, customer in work[:200]
        for line in price_quote(
            request, snapshot=variants["lists        "], products=PRODUCTS, flash=FLASH, customer=customer,
            defaults=DEFAULTS, now=NOW, quote_id=UUID(int=1),
        ).items
    )  # fmt: skip
    print(
        f"Python {sys.version.split()[0]}, price_quote, 3 items; {used.prices()} prices in {len(used)} lists "
        f"(compiled in {compile_ms:.0f} ms); {priced_by_list} of the first 200 baskets' lines priced by a list"
    )
    for snapshot in variants.values():
        one_round(snapshot, work, args.quotes)  # warm-up: every basket once
    walls: dict[str, list[float]] = {name: [] for name in variants}
    cpus: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, snapshot in variants.items():
            wall, cpu = one_round(snapshot, work, args.quotes)
            walls[name].append(wall)
            cpus[name].append(cpu)
    none_wall, none_cpu = statistics.median(walls["none         "]), statistics.median(cpus["none         "])
    for name in variants:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(
            f"{name}: median {wall:.1f} µs/quote (min {min(walls[name]):.1f}), CPU {cpu:.1f}; "
            f"ratio to none: wall {wall / none_wall:.2f}, CPU {cpu / none_cpu:.2f}"
        )


if __name__ == "__main__":
    main()
