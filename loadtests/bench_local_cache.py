"""What the local cache tier's warm lookups cost: `quote_service/cache/local.py` against aiocache's public API.

    uv run python loadtests/bench_local_cache.py [--calls 20000] [--rounds 7]

No servers. One `LocalCache` and one aiocache `SimpleMemoryCache(timeout=None)` (what the tier was
until 2026-11-26), the same entries (ttl 600 s); per round, in turn, --calls awaits of `get`, of a
`get_many` / `multi_get` of 3 keys (a 3-line quote's products) and of `set`, timed in CPU time
(`time.process_time`, steadier than the wall clock on a shared machine). Prints each call's median
µs over --rounds, and µs a key for the 3-key lookup (the target: ≤ 1 µs a key, docs/hot-path.md).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiocache import SimpleMemoryCache

from quote_service.cache.local import LocalCache


async def measure(calls: int, rounds: int) -> None:
    ours, theirs = LocalCache(), SimpleMemoryCache(timeout=None)
    keys = ["k0", "k1", "k2"]
    await ours.set_many([(key, b"v") for key in [*keys, "p"]], ttl=600)
    await theirs.multi_set([(key, b"v") for key in [*keys, "p"]], ttl=600)
    variants: dict[str, Callable[[], Awaitable[Any]]] = {
        "get            LocalCache": lambda: ours.get("p"),
        "get            aiocache": lambda: theirs.get("p"),
        "get_many(3)    LocalCache": lambda: ours.get_many(keys),
        "multi_get(3)   aiocache": lambda: theirs.multi_get(keys),
        "set            LocalCache": lambda: ours.set("s", b"v", ttl=600),
        "set            aiocache": lambda: theirs.set("s", b"v", ttl=600),
    }
    took: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, call in variants.items():
            started = time.process_time()
            for _ in range(calls):
                await call()
            took[name].append((time.process_time() - started) / calls * 1e6)
    for name, times in took.items():
        median = statistics.median(times)
        per_key = f"  ({median / 3:.2f} µs a key)" if "(3)" in name else ""
        print(f"{name:26} {median:6.2f} µs{per_key}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(measure(args.calls, args.rounds))


if __name__ == "__main__":
    main()
