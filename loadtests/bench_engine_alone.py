"""Benchmark: the pricing engine alone on bench_shipping's big basket, in instructions (callgrind) and CPU time.

    .venv/bin/python loadtests/bench_engine_alone.py --inputs /tmp/engine.pickle            # make the inputs once
    .venv/bin/python loadtests/bench_engine_alone.py --inputs /tmp/engine.pickle --count    # instructions a quote
    .venv/bin/python loadtests/bench_engine_alone.py --inputs /tmp/engine.pickle --count --steps
    .venv/bin/python loadtests/bench_engine_alone.py --inputs /tmp/engine.pickle --time     # CPU µs a quote

Making the inputs serves the configuration of `bench_shipping.py --per-seller 50` (1,000 products from 20
sellers, 100 active promotions) on a private service, reads it back with the snapshot loader, draws
`--quotes` 1,000-line baskets (`--lines`) and pickles the snapshot, the products and the requests. The
other modes load them (no service, no HTTP: the engine's `price_quote` only, as `bench_shipping.py`'s
"engine alone"), warm up on four quotes, then:

- `--count`: run the quotes under valgrind's callgrind, counting between client requests around them
  (bench_instructions.py's), and print the instructions a quote and a line; `--steps` also counts the
  engine's steps one by one (each alone: collection on inside it), or with `--steps NAME,...` those
  functions of `quote_service.pricing.promotion_deals` (`Class.method` too; none inside another).
- `--time`: CPU µs a quote (median, p10, least) over `--rounds` passes over the quotes.
- `--digest`: a SHA-256 of every quote's JSON, in order: two trees that price the same baskets to the same
  bytes print the same digest (a redesign's byte-for-byte check on big baskets; the quotes corpus,
  loadtests/corpus.py, holds the demo's small ones).

Another checkout's engine counts on the same inputs with `PYTHONPATH=<tree>` and that tree as the
working directory (the pickle names classes by module, not by file): the two counts are then of the
same baskets. Instructions are not time (docs/hot-path.md#counting-instructions).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import pickle
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parents[1]
ENGINE_STEPS = (
    "quote_lines", "automatic_promotions", "coupon_codes", "line_taxes", "shipments", "fees", "quote_commission",
    "quote_answer",
)  # fmt: skip
"""`quote_service.pricing.engine`'s steps (bench_instructions.py's STEPS), counted one by one with `--steps`."""


def make_inputs(path: Path, quotes: int, lines: int) -> None:
    """Serve bench_shipping's configuration, read it back and pickle it with `quotes` baskets."""
    import asyncio

    import msgspec

    sys.path.insert(0, str(ROOT))
    from loadtests import bench_shipping
    from loadtests.plumbing import free_port, private_service
    from quote_service.pricing.quote import EngineDefaults, QuoteRequest

    with private_service(port=free_port(), workers=1, ready_seconds=300, MAX_QUOTE_LINES=str(lines)) as service:
        ids = bench_shipping.configure(service.base, 20, 100, 0, 50)
        snapshot, products = asyncio.run(bench_shipping.read_back(service.database_url, ids))
    rng = random.Random(9)
    requests = [msgspec.convert(bench_shipping.basket(rng, ids, lines, n), QuoteRequest) for n in range(quotes)]
    with path.open("wb") as out:
        pickle.dump((snapshot, products, requests, EngineDefaults(), datetime.now(UTC)), out)
    print(f"inputs: {path} ({len(requests)} quotes of {lines} lines, {len(products)} products)")


def _engine(path: Path) -> tuple[Any, list[Any]]:
    """(a function pricing request `k`, the requests) on the pickled inputs, with this tree's engine."""
    sys.path.insert(0, os.getcwd())
    from quote_service.pricing.engine import price_quote, region_for
    from quote_service.pricing.quote import CustomerContext

    with path.open("rb") as found:
        snapshot, products, requests, defaults, now = pickle.load(found)  # noqa: S301 - written by make_inputs

    def one(k: int) -> Any:
        request = requests[k]
        region = region_for(request, snapshot=snapshot, defaults=defaults, now=now)
        return price_quote(request, snapshot=snapshot, products=products, flash={}, defaults=defaults, now=now,
                    customer=CustomerContext(customer_id=request.customer_id), quote_id=UUID(int=k), region=region,
                    offers=None)  # fmt: skip

    return one, requests


def digest(path: Path) -> None:
    import hashlib

    import msgspec

    one, requests = _engine(path)
    hashed = hashlib.sha256()
    for k in range(len(requests)):
        hashed.update(msgspec.json.encode(one(k)))
    print(f"quotes' JSON, {len(requests)} quotes: sha256 {hashed.hexdigest()}")


def timed(path: Path, rounds: int) -> None:
    one, requests = _engine(path)
    for k in range(min(4, len(requests))):
        one(k)
    cpu = []
    for _ in range(rounds):
        for k in range(len(requests)):
            start = time.process_time()
            one(k)
            cpu.append((time.process_time() - start) * 1e6)
    cpu.sort()
    lines = len(requests[0].items)
    median = statistics.median(cpu)
    print(
        f"engine alone, {lines} lines: {median:,.0f} µs CPU a quote (median of {len(cpu)}; p10 "
        f"{cpu[len(cpu) // 10]:,.0f}, least {cpu[0]:,.0f}): {median / lines:.1f} µs a line"
    )


def counted_inside(path: Path, quotes: int, control_library: Path, steps: str | None) -> None:
    """Inside valgrind: warm up, then price `quotes` quotes between the client requests (or each step alone)."""
    one, _ = _engine(path)
    control = ctypes.CDLL(str(control_library))
    for k in range(4):
        one(k)
    measured = range(4, 4 + quotes)
    if steps is None:
        control.qs_start()
        for k in measured:
            one(k)
        control.qs_stop()
        return
    sys.path.insert(0, str(ROOT / "loadtests"))
    from bench_instructions import Steps

    counting = Steps(control, tuple((where, name, name) for where, name in _steps(steps)))
    control.qs_start()
    control.qs_toggle()  # collection off but inside the steps
    counting.on = True
    for k in measured:
        one(k)
    counting.on = False
    control.qs_toggle()
    control.qs_stop()


def _steps(steps: str) -> list[tuple[str, str]]:
    if steps == "engine":
        return [("quote_service.pricing.engine", name) for name in ENGINE_STEPS]
    return [("quote_service.pricing.promotion_deals", name) for name in steps.split(",")]


def count(path: Path, quotes: int, steps: str | None) -> None:
    """Run this script's inside under callgrind and print what it counted."""
    sys.path.insert(0, str(ROOT / "loadtests"))
    from bench_instructions import build_control

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        build_control(work)
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={work / 'callgrind.out'}",
            sys.executable, __file__, "--inputs", str(path), "--quotes", str(quotes), "--inside",
            str(work / "control.so"),
        ] + (["--steps", steps] if steps else [])  # fmt: skip
        subprocess.run(command, check=True, capture_output=True)  # noqa: S603
        found: dict[str, int] = {}
        for dump in work.glob("callgrind.out*"):
            text = dump.read_text()
            named = re.search(r"^desc: Trigger: Client Request: (\S+)$", text, re.MULTILINE)
            total = re.search(r"^totals: (\d+)$", text, re.MULTILINE)
            if named is not None and total is not None:
                found[named.group(1)] = found.get(named.group(1), 0) + int(total.group(1))
    lines = _lines(path)
    if steps is None:
        each = found.get("measured", 0) / quotes
        print(f"engine alone, {lines} lines: {each:,.0f} instructions a quote ({each / lines:,.0f} a line)")
        return
    found.pop("measured", None)
    for name, total in found.items():
        print(f"{name:<28} {total / quotes:>14,.0f} a quote {total / quotes / lines:>9,.0f} a line")
    print(f"{'the steps together':<28} {sum(found.values()) / quotes:>14,.0f} a quote")


def _lines(path: Path) -> int:
    _, requests = _engine(path)
    return len(requests[0].items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=Path, required=True, help="the pickled inputs (made when missing)")
    parser.add_argument("--quotes", type=int, help="quotes made (30) or counted (6)")
    parser.add_argument("--lines", type=int, default=1000, help="lines a basket (when making the inputs)")
    parser.add_argument("--count", action="store_true", help="instructions a quote, under callgrind")
    parser.add_argument(
        "--steps", nargs="?", const="engine", help="with --count: the engine's steps, or NAME,... of promotion_deals"
    )
    parser.add_argument("--time", action="store_true", help="CPU µs a quote")
    parser.add_argument("--rounds", type=int, default=6, help="with --time: passes over the quotes")
    parser.add_argument("--digest", action="store_true", help="a SHA-256 of every quote's JSON")
    parser.add_argument("--inside", type=Path, help=argparse.SUPPRESS)  # the process valgrind runs
    args = parser.parse_args()
    if args.inside is not None:
        counted_inside(args.inputs, args.quotes, args.inside, args.steps)
    elif not args.inputs.exists():
        make_inputs(args.inputs, args.quotes or 30, args.lines)
    if args.count:
        count(args.inputs, args.quotes or 6, args.steps)
    if args.time:
        timed(args.inputs, args.rounds)
    if args.digest:
        digest(args.inputs)


if __name__ == "__main__":
    main()
