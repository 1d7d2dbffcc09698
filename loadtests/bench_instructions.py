"""Instructions per warm served quote, counted by valgrind: a figure the machine's noise cannot move.

    uv run python loadtests/bench_instructions.py [--workload simple,demo,marketplace] [--runs 3]
    uv run python loadtests/bench_instructions.py --compare-with /path/to/other/checkout [--runs 3]

Timings on the shared 2-core box move ±10-40 %, more than a regression of 30 %; an instruction
count moves < 1 %. For each workload (loadtests/workloads.py: `simple`, the README's one-line
body; `demo`, seed-demo's basket; `marketplace`, 200 lines from 20 sellers; `card_bin`; `lines-N`,
the marketplace's first N products a line each, N up to 1,000: above 200 its 20 sellers have N ÷ 20
products each and the service runs with MAX_QUOTE_LINES at N) and each
checkout, the worker's whole quote path runs in one process under valgrind's callgrind: the
service's ASGI app on its own lifespan (the lean edge, authentication by a service API key, the
engine, the JSON, the Redis group commit, the quote log's spool and its writer's INSERT), driven
by `--concurrency` tasks as granian would hand the requests over. Counting starts after a warm-up
round and stops after `--quotes` quotes and the quote log's writer has written their rows, at
exact points (callgrind's client requests, from a small C library built here on the fly).

What runs by the clock is pinned, so that the count does not follow how long the window lasts
(under valgrind a window lasts ~30-50x longer than it would natively, and counts drifted from 857 K
to 1,355 K a quote for one tree with the load): every background loop's timed pause (schedulers,
pollers, the metrics flush, the zstd dictionary's keeper, the quote log's 0.2 s writer) becomes
"until woken" once warm — the writer then writes the window's rows once, inside the window, as
its passes would; the deadline watches' 5 ms timers run once, at the end of the window (dropping
every ended entry, as their ticks would); principals never expire (10 s natively). What still
runs by itself is measured in an idle window of `--idle` seconds after the quotes and taken off
pro rata (printed: ~0.1 % once pinned). PYTHONHASHSEED=0, the same seeded bodies.

Each checkout runs on a database of its own, migrated and configured by its own code (the two
trees' schemas may differ: `--compare-with` an older commit), with its own interpreter: the
other checkout's `.venv/bin/python` when it has one (`make bootstrap` there), else `--compare-python`,
else this one. Redis is a private `redis-server` on a free port. It prints per workload the
instructions a quote of each run, their median, this ÷ that, and the inclusive share of the C
parts in PARTS. `--dumps DIR` keeps callgrind's files (`callgrind_annotate --inclusive=yes FILE`).

Instructions are not time: a system call counts as one instruction and a cache miss as none;
PostgreSQL's and Redis's own work is not in it (bench.py measures those, in CPU time). `--cache-sim`
also runs callgrind's cache simulation on one fixed model (CACHE_MODEL: 32 KiB L1s, a 512 KiB
last level) and prints L1 and last-level misses a quote and callgrind's cycle estimate (Ir + 10 x
L1 misses + 100 x last-level misses): still deterministic, and it sees a larger working set.
Needs valgrind (Debian: apt-get install valgrind; it brings callgrind.h and callgrind_annotate),
a C compiler, the local PostgreSQL of the README's test setup and `redis-server`. A run of 600
simple quotes takes ~1 minute.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

HERE = Path(__file__).resolve().parent
HEADER = Path("/usr/include/valgrind/callgrind.h")
QUOTES = {"simple": 600, "readme": 600, "card_bin": 600, "demo": 600, "marketplace": 20}
"""Quotes counted per run by default (a 200-line quote is ~40 simple ones)."""
WARM_QUOTES = 2_100
"""Quotes served before the count (but for the 200-line marketplace: two rounds)."""
OUTLIER = 0.02
"""An idle rate above this share of the window: something that is not pinned ran (a one-off); the
run is counted again (once pinned, the idle rate is ~0.01 %)."""
# `--cache-sim`: one fixed model, so that counts compare across hosts (valgrind's own detection took
# this VM's CPUID for a 320 MB direct-mapped last level): an EPYC core's 32 KiB 8-way L1s and its
# 512 KiB 8-way L2 as the last level (the L3 is shared with the other cores and the VM's neighbours).
CACHE_MODEL = ("--cache-sim=yes", "--I1=32768,8,64", "--D1=32768,8,64", "--LL=524288,8,64")
SPOOL = Path(tempfile.gettempdir()) / f"qs-instr-spool-{os.getpid()}"
"""The quote log's spool of every counted process (removed at the end)."""
CONCURRENCY = {"simple": 64, "readme": 64, "card_bin": 64, "demo": 64, "marketplace": 8}
LINES_MAX = 1_000
"""The largest `lines-N` (the service's ceiling on MAX_QUOTE_LINES is the same)."""

CONTROL_C = """
#include <valgrind/callgrind.h>
void qs_start(void) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_ZERO_STATS; }
void qs_stop(void) { CALLGRIND_DUMP_STATS_AT("measured"); CALLGRIND_STOP_INSTRUMENTATION; }
int qs_on_valgrind(void) { return RUNNING_ON_VALGRIND; }
void qs_toggle(void) { CALLGRIND_TOGGLE_COLLECT; }
void qs_dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""

STEPS: tuple[tuple[str, str, str], ...] = (
    ("quote_service.quotes.service", "choose_offers", "offers chosen for the lines (the service, before the engine)"),
    ("quote_service.pricing.engine", "quote_lines", "1-4 lines: list price, offers landed, flash sales, rules"),
    ("quote_service.pricing.engine", "automatic_promotions", "5a promotions matched and combined"),
    ("quote_service.pricing.engine", "coupon_codes", "5 coupons"),
    ("quote_service.pricing.engine", "line_taxes", "6 tax per line (settlement)"),
    ("quote_service.pricing.engine", "shipments", "7 shipments per seller"),
    ("quote_service.pricing.engine", "fees", "7-8 delivery and small-basket fees"),
    ("quote_service.pricing.engine", "quote_commission", "10 commission"),
    ("quote_service.pricing.engine", "quote_answer", "9 the answer: totals, lines shown, seller totals"),
)
"""`--steps`: (module, name, what) of the steps counted one by one (none inside another): in a window of their
own after the quotes' and the idle one, collection is off but inside a step, and each step's call ends in a dump
named after it (`CALLGRIND_DUMP_STATS_AT`), so that each dump holds that call's instructions alone."""

# (what, the C function whose inclusive count it is): the largest parts of a quote that have a
# function of their own. The Python code has none (its functions are the interpreter's).
PARTS: tuple[tuple[str, str], ...] = (
    ("JSON out (msgspec: the quote, its log row)", "JSONEncoder_encode"),
    ("  Decimal to text in it", "json_encode_decimal"),
    ("the request's JSON (msgspec)", "JSONDecoder_decode"),
    ("msgpack (msgspec)", "Encoder_encode"),
    ("zstd frame of the stored quote", "ZstdCompressor_compress"),
    ("garbage collector", "gc_collect_main"),
    ("system calls (libc write/send/recv)", "__libc_write"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--workload", default="simple,demo,marketplace",
        help="comma-separated: " + ", ".join(QUOTES) + ", lines-N (the marketplace's first N products, a line each;"
        " N <= 1000: above 200, MAX_QUOTE_LINES=N and N / 20 products a seller)",
    )  # fmt: skip
    parser.add_argument("--quotes", type=int, help="quotes counted per run (default: per workload, QUOTES)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each checkout and workload")
    parser.add_argument("--concurrency", type=int, help="requests in flight (default: per workload)")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of the idle window counted after the quotes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--compare-with", metavar="PATH", type=Path, help="another checkout, run alternately")
    parser.add_argument("--compare-python", metavar="PYTHON", help="the other checkout's interpreter")
    parser.add_argument("--python", metavar="PYTHON", default=sys.executable, help="this checkout's interpreter")
    parser.add_argument(
        "--tree", metavar="PATH", type=Path, help="count this checkout instead of the script's own (a bisect's commit)"
    )
    parser.add_argument(
        "--common-fields", action="store_true",
        help="send each tree only the request fields both know (equal work: an older tree drops the newer fields"
        " anyway, e.g. 8e7ec84 the demo basket's customer_group and with it the b2b price list)",
    )  # fmt: skip
    parser.add_argument("--dumps", metavar="DIR", type=Path, help="keep callgrind's files there (callgrind_annotate)")
    parser.add_argument(
        "--steps", action="store_true",
        help="also count the engine's steps one by one (STEPS), in a window of their own after the quotes': each"
        " step's instructions a quote and a line (where a line's cost goes)",
    )  # fmt: skip
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the counts there (JSON)")
    parser.add_argument(
        "--cache-sim", action="store_true",
        help="also simulate the CPU's caches (callgrind --cache-sim=yes, CACHE_MODEL, ~1.5x slower): L1 and"
        " last-level misses a quote and callgrind's cycle estimate, Ir + 10 x L1 misses + 100 x LL misses",
    )  # fmt: skip
    parser.add_argument("--inner", metavar="DIR", type=Path, help=argparse.SUPPRESS)  # the process valgrind runs
    parser.add_argument("--setup", metavar="FILE", type=Path, help=argparse.SUPPRESS)  # configure one database
    parser.add_argument("--known", metavar="FILE", type=Path, help=argparse.SUPPRESS)  # what --setup made
    args = parser.parse_args()
    if args.setup is not None:
        import uvloop

        uvloop.run(configure(args.setup, args.workload))
        return
    if args.inner is not None:
        import uvloop

        uvloop.run(counted(args))
        return
    missing = [tool for tool in ("valgrind", "callgrind_annotate", "cc", "redis-server") if shutil.which(tool) is None]
    if missing or not HEADER.exists():
        raise SystemExit(
            f"needs valgrind, its callgrind.h, a C compiler and redis-server (missing: {', '.join(missing) or HEADER});"
            " Debian: apt-get install valgrind gcc redis-server"
        )
    workloads = [w.strip() for w in args.workload.split(",") if w.strip()]
    unknown = {w for w in workloads if w not in QUOTES and not _lines(w)}
    if unknown:
        raise SystemExit(f"unknown workloads: {', '.join(sorted(unknown))} (known: {', '.join(QUOTES)})")
    trees = [Tree("this checkout", HERE.parent, args.python)]
    if args.tree is not None:
        trees = [Tree(str(args.tree), args.tree.resolve(), args.python)]
    if args.compare_with is not None:
        other = args.compare_with.resolve()
        own = other / ".venv/bin/python"
        python = args.compare_python or (str(own) if own.exists() else None)
        trees.append(Tree(str(args.compare_with), other, python or sys.executable))
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="qs-instructions-") as scratch, private_redis(Path(scratch)) as redis_url:
        work = Path(scratch)
        build_control(work)
        print(f"load before: {load_average()}", flush=True)
        for tree in trees:
            print(f"{tree.name}: {tree.python} ({version(tree.python)}), commit {commit_of(tree.root)}", flush=True)
        for workload in workloads:
            quotes = args.quotes or QUOTES.get(workload) or min(600, max(5, 4000 // _lines(workload)))
            counts: dict[str, list[float]] = {tree.name: [] for tree in trees}
            caches: dict[str, list[dict[str, float]]] = {tree.name: [] for tree in trees}
            dumps: dict[str, list[Path]] = {tree.name: [] for tree in trees}
            with contextlib.ExitStack() as stack:
                setups = {tree.name: stack.enter_context(configured(tree, workload, work, redis_url)) for tree in trees}
                if args.common_fields and len(trees) > 1:
                    common_fields(list(setups.values()))
                for run in range(args.runs):
                    order = list(enumerate(trees)) if run % 2 == 0 else list(enumerate(trees))[::-1]
                    for index, tree in order:
                        measured = one_run(work, tree, setups[tree.name], workload, quotes, args, redis_url,
                                           f"{workload}-{run}-{index}")  # fmt: skip
                        if measured.idle_share() > OUTLIER:  # something unpinned ran meanwhile: once more
                            print(
                                f"{workload} run {run + 1} {tree.name}: the idle rate is"
                                f" {measured.idle_share():.1%} of the window (> {OUTLIER:.0%}): counted again"
                            )
                            measured = one_run(work, tree, setups[tree.name], workload, quotes, args, redis_url,
                                               f"{workload}-{run}-{index}b")  # fmt: skip
                        counts[tree.name].append(measured.per_quote())
                        if args.cache_sim:
                            caches[tree.name].append(measured.caches_per_quote())
                        dumps[tree.name].append(measured.dump)
                        print(
                            f"{workload} run {run + 1} {tree.name}: {measured.per_quote():,.0f} instructions a quote "
                            f"({measured.raw_per_quote():,.0f} before the idle rate's {measured.idle_share():.2%}"
                            f" of a {measured.window:.0f} s window is taken off)",
                            flush=True,
                        )
            results[workload] = counts
            print(report(workload, counts, quotes), flush=True)
            if args.cache_sim:
                print(caches_report(workload, caches), flush=True)
            last = dumps[trees[0].name][-1]
            print(parts_table(annotate(last), totals(last.read_text()), quotes), flush=True)
            if args.steps:
                named = [d for d in last.parent.glob(f"{last.stem}.*") if d.suffix not in (".1", ".2")]
                per_quote = statistics.median(counts[trees[0].name])
                lines = _lines(workload) or (200 if workload == "marketplace" else 1)
                print(steps_table(steps_counted(named, quotes), per_quote, lines), flush=True)
            if len(trees) == 2:
                parts = {name: [part_counts(annotate(dump)) for dump in found] for name, found in dumps.items()}
                print(parts_comparison(parts, quotes), flush=True)
            if args.dumps is not None:
                args.dumps.mkdir(parents=True, exist_ok=True)
                for dump in work.glob(f"callgrind.{workload}-*"):
                    shutil.copy2(dump, args.dumps / dump.name)
        shutil.rmtree(SPOOL, ignore_errors=True)
        print(f"load after: {load_average()}")
        print(summary(results, trees))
        if args.json is not None:
            args.json.write_text(json.dumps({"trees": [t.name for t in trees], "results": results}, indent=1))


def _lines(workload: str) -> int:
    """N for a `lines-N` workload (the marketplace's first N products, a line each; 1 <= N <= LINES_MAX), else 0."""
    name, _, count = workload.partition("-")
    return int(count) if name == "lines" and count.isdigit() and 1 <= int(count) <= LINES_MAX else 0


def _per_seller(workload: str) -> int:
    """Products a marketplace seller has: 10 (200 products), more for a `lines-N` past 200 (N / 20, rounded up)."""
    return max(10, -(-_lines(workload) // 20))


class Tree(NamedTuple):
    name: str
    root: Path
    python: str


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def version(python: str) -> str:
    found = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True)  # noqa: S603
    return found.stdout.strip() or "?"


def commit_of(root: Path) -> str:
    found = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)  # noqa: S603, S607
    return found.stdout.strip() or "(not a git checkout)"


@contextlib.contextmanager
def private_redis(work: Path) -> Iterator[str]:
    """A redis-server of this run's own (the machine's db 14 is shared with other benchmarks)."""
    from plumbing import free_port

    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",  # noqa: S607
         "--dir", str(work)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode == 0:  # noqa: S603, S607
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


def build_control(work: Path) -> None:
    """The client-request library (start, stop and dump the count at exact points)."""
    source = work / "control.c"
    source.write_text(CONTROL_C)
    subprocess.run(  # noqa: S603
        ["cc", "-O2", "-shared", "-fPIC", "-o", str(work / "control.so"), str(source)],  # noqa: S607
        check=True,
    )


class Steps:
    """`--steps`: each function of `steps` (or `Class.method`) replaced, where its caller finds it, by one that
    (once `on`) counts it alone: collection on for its call (`qs_toggle`), then a dump named after it
    (`qs_dump`), collection off."""

    def __init__(self, control: Any, steps: tuple[tuple[str, str, str], ...] = STEPS) -> None:
        import importlib

        self.on = False
        for module_name, name, _ in steps:
            holder: Any = importlib.import_module(module_name)
            if "." in name:  # a method: `Class.method` of the module
                owner, name = name.split(".")
                holder = getattr(holder, owner)
            setattr(holder, name, self._counted(control, name.encode(), getattr(holder, name)))

    def _counted(self, control: Any, tag: bytes, function: Any) -> Any:
        def counted_step(*args: Any, **kwargs: Any) -> Any:
            if not self.on:
                return function(*args, **kwargs)
            control.qs_toggle()
            try:
                return function(*args, **kwargs)
            finally:
                control.qs_toggle()
                control.qs_dump(tag)

        return counted_step


def steps_counted(dumps: list[Path], quotes: int) -> dict[str, float]:
    """`--steps`: the instructions a quote of each step, from the dumps named after them."""
    found: dict[str, int] = dict.fromkeys((name for _, name, _ in STEPS), 0)
    for dump in dumps:
        text = dump.read_text()
        named = re.search(r"^desc: Trigger: Client Request: (\S+)$", text, re.MULTILINE)
        if named is not None and named.group(1) in found:
            found[named.group(1)] += totals(text)
    return {name: count / quotes for name, count in found.items()}


def steps_table(counted: dict[str, float], total: float, lines: int) -> str:
    """`--steps`: each step's instructions a quote, a line and its share of the quote."""
    rows = [f"{'step (counted alone)':<62} {'a quote':>12} {'a line':>9} {'share':>6}"]
    for _, name, what in STEPS:
        rows.append(f"{what:<62} {counted[name]:>12,.0f} {counted[name] / lines:>9,.0f} {counted[name] / total:>6.1%}")
    rest = total - sum(counted.values())
    rows.append(
        f"{'the rest (edge, service, JSON, stores, log)':<62} {rest:>12,.0f} {rest / lines:>9,.0f} {rest / total:>6.1%}"
    )
    return "\n".join(rows)


def tree_env(tree: Tree, database_url: str, redis_url: str) -> dict[str, str]:
    paths = [str(tree.root), str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {
        **os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json", "RATE_LIMIT_PER_MINUTE": "100000000", "ENVIRONMENT": "development",
        "PYTHONHASHSEED": "0", "PYTHONPATH": os.pathsep.join(paths),
        "QUOTE_LOG_SPOOL_DIR": str(SPOOL),
    }  # fmt: skip


@contextlib.contextmanager
def configured(tree: Tree, workload: str, work: Path, redis_url: str) -> Iterator[Path]:
    """A database of `tree`'s schema holding `workload`'s configuration (configured by the tree's own
    code, natively); yields the file naming the service key and the products the bodies use."""
    from plumbing import ADMIN_URL, database

    name = f"qs_instr_{os.getpid()}_{len(list(work.glob('setup-*')))}"
    asyncio.run(database(name, create=True))
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    env = tree_env(tree, url, redis_url)
    setup = work / f"setup-{name}.json"
    try:
        subprocess.run(["redis-cli", "-u", redis_url, "flushdb"], check=True, capture_output=True)  # noqa: S603, S607
        cli = [tree.python, "-m", "quote_service.cli"]
        if workload in ("demo", "readme"):
            subprocess.run([*cli, "seed-demo"], env=env, check=True, capture_output=True, cwd=tree.root)  # noqa: S603
        else:
            subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True, cwd=tree.root)  # noqa: S603
        made = subprocess.run(  # noqa: S603
            [*cli, "create-api-key", "--name", "bench-admin", "--role", "admin"],
            env=env, check=True, capture_output=True, text=True, cwd=tree.root,
        )  # fmt: skip
        setup.write_text(json.dumps({"admin_key": made.stdout.strip().splitlines()[-1], "database_url": url}))
        done = subprocess.run(  # noqa: S603
            [tree.python, str(Path(__file__).resolve()), "--setup", str(setup), "--workload", workload],
            env=env, capture_output=True, text=True, cwd=tree.root,
        )  # fmt: skip
        if done.returncode != 0:
            said = f"{done.stdout[-3000:]}{done.stderr[-3000:]}"
            raise SystemExit(f"configuring {workload} on {tree.name} failed:\n{said}")
        yield setup
    finally:
        asyncio.run(database(name, create=False))


async def configure(setup: Path, workload: str) -> None:
    """Natively, in the tree's interpreter: the workload's configuration and a service key, through
    the tree's own API (an older release may lack shipping profiles: then none)."""
    import httpx
    from bench_hot_path import lifespan

    from quote_service.app import create_app

    known = json.loads(setup.read_text())  # noqa: ASYNC240 - before the app starts
    app: Any = create_app()
    stop = await lifespan(app)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:
            admin = {"X-API-Key": known["admin_key"]}

            async def made(path: str, body: dict[str, Any]) -> Any:
                answer = await http.post(path, json=body, headers=admin)
                if answer.status_code == 404 and path == "/api/v1/shipping-profiles":
                    return None
                if answer.status_code != 201:
                    raise SystemExit(f"POST {path}: {answer.status_code} {answer.text[:500]}")
                return answer.json()["data"]

            key = (await made("/api/v1/api-keys", {"name": "bench"}))["key"]
            from quote_service.pricing.quote import QuoteRequest

            # An older release knows fewer request fields (8e7ec84: no customer_group): its bodies leave them out.
            found: dict[str, Any] = {"key": key, "fields": list(QuoteRequest.__struct_fields__)}
            if workload == "marketplace" or _lines(workload):
                import workloads

                found["ids"] = await workloads.configure_marketplace(made, per_seller=_per_seller(workload))
            elif workload == "card_bin":
                import workloads

                await workloads.configure_card_bin(made)
            elif workload in ("demo", "readme"):
                import asyncpg
                from workloads import DEMO_LOOKUP, DEMO_PRIORITIES

                conn = await asyncpg.connect(os.environ["DATABASE_URL"])
                try:
                    await conn.execute(DEMO_PRIORITIES)
                    rows = await conn.fetch(
                        "SELECT sku, id::text AS id FROM products WHERE sku = any($1::text[])", list(DEMO_LOOKUP)
                    )
                finally:
                    await conn.close()
                found["ids"] = {row["sku"]: row["id"] for row in rows}
        setup.write_text(json.dumps(known | found))  # noqa: ASYNC240 - the app's last act
    finally:
        await stop()


def common_fields(setups: list[Path]) -> None:
    """Leave in every tree's configuration only the request fields all of them know."""
    knowns = [json.loads(setup.read_text()) for setup in setups]
    shared = set.intersection(*(set(known["fields"]) for known in knowns))
    for setup, known in zip(setups, knowns, strict=True):
        dropped = sorted(set(known["fields"]) - shared)
        if dropped:
            print(f"{setup.name}: its bodies leave out {', '.join(dropped)} (--common-fields)", flush=True)
        setup.write_text(json.dumps(known | {"fields": sorted(shared)}))


class Measured(NamedTuple):
    """One counted run: the instructions of the quotes' window and of an idle window after it, and
    how long each lasted (wall seconds, under valgrind)."""

    quotes: int
    counted: int
    window: float
    idle: int
    idle_seconds: float
    dump: Path
    events: dict[str, int] = {}
    """Every event of the quotes' window (`--cache-sim`: Ir, Dr, Dw, I1mr, D1mr, D1mw, ILmr, DLmr, DLmw)."""

    def idle_share(self) -> float:
        """The part of the window that the idle rate accounts for."""
        if self.idle_seconds <= 0 or self.counted <= 0:
            return 0.0
        return self.idle / self.idle_seconds * self.window / self.counted

    def raw_per_quote(self) -> float:
        return self.counted / self.quotes

    def per_quote(self) -> float:
        """Instructions a quote: the window's count less the idle rate over its length, over its quotes."""
        return self.counted * (1 - self.idle_share()) / self.quotes

    def caches_per_quote(self) -> dict[str, float]:
        """With `--cache-sim`: L1 misses, last-level misses and the cycle estimate a quote, the idle
        rate's share taken off as from the instructions (empty without it)."""
        if "D1mr" not in self.events:
            return {}
        keep = (1 - self.idle_share()) / self.quotes
        l1 = sum(self.events.get(name, 0) for name in ("I1mr", "D1mr", "D1mw")) * keep
        last = sum(self.events.get(name, 0) for name in ("ILmr", "DLmr", "DLmw")) * keep
        return {"L1 misses": l1, "LL misses": last, "cycle estimate": self.per_quote() + 10 * l1 + 100 * last}


def one_run(
    work: Path, tree: Tree, setup: Path, workload: str, quotes: int, args: argparse.Namespace, redis_url: str, tag: str
) -> Measured:
    """One process under callgrind: what it counted."""
    out = work / f"callgrind.{tag}"
    url = json.loads(setup.read_text())["database_url"]
    # Under valgrind the process runs ~30-50x slower: 64 quotes in flight would pass the 2 s deadline.
    slow = {"QUOTE_TIMEOUT": "600", "BODY_READ_TIMEOUT": "600", "DB_ACQUIRE_TIMEOUT": "120",
            "DB_STATEMENT_TIMEOUT": "600", "MAX_QUOTE_LINES": str(max(200, _lines(workload)))}  # fmt: skip
    env = {**tree_env(tree, url, redis_url), **slow}
    concurrency = args.concurrency or CONCURRENCY.get(workload) or (64 if _lines(workload) < 50 else 8)
    command = [
        "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
        *(CACHE_MODEL if args.cache_sim else []),
        tree.python, str(Path(__file__).resolve()), "--inner", str(work), "--idle", str(args.idle),
        "--quotes", str(quotes), "--concurrency", str(concurrency), "--seed", str(args.seed),
        "--workload", workload, "--known", str(setup), *(["--steps"] if args.steps else []),
    ]  # fmt: skip
    finished = subprocess.run(command, cwd=tree.root, env=env, capture_output=True, text=True)  # noqa: S603
    said = dict(line.split(": ", 1) for line in finished.stdout.splitlines() if line.startswith("windows: "))
    dumps = [work / f"callgrind.{tag}.1", work / f"callgrind.{tag}.2"]  # the client requests' dumps, in order
    if finished.returncode != 0 or not all(dump.exists() for dump in dumps) or "windows" not in said:
        raise SystemExit(
            f"the counted run failed ({finished.returncode}):\n{finished.stdout[-3000:]}{finished.stderr[-3000:]}"
        )
    window, idle_seconds = (float(part) for part in said["windows"].split())
    return Measured(
        quotes, totals(dumps[0].read_text()), window, totals(dumps[1].read_text()), idle_seconds, dumps[0],
        events(dumps[0].read_text()),
    )  # fmt: skip


def bodies_of(workload: str, known: dict[str, Any], prefix: str) -> Iterator[bytes]:
    """The workload's bodies, without the fields the tree's QuoteRequest does not have."""
    made = _bodies(workload, known, prefix)
    fields = set(known.get("fields", ()))
    if not fields:
        return made
    return (msgspec.json.encode({k: v for k, v in msgspec.json.decode(b).items() if k in fields}) for b in made)


def _bodies(workload: str, known: dict[str, Any], prefix: str) -> Iterator[bytes]:
    import workloads

    if _lines(workload):  # the marketplace's configuration, its first N products
        return workloads.marketplace_bodies(known["ids"][: _lines(workload)], prefix)
    if workload == "simple":
        return workloads.simple_bodies(prefix)
    if workload == "card_bin":
        return workloads.card_bin_bodies(prefix)
    if workload == "demo":
        return workloads.demo_bodies(known["ids"], prefix)
    if workload == "readme":
        return workloads.readme_bodies(known["ids"], prefix)
    return workloads.marketplace_bodies(known["ids"], prefix)


from clock_pins import drain_log  # noqa: E402 - after the module's own names, as the inner process imports it


async def counted(args: argparse.Namespace) -> None:
    """Inside valgrind: warm up, pin the clock's work, then count `--quotes` quotes between the client requests."""
    from bench_hot_path import drive, lifespan, post
    from clock_pins import ClockPins

    from quote_service.app import create_app

    control = ctypes.CDLL(str(args.inner / "control.so"))
    if not control.qs_on_valgrind():
        raise SystemExit("--inner runs under valgrind only (run the script without it)")
    steps = Steps(control) if args.steps else None
    pins = ClockPins()
    pins.__enter__()  # for the process's life: it ends with the run
    known = json.loads(Path(args.known).read_text())  # noqa: ASYNC240 - before the app starts
    app: Any = create_app()
    stop = await lifespan(app)
    try:
        key = known["key"].encode()
        seen: Counter[int] = Counter()

        async def one(body: bytes) -> None:
            seen[await post(app, body, key)] += 1

        with contextlib.suppress(ImportError):  # one-off work that would otherwise fall into the window
            from quote_service.analytics.distributions import load_statistics

            await load_statistics()
        rng = random.Random(args.seed)
        warm = bodies_of(args.workload, known, f"w{rng.randrange(10**6):06d}")
        # The first round warms every cache and trains the zstd dictionary; then the path as a stream of distinct
        # baskets leaves it (the identical-request cache stops remembering after 2,000: quotes/service.py).
        heavy = args.workload == "marketplace" or _lines(args.workload) >= 50
        rounds = 2 if heavy else max(2, -(-WARM_QUOTES // args.quotes))
        for _ in range(rounds):
            batch = [next(warm) for _ in range(args.quotes)]
            await drive([lambda body=body: one(body) for body in batch], args.concurrency)  # type: ignore[misc]
            for _ in range(200):
                if app.state.quotes._store.codec.dictionary_id is not None:
                    break
                await asyncio.sleep(0.05)
        # The products as a worker holds them once warm: read back from Redis (its local entries live 30 s; msgpack's
        # ids are uuid.UUIDs, hashed in Python), not as the first fill read them from PostgreSQL (asyncpg's UUIDs,
        # hashed in C), which only the first run on a fresh Redis has: a 200-line quote counted ~2 % less there.
        await app.state.product_cache.reset()
        batch = [next(warm) for _ in range(min(args.quotes, args.concurrency))]
        await drive([lambda body=body: one(body) for body in batch], args.concurrency)  # type: ignore[misc]
        await pins.pin(settle=3.0)  # (the loops' last timed passes, the quote log writer's among them, end first)
        await drain_log(app)
        measured = bodies_of(args.workload, known, f"m{rng.randrange(10**6):06d}")
        bodies = [next(measured) for _ in range(args.quotes)]
        started = time.monotonic()
        control.qs_start()
        await drive([lambda body=body: one(body) for body in bodies], args.concurrency)  # type: ignore[misc]
        await drain_log(app)
        pins.tick()
        control.qs_stop()
        window = time.monotonic() - started
        started = time.monotonic()
        control.qs_start()
        await asyncio.sleep(args.idle)
        control.qs_stop()
        print(f"windows: {window:.3f} {time.monotonic() - started:.3f}", flush=True)
        if steps is not None:  # a window of the steps alone: collection off but inside them, a dump each
            bodies = [next(measured) for _ in range(args.quotes)]
            control.qs_start()
            control.qs_toggle()
            steps.on = True
            await drive([lambda body=body: one(body) for body in bodies], args.concurrency)  # type: ignore[misc]
            steps.on = False
            control.qs_toggle()
            control.qs_stop()
        if set(seen) != {200}:
            raise SystemExit(f"not every request was answered 200: {dict(seen)}")
    finally:
        await stop()


def totals(dump: str) -> int:
    """The instructions a callgrind dump counted."""
    found = re.search(r"^totals: (\d+)", dump, re.MULTILINE) or re.search(r"^summary: (\d+)", dump, re.MULTILINE)
    if found is None:
        raise ValueError("not a callgrind dump (no totals line)")
    return int(found.group(1))


def events(dump: str) -> dict[str, int]:
    """Every event a callgrind dump counted, by name (`events:` and the totals line)."""
    names = re.search(r"^events: (.+)$", dump, re.MULTILINE)
    found = re.search(r"^totals: (.+)$", dump, re.MULTILINE) or re.search(r"^summary: (.+)$", dump, re.MULTILINE)
    if names is None or found is None:
        raise ValueError("not a callgrind dump (no events or totals line)")
    return dict(zip(names.group(1).split(), (int(v) for v in found.group(1).split()), strict=False))


def caches_report(workload: str, caches: dict[str, list[dict[str, float]]]) -> str:
    """`--cache-sim`: each tree's L1 and last-level misses and cycle estimate a quote (medians of runs)."""
    names = list(caches)
    lines = [f"{workload}: simulated caches a quote, median of runs (callgrind --cache-sim=yes)"]
    for what in ("L1 misses", "LL misses", "cycle estimate"):
        medians = [statistics.median(run[what] for run in caches[name]) for name in names]
        row = f"  {what:<15}" + "".join(f" | {name}: {value:,.0f}" for name, value in zip(names, medians, strict=True))
        if len(medians) == 2 and medians[1]:
            row += f" | ÷ {medians[0] / medians[1]:.3f}"
        lines.append(row)
    return "\n".join(lines)


def inclusive(annotated: str, function: str) -> int | None:
    """A function's inclusive instruction count in `callgrind_annotate --inclusive=yes` output (its
    outermost entry; recursive entries, `name'2`, are inside it)."""
    pattern = re.compile(r"^\s*([\d,]+) \([\s\d.]+%\)\s+\S*?:" + re.escape(function) + r"(?:\s|$)", re.MULTILINE)
    counts = [int(found.group(1).replace(",", "")) for found in pattern.finditer(annotated)]
    return max(counts) if counts else None


def annotate(dump: Path) -> str:
    """`callgrind_annotate --inclusive=yes` of one dump."""
    return subprocess.run(  # noqa: S603
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(dump)],  # noqa: S607
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def part_counts(annotated: str) -> dict[str, int]:
    """The inclusive count of each part of PARTS that the run has (a part with no entry is left out)."""
    found = {what: inclusive(annotated, function) for what, function in PARTS}
    return {what: count for what, count in found.items() if count is not None}


def parts_comparison(parts: dict[str, list[dict[str, int]]], quotes: int) -> str:
    """Per part, the median over each checkout's runs of its instructions a quote, and this ÷ that."""
    (this, these), (that, those) = parts.items()
    lines = [f"part (inclusive), median of runs: {this} | {that} | ÷"]
    for what, _ in PARTS:
        mine = [run[what] for run in these if what in run]
        theirs = [run[what] for run in those if what in run]
        if not mine or not theirs:
            continue
        a, b = statistics.median(mine) / quotes, statistics.median(theirs) / quotes
        lines.append(
            f"  {what:<42} {a:>10,.0f} | {b:>10,.0f} | {a / b:.3f}"
            f" (runs within {_spread(mine):.1%} | {_spread(theirs):.1%})"
        )
    return "\n".join(lines)


def parts_table(annotated: str, total: int, quotes: int) -> str:
    lines = [f"{'part (inclusive)':<44} {'instructions a quote':>21} {'share':>7}"]
    for what, function in PARTS:
        count = inclusive(annotated, function)
        if count is not None:
            lines.append(f"{what:<44} {count / quotes:>21,.0f} {count / total:>7.1%}")
    return "\n".join(lines)


def _spread(values: list[int]) -> float:
    """How far a checkout's runs spread: (largest - smallest) / smallest."""
    return (max(values) - min(values)) / min(values) if min(values) > 0 else 0.0


def report(workload: str, counts: dict[str, list[float]], quotes: int) -> str:
    names = list(counts)
    lines = [f"{workload}: {quotes} quotes a run; instructions a quote, median of runs:"]
    lines += [
        f"  {name}: {statistics.median(values):,.0f} (runs {', '.join(f'{v:,.0f}' for v in values)})"
        for name, values in counts.items()
    ]
    if len(names) == 2:
        ratios = [a / b for a, b in zip(counts[names[0]], counts[names[1]], strict=True)]
        mean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        lines.append(f"  {names[0]} ÷ {names[1]}: {mean:.4f} (pairs {', '.join(f'{r:.4f}' for r in ratios)})")
    return "\n".join(lines)


def summary(results: dict[str, dict[str, list[float]]], trees: list[Tree]) -> str:
    """One line per workload, the checkouts side by side (medians, instructions a quote)."""
    head = " | ".join(tree.name for tree in trees)
    lines = [f"instructions a warm served quote, median of runs — workload | {head}"]
    if len(trees) == 2:
        lines[0] += " | ÷"
    for workload, counts in results.items():
        medians = [statistics.median(counts[tree.name]) for tree in trees]
        row = f"  {workload:<12} | " + " | ".join(f"{m:,.0f}" for m in medians)
        if len(medians) == 2:
            row += f" | {medians[0] / medians[1]:.3f}"
        lines.append(row)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
