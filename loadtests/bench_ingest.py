"""Competitor-price ingestion: observations/s persisted with 1 and 2 workers, and quote latency
with and without a concurrent 10,000-observation burst, in one run.

    uv run python loadtests/bench_ingest.py [--observations 10000] [--quote-clients 8]
                                            [--quote-seconds 10] [--port 8768]

For each worker count (1, then 2) it starts `quote-service serve --workers N` on the local
PostgreSQL/Redis (a fresh database `qs_bench_<pid>_<N>`, dropped afterwards; Redis db 12,
flushed first), seeds the demo catalog, then:

  1. quotes alone: --quote-clients clients send POST /api/v1/quote back to back for
     --quote-seconds; p50/p99 latency;
  2. the same quotes while a burst of --observations observations (requests of 1000) is POSTed
     as fast as the server takes them; quote p50/p99 during the burst;
  3. persisted throughput: observations ÷ seconds from the first POST of the burst until every
     observation is a row in competitor_prices (the consumers, one per worker, did the work).

The box is shared: the script prints the 1-minute load average before each phase.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import plumbing  # loadtests/plumbing.py: what the benchmark scripts share

REDIS_URL = os.environ.get("BENCH_INGEST_REDIS_URL", "redis://127.0.0.1:6379/12")


def quote_body(ids: list[str]) -> dict[str, object]:
    items = [{"product_id": random.choice(ids), "quantity": random.randint(1, 5)} for _ in range(random.randint(1, 4))]
    return {
        "customer_id": f"c-{random.randint(1, 10**9)}",
        "seller_id": "seller-anatolia",
        "items": items,
        "delivery_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0082, "longitude": 28.9784},
        "pickup_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0186, "longitude": 29.0023},
        "is_express_delivery": False,
        "currency": "TRY",
    }


async def quote_load(base: str, key: str, ids: list[str], clients: int, stop: asyncio.Event) -> list[float]:
    latencies: list[float] = []

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=30) as http:
            while not stop.is_set():
                started = time.perf_counter()
                response = await http.post("/api/v1/quote", json=quote_body(ids))
                if response.status_code == 200:
                    latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def burst(base: str, key: str, ids: list[str], count: int) -> float:
    """POST `count` observations in requests of 1000 (4 at a time); returns when all are accepted."""
    start = datetime.now(UTC) - timedelta(hours=1)
    bodies = []
    for first in range(0, count, 1000):
        observations = [
            {
                "product_id": ids[n % len(ids)],
                "competitor": f"bench-{n % 7}",
                "price": f"{random.uniform(10, 1000):.2f}",
                "currency": "TRY",
                "observed_at": (start + timedelta(milliseconds=n)).isoformat(),
            }
            for n in range(first, min(first + 1000, count))
        ]
        bodies.append({"observations": observations})
    accepted = 0
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=60) as http:
        for group in range(0, len(bodies), 4):
            answers = await asyncio.gather(
                *(http.post("/api/v1/competitor-prices", json=b) for b in bodies[group : group + 4])
            )
            for answer in answers:
                assert answer.status_code == 202, answer.text
                accepted += answer.json()["data"]["accepted"]
    assert accepted == count
    return time.perf_counter()


async def wait_persisted(database_url: str, count: int, limit_s: float = 600) -> float:
    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.perf_counter() + limit_s
        while time.perf_counter() < deadline:
            if await conn.fetchval("SELECT count(*) FROM competitor_prices WHERE competitor LIKE 'bench-%'") >= count:
                return time.perf_counter()
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise SystemExit("the observations were not all persisted in time")


async def one_server(
    args: argparse.Namespace, workers: int, base: str, key: str, ids: list[str], db: str
) -> dict[str, float]:
    result: dict[str, float] = {}
    print(f"  load average before quotes alone: {os.getloadavg()[0]:.2f}")
    stop = asyncio.Event()
    alone = asyncio.create_task(quote_load(base, key, ids, args.quote_clients, stop))
    await asyncio.sleep(args.quote_seconds)
    stop.set()
    latencies = await alone
    result["alone_p50"], result["alone_p99"], result["alone_n"] = (
        percentile(latencies, 0.5), percentile(latencies, 0.99), len(latencies)
    )  # fmt: skip
    print(f"  load average before the burst: {os.getloadavg()[0]:.2f}")
    stop = asyncio.Event()
    during = asyncio.create_task(quote_load(base, key, ids, args.quote_clients, stop))
    started = time.perf_counter()
    accepted_at = await burst(base, key, ids, args.observations)
    persisted_at = await wait_persisted(db, args.observations)
    stop.set()
    latencies = await during
    result["burst_p50"], result["burst_p99"], result["burst_n"] = (
        percentile(latencies, 0.5), percentile(latencies, 0.99), len(latencies)
    )  # fmt: skip
    result["accept_s"] = accepted_at - started
    result["persist_s"] = persisted_at - started
    result["persisted_per_s"] = args.observations / (persisted_at - started)
    print(
        f"  workers={workers}: {args.observations} observations accepted in {result['accept_s']:.2f} s, "
        f"persisted in {result['persist_s']:.2f} s = {result['persisted_per_s']:.0f} observations/s\n"
        f"  quotes alone p50 {result['alone_p50']:.1f} ms p99 {result['alone_p99']:.1f} ms ({result['alone_n']:.0f})"
        f" | during the burst p50 {result['burst_p50']:.1f} ms p99 {result['burst_p99']:.1f} ms"
        f" ({result['burst_n']:.0f})"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--observations", type=int, default=10_000)
    parser.add_argument("--quote-clients", type=int, default=8)
    parser.add_argument("--quote-seconds", type=float, default=10.0)
    parser.add_argument("--port", type=int, default=8768)
    args = parser.parse_args()
    print(f"cpus {os.cpu_count()} | load average at start {os.getloadavg()[0]:.2f}")
    for workers in (1, 2):
        name = f"qs_bench_{os.getpid()}_{workers}"
        asyncio.run(plumbing.database(name, create=True))
        database_url = plumbing.ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "LOG_LEVEL": "ERROR",
               "LOG_FORMAT": "json", "RATE_LIMIT_PER_MINUTE": "100000000", "ENVIRONMENT": "development"}  # fmt: skip
        subprocess.run(["redis-cli", "-u", REDIS_URL, "flushdb"], check=True, capture_output=True)  # noqa: S603, S607
        base = f"http://127.0.0.1:{args.port}"
        server = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "quote_service.cli", "serve", "--port", str(args.port), "--workers", str(workers)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=Path(__file__).resolve().parent.parent,
        )  # fmt: skip
        try:
            plumbing.wait_ready(base, server)
            key, ids = plumbing.prepare(base, env)
            asyncio.run(one_server(args, workers, base, key, ids, database_url))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            asyncio.run(plumbing.database(name, create=False))
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
