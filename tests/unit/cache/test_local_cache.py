"""LocalCache: a dictionary of (value, expiry), no `asyncio.wait_for` and no timer per call, values kept
as they are, expired entries swept (quote_service/cache/local.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from quote_service.cache.local import LocalCache
from tests.waiting import until


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
    assert await cache.get("short") == b"x"

    await until(lambda: _gone(cache, "short"), "the 10 ms entry expires")

    assert await cache.get_many(["short", "long"]) == [None, b"y"]


async def test_setting_again_replaces_the_value_and_its_ttl() -> None:
    cache = LocalCache()

    await cache.set("k", b"old", ttl=0.01)
    await cache.set("k", b"new", ttl=60)
    await cache.set("later", b"x", ttl=0.01)  # expires after the first 10 ms timer has fired

    await until(lambda: _gone(cache, "later"), "a 10 ms entry set after the old TTL expires")

    assert await cache.get("k") == b"new"


async def test_no_call_goes_through_asyncio_wait_for_and_values_are_not_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refused(*_: Any, **__: Any) -> None:
        raise AssertionError("a local cache call went through asyncio.wait_for")

    monkeypatch.setattr(asyncio, "wait_for", refused)
    cache = LocalCache()
    entry = (3, {"name": "product"})

    await cache.set("a", entry, ttl=60)
    await cache.set_many([("b", entry)], ttl=60)
    await cache.delete("b")

    assert await cache.get("a") is entry
    assert (await cache.get_many(["a", "b"]))[0] is entry


async def test_expired_entries_nobody_reads_are_swept_as_the_cache_grows() -> None:
    cache = LocalCache()
    await cache.set_many([(f"old-{n}", n) for n in range(1000)], ttl=0.01)
    await asyncio.sleep(0.02)

    await cache.set_many([(f"new-{n}", n) for n in range(100)], ttl=60)  # past 1,024 entries: a sweep

    assert len(cache) == 100
    assert await cache.get_many(["new-0", "new-99", "old-0"]) == [0, 99, None]


async def test_no_timer_is_scheduled_per_entry() -> None:
    cache = LocalCache()
    loop = asyncio.get_running_loop()
    before = len(loop._scheduled)  # type: ignore[attr-defined]

    await cache.set_many([(f"k{n}", n) for n in range(50)], ttl=60)
    await cache.set("one", 1, ttl=60)

    assert len(loop._scheduled) == before  # type: ignore[attr-defined]


async def _gone(cache: LocalCache, key: str) -> bool:
    return await cache.get(key) is None
