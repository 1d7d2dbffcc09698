"""Analytics benchmark, one run: generate-data's time for a million quotes, each analytics
endpoint's p50/p95 over what it wrote, and the quote endpoint's rps with the rollup job busy vs off.

    uv run python loadtests/bench_analytics.py [--products 2000 --days 30 --quotes-per-day 33334]
        [--runs 30] [--rps-runs 3] [--duration 10] [--connections 64] [--keep] [--zones Europe/Istanbul,...]

1. A fresh database `qs_analytics_<pid>` and a Redis logical database claimed as the test suite
   claims one (`qs-test:db:N` in db 0), both emptied afterwards (the database kept with --keep),
   `seed-demo` (accounts, demo products, rules, variant flags), then
   `quote-service generate-data ... --quiet` as a subprocess, timed from the outside.
2. `quote-service serve` (1 worker, ROLLUP_INTERVAL=0): each analytics endpoint over HTTP with an
   admin token, one warm-up call then `--runs` sequential calls (30-day reports, the generated
   flash sales' reports, the experiments list).
3. The quote endpoint with wrk (distinct baskets, as loadtests/bench.py) on a server started with
   the rollup job on (ROLLUP_INTERVAL=1) and one with it off (0), otherwise the same settings,
   alternated, `--rps-runs` of each, a fresh server each run. Before every run all the
   generated hours are marked dirty (as after `rebuild-rollups` or a backlog), so with the job on
   it recomputes hours from the raw rows for the whole run — the job's worst case, not its steady
   state (then it recomputes each closed hour once). Prints each run, the hours recomputed, and
   the medians.
Prints the load average (the box is shared) before and after each part.
Needs `wrk` and the local PostgreSQL/Redis of the README's test setup.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
from plumbing import ADMIN_URL, LUA, database, stop, wait_ready, wrk
from redis import Redis

REDIS_BASE = os.environ.get("BENCH_REDIS_BASE", "redis://127.0.0.1:6379")
ADMIN = {"username": "demo-admin", "password": "quote-service-admin"}


def claim_redis() -> tuple[Redis, str, int]:
    """A Redis logical database (1-15) no test session or other bench holds (the suite's claims)."""
    claims = Redis.from_url(REDIS_BASE)
    token = f"bench-analytics:{os.getpid()}"
    for number in range(1, 16):
        if claims.set(f"qs-test:db:{number}", token, nx=True, ex=3600):
            return claims, token, number
    raise SystemExit("every Redis logical database 1-15 is claimed")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cli(env: dict[str, str], *args: str) -> str:
    command = [sys.executable, "-m", "quote_service.cli", *args]
    return subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout  # noqa: S603


def serve(env: dict[str, str], port: int, rollup_interval: str) -> subprocess.Popen[bytes]:
    server_env = {**env, "ROLLUP_INTERVAL": rollup_interval}
    return subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "quote_service.cli", "serve", "--port", str(port), "--workers", "1"],
        env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def percentile(times: list[float], share: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def reports(base: str, runs: int, sales: list[str], zones: list[str]) -> None:
    with httpx.Client(base_url=base, timeout=60) as http:
        token = http.post("/api/v1/auth/token", json=ADMIN).json()["data"]["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        groups = ("day", "product", "category", "rule", "variant", "region")
        paths = [f"/api/v1/analytics/pricing?group_by={g}" for g in groups]
        paths += [
            f"/api/v1/analytics/commission?group_by={g}" for g in ("day", "seller", "category", "logistics_provider")
        ]
        paths.append("/api/v1/analytics/flags")
        paths += [f"/api/v1/analytics/flash-sales/{sale}" for sale in sales[:1]]
        for zone in zones:  # local days (docs/time-zones.md): whole-hour zones from the hourly rollups
            paths += [f"/api/v1/analytics/pricing?group_by={g}&tz={zone}" for g in ("day", "product")]
            paths.append(f"/api/v1/analytics/commission?group_by=day&tz={zone}")
        paths.append("/api/v1/experiments")
        print(f"{'endpoint (30 days)':<58}{'rows':>6}{'p50 ms':>8}{'p95 ms':>8}", flush=True)
        for path in paths:
            first = http.get(path, headers=headers)  # warm-up: plans, the settled-days cache
            assert first.status_code == 200, (path, first.text)
            data = first.json()["data"]
            rows = len(data) if isinstance(data, list) else len(data.get("rows", [None]))
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                response = http.get(path, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            shown = path.replace(sales[0], "{id}") if sales else path
            print(f"{shown:<58}{rows:>6}{statistics.median(times):>8.1f}{percentile(times, 0.95):>8.1f}", flush=True)


def generated_sales(base: str) -> list[str]:
    with httpx.Client(base_url=base, timeout=30) as http:
        token = http.post("/api/v1/auth/token", json=ADMIN).json()["data"]["access_token"]
        listing = http.get("/api/v1/flash-sales", params={"limit": 100}, headers={"Authorization": f"Bearer {token}"})
    return [r["id"] for r in listing.json()["data"]["items"] if r["name"].startswith("Generated flash sale")]


def quote_setup(base: str, database_url: str) -> tuple[str, list[str]]:
    with httpx.Client(base_url=base, timeout=30) as http:
        token = http.post("/api/v1/auth/token", json=ADMIN).json()["data"]["access_token"]
        admin = {"Authorization": f"Bearer {token}"}
        key = http.post("/api/v1/api-keys", json={"name": "bench-analytics"}, headers=admin).json()["data"]["key"]
    # Demo products only: the demo configuration (rates, rules, coupons) is written for them.
    return key, asyncio.run(demo_products(database_url))


async def demo_products(database_url: str) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        return [str(r["id"]) for r in await conn.fetch("SELECT id FROM products WHERE sku LIKE 'DEMO-%' ORDER BY sku")]
    finally:
        await conn.close()


async def mark_everything(database_url: str) -> int:
    """Mark every hour that holds quotes or orders dirty (both kinds), as a backlog would."""
    conn = await asyncpg.connect(database_url)
    try:
        for kind, source in (("pricing", "quote_log"), ("commission", "orders")):
            await conn.execute(
                f"SELECT rollup_mark($1, ARRAY(SELECT DISTINCT date_trunc('hour', created_at, 'UTC') FROM {source}"
                "  WHERE created_at < date_trunc('hour', now())))",
                kind,
            )
        return int(await conn.fetchval("SELECT count(DISTINCT (kind, hour)) FROM rollup_dirty"))
    finally:
        await conn.close()


async def dirty(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(DISTINCT (kind, hour)) FROM rollup_dirty"))
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--quotes-per-day", type=int, default=33_334)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--rps-runs", type=int, default=3, help="0: the reports only")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--port", type=int, default=8771)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--zones", default="", help="comma-separated IANA zones: day and product reports in each")
    args = parser.parse_args()
    name = f"qs_analytics_{os.getpid()}"
    database_url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    claims, token, number = claim_redis()
    redis_url = f"{REDIS_BASE.rstrip('/')}/{number}"
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING",
           "LOG_FORMAT": "json", "RATE_LIMIT_PER_MINUTE": "100000000", "ENVIRONMENT": "development"}  # fmt: skip
    Redis.from_url(redis_url).flushdb()
    asyncio.run(database(name, create=True))
    base = f"http://127.0.0.1:{args.port}"
    server: subprocess.Popen[bytes] | None = None
    try:
        cli(env, "seed-demo")
        print(f"load average before generate-data: {load()}", flush=True)
        started = time.monotonic()
        out = cli(env, "generate-data", "--products", str(args.products), "--days", str(args.days),
                  "--quotes-per-day", str(args.quotes_per_day), "--seed", str(args.seed), "--quiet")  # fmt: skip
        took = time.monotonic() - started
        print(out.strip())
        print(f"generate-data: {took:.1f} s (the whole command: start-up, migrations check, data, rollups)")
        print(f"load average after generate-data: {load()}", flush=True)

        server = serve(env, args.port, "0")
        wait_ready(base, server)
        sales = generated_sales(base)
        print(f"load average before the reports: {load()}", flush=True)
        reports(base, args.runs, sales, [zone for zone in args.zones.split(",") if zone])
        print(f"load average after the reports: {load()}", flush=True)
        key, ids = quote_setup(base, database_url)
        stop(server)
        server = None
        if not args.rps_runs:  # the reports only
            return

        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
            lua.write(LUA % {"ids": ", ".join(json.dumps(i) for i in ids), "key": key})
        script = Path(lua.name)
        results: dict[str, list[float]] = {"on": [], "off": []}
        print(f"load average before the quote runs: {load()}", flush=True)
        for run in range(1, args.rps_runs + 1):
            for mode in ("on", "off"):
                marked = asyncio.run(mark_everything(database_url))
                server = serve(env, args.port, "1" if mode == "on" else "0")
                wait_ready(base, server)
                wrk(base, "/api/v1/quote", connections=args.connections, duration=3, script=script)  # warm-up
                before = asyncio.run(dirty(database_url))
                result = wrk(base, "/api/v1/quote", connections=args.connections, duration=args.duration,
                             script=script)  # fmt: skip
                after = asyncio.run(dirty(database_url))
                stop(server)
                server = None
                if result["non_2xx"] > result["requests"] / 100:
                    raise SystemExit(f"more than 1 % of the quotes failed: {result}")
                results[mode].append(result["rps"])
                print(
                    f"run {run} rollup job {mode:>3}: {result['rps']:.0f} rps, p50 {result['p50_ms']:.1f} ms,"
                    f" p99 {result['p99_ms']:.1f} ms, non-2xx {result['non_2xx']:.0f}; dirty hours {marked} marked,"
                    f" {before} -> {after} during the run | load {load()}",
                    flush=True,
                )
        script.unlink(missing_ok=True)
        on, off = statistics.median(results["on"]), statistics.median(results["off"])
        print(f"quote rps, median of {args.rps_runs}: rollup job busy {on:.0f}, off {off:.0f} (ratio {on / off:.2f})")
        print(f"load average at the end: {load()}", flush=True)
    finally:
        if server is not None:
            stop(server)
        if not args.keep:
            asyncio.run(database(name, create=False))
        Redis.from_url(redis_url).flushdb()
        if claims.get(f"qs-test:db:{number}") == token.encode():
            claims.delete(f"qs-test:db:{number}")


if __name__ == "__main__":
    main()
