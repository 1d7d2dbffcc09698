"""A quote's cost in CPU instructions, counted by valgrind: steadier than any timing.

    uv run python loadtests/bench_instructions.py [--quotes 1000] [--runs 2] [--concurrency 64]
    uv run python loadtests/bench_instructions.py --compare-with /path/to/other/checkout [--runs 3]

The timing benchmarks move ±5-10 % between runs on a shared machine, so a change worth 1-2 % of a
quote cannot be told from the noise with them (BENCHMARKS.md says so more than once). This one
counts instead: bench_hot_path.py's `full` path (the service's ASGI app on this process's event
loop, its own lifespan, real quotes through the lean edge, the engine and the store, on a fresh
demo database and Redis db 14) runs under valgrind's callgrind, which counts every instruction
the process executes. Counting starts after a warm-up round and stops after `--quotes` quotes, at
exact points (callgrind's client requests, from a small C library built here on the fly); the
same seeded baskets, PYTHONHASHSEED=0. It prints per run the instructions per quote, then their
median, and the inclusive share of the parts named in PARTS (msgspec's JSON out — the quote and
its quote-log row — with its `Decimal` to text, zstd, the garbage collector) from the last run of
this checkout.

The background loops (schedulers, pollers, the metrics flush) run by the clock, and under
valgrind the window lasts ~30x longer than it would natively: they account for ~8-11 % of what
it counts, estimated from an idle window of `--idle` seconds counted after the quotes (printed).
They are left in the figure: taken off by that estimate, runs of one tree agreed less (the
window's length follows the machine's load). One-off work that could fall into the window by
chance is done before it (scipy's import, which the experiment guardrail makes ~45 s after the
start: ~1 G instructions).

With `--compare-with PATH` the other checkout's quote_service runs too (PYTHONPATH=PATH), the
runs alternating, and it prints this ÷ that per pair and
their geometric mean, then each part's median over the runs of each checkout and their ratio.
Repeated runs of one tree differ by ~0.5-4 % (the background loops above, the group commit's and
the quote log's batches follow the clock; the garbage collector runs where it runs; the engine's
memos refill when full), against ±5-10 % for the timings: use `--runs 3` or more, and read a
difference under ~2 % as none. A part's inclusive count is steadier than the whole (the former
compiled engine's moved < 0.3 % between runs on 2026-11-25): for a change inside one part, read that part's
row (and, for a function not in PARTS, `--dumps DIR`, then `callgrind_annotate --inclusive=yes FILE`).

Instructions are not time: a system call counts as one instruction and a cache miss as none.
This measures what the process does; `bench.py --compare-with` measures what it costs end to end.
Needs valgrind (Debian: apt-get install valgrind; it brings callgrind.h and callgrind_annotate),
a C compiler, and the servers of the README's test setup. One run of 1,000 quotes takes ~1 minute.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
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
from pathlib import Path
from typing import Any, NamedTuple

import uvloop
from bench_hot_path import basket, demo_environment, drive, lifespan, post, service_key
from plumbing import REDIS_URL, interpreter

HERE = Path(__file__).resolve().parent
HEADER = Path("/usr/include/valgrind/callgrind.h")

CONTROL_C = """
#include <valgrind/callgrind.h>
void qs_start(void) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_ZERO_STATS; }
void qs_stop(void) { CALLGRIND_DUMP_STATS_AT("measured"); CALLGRIND_STOP_INSTRUMENTATION; }
int qs_on_valgrind(void) { return RUNNING_ON_VALGRIND; }
"""

# (what, the C function whose inclusive count it is): the largest parts of a quote that have a
# function of their own. The pricing engine has none (its Python functions are the interpreter's).
PARTS: tuple[tuple[str, str], ...] = (
    ("JSON out (msgspec: the quote, its log row)", "JSONEncoder_encode"),
    ("  Decimal to text in it", "json_encode_decimal"),
    ("the request's JSON (msgspec)", "JSONDecoder_decode"),
    ("msgpack (msgspec)", "Encoder_encode"),
    ("zstd frame of the stored quote", "ZstdCompressor_compress"),
    ("garbage collector", "gc_collect_main"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quotes", type=int, default=1000, help="quotes counted per run (after as many to warm up)")
    parser.add_argument("--runs", type=int, default=2, help="runs of each checkout")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of the idle window counted after the quotes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--compare-with", metavar="PATH", type=Path, help="another checkout, run alternately with this one"
    )
    parser.add_argument("--dumps", metavar="DIR", type=Path, help="keep callgrind's files there (callgrind_annotate)")
    parser.add_argument("--inner", metavar="DIR", type=Path, help=argparse.SUPPRESS)  # the process valgrind runs
    args = parser.parse_args()
    if args.inner is not None:
        uvloop.run(counted(args))
        return
    missing = [tool for tool in ("valgrind", "callgrind_annotate", "cc") if shutil.which(tool) is None]
    if missing or not HEADER.exists():
        raise SystemExit(
            f"needs valgrind, its callgrind.h and a C compiler (missing: {', '.join(missing) or HEADER}); "
            "Debian: apt-get install valgrind gcc"
        )
    trees = [("this checkout", HERE.parent)]
    if args.compare_with is not None:
        trees.append((str(args.compare_with), args.compare_with.resolve()))
    with tempfile.TemporaryDirectory(prefix="qs-instructions-") as scratch, demo_environment("qs_instr"):
        work = Path(scratch)
        build_control(work)
        print(interpreter(), flush=True)
        counts: dict[str, list[float]] = {name: [] for name, _ in trees}
        dumps: dict[str, list[Path]] = {name: [] for name, _ in trees}
        for run in range(args.runs):
            order = list(enumerate(trees)) if run % 2 == 0 else list(enumerate(trees))[::-1]
            for index, (name, tree) in order:
                measured = one_run(work, tree, args, f"{run}-{index}")
                counts[name].append(measured.per_quote())
                dumps[name].append(measured.dump)
                print(
                    f"run {run + 1} {name}: {counts[name][-1]:,.0f} instructions a quote "
                    f"(the background loops' idle rate over the {measured.window:.0f} s window: "
                    f"~{measured.background_share():.1%} of it)",
                    flush=True,
                )
        print(report(counts, args.quotes))
        this = trees[0][0]
        last = dumps[this][-1]
        print(parts_table(annotate(last), totals(last.read_text()), args.quotes))
        if len(trees) == 2:  # each part of every run: steadier than the whole (the docstring)
            parts = {name: [part_counts(annotate(dump)) for dump in found] for name, found in dumps.items()}
            print(parts_comparison(parts, args.quotes))
        if args.dumps is not None:
            args.dumps.mkdir(parents=True, exist_ok=True)
            for dump in work.glob("callgrind.*.*"):
                shutil.copy2(dump, args.dumps / dump.name)
            print(f"callgrind's files (run-tree): {args.dumps}")


def build_control(work: Path) -> None:
    """The client-request library (start, stop and dump the count at exact points)."""
    source = work / "control.c"
    source.write_text(CONTROL_C)
    subprocess.run(  # noqa: S603
        ["cc", "-O2", "-shared", "-fPIC", "-o", str(work / "control.so"), str(source)],  # noqa: S607
        check=True,
    )


class Measured(NamedTuple):
    """One counted run: the instructions of the quotes' window and of an idle window after it, and
    how long each lasted (wall seconds, under valgrind)."""

    quotes: int
    counted: int
    window: float
    idle: int
    idle_seconds: float
    dump: Path

    def per_quote(self) -> float:
        """Instructions a quote: everything the process counted in the window, over its quotes."""
        return self.counted / self.quotes

    def background_share(self) -> float:
        """The part of the window that the background loops' idle rate accounts for (an estimate)."""
        if self.idle_seconds <= 0 or self.counted <= 0:
            return 0.0
        return self.idle / self.idle_seconds * self.window / self.counted


def one_run(work: Path, tree: Path, args: argparse.Namespace, tag: str) -> Measured:
    """One process under callgrind: what it counted."""
    subprocess.run(["redis-cli", "-u", REDIS_URL, "flushdb"], check=True, capture_output=True)  # noqa: S603, S607
    out = work / f"callgrind.{tag}"
    paths = [str(tree), str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
    # Under valgrind the process runs ~30x slower: 64 quotes in flight would pass the 2 s deadline.
    slow = {"QUOTE_TIMEOUT": "120", "BODY_READ_TIMEOUT": "120", "DB_ACQUIRE_TIMEOUT": "60"}
    slow["DB_STATEMENT_TIMEOUT"] = "120"
    env = {**os.environ, **slow, "PYTHONHASHSEED": "0", "PYTHONPATH": os.pathsep.join(paths)}
    command = [
        "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
        sys.executable, str(Path(__file__).resolve()), "--inner", str(work), "--idle", str(args.idle),
        "--quotes", str(args.quotes), "--concurrency", str(args.concurrency), "--seed", str(args.seed),
    ]  # fmt: skip
    finished = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)  # noqa: S603
    said = dict(line.split(": ", 1) for line in finished.stdout.splitlines() if line.startswith("windows: "))
    dumps = [work / f"callgrind.{tag}.1", work / f"callgrind.{tag}.2"]  # the client requests' dumps, in order
    if finished.returncode != 0 or not all(dump.exists() for dump in dumps) or "windows" not in said:
        raise SystemExit(
            f"the counted run failed ({finished.returncode}):\n{finished.stdout[-3000:]}{finished.stderr[-3000:]}"
        )
    window, idle_seconds = (float(part) for part in said["windows"].split())
    return Measured(
        args.quotes, totals(dumps[0].read_text()), window, totals(dumps[1].read_text()), idle_seconds, dumps[0],
    )  # fmt: skip


async def counted(args: argparse.Namespace) -> None:
    """Inside valgrind: warm up, then count `--quotes` quotes between the client requests."""
    from quote_service.analytics.distributions import load_statistics
    from quote_service.app import create_app

    control = ctypes.CDLL(str(args.inner / "control.so"))
    if not control.qs_on_valgrind():
        raise SystemExit("--inner runs under valgrind only (run the script without it)")
    app: Any = create_app()
    stop = await lifespan(app)
    try:
        key, ids = await service_key(app)
        rng = random.Random(args.seed)
        seen: Counter[int] = Counter()

        async def one(body: bytes) -> None:
            seen[await post(app, body, key)] += 1

        # One-off work that would otherwise fall into the counted window by chance: scipy, which the
        # experiment guardrail imports in a thread ~45 s after the start (~1 G instructions).
        await load_statistics()
        warm = [basket(ids, rng) for _ in range(args.quotes)]  # the first round warms every cache and the dictionary
        await drive([lambda body=body: one(body) for body in warm], args.concurrency)  # type: ignore[misc]
        bodies = [basket(ids, rng) for _ in range(args.quotes)]
        started = time.monotonic()
        control.qs_start()
        await drive([lambda body=body: one(body) for body in bodies], args.concurrency)  # type: ignore[misc]
        control.qs_stop()
        window = time.monotonic() - started
        # The background loops (schedulers, pollers, flushes) run by the clock, and under valgrind
        # the window lasts ~30x longer than it would: their idle rate is counted, to be taken off.
        started = time.monotonic()
        control.qs_start()
        await asyncio.sleep(args.idle)
        control.qs_stop()
        print(f"windows: {window:.3f} {time.monotonic() - started:.3f}", flush=True)
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
    """Per part, the median over each checkout's runs of its instructions a quote, and this ÷ that:
    a change inside one part shows there even when the whole quote's runs spread wider than it."""
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
            f"  (runs within {_spread(mine):.1%} | {_spread(theirs):.1%})"
        )
    return "\n".join(lines)


def _spread(values: list[int]) -> float:
    """How far the largest of `values` is above the smallest (0 for one value)."""
    return max(values) / min(values) - 1 if min(values) > 0 else 0.0


def parts_table(annotated: str, total: int, quotes: int) -> str:
    lines = [f"{'part (inclusive)':<44} {'instructions a quote':>21} {'share':>7}"]
    for what, function in PARTS:
        count = inclusive(annotated, function)
        if count is not None:
            lines.append(f"{what:<44} {count / quotes:>21,.0f} {count / total:>7.1%}")
    return "\n".join(lines)


def report(counts: dict[str, list[float]], quotes: int) -> str:
    names = list(counts)
    lines = [f"{quotes} quotes a run; instructions a quote, median of runs:"]
    lines += [
        f"  {name}: {statistics.median(values):,.0f} (runs {', '.join(f'{v:,.0f}' for v in values)})"
        for name, values in counts.items()
    ]
    if len(names) == 2:
        ratios = [a / b for a, b in zip(counts[names[0]], counts[names[1]], strict=True)]
        mean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        lines.append(f"  {names[0]} ÷ {names[1]}: {mean:.4f} (pairs {', '.join(f'{r:.4f}' for r in ratios)})")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
