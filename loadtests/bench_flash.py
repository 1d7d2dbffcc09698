"""Flash-sale purchase storm: refusals at Redis speed, and winners' latency while they pour in.

    uv run python loadtests/bench_flash.py [--workers 1] [--connections 64] [--duration 10] [--runs 3]
                                           [--units 2000] [--buyers 8] [--wrk-threads 1]

One server for the whole run, started like loadtests/bench.py does (loadtests/plumbing.py: a fresh
database `qs_bench_<pid>`, dropped afterwards; Redis db 14, flushed first; `seed-demo`; a service API key).
It creates a SOLD-OUT sale (one unit, bought) and, for each winners phase, a fresh sale of
--units units of another product. Each run then measures, in this order:

  1. /health with wrk: the baseline, same wrk client (flash_purchases.lua), same connections;
     and the same purchase flood against the REFERENCE server (loadtests/reference_app.py: bare
     Litestar + msgspec decoding the same bodies into PurchaseCreate and echoing them).
  2. Refusal flood: wrk at --connections against the sold-out sale, every request with its own
     Idempotency-Key and customer_id → refusals/s (409 only; any other status is an error),
     p50/p99, and how many PostgreSQL transactions the database committed meanwhile.
  3. Winners alone: an httpx asyncio client, --buyers concurrent buyers, distinct customers,
     buys --units units one at a time → winners/s and each winner's p50/p99 (client-side).
  4. Winners under a storm: the same, from another fresh sale, while wrk floods (2) again.

Prints each run and the median of runs. The box is small (2 cores shared by the server, wrk,
this client, PostgreSQL and Redis), so wrk runs with one thread by default and the winners
client is modest; the CPU each of them used is printed (cores = CPU seconds / wall seconds),
so a reader sees what the server actually got.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import plumbing  # loadtests/plumbing.py: what the benchmark scripts share
from cpu import machine_busy, processes, stores_cpu, tree_cpu

LUA = Path(__file__).resolve().parent / "flash_purchases.lua"
ADMIN_LOGIN = {"username": "demo-admin", "password": "quote-service-admin"}  # seed-demo's admin


# -- CPU accounting (loadtests/cpu.py) ------------------------------------------------------------


@dataclass
class CpuMeter:
    """Cores used (CPU seconds / wall seconds) by the server, PostgreSQL + Redis, wrk, this client, the rest."""

    server_pid: int
    marks: tuple[float, ...] = ()
    table: dict[int, tuple[int, str, float]] = field(default_factory=dict)

    def _now(self) -> tuple[float, ...]:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        table = processes()
        marks = (
            time.monotonic(),
            tree_cpu(self.server_pid, table),
            stores_cpu(table, self.table),  # since the previous mark
            kids.ru_utime + kids.ru_stime,  # wrk, once reaped
            own.ru_utime + own.ru_stime,
            machine_busy(),
        )
        self.table = table
        return marks

    def start(self) -> None:
        self.marks = self._now()

    def stop(self) -> dict[str, float]:
        end = self._now()
        wall, server, _, wrk, client, busy = (b - a for a, b in zip(self.marks, end, strict=True))
        stores = end[2]
        return {
            "server": server / wall,
            "stores": stores / wall,
            "wrk": wrk / wall,
            "client": client / wall,
            "other": max(0.0, busy - server - stores - wrk - client) / wall,  # anything else on the machine
        }


# -- load generators ------------------------------------------------------------------------------


async def wrk(url: str, *, mode: list[str], connections: int, duration: float, threads: int) -> dict[str, Any]:
    """One wrk run with flash_purchases.lua: rps, p50/p99 (ms), status counts, socket errors."""
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s", "-s", str(LUA)]
    process = await asyncio.create_subprocess_exec(
        *command, url, "--", *mode, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"wrk failed: {err.decode()}")
    line = next(x for x in out.decode().splitlines() if x.startswith("BENCH_FLASH "))
    raw = json.loads(line.removeprefix("BENCH_FLASH "))
    statuses = {int(k): v for k, v in raw["statuses"].items()}
    return {
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "statuses": statuses,
        "socket_errors": raw["socket_errors"],
    }


@dataclass
class Winners:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    wall: float = 0.0

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000 if ordered else float("nan")

        return {
            "winners": len(ordered),
            "wps": len(ordered) / self.wall if self.wall else 0.0,
            "p50_ms": pct(50),
            "p99_ms": pct(99),
            "max_ms": ordered[-1] * 1000 if ordered else float("nan"),
            "errors": dict(self.errors),
        }


async def buy(
    base: str, key: str, sale: dict[str, str], *, units: int, buyers: int, tag: str, deadline: float
) -> Winners:
    """`units` purchases of one unit each, distinct customers, `buyers` at a time; each timed."""
    result = Winners()
    numbers = itertools.count()
    path = f"/api/v1/flash-sales/{sale['id']}/purchases"
    limits = httpx.Limits(max_connections=buyers, max_keepalive_connections=buyers)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30, headers={"X-API-Key": key}) as http:

        async def buyer() -> None:
            while (n := next(numbers)) < units and time.monotonic() < deadline:
                body = f'{{"product_id":"{sale["product_id"]}","quantity":1,"customer_id":"w-{tag}-{n}"}}'
                headers = {"Idempotency-Key": f"w-{tag}-{n}", "Content-Type": "application/json"}
                started = time.perf_counter()
                try:
                    response = await http.post(path, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    name = type(exc).__name__
                    result.errors[name] = result.errors.get(name, 0) + 1
                    continue
                elapsed = time.perf_counter() - started
                if response.status_code == 201:
                    result.latencies.append(elapsed)
                else:
                    try:
                        code = f"{response.status_code} {response.json()['error']['code']}"
                    except (ValueError, KeyError, TypeError):
                        code = str(response.status_code)
                    result.errors[code] = result.errors.get(code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(buyer() for _ in range(buyers)))
        result.wall = time.perf_counter() - started
    return result


# -- set-up ---------------------------------------------------------------------------------------


class Shop:
    """The admin side: products with enough stock and flash sales on them."""

    def __init__(self, base: str, key: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=30)
        token = self.http.post("/api/v1/auth/token", json=ADMIN_LOGIN).json()["data"]["access_token"]
        self.admin = {"Authorization": f"Bearer {token}"}
        self.key = key
        products = self.http.get("/api/v1/products", params={"limit": 500}, headers=self.admin).json()["data"]
        sales = self.http.get("/api/v1/flash-sales", params={"limit": 100}, headers=self.admin).json()["data"]
        taken = {item["product_id"] for sale in sales["items"] for item in sale["items"]}  # seed-demo's own sales
        # Each sale takes a product of its own (a product is in one sale at a time).
        self.free = [p for p in products["items"] if p["is_active"] and p["id"] not in taken]

    def sale(self, *, units: int, per_user_limit: int, name: str) -> dict[str, str]:
        """A new ACTIVE sale of `units` units of an unused product (its stock topped up first)."""
        if not self.free:
            raise SystemExit("no unused demo product left for another sale: use fewer --runs")
        product = self.free.pop(0)
        if product["stock"] < units:
            adjust = {"delta": units - product["stock"], "reason": "bench_flash: stock for a flash sale"}
            self.http.post(
                f"/api/v1/products/{product['id']}/stock", json=adjust, headers=self.admin
            ).raise_for_status()
        now = datetime.now(UTC)
        body = {
            "name": name,
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=6)).isoformat(),
            "items": [
                {
                    "product_id": product["id"],
                    "flash_price": product["min_price"],
                    "allocated_stock": units,
                    "per_user_limit": per_user_limit,
                }
            ],
        }
        created = self.http.post("/api/v1/flash-sales", json=body, headers=self.admin)
        if created.status_code != 201:
            raise SystemExit(f"creating a flash sale failed: {created.status_code} {created.text}")
        sale_id = created.json()["data"]["id"]
        self.http.post(f"/api/v1/flash-sales/{sale_id}/activate", headers=self.admin)  # 409 if the clock did it
        status = self.http.get(f"/api/v1/flash-sales/{sale_id}", headers=self.admin).json()["data"]["status"]
        assert status == "active", status
        return {"id": sale_id, "product_id": product["id"]}

    def sold_out_sale(self) -> dict[str, str]:
        sale = self.sale(units=1, per_user_limit=1, name="bench: sold out")
        bought = self.http.post(
            f"/api/v1/flash-sales/{sale['id']}/purchases",
            json={"product_id": sale["product_id"], "quantity": 1, "customer_id": "first"},
            headers={"X-API-Key": self.key, "Idempotency-Key": secrets.token_hex(8)},
        )
        assert bought.status_code == 201, bought.text
        return sale

    def remaining(self, sale: dict[str, str]) -> int:
        data = self.http.get(f"/api/v1/flash-sales/{sale['id']}", headers=self.admin).json()["data"]
        return int(data["items"][0]["remaining_stock"])


async def pg_transactions(database_url: str, name: str) -> int:
    """Transactions the benchmark database committed or rolled back (as the statistics have them)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SELECT pg_stat_force_next_flush()")
        return int(
            await conn.fetchval("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1", name)
        )
    finally:
        await conn.close()


# -- one run --------------------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    base: str
    key: str
    shop: Shop
    sold_out: dict[str, str]
    meter: CpuMeter
    database_url: str
    database: str
    reference: str

    def flood_mode(self, tag: str) -> list[str]:
        return ["purchase", self.key, self.sold_out["product_id"], tag]

    @property
    def flood_url(self) -> str:
        return f"{self.base}/api/v1/flash-sales/{self.sold_out['id']}/purchases"

    async def flood(self, tag: str, duration: float) -> dict[str, Any]:
        args = self.args
        result = await wrk(
            self.flood_url,
            mode=self.flood_mode(tag),
            connections=args.connections,
            duration=duration,
            threads=args.wrk_threads,
        )
        result["refusals"] = result["statuses"].get(409, 0)
        result["refusals_s"] = result["rps"] * result["refusals"] / max(1, sum(result["statuses"].values()))
        result["errors"] = sum(n for s, n in result["statuses"].items() if s != 409) + result["socket_errors"]
        return result

    async def winners(self, sale: dict[str, str], tag: str, *, deadline: float) -> dict[str, Any]:
        bought = await buy(
            self.base, self.key, sale, units=self.args.units, buyers=self.args.buyers, tag=tag, deadline=deadline
        )
        summary = bought.summary()
        # Nothing oversold or lost: what the sale says is left + the 201s = what it had.
        summary["unaccounted"] = self.args.units - self.shop.remaining(sale) - summary["winners"]
        return summary

    async def run(self, number: int) -> dict[str, Any]:
        args, tag = self.args, f"r{number}-{secrets.token_hex(3)}"
        out: dict[str, Any] = {}
        health_url = self.base + "/health"
        self.meter.start()
        out["health"] = await wrk(
            health_url, mode=["get"], connections=args.connections, duration=args.duration, threads=args.wrk_threads
        )
        out["health_cpu"] = self.meter.stop()
        reference_url = f"{self.reference}/api/v1/flash-sales/{self.sold_out['id']}/purchases"
        out["reference"] = await wrk(
            reference_url, mode=self.flood_mode(f"{tag}-ref"), connections=args.connections,
            duration=args.duration, threads=args.wrk_threads,
        )  # fmt: skip

        before = await pg_transactions(self.database_url, self.database)
        self.meter.start()
        out["flood"] = await self.flood(f"{tag}-f", args.duration)
        out["flood_cpu"] = self.meter.stop()
        out["flood_pg_tx"] = await pg_transactions(self.database_url, self.database) - before

        sale = self.shop.sale(units=args.units, per_user_limit=1, name=f"bench: winners {tag} alone")
        self.meter.start()
        out["alone"] = await self.winners(sale, f"{tag}-a", deadline=time.monotonic() + 120)
        out["alone_cpu"] = self.meter.stop()

        storm_seconds = args.duration + 2
        sale = self.shop.sale(units=args.units, per_user_limit=1, name=f"bench: winners {tag} in a storm")
        self.meter.start()
        flood = asyncio.create_task(self.flood(f"{tag}-s", storm_seconds))
        await asyncio.sleep(1.0)  # the flood at full strength before the first winner
        out["storm"] = await self.winners(sale, f"{tag}-w", deadline=time.monotonic() + storm_seconds - 2)
        out["storm_flood"] = await flood
        out["storm_cpu"] = self.meter.stop()
        return out


def cpu(c: dict[str, float]) -> str:
    return (
        f"server {c['server']:.2f} pg+redis {c['stores']:.2f} wrk {c['wrk']:.2f} client {c['client']:.2f} "
        f"other {c['other']:.2f}"
    )


def report_run(number: int, r: dict[str, Any]) -> None:
    h, f, a, s, sf = r["health"], r["flood"], r["alone"], r["storm"], r["storm_flood"]
    print(
        f"run {number}: /health {h['rps']:,.0f} rps | refusals {f['refusals_s']:,.0f}/s p50 {f['p50_ms']:.2f} "
        f"p99 {f['p99_ms']:.2f} ms errors {f['errors']} (statuses {f['statuses']}, pg tx {r['flood_pg_tx']})"
        f" ÷ /health {f['refusals_s'] / h['rps']:.2f} | reference echo {r['reference']['rps']:,.0f} rps,"
        f" refusals ÷ reference {f['refusals_s'] / r['reference']['rps']:.2f}\n"
        f"       winners alone {a['winners']} at {a['wps']:,.0f}/s p50 {a['p50_ms']:.2f} p99 {a['p99_ms']:.2f} "
        f"max {a['max_ms']:.1f} ms errors {a['errors']} unaccounted {a['unaccounted']}\n"
        f"       storm: winners {s['winners']} at {s['wps']:,.0f}/s p50 {s['p50_ms']:.2f} p99 {s['p99_ms']:.2f} "
        f"max {s['max_ms']:.1f} ms errors {s['errors']} unaccounted {s['unaccounted']} | refusals "
        f"{sf['refusals_s']:,.0f}/s p99 {sf['p99_ms']:.2f} ms errors {sf['errors']}\n"
        f"       cores used — health: {cpu(r['health_cpu'])} | flood: {cpu(r['flood_cpu'])}\n"
        f"                    alone: {cpu(r['alone_cpu'])} | storm: {cpu(r['storm_cpu'])}",
        flush=True,
    )


def report_medians(args: argparse.Namespace, runs: list[dict[str, Any]]) -> None:
    def med(path: str) -> float:
        keys = path.split(".")
        values = []
        for run in runs:
            value: Any = run
            for k in keys:
                value = value[k]
            values.append(value)
        return statistics.median(values)

    ratio = statistics.median(r["flood"]["refusals_s"] / r["health"]["rps"] for r in runs)
    vs_reference = statistics.median(r["flood"]["refusals_s"] / r["reference"]["rps"] for r in runs)
    # Server CPU per answer: what a refusal costs whatever share of the cores the server got.
    health_us = statistics.median(r["health_cpu"]["server"] / r["health"]["rps"] * 1e6 for r in runs)
    refusal_us = statistics.median(r["flood_cpu"]["server"] / r["flood"]["rps"] * 1e6 for r in runs)
    flood_errors = sum(r["flood"]["errors"] + r["storm_flood"]["errors"] for r in runs)
    winner_errors = sum(sum(r[p]["errors"].values()) for r in runs for p in ("alone", "storm"))
    unaccounted = sum(r[p]["unaccounted"] for r in runs for p in ("alone", "storm"))
    rows = [
        ("/health (baseline)", f"{med('health.rps'):,.0f} rps", f"{med('health.p50_ms'):.2f}",
         f"{med('health.p99_ms'):.2f}", ""),
        ("reference echo (same bodies)", f"{med('reference.rps'):,.0f} rps", f"{med('reference.p50_ms'):.2f}",
         f"{med('reference.p99_ms'):.2f}", ""),
        ("refusal flood (409 SOLD_OUT)", f"{med('flood.refusals_s'):,.0f} /s", f"{med('flood.p50_ms'):.2f}",
         f"{med('flood.p99_ms'):.2f}", ">= 0.8 x reference"),
        ("winners alone", f"{med('alone.wps'):,.0f} /s", f"{med('alone.p50_ms'):.2f}", f"{med('alone.p99_ms'):.2f}",
         ""),
        ("winners under the flood", f"{med('storm.wps'):,.0f} /s", f"{med('storm.p50_ms'):.2f}",
         f"{med('storm.p99_ms'):.2f}", "p99 <= 50 ms"),
        ("refusals during the storm", f"{med('storm_flood.refusals_s'):,.0f} /s", f"{med('storm_flood.p50_ms'):.2f}",
         f"{med('storm_flood.p99_ms'):.2f}", ""),
    ]  # fmt: skip
    print(
        f"\nmedian of {len(runs)} runs (workers={args.workers}, connections={args.connections}, "
        f"{args.duration}s floods, wrk -t {args.wrk_threads}, {args.units} units x {args.buyers} buyers):"
    )
    print(f"| {'case':<30} | {'rate':>12} | {'p50 ms':>7} | {'p99 ms':>7} | target")
    print(f"|{'-' * 32}|{'-' * 14}|{'-' * 9}|{'-' * 9}|{'-' * 8}")
    for name, rate, p50, p99, target in rows:
        print(f"| {name:<30} | {rate:>12} | {p50:>7} | {p99:>7} | {target}")
    print(
        f"refusals ÷ reference {vs_reference:.2f} (target >= 0.8); refusals ÷ /health {ratio:.2f}; "
        f"PostgreSQL transactions during the refusal flood "
        f"{med('flood_pg_tx'):.0f} (for {med('flood.refusals'):,.0f} refusals); non-409 in floods {flood_errors}; "
        f"winner errors {winner_errors}; units unaccounted {unaccounted}"
    )
    print(
        f"server CPU per answer: /health {health_us:.0f} µs, refusal {refusal_us:.0f} µs "
        f"(one core at this cost: {1e6 / refusal_us:,.0f} refusals/s)"
    )
    for phase in ("health", "flood", "alone", "storm"):
        c = {
            k: statistics.median(r[f"{phase}_cpu"][k] for r in runs)
            for k in ("server", "stores", "wrk", "client", "other")
        }
        print(f"cores used, {phase:<6} (of {os.cpu_count()}): {cpu(c)}")


def describe(args: argparse.Namespace) -> str:
    """What was measured where: commit (and whether the service code had uncommitted changes), machine."""

    def git(*command: str) -> str:
        return subprocess.run(["git", *command], cwd=plumbing.ROOT, capture_output=True, text=True).stdout.strip()  # noqa: S603, S607

    dirty = " + uncommitted changes" if git("status", "--porcelain", "--", "quote_service", "migrations") else ""
    memory = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1]
    commit = git("rev-parse", "--short", "HEAD") or f"? ({plumbing.ROOT} is not a git checkout)"
    return (
        f"commit {commit}{dirty} (quote_service/, migrations/)"
        f"; {os.cpu_count()} CPUs, {int(memory) / 2**20:.1f} GiB, load average {os.getloadavg()[0]:.2f}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; args {vars(args)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (baseline and floods)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each wrk phase")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--units", type=int, default=2000, help="units of each winners sale")
    parser.add_argument("--buyers", type=int, default=8, help="concurrent winners (httpx asyncio client)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="1 leaves the server a core on a 2-core box")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--reference-port", type=int, default=8768)
    parser.add_argument("--keep-server", action="store_true", help="print the server pid and wait (profiling)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")

    name = f"qs_bench_{os.getpid()}"
    asyncio.run(plumbing.database(name, create=True))
    database_url = plumbing.ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": plumbing.REDIS_URL, "LOG_LEVEL": "WARNING",
           "LOG_FORMAT": "json", "RATE_LIMIT_PER_MINUTE": "100000000", "ENVIRONMENT": "development"}  # fmt: skip
    subprocess.run(["redis-cli", "-u", plumbing.REDIS_URL, "flushdb"], check=True, capture_output=True)  # noqa: S603, S607
    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "quote_service.cli", "serve", "--port", str(args.port), "--workers", str(args.workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    reference = plumbing.start_reference(args.reference_port)
    reference_base = f"http://127.0.0.1:{args.reference_port}"
    print(describe(args), flush=True)
    try:
        plumbing.wait_ready(base, server)
        plumbing.wait_ready(reference_base, reference, path="/health")
        key, _ = plumbing.prepare(base, env)
        shop = Shop(base, key)
        state = Bench(
            args, base, key, shop, shop.sold_out_sale(), CpuMeter(server.pid), database_url, name, reference_base
        )
        print(f"server pid {server.pid}; sold-out sale {state.sold_out['id']}", flush=True)
        asyncio.run(state.flood("warm", 3))  # warm-up: imports, caches, connections
        if args.keep_server:  # for a profiler: flood it by hand; SIGTERM ends it and cleans up
            print(f"flood URL {state.flood_url}\nwrk args: -- {' '.join(state.flood_mode('manual'))}", flush=True)
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            signal.pause()
        runs = []
        for number in range(1, args.runs + 1):
            result = asyncio.run(state.run(number))
            report_run(number, result)
            runs.append(result)
        report_medians(args, runs)
    finally:
        plumbing.stop(reference)
        plumbing.stop(server)
        asyncio.run(plumbing.database(name, create=False))


if __name__ == "__main__":
    main()
