"""The in-process cache tier: a dictionary of (value, expiry), read in well under a microsecond a key.

A warm quote reads its products here (one `get_many`), and a bearer token's principal (one `get`).
Until 2026-11-26 this was aiocache's `SimpleMemoryCache` through its public API, whose every call
runs three decorators (an `os.getenv("AIOCACHE_DISABLE")` check, a timeout wrapper, a plugin hook)
and times and logs itself: a `get` cost ~2.9 µs, a `multi_get` of 3 keys ~4.1 µs and a `set` ~6.7
µs where the dictionary work inside costs ~0.1-0.4 µs, and each `set` scheduled a timer to expire
its key. Its backend's private methods would have cost less, but aiocache may change them in any
release. So the tier is this class (docs/hot-path.md#the-local-cache-tier; the measure:
`loadtests/bench_local_cache.py`): a `get_many` of 3 warm keys ~0.4 µs, a `get` ~0.2 µs.

An entry expires `ttl` seconds after it was set (monotonic time): a read past it misses and drops
it. Entries nobody reads again are swept when the dictionary has doubled since the last sweep, so
it holds at most about twice the live entries. Values are kept as they are (no copy).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

_FIRST_SWEEP = 1024
"""Entries held before the first sweep of expired ones."""


class LocalCache:
    """A process-local key/value cache with per-entry TTLs (one event-loop thread; no locking)."""

    __slots__ = ("_entries", "_sweep_at")

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Any, float]] = {}
        """key → (value, monotonic time it expires at)."""
        self._sweep_at = _FIRST_SWEEP

    async def get(self, key: str) -> Any:
        """The value under `key`, or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            del self._entries[key]
            return None
        return entry[0]

    async def get_many(self, keys: list[str]) -> list[Any]:
        """The values under `keys`, None where absent."""
        entries = self._entries
        now = time.monotonic()
        values: list[Any] = []
        for key in keys:
            entry = entries.get(key)
            if entry is None:
                values.append(None)
            elif entry[1] <= now:
                del entries[key]
                values.append(None)
            else:
                values.append(entry[0])
        return values

    async def set(self, key: str, value: Any, *, ttl: float) -> None:
        """Keep `value` under `key` for `ttl` seconds."""
        self._entries[key] = (value, time.monotonic() + ttl)
        self._maybe_sweep()

    async def set_many(self, pairs: Iterable[tuple[str, Any]], *, ttl: float) -> None:
        """Keep every (key, value) of `pairs` for `ttl` seconds."""
        until = time.monotonic() + ttl
        self._entries.update((key, (value, until)) for key, value in pairs)
        self._maybe_sweep()

    async def delete(self, key: str) -> None:
        """Forget `key` (a no-op when absent)."""
        self._entries.pop(key, None)

    def __len__(self) -> int:
        """Entries held, expired ones not yet dropped included."""
        return len(self._entries)

    def _maybe_sweep(self) -> None:
        entries = self._entries
        if len(entries) < self._sweep_at:
            return
        now = time.monotonic()
        for key in [key for key, (_, until) in entries.items() if until <= now]:
            del entries[key]
        self._sweep_at = max(_FIRST_SWEEP, 2 * len(entries))

    async def clear(self) -> None:
        """Forget every key."""
        self._entries.clear()
        self._sweep_at = _FIRST_SWEEP


def local_cache() -> LocalCache:
    """A process-local cache."""
    return LocalCache()
