"""A real user's login while 64 clients flood POST /api/v1/auth/token with wrong passwords.

    uv run python loadtests/bench_login.py [--workers 2] [--flooders 64] [--addresses 64]
                                           [--duration 20] [--warmup 5] [--runs 3] [--source DIR]

Starts `quote-service serve` with production settings (ENVIRONMENT=production, a random
SECRET_KEY, --workers 2) on the local PostgreSQL/Redis (a fresh database `qs_bench_<pid>`,
dropped afterwards; Redis db 13, flushed first), creates one real user with `create-user`, then
each run:

  1. alone: the real user logs in 5 times, one after another (the baseline);
  2. flood: --flooders concurrent clients, spread over --addresses loopback source addresses
     (127.0.0.2, 127.0.0.3, ...), each sending wrong passwords for random unknown usernames
     back to back (no pause, Retry-After ignored), for --duration seconds;
  3. meanwhile the real user, from 127.0.0.1, logs in every 0.5 s, once --warmup seconds of
     flood have passed (every flooding address has been answered at least once by then).

Between runs the login-attempt windows (`qs:login:*`) are deleted so every run starts equal.
Prints per run and the median of runs: the real user's login latency alone and under the flood
(median, max), whether each of its logins succeeded, and the flood's answers by status.
`--source DIR` serves the code in DIR instead (e.g. a `git archive` of an older commit), to
measure before and after with the same client.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import plumbing  # loadtests/plumbing.py: what the benchmark scripts share
from redis.asyncio import Redis

REDIS_URL = os.environ.get("BENCH_LOGIN_REDIS_URL", "redis://127.0.0.1:6379/13")
LOGIN_PATH = "/api/v1/auth/token"
USER = ("bench-real-user", "a-long-and-private-passphrase")


async def real_logins(
    base: str, count: int, pause: float, stop: asyncio.Event | None = None
) -> list[tuple[float, int]]:
    """(seconds, status) of `count` logins by the real user, one after another, from 127.0.0.1."""
    body = {"username": USER[0], "password": USER[1]}
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.1")
    results = []
    async with httpx.AsyncClient(base_url=base, transport=transport, timeout=120) as http:
        for _ in range(count):
            if stop is not None and stop.is_set():
                break
            started = time.perf_counter()
            response = await http.post(LOGIN_PATH, json=body)
            status = response.status_code
            if status != 200:
                print(f"  real user: {status} {response.json()['error']['code']}", flush=True)
            results.append((time.perf_counter() - started, status))
            await asyncio.sleep(pause)
    return results


async def flooder(base: str, address: str, until: float, statuses: collections.Counter[int]) -> None:
    """Wrong passwords for random unknown usernames, back to back, from one source address."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(base_url=base, transport=transport, timeout=120) as http:
        while time.monotonic() < until:
            body = {"username": f"guess-{secrets.token_hex(4)}", "password": secrets.token_hex(8)}
            try:
                statuses[(await http.post(LOGIN_PATH, json=body)).status_code] += 1
            except httpx.TransportError:
                statuses[0] += 1


async def one_run(args: argparse.Namespace, base: str) -> dict[str, float]:
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in redis.scan_iter(match="qs:login:*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()
    alone = await real_logins(base, 5, 0.2)
    statuses: collections.Counter[int] = collections.Counter()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    until = started + args.duration
    flood = [
        asyncio.create_task(flooder(base, f"127.0.0.{2 + i % args.addresses}", until, statuses))
        for i in range(args.flooders)
    ]
    await asyncio.sleep(args.warmup)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.call_at(loop.time() + args.duration - args.warmup, stop.set)
    under = await real_logins(base, 10_000, 0.5, stop)
    await asyncio.gather(*flood)
    wall = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime) / wall
    latencies = [seconds for seconds, _ in under]
    return {
        "alone_median": statistics.median(s for s, _ in alone),
        "under_median": statistics.median(latencies),
        "under_max": max(latencies),
        "under_logins": len(under),
        **{f"real_{status}": float(sum(1 for _, s in under if s == status)) for status in {s for _, s in under}},
        "rate": sum(statuses.values()) / wall,
        "client_cores": client_cpu,
        **{f"flood_{status}": float(count) for status, count in sorted(statuses.items())},
    }


def statuses_of(result: dict[str, float], prefix: str) -> str:
    return ", ".join(f"{k.removeprefix(prefix)}: {v:.0f}" for k, v in result.items() if k.startswith(prefix))


def report(label: str, result: dict[str, float]) -> None:
    print(
        f"{label}: alone {result['alone_median'] * 1000:.0f} ms | under the flood median "
        f"{result['under_median'] * 1000:.0f} ms, max {result['under_max'] * 1000:.0f} ms, "
        f"{result['under_logins']:.0f} logins ({statuses_of(result, 'real_')}) | flood "
        f"{result['rate']:.0f} req/s ({statuses_of(result, 'flood_')}) | client {result['client_cores']:.2f} core",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--flooders", type=int, default=64)
    parser.add_argument("--addresses", type=int, default=64, help="loopback source addresses the flood uses (1-250)")
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of flood before the real user starts")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--source", type=Path, default=None, help="serve the quote_service package found in DIR")
    args = parser.parse_args()
    name = f"qs_bench_{os.getpid()}"
    asyncio.run(plumbing.database(name, create=True))
    env = {
        **os.environ,
        "DATABASE_URL": plumbing.ADMIN_URL.rsplit("/", 1)[0] + "/" + name,
        "REDIS_URL": REDIS_URL,
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "LOG_LEVEL": "ERROR",
        "LOG_FORMAT": "json",
    }
    cwd = None
    if args.source is not None:
        cwd = args.source.resolve()
        env["PYTHONPATH"] = str(cwd)
    subprocess.run(["redis-cli", "-u", REDIS_URL, "flushdb"], check=True, capture_output=True)  # noqa: S603, S607
    cli = [sys.executable, "-m", "quote_service.cli"]
    create = [*cli, "create-user", "--username", USER[0], "--password", USER[1], "--role", "user"]
    subprocess.run(create, env=env, cwd=cwd, check=True, capture_output=True)  # noqa: S603 - our own CLI
    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(  # noqa: S603
        [*cli, "serve", "--port", str(args.port), "--workers", str(args.workers)],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        plumbing.wait_ready(base, server)
        runs = []
        for number in range(1, args.runs + 1):
            result = asyncio.run(one_run(args, base))
            report(f"run {number}", result)
            runs.append(result)
        keys = dict.fromkeys(key for result in runs for key in result)
        medians = {key: statistics.median(r.get(key, 0.0) for r in runs) for key in keys}
        report(
            f"median of {args.runs} (workers={args.workers}, flooders={args.flooders}, "
            f"addresses={args.addresses}, {args.duration}s)",
            medians,
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        asyncio.run(plumbing.database(name, create=False))


if __name__ == "__main__":
    main()
