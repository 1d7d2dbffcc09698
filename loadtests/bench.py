"""Endpoint benchmark: POST /api/v1/quote vs a bare framework doing nothing, and vs /health, in one run.

    uv run python loadtests/bench.py [--workers 1] [--connections 64] [--duration 10] [--runs 3]
                                     [--profile /tmp/quote.spy] [--no-flash] [--money-numbers]
                                     [--compare-with /path/to/another/checkout]

Starts `quote-service serve` on the local PostgreSQL (a fresh database `qs_bench_<pid>`) and a
redis-server of its own (both removed afterwards), runs `seed-demo` (50 products and a typical
configuration: commission rates, fee/tax/price rules, flags, coupons), creates a service API
key, and starts the REFERENCE server (loadtests/reference_app.py: bare Litestar + msgspec
decoding the same bodies into the same request Struct and echoing them, granian, 1 worker; a run
stops if the echo answers an error status: its figures would be an error path's).
Each run drives, with wrk: `/health`, the reference with the quote bodies, then quotes with
DISTINCT baskets (random customer, 1-4 random demo products, random quantities, so no response
cache answers; `--body readme`: the README's one-line basket, `--body simple`: the cost budget's
ad-hoc line, each from a new customer). Prints per run and the median of runs: rps of each, quote ÷
reference, quote ÷ /health, quote p50/p99 latency, non-2xx count, and CPU µs per request from /proc
(the server's Python event-loop thread, its other threads — granian's runtime —, granian's master,
the PostgreSQL backends connected to its own database, its redis-server: not the machine's other
sessions' backends). A phase's stores are counted until they are idle again after the load (a
quote log writer that fell behind writes its rows then: counted in its phase, and kept out of the
next phase's window; the seconds are printed when ≥ 1).
With `--money-numbers`, each run also drives the same quotes with `X-Money-Format: number`
next to the string ones (after them in odd runs, before in even ones), and prints numbers ÷
strings (rps, and the worker's CPU per quote).
With `--compare-with PATH`, a second server runs the quote_service package of another checkout
(PYTHONPATH=PATH, its `.venv/bin/python` when it has one, else `--compare-python`) on a database of
its own, migrated and seeded by its own code (an older commit's schema differs), and the same
redis-server, and each run drives its quotes too, two phases each in the order ABBA,
then BAAB in the next run: this checkout ÷ that one, quotes/s and the worker's CPU per quote,
geometric mean of the runs' ratios. On a shared machine that moves ±10 % between runs, interleaved phases are how a
before/after is measured end to end (BENCHMARKS.md).
With `--work`, a third server (loadtests/work_app.py: the same bare Litestar, doing only a quote's
own work — the engine on the demo configuration read at its start, the quote's JSON, its
quote-log row and its zstd frame — without the service around it: authentication, limits, caches,
the Redis write, the quote log's queue, metrics) takes the same bodies in each run, between the
echo and the quotes, and it prints quote ÷ work (what the service around the work costs) and
work ÷ reference (the most quote ÷ reference could be if that service cost nothing).
With `--unused-features`, after the runs it configures features these quotes never use
(loadtests/unused_features.py: price lists for another currency or group, failing promotions,
flags with targeting rules, stock held by other customers' reserving quotes) and runs again on
the same server: configured ÷ none of quote ÷ reference and of the worker's CPU per quote.
With `--profile FILE`, one more quote phase runs with py-spy (200 Hz) on the worker and the
worker's busy time is split by component (loadtests/spy.py), in µs per quote.
Then, on the same server, the flash-sale storm of loadtests/bench_flash.py (refusals/s, winners
p50/p99 alone and under a refusal flood); `--no-flash` skips it.
Needs `wrk` (Debian: apt-get install wrk) and the servers of the README's test setup.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cpu import ServerCpu, descendants, processes
from plumbing import (
    ADMIN_URL,
    LUA,
    backends,
    check_free,
    database,
    free_port,
    prepared,
    start_redis,
    start_reference,
    stop,
    wait_ready,
    wrk,
)
from plumbing import interpreter as interpreter_line
from workloads import wrk_script


def flash_storm(
    args: argparse.Namespace, base: str, key: str, pid: int, database_url: str, name: str, reference: str
) -> None:
    """The flash-sale storm on the same server: refusal flood, winners alone and under the flood."""
    import bench_flash  # the sibling script (loaded only when the storm runs)

    flash_args = argparse.Namespace(
        workers=args.workers, connections=args.connections, duration=args.duration, runs=args.runs,
        units=2000, buyers=8, wrk_threads=1, port=args.port,
    )  # fmt: skip
    shop = bench_flash.Shop(base, key)
    state = bench_flash.Bench(
        flash_args, base, key, shop, shop.sold_out_sale(), bench_flash.CpuMeter(pid), database_url, name, reference
    )
    print("flash-sale storm (loadtests/bench_flash.py phases):", flush=True)
    asyncio.run(state.flood("warm", 3))
    runs = []
    for number in range(1, args.runs + 1):
        result = asyncio.run(state.run(number))
        bench_flash.report_run(number, result)
        runs.append(result)
    bench_flash.report_medians(flash_args, runs)


PARTS = ("worker_python", "worker_threads", "master", "postgres", "redis")


def lua_script(ids: list[str], key: str, money: str) -> Path:
    """The wrk script sending distinct demo baskets with this key (and `money`: more headers)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(LUA % {"ids": ", ".join(json.dumps(i) for i in ids), "key": key, "money": money})
    return Path(lua.name)


STORES: dict[int, Callable[[], tuple[int, ...]]] = {}
"""Per server (its ServerCpu's root pid): the pids of its own stores now, its database's PostgreSQL
backends and the private redis-server (read before each phase: a pool may open connections)."""


def measured(meter: ServerCpu, base: str, path: str, args: argparse.Namespace, script: Path | None) -> dict[str, float]:
    """One wrk phase with the server's CPU per request (µs) by part."""
    stores = STORES.get(meter.root)
    if stores is not None:
        meter.stores = stores()
    meter.start()
    result = wrk(base, path, connections=args.connections, duration=args.duration, script=script)
    used = meter.stop()
    # The stores' work the phase left behind (a quote log writer behind its load), counted in its
    # phase and kept out of the next one.
    drained, result["drain_s"] = meter.drain()
    for part, seconds in drained.items():
        used[part] += seconds
    for part in PARTS:
        result[f"{part}_us"] = used[part] / max(1.0, result["requests"]) * 1e6
    return result


def profile_quotes(meter: ServerCpu, base: str, args: argparse.Namespace, script: Path, root: int) -> None:
    """One more quote phase with py-spy sampling the (first) worker; prints the shares by component."""
    import spy  # the sibling module

    workers = sorted(pid for pid in descendants(root, processes()) if pid != root)
    if not workers:
        raise SystemExit("no worker process found under the server")
    recorder = spy.record(workers[0], args.duration, args.profile)
    time.sleep(0.5)  # py-spy attaches
    result = measured(meter, base, "/api/v1/quote", args, script)
    recorder.wait(timeout=args.duration + 30)
    print(f"profiled quote phase: {result['rps']:.0f} rps, CPU {cpu_line(result)}")
    busy = result["worker_python_us"] * result["requests"] / 1e6
    print(spy.report(args.profile, result["requests"] / max(1, len(workers)), busy / max(1, len(workers))))


def refused_by_echo(result: dict[str, float]) -> None:
    """Stop when the reference answered errors: its figures would be an error path's, and every ratio to
    it wrong (the simple body's decimal number was refused 400 until the echo read it as the service does)."""
    if result["non_2xx"]:
        raise SystemExit(
            f"the reference echo answered {result['non_2xx']:.0f} of {result['requests']:.0f} requests with an"
            " error status: its figures would not be an echo's (loadtests/reference_app.py)"
        )


def cpu_line(r: dict[str, float]) -> str:
    return (
        f"python {r['worker_python_us']:.0f} + threads {r['worker_threads_us']:.0f} + master {r['master_us']:.0f}"
        f" | pg {r['postgres_us']:.0f} redis {r['redis_us']:.0f} µs/req"
        + (f" (stores busy {r['drain_s']:.1f} s after the load)" if r.get("drain_s", 0.0) >= 1.0 else "")
    )


def report(runs: list[dict[str, dict[str, float]]], args: argparse.Namespace) -> None:
    median = statistics.median

    def med(phase: str, key: str) -> float:
        return median(r[phase][key] for r in runs)

    print(
        f"median of {args.runs} (workers={args.workers}, connections={args.connections}, {args.duration}s):\n"
        f"  reference {med('reference', 'rps'):.0f} rps | quote {med('quote', 'rps'):.0f} rps | /health "
        f"{med('health', 'rps'):.0f} rps\n"
        f"  quote ÷ reference {median(r['quote']['rps'] / r['reference']['rps'] for r in runs):.2f} (target >= 0.8)"
        f" | quote ÷ /health {median(r['quote']['rps'] / r['health']['rps'] for r in runs):.2f}\n"
        f"  quote p50 {med('quote', 'p50_ms'):.2f} ms p99 {med('quote', 'p99_ms'):.2f} ms (target <= 25) | "
        f"reference p99 {med('reference', 'p99_ms'):.2f} ms | non-2xx {sum(r['quote']['non_2xx'] for r in runs):.0f}"
    )
    server = {phase: median(server_us(r[phase]) for r in runs) for phase in ("quote", "reference")}
    print(
        f"  server CPU a request (worker + its threads + master + its PostgreSQL backends + its Redis): quote"
        f" {server['quote']:.0f} µs, echo {server['reference']:.0f} µs: quote ÷ echo"
        f" {median(server_us(r['quote']) / server_us(r['reference']) for r in runs):.2f} (target <= 2.2)"
    )
    phases = ("quote", "numbers", "work", "reference", "health")
    phases = tuple(phase for phase in phases if phase in runs[0])
    for phase in phases:
        print(f"  CPU per request, {phase:<9}: " + cpu_line({f"{p}_us": med(phase, f"{p}_us") for p in PARTS}))
    if "work" in runs[0]:
        print(
            f"  quote ÷ work {median(r['quote']['rps'] / r['work']['rps'] for r in runs):.2f} (what the service around "
            f"the work costs) | work ÷ reference {median(r['work']['rps'] / r['reference']['rps'] for r in runs):.2f} "
            "(the most quote ÷ reference could be with that service free)"
        )
    if "other" in runs[0]:
        # Geometric means of runs whose phases were ABBA, then BAAB (ab_phases): on the 2-core box the
        # first quote phase after the echo's ran ~15 % faster than the next, whichever checkout it was.
        rps = statistics.geometric_mean(r["quote"]["rps"] / r["other"]["rps"] for r in runs)
        cpu = statistics.geometric_mean(_worker_us(r["quote"]) / max(_worker_us(r["other"]), 1e-9) for r in runs)
        print("  CPU per request, other    : " + cpu_line({f"{p}_us": med("other", f"{p}_us") for p in PARTS}))
        share = median(r["other"]["rps"] / r["reference"]["rps"] for r in runs)
        cpu_share = median(server_us(r["other"]) / server_us(r["reference"]) for r in runs)
        print(f"  the other checkout: quote ÷ reference {share:.2f} | server CPU quote ÷ echo {cpu_share:.2f}")
        whole = statistics.geometric_mean(server_us(r["quote"]) / max(server_us(r["other"]), 1e-9) for r in runs)
        print(
            f"  this checkout ÷ {args.compare_with}: quotes/s {rps:.3f} | worker CPU per quote {cpu:.3f} |"
            f" server CPU per quote {whole:.3f} (this {median(server_us(r['quote']) for r in runs):.0f} µs,"
            f" that {median(server_us(r['other']) for r in runs):.0f} µs; medians)"
        )
    if "numbers" in runs[0]:
        rps = median(r["numbers"]["rps"] / r["quote"]["rps"] for r in runs)
        cpu = median(_worker_us(r["numbers"]) / max(_worker_us(r["quote"]), 1e-9) for r in runs)
        print(f"  X-Money-Format: number ÷ strings: rps {rps:.3f} | worker CPU per quote {cpu:.3f}")


def server_us(result: dict[str, float]) -> float:
    """Server CPU µs a request: every part (PARTS)."""
    return sum(result[f"{part}_us"] for part in PARTS)


def _worker_us(result: dict[str, float]) -> float:
    return result["worker_python_us"] + result["worker_threads_us"]


def ab_phases(
    ours: ServerCpu,
    mine: tuple[str, Path],
    other: tuple[ServerCpu, str, Path],
    args: argparse.Namespace,
    *,
    first: bool,
) -> tuple[dict[str, float], dict[str, float]]:
    """Two quote phases on each checkout, ABBA (this one first) or BAAB: (this one's, the other's),
    each the two phases together (each with its own script: its key and its database's product ids)."""
    phases: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for this in (first, not first, not first, first):
        meter, url, script = (ours, *mine) if this else other
        phases[this].append(measured(meter, url, "/api/v1/quote", args, script))
    return together(phases[True]), together(phases[False])


def together(phases: list[dict[str, float]]) -> dict[str, float]:
    """Phases of the same length as one: requests and CPU added up, the rest averaged."""
    merged = {key: sum(phase[key] for phase in phases) / len(phases) for key in phases[0]}
    for key in ("requests", "non_2xx", "socket_errors"):
        merged[key] = sum(phase[key] for phase in phases)
    for part in PARTS:
        used = sum(phase[f"{part}_us"] * phase["requests"] for phase in phases)
        merged[f"{part}_us"] = used / max(1.0, merged["requests"])
    return merged


def run_phases(
    ours: ServerCpu,
    theirs: ServerCpu,
    base: str,
    reference_base: str,
    script: Path,
    numbers: Path | None,
    args: argparse.Namespace,
    other: tuple[ServerCpu, str, Path] | None = None,
    work: tuple[ServerCpu, str] | None = None,
) -> list[dict[str, dict[str, float]]]:
    """`--runs` runs of /health, the reference echo and quotes (and the number form when asked;
    the other checkout's quotes, `other` = (its CPU meter, its URL), when comparing; the work-only
    server's answers to the same bodies, `work` = (its CPU meter, its URL), with --work)."""
    runs = []
    for run in range(1, args.runs + 1):
        health = measured(ours, base, "/health", args, None)
        refr = measured(theirs, reference_base, "/api/v1/quote", args, script)
        refused_by_echo(refr)
        worked = None if work is None else measured(work[0], work[1], "/api/v1/quote", args, script)
        as_numbers = None
        if numbers is not None and run % 2 == 0:  # alternate which form goes first
            as_numbers = measured(ours, base, "/api/v1/quote", args, numbers)
        if other is None:
            quotes = measured(ours, base, "/api/v1/quote", args, script)
        else:  # ABBA, then BAAB: whichever phase comes first after the echo's can be ~15 % faster
            quotes, compared = ab_phases(ours, (base, script), other, args, first=run % 2 == 0)
        runs.append({"health": health, "reference": refr, "quote": quotes})
        if worked is not None:
            runs[-1]["work"] = worked
            print(f"run {run}: work only {worked['rps']:.0f} rps (quote ÷ work {quotes['rps'] / worked['rps']:.2f}, "
                  f"work ÷ reference {worked['rps'] / refr['rps']:.2f}), CPU {cpu_line(worked)}")  # fmt: skip
        if other is not None:
            runs[-1]["other"] = compared
            ratio = quotes["rps"] / compared["rps"]
            print(f"run {run}: the other checkout {compared['rps']:.0f} rps (this ÷ that {ratio:.3f}), "
                  f"CPU {cpu_line(compared)}")  # fmt: skip
        if numbers is not None:
            if as_numbers is None:
                as_numbers = measured(ours, base, "/api/v1/quote", args, numbers)
            runs[-1]["numbers"] = as_numbers
            print(f"run {run}: X-Money-Format: number {as_numbers['rps']:.0f} rps "
                  f"(÷ strings {as_numbers['rps'] / quotes['rps']:.3f}), CPU {cpu_line(as_numbers)}")  # fmt: skip
        print(f"run {run}: reference {refr['rps']:.0f} rps | quote {quotes['rps']:.0f} rps "
              f"p50 {quotes['p50_ms']:.2f} ms p99 {quotes['p99_ms']:.2f} ms non-2xx {quotes['non_2xx']:.0f} "
              f"socket errors {quotes['socket_errors']:.0f} | /health {health['rps']:.0f} rps | quote ÷ reference "
              f"{quotes['rps'] / refr['rps']:.2f}, ÷ /health {quotes['rps'] / health['rps']:.2f}\n"
              f"       quote CPU {cpu_line(quotes)}; reference CPU {cpu_line(refr)}", flush=True)  # fmt: skip
    return runs


def unused_phases(
    ours: ServerCpu,
    theirs: ServerCpu,
    base: str,
    reference_base: str,
    script: Path,
    caller: tuple[str, list[str]],
    plain: list[dict[str, dict[str, float]]],
    args: argparse.Namespace,
) -> None:
    """Configure features the quotes never use, run the phases again, and compare with `plain`."""
    import unused_features  # the sibling module

    key, ids = caller
    print(unused_features.configure(base, key, ids, lists=20, promotions=200, flags=10, holds=2), flush=True)
    configured = run_phases(ours, theirs, base, reference_base, script, None, args)
    report(configured, args)
    median = statistics.median

    def ratio(runs: list[dict[str, dict[str, float]]]) -> float:
        return median(r["quote"]["rps"] / r["reference"]["rps"] for r in runs)

    def cpu(runs: list[dict[str, dict[str, float]]]) -> float:
        return median(_worker_us(r["quote"]) for r in runs)

    print(
        f"unused features configured ÷ none: quote ÷ reference {ratio(configured):.2f} / {ratio(plain):.2f} = "
        f"{ratio(configured) / ratio(plain):.2f}; worker CPU per quote {cpu(configured):.0f} / {cpu(plain):.0f} µs = "
        f"{cpu(configured) / cpu(plain):.2f} (target: 1.00 within the noise)"
    )


def serve(
    port: int, workers: int, env: dict[str, str], python: str = sys.executable, cwd: Path | None = None
) -> tuple[subprocess.Popen[bytes], Path]:
    """`quote-service serve` by `python` in `cwd` (another checkout's), its output to a temporary file."""
    log = Path(tempfile.mkstemp(prefix="qs-bench-serve-", suffix=".log")[1])
    with log.open("wb") as out:
        server = subprocess.Popen(  # noqa: S603
            [python, "-m", "quote_service.cli", "serve", "--port", str(port), "--workers", str(workers)],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
        )  # fmt: skip
    return server, log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--reference-port", type=int, default=8767)
    parser.add_argument(
        "--no-flash", action="store_true", help="skip the flash-sale storm (loadtests/bench_flash.py's phases)"
    )
    parser.add_argument(
        "--money-numbers", action="store_true", help="also quote with X-Money-Format: number, and compare"
    )
    parser.add_argument(
        "--work", action="store_true",
        help="also serve loadtests/work_app.py (a quote's own work without the service) and compare",
    )  # fmt: skip
    parser.add_argument("--work-port", type=int, default=8768)
    parser.add_argument(
        "--unused-features", action="store_true",
        help="then configure price lists, promotions, targeted flags, reservations the quotes never use; run again",
    )  # fmt: skip
    parser.add_argument(
        "--compare-with", metavar="PATH", type=Path,
        help="also serve another checkout (its own database and interpreter) and alternate quote phases with it",
    )  # fmt: skip
    parser.add_argument("--compare-python", metavar="PYTHON", help="the other checkout's interpreter")
    parser.add_argument(
        "--body", choices=("demo", "readme", "simple"), default="demo",
        help="the quotes' bodies (loadtests/workloads.py): demo baskets of 1-4 random products (default), the"
        " README's one-line basket, or the cost budget's one ad-hoc line; each from a new customer",
    )  # fmt: skip
    parser.add_argument(
        "--profile", metavar="FILE", type=Path,
        help="after the runs, one more quote phase with py-spy on the worker: raw stacks to FILE, shares by component",
    )  # fmt: skip
    args = parser.parse_args()
    check_free(args.port, args.reference_port, *([args.work_port] if args.work else []))
    name = f"qs_bench_{os.getpid()}"
    asyncio.run(database(name, create=True))
    database_url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    # A redis-server of the run's own: its CPU is the run's alone (the machine's is shared).
    scratch = Path(tempfile.mkdtemp(prefix="qs-bench-"))
    redis_port = free_port()
    redis_server = start_redis(redis_port, None, "noeviction", scratch)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    # One API key sends everything (the rate limit); development: serve needs no SECRET_KEY.
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING",
           "LOG_FORMAT": "json", "RATE_LIMIT_PER_MINUTE": "100000000", "ENVIRONMENT": "development",
           "QUOTE_LOG_SPOOL_DIR": str(scratch / "spool")}  # fmt: skip
    base = f"http://127.0.0.1:{args.port}"
    reference_base = f"http://127.0.0.1:{args.reference_port}"
    server, _ = serve(args.port, args.workers, env)
    reference = start_reference(args.reference_port)
    compared: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    other_name = f"{name}_other"
    try:
        wait_ready(base, server)
        wait_ready(reference_base, reference, path="/health")
        key, by_sku = prepared(base, env)
        ids = list(by_sku.values())
        STORES[server.pid] = lambda: (*backends(name), redis_server.pid)
        STORES[reference.pid] = lambda: (-1,)  # the echo uses no store: none of the machine's counted
        script = bodies_script(args.body, key, by_sku)
        numbers = (
            bodies_script(args.body, key, by_sku, ', ["X-Money-Format"] = "number"') if args.money_numbers else None
        )
        print(f"interpreter: {interpreter_line()}\nload before: {load_average()}", flush=True)
        other = None
        if args.compare_with is not None:  # its own database, migrated and seeded by its own code
            other_root = args.compare_with.resolve()
            own = other_root / ".venv/bin/python"
            python = args.compare_python or (str(own) if own.exists() else sys.executable)
            other_port = args.port + 3
            check_free(other_port)
            asyncio.run(database(other_name, create=True))
            paths = [str(other_root), *filter(None, [os.environ.get("PYTHONPATH")])]
            other_url = ADMIN_URL.rsplit("/", 1)[0] + "/" + other_name
            other_env = {**env, "DATABASE_URL": other_url, "PYTHONPATH": os.pathsep.join(paths)}
            compared, _ = serve(other_port, args.workers, other_env, python, other_root)
            other_base = f"http://127.0.0.1:{other_port}"
            wait_ready(other_base, compared)
            other_key, other_skus = prepared(other_base, other_env, python, other_root)
            other_script = bodies_script(args.body, other_key, other_skus)
            STORES[compared.pid] = lambda: (*backends(other_name), redis_server.pid)
            other = (ServerCpu(compared.pid), other_base, other_script)
            print(f"the other checkout: {python} in {other_root}", flush=True)
            wrk(other_base, "/api/v1/quote", connections=args.connections, duration=3, script=other_script)  # warm-up
        wrk(base, "/api/v1/quote", connections=args.connections, duration=3, script=script)  # warm-up
        wrk(reference_base, "/api/v1/quote", connections=args.connections, duration=3, script=script)
        work = None
        if args.work:  # after prepare: it reads the demo configuration and catalog once, at its start
            worker = start_reference(args.work_port, app="work_app.py", env={"WORK_DATABASE_URL": database_url})
            work = (ServerCpu(worker.pid), f"http://127.0.0.1:{args.work_port}")
            STORES[worker.pid] = lambda: (-1,)  # it read its configuration at its start
            wait_ready(work[1], worker, path="/health")
            wrk(work[1], "/api/v1/quote", connections=args.connections, duration=3, script=script)  # warm-up
        ours, theirs = ServerCpu(server.pid), ServerCpu(reference.pid)
        runs = run_phases(ours, theirs, base, reference_base, script, numbers, args, other, work)
        report(runs, args)
        if args.unused_features:
            unused_phases(ours, theirs, base, reference_base, script, (key, ids), runs, args)
        if args.profile is not None:
            profile_quotes(ours, base, args, script, server.pid)
        script.unlink(missing_ok=True)
        if numbers is not None:
            numbers.unlink(missing_ok=True)
        if not args.no_flash:
            flash_storm(args, base, key, server.pid, database_url, name, reference_base)
    finally:
        stop(reference)
        stop(server)
        for extra in (compared, worker):
            if extra is not None:
                stop(extra)
        redis_server.kill()
        redis_server.wait()
        print(f"load after: {load_average()}")
        asyncio.run(database(name, create=False))
        asyncio.run(database(other_name, create=False))
        shutil.rmtree(scratch, ignore_errors=True)


def bodies_script(kind: str, key: str, by_sku: dict[str, str], money: str = "") -> Path:
    """The wrk script of `--body`: the demo baskets of plumbing.LUA, else workloads.wrk_script's."""
    if kind == "demo":
        return lua_script(list(by_sku.values()), key, money)
    return wrk_script(kind, key, by_sku, money)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    main()
