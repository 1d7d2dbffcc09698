"""LocalCache: aiocache's memory backend called directly (its private operations are pinned here)."""

from __future__ import annotations

import asyncio

from quote_service.cache.local import LocalCache


async def test_values_are_kept_read_back_and_forgotten() -> None:
    cache = LocalCache()

    await cache.set("a", b"1", ttl=60)
    await cache.set_many([("b", b"2"), ("c", b"3")], ttl=60)
    await cache.delete("c")
    await cache.delete("never-set")

    assert await cache.get("a") == b"1"
    assert await cache.get("c") is None
    assert await cache.get_many(["a", "b", "c", "d"]) == [b"1", b"2", None, None]


async def test_entries_expire_after_their_ttl() -> None:
    cache = LocalCache()

    await cache.set("short", b"x", ttl=0.01)
    await cache.set_many([("long", b"y")], ttl=60)
    await asyncio.sleep(0.05)

    assert await cache.get_many(["short", "long"]) == [None, b"y"]


async def test_setting_again_replaces_the_value_and_its_ttl() -> None:
    cache = LocalCache()

    await cache.set("k", b"old", ttl=0.01)
    await cache.set("k", b"new", ttl=60)
    await asyncio.sleep(0.05)

    assert await cache.get("k") == b"new"
