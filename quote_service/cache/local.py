"""The in-process cache tier: aiocache's memory cache, through its public API.

aiocache is the local tier. Its public operations (`get`, `multi_get`, `set`, `multi_set`,
`delete`) each run through three decorators — an `os.getenv("AIOCACHE_DISABLE")` check, a
timeout wrapper and a plugin hook — and time and log the call. The cache is made with
`timeout=None`, which the timeout wrapper reads as "no `asyncio.wait_for`" (aiocache's
documented way to disable it); no plugins, and the memory cache's default `NullSerializer`
keeps values as they are (no copy). What remains costs, per call (a finished measurement:
`git show 43236c0:loadtests/bench_local_cache.py`;
CPU time, medians of 7 rounds of 20,000 calls, the two paths in turn; three runs, 2026-11-25,
a 2-vCPU box at load ~7-8):

| call | public | private backend method (`_get`, ...) | difference |
|---|---|---|---|
| `get` | 2.86-2.94 µs | 0.14-0.15 µs | +2.72-2.78 µs |
| `multi_get` of 3 keys | 4.07-4.19 µs | 0.38-0.39 µs | +3.65-3.70 µs |
| `set` (ttl 600 s) | 6.52-6.89 µs | 2.36-2.55 µs | +4.17-4.35 µs |

A warm quote makes one `multi_get` (its products), and one `get` more unless the lean edge
knows its API key already (a bearer token always asks the principal cache): +3.7 µs, or +6.5 µs,
on a quote of ~300 µs; a miss adds a `multi_set`. That is paid for a cache that depends on
nothing private: until 2026-11-25 this called the backend's `_get`, `_multi_get`, `_set`,
`_multi_set` and `_delete`, which aiocache may change in any release (docs/hot-path.md). With
`AIOCACHE_DISABLE=1` in the environment aiocache makes every operation a no-op: every lookup misses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiocache import SimpleMemoryCache


class LocalCache:
    """A process-local key/value cache with per-entry TTLs."""

    def __init__(self) -> None:
        self._cache = SimpleMemoryCache(timeout=None)  # None: no asyncio.wait_for around each call

    async def get(self, key: str) -> Any:
        """The value under `key`, or None."""
        return await self._cache.get(key)

    async def get_many(self, keys: list[str]) -> list[Any]:
        """The values under `keys`, None where absent."""
        values: list[Any] = await self._cache.multi_get(keys)
        return values

    async def set(self, key: str, value: Any, *, ttl: float) -> None:
        """Keep `value` under `key` for `ttl` seconds."""
        await self._cache.set(key, value, ttl=ttl)

    async def set_many(self, pairs: Iterable[tuple[str, Any]], *, ttl: float) -> None:
        """Keep every (key, value) of `pairs` for `ttl` seconds."""
        await self._cache.multi_set(pairs, ttl=ttl)

    async def delete(self, key: str) -> None:
        """Forget `key` (a no-op when absent)."""
        await self._cache.delete(key)


def local_cache() -> LocalCache:
    """A process-local cache."""
    return LocalCache()
