"""Competitor-price ingestion without HTTP: what accepting and storing cost the service itself.

    uv run python loadtests/bench_ingest_path.py [--observations 10000] [--label NAME]

In one process, on the local PostgreSQL/Redis (a fresh database `qs_ingest_path_<pid>`,
dropped afterwards; a Redis logical database claimed the way the test suite claims one, so no
running test session is flushed): 50 products, then
  1. accept: `Intelligence.ingest` of requests of 1000 observations, 4 at a time, as the
     controller calls it (checks, the inbox write, the XADDs);
  2. store: one `StreamConsumer` (signals on) drains the stream until every observation is a row.
It prints both rates. It runs whichever `quote_service` comes first on `sys.path`, so two trees
compare on the same minute of a shared machine:
    PYTHONPATH=/path/to/other/tree python loadtests/bench_ingest_path.py --label before
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from redis.asyncio import Redis

from quote_service.cache.redis import create_redis
from quote_service.config import Settings
from quote_service.db.migrate import apply_migrations
from quote_service.db.pool import Pool, create_pool
from quote_service.intelligence.consumer import StreamConsumer, ensure_group
from quote_service.intelligence.service import Intelligence
from quote_service.intelligence.signal_rules import SignalEvaluator

ADMIN_URL = os.environ.get("BENCH_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("BENCH_REDIS_BASE", "redis://127.0.0.1:6379")
PRODUCTS = 50


async def claim_redis_db() -> tuple[Redis, str, int]:
    """A logical database nobody else holds (the test suite's `qs-test:db:N` claims in db 0)."""
    claims = Redis.from_url(f"{REDIS_BASE}/0")
    token = f"{os.getpid()}:{uuid.uuid4().hex}"
    for number in range(15, 0, -1):
        if await claims.set(f"qs-test:db:{number}", token, nx=True, ex=900):
            return claims, token, number
    raise SystemExit("every Redis test database is claimed")


async def products(pool: Pool) -> list[str]:
    ids = [uuid.uuid4() for _ in range(PRODUCTS)]
    await pool.executemany(
        """INSERT INTO products (id, sku, name, category_id, seller_id, currency, base_price, current_price,
                                 min_price, cost_price, stock)
           VALUES ($1, $2, 'P', 'c', 's', 'TRY', 100, 100, 40, 40, 50)""",
        [(i, f"sku-{i}") for i in ids],
    )
    return [str(i) for i in ids]


def requests(ids: list[str], count: int) -> list[list[object]]:
    start = datetime.now(UTC) - timedelta(hours=1)
    return [
        [
            {
                "product_id": ids[n % len(ids)],
                "competitor": f"bench-{n % 7}",
                "price": f"{10 + (n * 7919) % 990}.50",
                "currency": "TRY",
                "observed_at": (start + timedelta(milliseconds=n)).isoformat(),
            }
            for n in range(first, min(first + 1000, count))
        ]
        for first in range(0, count, 1000)
    ]


async def run(database_url: str, redis_url: str, count: int, label: str) -> None:
    await apply_migrations(database_url)
    pool = await create_pool(database_url, max_size=10)
    redis = create_redis(redis_url)
    try:
        await redis.flushdb()
        await ensure_group(redis)
        intelligence = Intelligence(Settings(database_url=database_url, redis_url=redis_url), pool, redis)
        bodies = requests(await products(pool), count)
        started = time.perf_counter()
        for group in range(0, len(bodies), 4):
            results = await asyncio.gather(*(intelligence.ingest(body) for body in bodies[group : group + 4]))
            assert sum(r.accepted for r in results) == sum(len(b) for b in bodies[group : group + 4]), results
        accept_s = time.perf_counter() - started
        consumer = StreamConsumer(redis, pool, signals=SignalEvaluator(pool, window_hours=72), block_ms=10)
        started = time.perf_counter()
        while await pool.fetchval("SELECT count(*) FROM competitor_prices") < count:
            await consumer.run_once()
        store_s = time.perf_counter() - started
        print(
            f"{label}: load {os.getloadavg()[0]:.1f} | accepted {count} in {accept_s:.2f} s = {count / accept_s:.0f}/s"
            f" | one consumer stored them in {store_s:.2f} s = {count / store_s:.0f}/s",
            flush=True,
        )
        await redis.flushdb()
    finally:
        await redis.aclose()
        await pool.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--observations", type=int, default=10_000)
    parser.add_argument("--label", default="ingest")
    args = parser.parse_args()
    claims, token, number = await claim_redis_db()
    name = f"qs_ingest_path_{os.getpid()}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await run(ADMIN_URL.rsplit("/", 1)[0] + "/" + name, f"{REDIS_BASE}/{number}", args.observations, args.label)
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
        if await claims.get(f"qs-test:db:{number}") == token.encode():
            await claims.delete(f"qs-test:db:{number}")
        await claims.aclose()


if __name__ == "__main__":
    asyncio.run(main())
