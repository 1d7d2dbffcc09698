"""Benchmark: marketplace baskets (docs/shipping.md) — 200 lines from 20 sellers with 100 active promotions.

    .venv/bin/python loadtests/bench_shipping.py [--calls 200] [--sellers 20] [--promotions 100] [--offers 3]
    .venv/bin/python loadtests/bench_shipping.py --per-seller 50 --sizes 1000,200   # MAX_QUOTE_LINES's 1,000

Serves `quote-service serve --workers 1` on a private redis-server and a scratch database seeded with
the demo (loadtests/plumbing.py), adds `--sellers` sellers of 10 TRY products each (weights, ten
categories), shipping profiles for all but every fifth seller (those take the delivery rules), and
`--promotions` active promotions (percent and amount off by category, buy-X-get-Y, free delivery by
product, two that do not combine). Then sends quotes one after another, each a new basket of a new
customer (no identical-request reuse), alternating 200-line baskets (every product) and 100-line ones
(half of them), after 20 of each to warm up, and prints p50, p99 and max ms per quote as the client
sees it (HTTP on localhost included) and the 200 ÷ 100 ratio of the medians. Targets: p99 <= 100 ms
at 200 lines; the ratio <= 2.2. Last, the engine alone in this process on the same configuration
(read back with the snapshot loader): CPU µs a quote at each size and their ratio.

`--offers N` (docs/offers.md): every product is also sold by the next N sellers, each at its own price
(±10 %) and stock; the items name only their products, so each line is sold from its best landed offer
for Ankara (target: p99 <= 120 ms at 200 lines, the choice linear in the basket's offers). The engine alone
then includes the offers' choice (`choose_offers`). Before the engine alone, the server's garbage-collection
pauses over the whole run (`qs_gc_pause_seconds`, by generation).

`--stages`: each measured quote's server time by stage (`qs_quote_stage_seconds_total`, scraped before and
after it; one worker answers one quote at a time, so the difference is that quote's) and its worker's
event-loop thread's time on a core and waiting for one (/proc schedstat, the scrapes included): the median
of each and the three slowest quotes' at each size, and what was outside the stages (the edge, the HTTP
exchange, the client's own JSON).

`--per-seller` products each seller has (10: 200 products); `--sizes BIG,SMALL` the two basket sizes
(default: every product and half of them). A size above 200 lines serves with MAX_QUOTE_LINES at it.
Targets at 1,000 lines (`--per-seller 50 --sizes 1000,200`): p99 <= 300 ms, 1,000 ÷ 200 <= 5.5x.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtests.cpu import descendants, processes
from loadtests.plumbing import free_port, private_service

WARM_UP = 20
CATEGORIES = [f"bench-c{n}" for n in range(10)]


def _admin(http: httpx.Client) -> dict[str, str]:
    login = {"username": "demo-admin", "password": "quote-service-admin"}
    token = http.post("/api/v1/auth/token", json=login).raise_for_status().json()["data"]["access_token"]
    return {"Authorization": f"Bearer {token}"}


def configure(base: str, sellers: int, promotions: int, offers: int = 0, per_seller: int = 10) -> list[str]:
    """The sellers' products, profiles and the promotions; the products' ids, seller by seller."""
    rng = random.Random(64)
    with httpx.Client(base_url=base, timeout=30) as http:
        admin = _admin(http)
        ids = []
        for s in range(sellers):
            seller = f"bench-seller-{s:02d}"
            for n in range(per_seller):
                price = f"{rng.randint(20, 900)}.{rng.randint(0, 99):02d}"
                body = {"sku": f"BENCH-SHIP-{s:02d}-{n}", "name": f"Bench {s}/{n}", "category_id": CATEGORIES[n % 10],
                        "seller_id": seller, "currency": "TRY", "base_price": price, "min_price": "0", "stock": 1000,
                        "weight": f"{rng.randint(1, 40) / 10}"}  # fmt: skip
                ids.append(
                    http.post("/api/v1/products", json=body, headers=admin).raise_for_status().json()["data"]["id"]
                )
            if s % 5 == 4:
                continue  # every fifth seller has no profile: its parcel takes the delivery rules
            profile = {"seller_id": seller, "countries": ["TR"], "currency": "TRY", "options": [
                {"code": "standard", "name": "Standard", "base_fee": "24.90", "per_kg": "1.50", "max_fee": "79.90",
                 "free_above": f"{rng.randint(5, 40) * 100}.00", "eta_days_min": 2, "eta_days_max": 4},
                {"code": "express", "name": "Express", "base_fee": "59.90", "eta_days_min": 1, "eta_days_max": 1,
                 "express": True}]}  # fmt: skip
            http.post("/api/v1/shipping-profiles", json=profile, headers=admin).raise_for_status()
        for n in range(promotions):
            promotion = promotion_body(n, rng.choice(ids) if n % 10 == 8 else "")
            http.post("/api/v1/promotions", json=promotion, headers=admin).raise_for_status()
        for index, product in enumerate(ids):  # docs/offers.md: the next `offers` sellers sell it too
            owner = index // per_seller
            for k in range(1, offers + 1):
                seller = f"bench-seller-{(owner + k) % sellers:02d}"
                body = {"product_id": product, "seller_id": seller, "current_price": f"{rng.randint(20, 990)}.00",
                        "stock": rng.choice([0, 2, 1000])}  # fmt: skip
                http.post("/api/v1/offers", json=body, headers=admin).raise_for_status()
    return ids


def promotion_body(n: int, free_delivery_product: str) -> dict[str, Any]:
    """The n-th promotion: percent off by category (6 of 10), an amount off, a buy-2-get-1-half-off, free
    delivery for one product, a percent off that does not combine past the 20th (also
    tests/integration/test_cost_budget.py's marketplace)."""
    kind = n % 10
    conditions: dict[str, Any] = {"currency": "TRY"}
    promotion: dict[str, Any] = {"name": f"bench promotion {n}", "starts_at": "2020-01-01T00:00:00Z",
                                 "conditions": conditions}  # fmt: skip
    if kind <= 5:
        promotion.update(kind="PERCENT_OFF", config={"percent": 1 + n % 5})
        conditions["category_ids"] = [CATEGORIES[n % 10]]
    elif kind == 6:
        promotion.update(kind="AMOUNT_OFF", config={"amount": "1.00", "currency": "TRY"})
    elif kind == 7:
        buy = {"quantity": 2, "category_ids": [CATEGORIES[n % 10]]}
        promotion.update(kind="BUY_X_GET_Y", config={"buy": buy, "get": {**buy, "quantity": 1, "percent_off": 50}})
    elif kind == 8:
        promotion.update(kind="FREE_DELIVERY", config={})
        conditions["product_ids"] = [free_delivery_product]
    else:
        promotion.update(kind="PERCENT_OFF", config={"percent": 3}, combinable=n < 20)
    return promotion


def basket(rng: random.Random, ids: list[str], lines: int, n: int) -> dict[str, Any]:
    chosen = ids if lines >= len(ids) else rng.sample(ids, lines)
    return {
        "customer_id": f"bench-{lines}-{n}",
        "currency": "TRY",
        "items": [{"product_id": product, "quantity": rng.randint(1, 3)} for product in chosen],
        "delivery_address": {"city": "Ankara", "country": "TR", "latitude": 39.93, "longitude": 32.86},
        "pickup_address": {"city": "Istanbul", "country": "TR", "latitude": 41.01, "longitude": 28.98},
        "logistics_provider": "fastship",
    }


def summary(label: str, took: list[float]) -> float:
    took = sorted(took)
    p50 = statistics.median(took)
    p99 = took[min(len(took) - 1, int(len(took) * 0.99))]
    print(f"{label}: {len(took)} quotes, p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {took[-1]:.2f} ms")
    return p50


STAGES = ("validate", "catalog", "flash", "engine", "store")
"""The quote's stages the server times (`qs_quote_stage_seconds_total`, observability/stages.py)."""


def stage_seconds(http: httpx.Client) -> list[float]:
    """The server's seconds in each quote stage so far (one worker: its stages are flushed at each scrape)."""
    from prometheus_client.parser import text_string_to_metric_families

    found = dict.fromkeys(STAGES, 0.0)
    for family in text_string_to_metric_families(http.get("/metrics").raise_for_status().text):
        if family.name == "qs_quote_stage_seconds":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    found[sample.labels["stage"]] = sample.value
    return [found[name] for name in STAGES]


def busiest_child(root: int) -> int:
    """The process under `root` that has used the most CPU so far: the (one) worker, after the warm-up."""
    table = processes()
    return max((pid for pid in descendants(root, table) if pid != root), key=lambda pid: table[pid][2])


def on_cpu(pid: int) -> tuple[float, float]:
    """A process's main thread (a worker's event loop): ms it has run and ms it has waited for a core
    (/proc/<pid>/task/<pid>/schedstat, nanoseconds)."""
    ran, waited, _ = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()
    return int(ran) / 1e6, int(waited) / 1e6


def sample(http: httpx.Client, worker: int) -> list[float]:
    """ms so far: the server's time in each stage, then its worker's event loop on a core and waiting for one."""
    return [*(seconds * 1000 for seconds in stage_seconds(http)), *on_cpu(worker)]


def served(base: str, key: str, ids: list[str], calls: int, sizes: tuple[int, int], server: int | None = None) -> None:
    """`server`: the server's pid, to time each quote's stages and its worker's CPU (`--stages`)."""
    rng = random.Random(7)
    took: dict[int, list[float]] = {size: [] for size in sizes}
    parts: dict[int, list[tuple[float, list[float]]]] = {size: [] for size in sizes}
    shipments, worker = 0, 0
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as http:
        for n in range(WARM_UP + calls):
            for size in sizes:
                body = basket(rng, ids, size, n)
                measured = n >= WARM_UP and server is not None
                if measured and not worker:
                    worker = busiest_child(server or 0)
                before = sample(http, worker) if measured else []
                start = time.perf_counter()
                response = http.post("/api/v1/quote", json=body)
                elapsed = (time.perf_counter() - start) * 1000
                response.raise_for_status()
                if n >= WARM_UP:
                    took[size].append(elapsed)
                if measured:
                    parts[size].append((elapsed, [a - b for a, b in zip(sample(http, worker), before, strict=True)]))
                data = response.json()["data"]
                shipments = len(data["shipments"])
                from_offers = sum(1 for line in data["items"] if line.get("offer_id"))
    big, half = (summary(f"{size} lines", took[size]) for size in sizes)
    print(f"lines sold from another seller's offer in the last quote: {from_offers}")
    print(f"{sizes[0]} lines from {shipments} sellers: {sizes[0]} ÷ {sizes[1]} lines, medians {big / half:.2f}x")
    for size in sizes if server is not None else ():
        names = ", ".join(STAGES)
        print(f"{size} lines, ms a quote in each server stage ({names}; outside: the rest, client JSON included),")
        print("  and the worker's event-loop thread meanwhile: ms on a core, ms waiting for one (schedstat):")
        rows = sorted(parts[size])
        median = [statistics.median(spent[i] for _, spent in rows) for i in range(len(STAGES) + 2)]

        def shown(spent: list[float]) -> str:
            stages = " / ".join(f"{ms:.1f}" for ms in spent[: len(STAGES)])
            return f"{stages}; the loop ran {spent[-2]:.1f}, waited {spent[-1]:.1f}"

        print(f"  median of each: {shown(median)}")
        for elapsed, spent in rows[-3:]:
            outside = elapsed - sum(spent[: len(STAGES)])
            print(f"  a slowest quote, {elapsed:.1f} ms: {shown(spent)}; outside the stages {outside:.1f}")


def gc_pauses(base: str) -> None:
    """The server's garbage-collection pauses during the run (`qs_gc_pause_seconds`): collections, time and
    the largest bucket reached, by generation; a full collection (2) is where a periodic stall shows."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{base}/metrics", timeout=10).raise_for_status().text
    found: dict[str, dict[str, float]] = {}
    widest: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "qs_gc_pause_seconds":
            continue
        for sample in family.samples:
            generation = sample.labels["generation"]
            if sample.name.endswith("_count") or sample.name.endswith("_sum"):
                found.setdefault(generation, {})[sample.name.rsplit("_", 1)[1]] = sample.value
            elif sample.name.endswith("_bucket") and sample.labels["le"] != "+Inf":
                below = found.setdefault(generation, {}).get("below", 0.0)
                if sample.value > below:  # a collection longer than the previous bound lands at or below this one
                    widest[generation] = float(sample.labels["le"])
                found[generation]["below"] = sample.value
    for generation, values in sorted(found.items()):
        count, total = values.get("count", 0.0), values.get("sum", 0.0)
        print(
            f"server gc generation {generation}: {count:.0f} collections, {total * 1000:.0f} ms in all, "
            f"the longest <= {widest.get(generation, 0) * 1000:g} ms"
        )


async def read_back(database_url: str, ids: list[str]) -> tuple[Any, dict[str, Any]]:
    """The served configuration as the engine takes it: the snapshot (its loader) and the products by id."""
    from quote_service.db.pool import create_pool
    from quote_service.pricing.quote import CatalogProduct
    from quote_service.snapshot.loader import load_snapshot

    pool = await create_pool(database_url, min_size=1, max_size=1, statement_timeout=60)
    try:
        snapshot = await load_snapshot(pool)
        rows = await pool.fetch(
            """SELECT id, currency, current_price, min_price, category_id, seller_id, is_active, weight
               FROM products WHERE id = any($1::uuid[])""",
            ids,
        )
    finally:
        await pool.close()
    return snapshot, {str(r["id"]): CatalogProduct(**dict(r)) for r in rows}


def engine_alone(database_url: str, ids: list[str], rounds: int, sizes: tuple[int, int]) -> None:
    """CPU µs a quote of the pure engine on the served configuration, at both sizes."""
    from datetime import UTC, datetime
    from uuid import uuid4

    from quote_service.pricing.engine import price_quote, region_for
    from quote_service.pricing.offers import choose_offers
    from quote_service.pricing.quote import CustomerContext, EngineDefaults, QuoteRequest

    snapshot, products = asyncio.run(read_back(database_url, ids))
    rng, defaults, now = random.Random(9), EngineDefaults(), datetime.now(UTC)
    for size in sizes:
        requests = [msgspec.convert(basket(rng, ids, size, n), QuoteRequest) for n in range(rounds)]
        for choosing in (False, True) if snapshot.offers is not None else (False,):
            cpu = []
            for request in requests:
                start = time.process_time()
                region, choices = region_for(request, snapshot=snapshot, defaults=defaults, now=now), None
                if choosing:  # as the quote service: the offers' choice, then the engine
                    choices = choose_offers(request, products, snapshot.offers, region, snapshot.shipping)
                price_quote(request, snapshot=snapshot, products=products, flash={}, defaults=defaults, now=now,
                            customer=CustomerContext(customer_id=request.customer_id), quote_id=uuid4(),
                            region=region, offers=choices)  # fmt: skip
                cpu.append((time.process_time() - start) * 1e6)
            what = (
                "with the offers' choice" if choosing else ("every line its product's own" if snapshot.offers else "")
            )
            median = statistics.median(cpu[rounds // 4 :])
            print(f"engine alone, {size} lines{', ' + what if what else ''}: {median:.0f} µs CPU a quote (median)")


def main(args: argparse.Namespace) -> None:
    products = args.sellers * args.per_seller
    sizes = tuple(int(n) for n in args.sizes.split(",")) if args.sizes else (products, products // 2)
    if len(sizes) != 2 or not 0 < sizes[1] <= sizes[0] <= products:
        raise SystemExit(f"--sizes: two sizes BIG,SMALL with 0 < SMALL <= BIG <= {products} (the products)")
    limit = {"MAX_QUOTE_LINES": str(sizes[0])} if sizes[0] > 200 else {}
    with private_service(port=free_port(), workers=1, ready_seconds=args.ready_seconds, **limit) as service:
        ids = configure(service.base, args.sellers, args.promotions, args.offers, args.per_seller)
        server = service.server.pid if args.stages else None
        served(service.base, service.key, ids, args.calls, (sizes[0], sizes[1]), server)
        gc_pauses(service.base)
        engine_alone(service.database_url, ids, args.engine_rounds, (sizes[0], sizes[1]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, help="measured quotes of each size")
    parser.add_argument("--sellers", type=int, default=20)
    parser.add_argument("--promotions", type=int, default=100)
    parser.add_argument("--per-seller", type=int, default=10, help="products each seller has")
    parser.add_argument("--sizes", default="", help="BIG,SMALL basket sizes (default: all products, half)")
    parser.add_argument("--engine-rounds", type=int, default=200)
    parser.add_argument("--offers", type=int, default=0, help="other sellers' offers of every product")
    parser.add_argument("--stages", action="store_true", help="each quote's server time by stage (a scrape each side)")
    parser.add_argument("--ready-seconds", type=float, default=300, help="how long the server may take to start")
    main(parser.parse_args())
