"""Analytics benchmark: generate-data's time, then each report's p50/p95 over what it wrote.

    uv run python loadtests/bench_analytics.py --database-url postgresql://postgres@127.0.0.1:5432/bench \
        [--quotes-per-day 33334 --days 30 --products 1000] [--skip-generate] [--runs 40]

The database must exist (it is migrated here). Reports are timed through the service layer
(`Analytics`, the SQL the endpoints run), not HTTP; the HTTP envelope adds ~1 ms. Prints the
1-minute load average before and after: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from datetime import timedelta

from quote_service.analytics.experiments import Experiments
from quote_service.analytics.generate import generate
from quote_service.analytics.service import Analytics
from quote_service.clock import utcnow
from quote_service.db.migrate import apply_migrations
from quote_service.db.pool import create_pool


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--quotes-per-day", type=int, default=33_334)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--skip-generate", action="store_true")
    args = parser.parse_args()
    await apply_migrations(args.database_url)
    pool = await create_pool(args.database_url, min_size=1, max_size=4, statement_timeout=60)
    print(f"load average before: {_load()}")
    if not args.skip_generate:
        started = time.monotonic()
        summary = await generate(
            pool, products=args.products, days=args.days, quotes_per_day=args.quotes_per_day, seed=args.seed,
            now=utcnow(), progress=False,
        )  # fmt: skip
        print(
            f"generate-data: {summary.quotes:,} quotes, {summary.orders:,} orders in {time.monotonic() - started:.1f} s"
        )
    analytics = Analytics(pool)
    now = utcnow()
    to = now.date()
    start = to - timedelta(days=29)
    cases = [(f"pricing group_by={g}", lambda g=g: analytics.pricing(g, start, to, now=utcnow()))
             for g in ("day", "product", "category", "rule", "variant")]  # fmt: skip
    cases += [(f"commission group_by={g}", lambda g=g: analytics.commission(g, start, to, now=utcnow()))
              for g in ("day", "seller", "category", "logistics_provider")]  # fmt: skip
    cases.append(("experiments", lambda: Experiments(analytics).every(now=utcnow())))
    print(f"{'report (30 days)':<36}{'p50 ms':>8}{'p95 ms':>8}")
    for name, call in cases:
        await call()  # warm: plans, caches
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            await call()
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"{name:<36}{statistics.median(times):>8.1f}{p95:>8.1f}")
    print(f"load average after: {_load()}")
    await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
