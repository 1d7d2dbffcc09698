"""Soak: steady quote load for N minutes; memory, Redis bytes per live quote, answered vs logged.

    uv run python loadtests/soak.py [--minutes 10] [--workers 2] [--connections 32] [--lines 3]
                                    [--redis-maxmemory 64mb [--redis-policy volatile-lru]]

Starts a private `redis-server` (its own port: its `used_memory` is this run's alone; with
`--redis-maxmemory`, capped, under `--redis-policy`), a scratch database on the local PostgreSQL
(`qs_soak_<pid>`, dropped afterwards), `quote-service serve --workers W` on them, and seeds the
demo catalog. Then wrk sends distinct 3-line baskets (3 different demo products, random
customer, so no response cache answers) back to back for `--minutes`, one wrk run per minute.
`--lines N` (other than 3) sends N-line baskets instead: it seeds a marketplace of 20 sellers
(loadtests/workloads.py's, at least 1.5 N products, so baskets differ) and each basket is N of its
products drawn at random, 1-3 units each (MAX_QUOTE_LINES raised to N past its default of 200).
Every minute it prints: requests answered by status, p50/p99 latency, server RSS (granian's
master and every worker), Redis `used_memory`, live quotes (answered 200 within their validity)
and Redis bytes per live quote (used_memory growth since the load began ÷ live quotes), and
quotes answered vs rows in `quote_log`. wrk records the id of every quote answered 200.

At the end, once the write-behind log has drained, a verdict on each condition:
- Redis bytes per live quote ≤ 1,000 (not judged while Redis evicts: it then holds fewer, nor for
  baskets of other than 3 lines: the target is a 3-line quote's);
- server RSS flat over the last third of the run (least-squares growth ≤ 3 % of its mean);
- every quote answered is logged and nothing else is: rows in `quote_log` = quotes the server
  answered 200 (its `qs_quote_duration_seconds_count`), and every id wrk received is a row;
- with `--redis-maxmemory`: the quote endpoint answered only 200 or 503.
Exit status 0 when every verdict holds. Needs `wrk`, `redis-server` and the local PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis
from cpu import descendants, processes
from plumbing import PrivateService, private_service, wrk_result
from workloads import configure_marketplace

LUA = """
local ids = {%(ids)s}
local headers = {["Content-Type"] = "application/json", ["X-API-Key"] = "%(key)s"}
local threads, started = {}, 0
function setup(thread)
  started = started + 1
  thread:set("tid", started)
  table.insert(threads, thread)
end
function init(args)
  answered, statuses, n, body_bytes = {}, {}, 0, 0
  math.randomseed(os.time() * 1000 + tid)
end
request = function()
  local a = math.random(#ids)
  local b = (a + math.random(#ids - 2)) %% #ids + 1
  local c = b
  while c == a or c == b do c = math.random(#ids) end
  local line = '{"product_id":"%%s","quantity":%%d}'
  local items = string.format(line .. "," .. line .. "," .. line,
    ids[a], math.random(1, 3), ids[b], math.random(1, 3), ids[c], math.random(1, 3))
  local body = string.format('{"customer_id":"soak-%%d","seller_id":"seller-anatolia","items":[%%s],' ..
    '"delivery_address":{"city":"Istanbul","country":"TR","latitude":41.0082,"longitude":28.9784},' ..
    '"pickup_address":{"city":"Istanbul","country":"TR","latitude":41.0186,"longitude":29.0023},' ..
    '"is_express_delivery":false,"coupon_codes":["WELCOME10"],"currency":"TRY","customer_tier":"gold"}',
    math.random(1, 2000000000), items)
  return wrk.format("POST", "/api/v1/quote", headers, body)
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 200 then
    local id = string.match(body, '"quote_id":"([^"]+)"')
    if id then n = n + 1; answered[n] = id end
    body_bytes = body_bytes + #body
  end
end
function done(summary, latency, requests)
  local out = io.open("%(ids_file)s", "a")
  local counts, body_bytes = {}, 0
  for _, thread in ipairs(threads) do
    body_bytes = body_bytes + thread:get("body_bytes")
    for _, id in ipairs(thread:get("answered")) do out:write(id, "\\n") end
    for status, count in pairs(thread:get("statuses")) do counts[status] = (counts[status] or 0) + count end
  end
  out:close()
  for status, count in pairs(counts) do io.write(string.format("STATUS %%d %%d\\n", status, count)) end
  io.write(string.format("BODY_BYTES %%d\\n", body_bytes))
end
"""
REQUEST_LINES = """request = function()
  for i = #ids, #ids - %(lines)d + 1, -1 do
    local j = math.random(i)
    ids[i], ids[j] = ids[j], ids[i]
  end
  local items = {}
  for k = 1, %(lines)d do
    items[k] = string.format('{"product_id":"%%s","quantity":%%d}', ids[#ids - k + 1], math.random(1, 3))
  end
  local body = string.format('{"customer_id":"soak-%%d","currency":"TRY","items":[%%s],' ..
    '"delivery_address":{"city":"Ankara","country":"TR","latitude":39.93,"longitude":32.86},' ..
    '"pickup_address":{"city":"Istanbul","country":"TR","latitude":41.01,"longitude":28.98},' ..
    '"logistics_provider":"fastship"}', math.random(1, 2000000000), table.concat(items, ","))
  return wrk.format("POST", "/api/v1/quote", headers, body)
end
"""
"""An N-line basket's request (`--lines N`): the last N of `ids` after a partial Fisher-Yates shuffle."""
HEADER = (
    "min | statuses                   |  p50 ms  p99 ms | RSS MiB | Redis MiB |     live | B/quote | "
    " answered    logged"
)
QUOTE = "/api/v1/quote"
SAMPLE_SECONDS = 5.0
BYTES_PER_QUOTE_TARGET = 1000
FLAT_TOLERANCE = 0.03
LINES_MAX = 1000
"""The service's ceiling on MAX_QUOTE_LINES."""


@dataclass
class Sample:
    at: float
    rss: int
    used_memory: int
    answered: int


@dataclass
class Run:
    """What the minutes gathered; `samples` come from a thread every SAMPLE_SECONDS."""

    started: float
    baseline_memory: int
    statuses: Counter[int] = field(default_factory=Counter)
    samples: list[Sample] = field(default_factory=list)
    evicting: bool = False
    body_bytes: float = 0.0


def rss_bytes(root: int) -> int:
    """Resident memory of the server: granian's master and every worker."""
    total = 0
    for pid in descendants(root, processes()):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) * 1024 if match else 0
    return total


def answered_by_server(base: str) -> int:
    """Quotes the server answered 200 (every worker's `qs_quote_duration_seconds_count`)."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return int(
        sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("qs_quote_duration_seconds_count"))
    )


async def fetch(url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


def logged_ids(url: str) -> set[str]:
    return {str(row[0]) for row in asyncio.run(fetch(url, "SELECT quote_id FROM quote_log"))}


def logged_count(url: str) -> int:
    return int(asyncio.run(fetch(url, "SELECT count(*) FROM quote_log"))[0][0])


def sample(service: PrivateService) -> Sample:
    return Sample(time.monotonic(), rss_bytes(service.server.pid), int(service.store.info("memory")["used_memory"]),
                  answered_by_server(service.base))  # fmt: skip


def sample_forever(run: Run, service: PrivateService, stopping: threading.Event) -> None:
    while not stopping.wait(SAMPLE_SECONDS):
        try:
            run.samples.append(sample(service))
        except (OSError, httpx.HTTPError, redis.RedisError):
            continue


def live_quotes(run: Run, now: Sample, validity: float) -> int:
    """Quotes answered within the validity window before `now` (all of them, early in a run)."""
    older = [s for s in run.samples if s.at <= now.at - validity]
    return now.answered - (older[-1].answered if older else 0)


def minute_line(
    minute: int, result: dict[str, float], chunk: Counter[int], run: Run, logged: int, validity: float
) -> str:
    now = run.samples[-1]
    live = live_quotes(run, now, validity)
    per_quote = (now.used_memory - run.baseline_memory) / live if live else float("nan")
    statuses = " ".join(f"{status}:{count}" for status, count in sorted(chunk.items()))
    return (f"{minute:>3} | {statuses:<26} | {result['p50_ms']:7.1f} {result['p99_ms']:7.1f} | "
            f"{now.rss / 2**20:7.0f} | {now.used_memory / 2**20:8.1f} | {live:>8} | {per_quote:7.0f} | "
            f"{now.answered:>9} {logged:>9}")  # fmt: skip


def growth_over_last_third(samples: list[Sample]) -> float:
    """Least-squares RSS growth across the last third of the samples, as a share of their mean."""
    tail = samples[len(samples) * 2 // 3 :]
    if len(tail) < 3:
        return float("nan")
    xs, ys = [s.at for s in tail], [float(s.rss) for s in tail]
    slope = statistics.linear_regression(xs, ys).slope
    return slope * (xs[-1] - xs[0]) / statistics.fmean(ys)


def drain(database_url: str, base: str, seeded: int, within: float = 60.0) -> int:
    """Wait until the write-behind log holds what the server answered (or `within` passed);
    returns the server's count of quotes answered 200."""
    deadline = time.monotonic() + within
    while True:
        answered = answered_by_server(base)
        if logged_count(database_url) - seeded >= answered or time.monotonic() > deadline:
            return answered
        time.sleep(0.5)


def verdicts(
    args: argparse.Namespace, run: Run, answered: int, logged: set[str], received: list[str], validity: float
) -> bool:
    last, third = run.samples[-1], run.samples[len(run.samples) * 2 // 3]
    live = live_quotes(run, last, validity)
    grown = last.used_memory - run.baseline_memory
    per_quote = grown / max(1, live)
    growth = growth_over_last_third(run.samples)
    missing = len(set(received) - logged)
    memory = f"{per_quote:.0f} B ({live} live quotes, used_memory +{grown / 2**20:.1f} MiB)"
    rss = f"growth {growth * 100:+.1f} % (RSS {third.rss / 2**20:.0f} -> {last.rss / 2**20:.0f} MiB)"
    log = (
        f"server answered {answered}, quote_log {len(logged)}, wrk received {len(received)} ids ({missing} not logged)"
    )
    judged: list[tuple[str, bool | None, str]] = [
        ("Redis bytes per live quote <= 1,000",
         None if run.evicting or args.lines != 3 else per_quote <= BYTES_PER_QUOTE_TARGET,
         memory + (" — Redis evicted keys: not judged" if run.evicting else "")
         + (f" — {args.lines}-line baskets: the target is a 3-line quote's" if args.lines != 3 else "")),
        ("server RSS flat over the last third", growth <= FLAT_TOLERANCE, rss),
        ("every answered quote logged, nothing else", len(logged) == answered and missing == 0, log),
    ]  # fmt: skip
    if args.redis_maxmemory:
        others = {status: n for status, n in run.statuses.items() if status not in (200, 503)}
        judged.append(("only 200 or 503", not others, f"statuses {dict(sorted(run.statuses.items()))}"))
    print("verdict:")
    for name, passed, detail in judged:
        print(f"  {'n/a ' if passed is None else 'PASS' if passed else 'FAIL'}  {name}: {detail}")
    return all(passed is not False for _, passed, _ in judged)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--port", type=int, default=8771)
    parser.add_argument("--redis-maxmemory", help="cap the private Redis (e.g. 64mb)")
    parser.add_argument("--redis-policy", default="volatile-lru", help="its maxmemory-policy when capped")
    parser.add_argument("--validity", type=int, default=900, help="QUOTE_VALIDITY_SECONDS (the service's default: 900)")
    parser.add_argument(
        "--lines",
        type=int,
        default=3,
        help=f"lines a basket (1 to {LINES_MAX}; other than 3: a seeded marketplace's products)",
    )
    args = parser.parse_args()
    if not 1 <= args.lines <= LINES_MAX:
        parser.error(f"--lines must be between 1 and {LINES_MAX}")
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed")
    settings = {"QUOTE_VALIDITY_SECONDS": str(args.validity), "MAX_QUOTE_LINES": str(max(200, args.lines))}
    capped = {"maxmemory": args.redis_maxmemory, "policy": args.redis_policy} if args.redis_maxmemory else {}
    with private_service(port=args.port, workers=args.workers, **capped, **settings) as service:
        passed = soak(args, service)
    raise SystemExit(0 if passed else 1)


def lua(ids: list[str], key: str, ids_file: Path, lines: int = 3) -> str:
    """The wrk script: distinct 3-line baskets of `ids`, or with `lines` other than 3, `lines`-line ones."""
    script = LUA
    if lines != 3:
        start = script.index("request = function()")
        script = script[:start] + REQUEST_LINES + script[script.index("\nend\n", start) + len("\nend\n") :]
    return script % {"ids": ", ".join(json.dumps(p) for p in ids), "key": key, "ids_file": ids_file, "lines": lines}


def per_seller(lines: int) -> int:
    """Products each of the marketplace's 20 sellers gets for `lines`-line baskets: 1.5 x lines in all, 10 at least."""
    return max(10, -(-lines * 3 // 40))


def marketplace(service: PrivateService, lines: int) -> list[str]:
    """Seed loadtests/workloads.py's marketplace (20 sellers, `per_seller(lines)` products each) on the
    service's scratch database, as the demo admin; the products' ids."""

    async def seeded() -> list[str]:
        async with httpx.AsyncClient(base_url=service.base, timeout=30) as http:
            login = {"username": "demo-admin", "password": "quote-service-admin"}
            token = (await http.post("/api/v1/auth/token", json=login)).json()["data"]["access_token"]
            admin = {"Authorization": f"Bearer {token}"}

            async def made(path: str, body: dict[str, Any]) -> Any:
                answer = await http.post(path, json=body, headers=admin)
                if answer.status_code != 201:
                    raise SystemExit(f"POST {path}: {answer.status_code} {answer.text[:500]}")
                return answer.json()["data"]

            return await configure_marketplace(made, per_seller=per_seller(lines))

    return asyncio.run(seeded())


def soak(args: argparse.Namespace, service: PrivateService) -> bool:
    """The minutes of load, a line each, then the verdicts; True when they all hold."""
    ids_file, script = service.root / "answered.txt", service.root / "soak.lua"
    ids = service.products if args.lines == 3 else marketplace(service, args.lines)
    script.write_text(lua(ids, service.key, ids_file, args.lines))
    redis_text = f"{args.redis_maxmemory} {args.redis_policy}" if args.redis_maxmemory else "uncapped"
    print(f"soak: {args.minutes} min, {args.workers} workers, {args.connections} connections, "
          f"{args.lines}-line baskets of {len(ids)} products; "
          f"Redis {redis_text}; {platform.node()}, {os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    before = logged_ids(service.database_url)  # seed-demo's generated history: not this run's
    run = Run(time.monotonic(), int(service.store.info("memory")["used_memory"]))
    run.samples.append(sample(service))
    stopping = threading.Event()
    threading.Thread(target=sample_forever, args=(run, service, stopping), daemon=True).start()
    print(HEADER)
    try:
        for minute in range(1, args.minutes + 1):
            result, chunk = wrk_result(service.base, QUOTE, connections=args.connections, duration=60, script=script)
            run.statuses.update(chunk)
            run.body_bytes += result.get("body_bytes", 0.0)
            run.samples.append(sample(service))
            run.evicting = run.evicting or int(service.store.info("stats")["evicted_keys"]) > 0
            logged = logged_count(service.database_url) - len(before)
            print(minute_line(minute, result, chunk, run, logged, args.validity), flush=True)
    finally:
        stopping.set()
    answered = drain(service.database_url, service.base, len(before))
    evicted = int(service.store.info("stats")["evicted_keys"])
    size = run.body_bytes / max(1, run.statuses[200])
    print(f"after the load: Redis evicted {evicted} keys; a 200 answer averaged {size:.0f} bytes; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    logged_now = logged_ids(service.database_url) - before
    return verdicts(args, run, answered, logged_now, ids_file.read_text().split(), args.validity)


if __name__ == "__main__":
    main()
