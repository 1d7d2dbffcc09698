"""The pricing engine inside a real server, the engine alone on the demo workload, or one bench.py profile.

    .venv/bin/python loadtests/bench_engine_served.py [--phases 8] [--duration 8] [--connections 64]
    .venv/bin/python loadtests/bench_engine_served.py --demo 5        # the engine alone, on the demo workload
    .venv/bin/python loadtests/bench_engine_served.py --demo 3 --without-promotions   # and what its promotions cost
    .venv/bin/python loadtests/bench_engine_served.py --demo 3 --fresh-customers      # and what a new customer costs
    .venv/bin/python loadtests/bench_engine_served.py --share FILE    # a `bench.py --profile FILE` recording

One `quote-service serve` process (one worker) on a fresh database and Redis db, under the same
wrk load as loadtests/bench.py (distinct demo baskets through a service key), in phases. For
each phase it prints quotes/s, the worker's event-loop-thread CPU per quote (/proc) and the
engine stage's time per quote (`qs_quote_stage_seconds_total{stage="engine"}`: the region, the
flags and `price_quote`, wall clock); then the medians.

`--demo N` measures the engine alone on that server's workload, without the server: the demo
configuration and catalog (seed-demo, read back with the snapshot loader) and baskets built as
the wrk script builds them (1-4 demo products, WELCOME10, express or not, a gold customer), 15
rounds x 2,000 quotes of `price_quote` per run, N runs in fresh processes; CPU µs per quote and
the median. The same 2,000 customers come back every round, so what the engine keeps per
customer (the flags each one is served, in the region plan) is found after the first;
`--fresh-customers` makes every other round's customers new ones, as a server's are (the wrk
script draws a random customer per quote), and prints what that costs.

`--share FILE` prints the share of a profiled worker's samples spent in that engine stage: the
samples in pricing/ and on the lines of the `with stage(_ENGINE):` block in quotes/service.py.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import httpx
from cpu import ServerCpu
from plumbing import ADMIN_URL, LUA, REDIS_URL, database, prepare, stop, wait_ready, wrk

ROOT = Path(__file__).resolve().parents[1]
SERVICE = ROOT / "quote_service" / "quotes" / "service.py"
_ENGINE_SECONDS = re.compile(r'^qs_quote_stage_seconds_total\{stage="engine"\} (\S+)$', re.MULTILINE)


def engine_seconds(base: str) -> float:
    """The server's engine-stage seconds so far (/metrics; the bench serves it without credentials)."""
    match = _ENGINE_SECONDS.search(httpx.get(f"{base}/metrics", timeout=10).text)
    return float(match.group(1)) if match else 0.0


def phase(base: str, meter: ServerCpu, script: Path, args: argparse.Namespace) -> dict[str, float]:
    """One wrk phase on one server: quotes/s, worker CPU and engine-stage time per quote (µs)."""
    engine_before = engine_seconds(base)
    meter.start()
    result = wrk(base, "/api/v1/quote", connections=args.connections, duration=args.duration, script=script)
    used = meter.stop()
    quotes = max(1.0, result["requests"])
    return {
        "rps": result["rps"],
        "cpu_us": used["worker_python"] / quotes * 1e6,
        "engine_us": (engine_seconds(base) - engine_before) / quotes * 1e6,
        "non_2xx": result["non_2xx"],
    }


def served(args: argparse.Namespace) -> None:
    """One server, one worker, phases of wrk load; per-phase figures and their medians."""
    name = f"qs_engines_{os.getpid()}"
    asyncio.run(database(name, create=True))
    env = {**os.environ, "DATABASE_URL": ADMIN_URL.rsplit("/", 1)[0] + "/" + name, "REDIS_URL": REDIS_URL,
           "LOG_LEVEL": "WARNING", "RATE_LIMIT_PER_MINUTE": "100000000", "ENVIRONMENT": "development",
           "METRICS_PUBLIC": "true"}  # fmt: skip
    subprocess.run(["redis-cli", "-u", REDIS_URL, "flushdb"], check=True, capture_output=True)  # noqa: S603, S607
    command = [sys.executable, "-m", "quote_service.cli", "serve", "--port", str(args.port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    try:
        base = f"http://127.0.0.1:{args.port}"
        wait_ready(base, server)
        key, ids = prepare(base, env)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
            lua.write(LUA % {"ids": ", ".join(f'"{i}"' for i in ids), "key": key, "money": ""})
        script = Path(lua.name)
        meter = ServerCpu(server.pid)
        wrk(base, "/api/v1/quote", connections=args.connections, duration=3, script=script)  # warm-up
        results = []
        for number in range(args.phases):
            result = phase(base, meter, script, args)
            results.append(result)
            print(
                f"phase {number + 1}: {result['rps']:6.0f} quotes/s, worker CPU {result['cpu_us']:4.0f} µs/quote, "
                f"engine stage {result['engine_us']:5.1f} µs/quote, non-2xx {result['non_2xx']:.0f}",
                flush=True,
            )
        labels = {"rps": "quotes/s", "cpu_us": "worker CPU µs/quote", "engine_us": "engine stage µs/quote"}
        for field, label in labels.items():
            print(f"median {label}: {statistics.median(r[field] for r in results):.1f}")
    finally:
        stop(server)
        asyncio.run(database(name, create=False))


def demo(args: argparse.Namespace) -> None:
    """Seed a fresh demo database, then child runs of the engine on it, each a fresh process."""
    name = f"qs_engines_{os.getpid()}"
    asyncio.run(database(name, create=True))
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS_URL, "ENVIRONMENT": "development"}
    try:
        for command in ("migrate", "seed-demo"):
            cli = [sys.executable, "-m", "quote_service.cli", command]
            subprocess.run(cli, env=env, check=True, capture_output=True)  # noqa: S603 - our own CLI
        cpu: list[float] = []
        bare: list[float] = []
        fresh: list[float] = []
        for number in range(args.demo):
            for emptied in (False, True) if args.without_promotions else (False,):
                child = [sys.executable, __file__, "--demo-child", url, *(["--without-promotions"] * emptied)]
                child += ["--fresh-customers"] * (args.fresh_customers and not emptied)
                run = subprocess.run(child, env=env, capture_output=True, text=True, check=False)  # noqa: S603
                if run.returncode != 0:
                    raise SystemExit(f"run {number + 1} failed:\n{run.stderr}")
                printed = [float(word) for word in run.stdout.split()[-2:]]
                (bare if emptied else cpu).append(printed[0])
                label = "no promotions" if emptied else ""
                line = f"run {number + 1} {label:13}: CPU median {printed[0]:.1f} µs/quote"
                if args.fresh_customers and not emptied:
                    fresh.append(printed[1])
                    line += f", new customers every round {printed[1]:.1f}"
                print(line, flush=True)
        whole = statistics.median(cpu)
        print(f"demo workload: CPU {whole:.1f} µs/quote (median of {len(cpu)} runs)")
        if args.fresh_customers:
            new = statistics.median(fresh)
            print(f"new customers {new:.1f} against {whole:.1f} µs/quote (+{new - whole:.1f})")
        if args.without_promotions:
            alone = statistics.median(bare)
            print(f"promotions {whole - alone:.1f} of {whole:.1f} µs/quote (without the book {alone:.1f})")
    finally:
        asyncio.run(database(name, create=False))


def demo_child(url: str, *, without_promotions: bool = False, fresh_customers: bool = False) -> None:
    """Print the median CPU µs per quote of 15 rounds x 2,000 demo quotes on the engine this process
    loaded (`without_promotions`: with the snapshot's promotion book emptied); `fresh_customers`:
    rounds alternate between the same customers and new ones, and both medians are printed."""
    import random
    import time
    from datetime import UTC, datetime
    from uuid import uuid4

    from quote_service.db.pool import create_pool
    from quote_service.pricing.engine import price_quote
    from quote_service.pricing.quote import (
        Address,
        CatalogProduct,
        CustomerContext,
        EngineDefaults,
        QuoteItemIn,
        QuoteRequest,
    )
    from quote_service.snapshot.loader import load_snapshot

    async def load() -> tuple[object, dict[str, CatalogProduct]]:
        pool = await create_pool(url, min_size=1, max_size=1, statement_timeout=60)
        try:
            snapshot = await load_snapshot(pool)
            rows = await pool.fetch(
                "SELECT id, currency, current_price, min_price, category_id, seller_id, is_active, prices_include_tax,"
                " weight FROM products"  # the product cache's columns
            )
        finally:
            await pool.close()
        return snapshot, {str(r["id"]): CatalogProduct(**dict(r)) for r in rows}

    snapshot, products = asyncio.run(load())
    if without_promotions:
        import dataclasses

        from quote_service.pricing.promotions import PromotionBook

        snapshot = dataclasses.replace(snapshot, promotions=PromotionBook(()))
    rng, ids = random.Random(7), sorted(products)
    istanbul = Address(city="Istanbul", country="TR", latitude=41.0082, longitude=28.9784)
    pickup = Address(city="Istanbul", country="TR", latitude=41.0186, longitude=29.0023)
    baskets = []
    for n in range(2000):
        items = [QuoteItemIn(product_id=rng.choice(ids), quantity=rng.randint(1, 5)) for _ in range(rng.randint(1, 4))]
        request = QuoteRequest(
            customer_id=f"c-{n}", seller_id="seller-anatolia", items=items, delivery_address=istanbul,
            pickup_address=pickup, is_express_delivery=rng.random() < 0.5, coupon_codes=["WELCOME10"], currency="TRY",
        )  # fmt: skip
        baskets.append((request, CustomerContext(customer_id=f"c-{n}", tier="gold")))
    defaults, now, quote_id = EngineDefaults(), datetime.now(UTC), uuid4()
    cpus: dict[bool, list[float]] = {False: [], True: []}
    rounds = 32 if fresh_customers else 16  # the first of each kind warms the plan
    for number in range(rounds):
        new = fresh_customers and number % 2 == 1
        served = baskets
        if new:
            served = [
                (request, CustomerContext(customer_id=f"n-{number}-{i}", tier="gold"))
                for i, (request, _) in enumerate(baskets)
            ]
        start = time.process_time()
        for request, customer in served:
            price_quote(request, snapshot=snapshot, products=products, flash={}, customer=customer,
                        defaults=defaults, now=now, quote_id=quote_id)  # type: ignore[arg-type]  # fmt: skip
        cpus[new].append((time.process_time() - start) / len(baskets) * 1e6)
    print(" ".join(f"{statistics.median(cpus[kind][1:]):.2f}" for kind in (False, True)[: 1 + fresh_customers]))


def engine_lines() -> set[int]:
    """The line numbers of quotes/service.py inside `with stage(_ENGINE):` blocks."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(SERVICE.read_text())):
        if isinstance(node, ast.With) and "stage(_ENGINE)" in ast.unparse(node.items[0].context_expr):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def sample_part(stack: list[str], inside: set[int]) -> str:
    """`engine` for a sample in pricing/ or on an engine-stage line of the service, else `other`."""
    for frame in reversed(stack):
        if "quote_service/pricing/" in frame:
            return "engine"
        if "quote_service/" in frame:
            file, _, line = frame.rsplit("(", 1)[-1].rstrip(")").rpartition(":")
            return "engine" if file.endswith("quotes/service.py") and int(line) in inside else "other"
    return "other"


def share(path: Path) -> None:
    """Print the engine stage's share of a py-spy raw recording of a server worker."""
    inside, parts = engine_lines(), Counter[str]()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            parts[sample_part(stack.split(";"), inside)] += int(count)
    total = sum(parts.values())
    print(f"{path}: {total} samples, engine stage {parts['engine']} ({parts['engine'] / max(1, total):.1%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phases", type=int, default=8, help="phases of wrk load")
    parser.add_argument("--duration", type=int, default=8, help="seconds per phase")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--port", type=int, default=8775, help="the server's port")
    parser.add_argument("--share", type=Path, metavar="FILE", help="the engine's share of a bench.py --profile FILE")
    parser.add_argument("--demo", type=int, metavar="N", help="N runs of the engine alone, demo workload")
    parser.add_argument(
        "--without-promotions", action="store_true",
        help="with --demo: also each run with the promotion book emptied (what the demo's promotions cost)",
    )  # fmt: skip
    parser.add_argument(
        "--fresh-customers", action="store_true",
        help="with --demo: every other round's customers are new ones (nothing kept per customer is found)",
    )  # fmt: skip
    parser.add_argument("--demo-child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.share:
        share(args.share)
    elif args.demo_child:
        demo_child(args.demo_child, without_promotions=args.without_promotions, fresh_customers=args.fresh_customers)
    elif args.demo:
        demo(args)
    else:
        served(args)


if __name__ == "__main__":
    main()
