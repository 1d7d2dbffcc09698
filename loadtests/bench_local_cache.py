"""What the local cache tier's warm lookups cost: `quote_service/cache/local.py`.

    uv run python loadtests/bench_local_cache.py [--calls 20000] [--rounds 7]

No servers. One `LocalCache` with 4 entries (ttl 600 s); per round, in turn, --calls awaits of
`get`, of a `get_many` of 3 keys (a 3-line quote's products) and of `set`, timed in CPU time
(`time.process_time`, steadier than the wall clock on a shared machine). Prints each call's median
µs over --rounds, and µs a key for the 3-key lookup (the target: ≤ 1 µs a key, docs/hot-path.md).
The comparison with aiocache's `SimpleMemoryCache`, what the tier was until 2026-11-26 (aiocache is
no longer a dependency): `git show 7017415:loadtests/bench_local_cache.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from quote_service.cache.local import LocalCache


async def measure(calls: int, rounds: int) -> None:
    cache = LocalCache()
    keys = ["k0", "k1", "k2"]
    await cache.set_many([(key, b"v") for key in [*keys, "p"]], ttl=600)
    variants: dict[str, Callable[[], Awaitable[Any]]] = {
        "get": lambda: cache.get("p"),
        "get_many(3)": lambda: cache.get_many(keys),
        "set": lambda: cache.set("s", b"v", ttl=600),
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
        print(f"{name:14} {median:6.2f} µs{per_key}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(measure(args.calls, args.rounds))


if __name__ == "__main__":
    main()
