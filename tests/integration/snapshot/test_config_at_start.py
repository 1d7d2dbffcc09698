"""A process starts serving with the configuration of its start, not of the moment, a second or
more earlier, when its snapshot was first loaded: tests/faults/test_redis_config.py caught a
worker that started while Redis restarted answer with the configuration from before a change
committed during its start-up, until its first version check."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest
import structlog
from litestar.testing import AsyncTestClient
from structlog.testing import LogCapture

from quote_service.app import create_app
from quote_service.cache import config_store
from quote_service.cache.config_bus import read_version
from quote_service.cache.config_store import ConfigStore
from quote_service.cache.products import ProductCache
from quote_service.cache.redis import RedisClient
from quote_service.commissions import service as commissions
from quote_service.commissions.schemas import CommissionRateInput
from quote_service.config import Settings
from quote_service.db.pool import create_pool
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.snapshot.loader import load_snapshot


async def test_a_change_committed_while_the_process_starts_is_in_its_first_snapshot(
    settings: Settings, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = ProductCache.start
    written: list[str] = []

    async def start_then_change(self: ProductCache) -> None:
        # The configuration snapshot is loaded by now; the write commits before the process serves,
        # and is announced to nobody (as when Redis is away, or before this process subscribed).
        await started(self)
        # A connection of its own: the app runs on the test client's event loop, not the test's.
        writer = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
        try:
            rate = await commissions.create_rate(
                writer,
                CommissionRateInput(
                    category_id="started-late",
                    commission_type="PERCENTAGE",
                    rate=Decimal("7"),
                    currency="EUR",
                    effective_from=datetime(2025, 1, 1, tzinfo=UTC),
                ),
                actor="test",
            )
        finally:
            await writer.close()
        written.append(str(rate.id))

    monkeypatch.setattr(ProductCache, "start", start_then_change)
    app = create_app(settings)
    async with AsyncTestClient(app=app):
        assert written, "the write during start-up did not happen"
        async with pool.acquire() as conn:
            committed = await read_version(conn)
        snapshot = app.state.config_store.snapshot
        assert snapshot.version == committed
        assert written[0] in {str(rate.id) for rate in snapshot.commissions.rates()}


async def test_nothing_the_start_does_after_the_loops_began_stalls_them_past_a_pool_wait(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the moment the configuration store's loops run (its channel's subscription reloads, its version
    check), the start never holds the event loop as long as a pool connection may be waited for
    (DB_ACQUIRE_TIMEOUT): a stall that long failed their first waits, logged `config_reload_failed` with a
    traceback on most starts. The OpenAPI document, seconds of CPU, was built then; it is built before."""
    stalls: list[float] = []
    started = ConfigStore.start

    async def start_then_watch(self: ConfigStore[ConfigSnapshot]) -> None:
        await started(self)

        async def watch() -> None:  # on the app's event loop (the test client's thread)
            loop = asyncio.get_running_loop()
            last = loop.time()
            while True:
                await asyncio.sleep(0.005)
                now = loop.time()
                stalls.append(now - last)
                last = now

        watching.add(asyncio.create_task(watch()))

    watching: set[asyncio.Task[None]] = set()
    capture = LogCapture()
    every_level = structlog.make_filtering_bound_logger(0)
    monkeypatch.setattr(
        config_store, "log", structlog.wrap_logger(None, processors=[capture], wrapper_class=every_level)
    )
    monkeypatch.setattr(ConfigStore, "start", start_then_watch)
    if not gc.get_freeze_count():  # a worker's one-time collection of its own small heap, not this test process's
        gc.collect()
        gc.freeze()
    app = create_app(settings)  # a new app: its OpenAPI document is built in this start

    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/openapi.json")).status_code == 200
        for task in watching:
            client.blocking_portal.call(task.cancel)

    assert stalls, "the configuration store did not start"
    assert max(stalls) < settings.db_acquire_timeout, f"the start held the event loop {max(stalls):.2f} s"
    assert [e for e in capture.entries if e["event"] == "config_reload_failed"] == []


async def test_a_reload_that_waits_out_the_pool_logs_one_line_without_a_traceback(
    settings: Settings, redis: RedisClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL busy (or away) is an outage, logged as the background loops log one: its error, no traceback."""
    assert settings.database_url is not None
    pool = await create_pool(settings.database_url, min_size=1, max_size=1, acquire_timeout=0.1)
    capture = LogCapture()
    every_level = structlog.make_filtering_bound_logger(0)
    monkeypatch.setattr(
        config_store, "log", structlog.wrap_logger(None, processors=[capture], wrapper_class=every_level)
    )
    try:
        store = ConfigStore(pool, redis, load_snapshot)
        async with pool.acquire():  # the pool's one connection held: the reload's wait times out
            await store.catch_up()
    finally:
        await pool.close()

    (failed,) = [e for e in capture.entries if e["event"] == "config_reload_failed"]
    assert "exc_info" not in failed
    assert failed["error"] == "TimeoutError()"
