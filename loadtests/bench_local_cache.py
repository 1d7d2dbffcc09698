"""What the local cache tier's calls cost: aiocache 0.12's public API against its backend's private methods.

    uv run python loadtests/bench_local_cache.py [--calls 20000] [--rounds 7]

No servers. One `SimpleMemoryCache(timeout=None)` (as `quote_service/cache/local.py` makes it),
four entries; per round, in turn, --calls awaits of each of `get` / `_get`, `multi_get` /
`_multi_get` of 3 keys and `set` / `_set` (ttl 600 s), timed in CPU time (`time.process_time`,
steadier than the wall clock on a shared machine). Prints each call's median µs over --rounds and
the median per-round difference public - private.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiocache import SimpleMemoryCache


async def measure(calls: int, rounds: int) -> None:
    cache = SimpleMemoryCache(timeout=None)
    keys = ["k0", "k1", "k2"]
    await cache.multi_set([(key, b"v") for key in [*keys, "p"]], ttl=600)
    variants: dict[str, Callable[[], Awaitable[Any]]] = {
        "get public": lambda: cache.get("p"),
        "get private": lambda: cache._get("p"),
        "multi_get(3) public": lambda: cache.multi_get(keys),
        "multi_get(3) private": lambda: cache._multi_get(keys),
        "set public": lambda: cache.set("s", b"v", ttl=600),
        "set private": lambda: cache._set("s", b"v", ttl=600),
    }
    took: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, call in variants.items():
            started = time.process_time()
            for _ in range(calls):
                await call()
            took[name].append((time.process_time() - started) / calls * 1e6)
    for name, times in took.items():
        print(f"{name:22} {statistics.median(times):6.2f} µs")
    for op in ("get", "multi_get(3)", "set"):
        extra = [pub - pri for pub, pri in zip(took[f"{op} public"], took[f"{op} private"], strict=True)]
        print(f"{op:13} public - private {statistics.median(extra):5.2f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(measure(args.calls, args.rounds))


if __name__ == "__main__":
    main()
