"""The in-process cache tier: aiocache's memory backend, called directly.

aiocache is the local tier, but each of its public operations (`get`, `multi_get`, `set`)
runs through three decorators — an `os.getenv("AIOCACHE_DISABLE")` check, a timeout wrapper
and a plugin hook — and logs: ~2 µs a call, twenty times the dict lookup underneath, paid twice
on every quote (principal, products). `LocalCache` calls the backend's own operations instead
(`_get`, `_multi_get`, `_set`, `_multi_set`, `_delete` of aiocache 0.12's SimpleMemoryBackend;
tests/unit/test_local_cache.py fails if a release changes them). No serializer, no timeout,
no plugins are configured, so nothing the decorators did is lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiocache import SimpleMemoryCache


class LocalCache:
    """A process-local key/value cache with per-entry TTLs."""

    def __init__(self) -> None:
        self._backend = SimpleMemoryCache(timeout=None)

    async def get(self, key: str) -> Any:
        """The value under `key`, or None."""
        return await self._backend._get(key)

    async def get_many(self, keys: list[str]) -> list[Any]:
        """The values under `keys`, None where absent."""
        values: list[Any] = await self._backend._multi_get(keys)
        return values

    async def set(self, key: str, value: Any, *, ttl: float) -> None:
        """Keep `value` under `key` for `ttl` seconds."""
        await self._backend._set(key, value, ttl=ttl)

    async def set_many(self, pairs: Iterable[tuple[str, Any]], *, ttl: float) -> None:
        """Keep every (key, value) of `pairs` for `ttl` seconds."""
        await self._backend._multi_set(pairs, ttl=ttl)

    async def delete(self, key: str) -> None:
        """Forget `key` (a no-op when absent)."""
        await self._backend._delete(key)


def local_cache() -> LocalCache:
    """A process-local cache."""
    return LocalCache()
