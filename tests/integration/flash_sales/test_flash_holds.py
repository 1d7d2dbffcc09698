"""Flash-sale holds and their reconciler (issue 32 item 4): a hold older than the grace is
settled when the ledger has its purchase and given back when it has none — and a unit whose
purchase is still being written is never given back (the item row's lock and the void).

And the purchase path's own tasks (issue 32 item 7): a purchase's record-or-undo outlives the
request that started it and is referenced until it ends (the event loop keeps only a weak
reference to a task), shutdown waits for it; a counter rebuild is shared by the callers of a
process and leaves nothing behind once done (a lock per sale id used to be kept forever)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import asyncpg
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.errors import DependencyUnavailable
from tests.integration.holdsetup import GRACE, Shop, shop
from tests.integration.locks import lock_waiters, waiting_for_lock
from tests.waiting import until

LATER = timedelta(seconds=GRACE + 1)
REBUILDS = "qs_flash_counter_rebuilds_total"


@pytest.fixture
async def store(settings: Settings, redis: Redis) -> AsyncIterator[Shop]:
    """A purchase path whose waits on PostgreSQL locks outlast the test's holds."""
    assert settings.database_url is not None
    async with shop(settings.database_url, redis, max_size=4, lock_timeout=30.0) as it:
        yield it


async def ledger_units(pool: asyncpg.Pool, sale_id: str) -> int:
    units: int = await pool.fetchval(
        "SELECT coalesce(sum(quantity), 0) FROM flash_purchases WHERE flash_sale_id = $1", uuid.UUID(sale_id)
    )
    return units


async def judge_at(store: Shop, moment: datetime) -> dict[str, int]:
    """One reconciler pass as if it ran at `moment`."""
    store.reconciler.clock = lambda: moment
    return await store.reconciler.tick()


async def lock_item(conn: asyncpg.Connection, sale: dict[str, object]) -> None:
    await conn.execute("SELECT 1 FROM flash_sale_items WHERE flash_sale_id = $1 FOR UPDATE", uuid.UUID(str(sale["id"])))


async def test_settled_holds_are_forgotten_and_fresh_ones_left_alone(store: Shop, pool: asyncpg.Pool) -> None:
    sale = await store.open_sale()
    now = utcnow()
    await store.buy(sale, quantity=2, customer="c", key="k1", now=now)
    assert await store.holds(sale) == 0  # settled by the purchase itself
    assert await store.reconciler.tick() == {"returned": 0, "settled": 0, "gone": 0}
    assert await store.counts(sale) == {"left": 8, "c": 2}
    assert await ledger_units(pool, sale["id"]) == 2


async def test_a_purchase_still_writing_when_its_hold_expires_is_sold_not_returned(
    store: Shop, pool: asyncpg.Pool
) -> None:
    """The writer has the item row's lock queue first: the reconciler waits behind it, then
    finds its ledger row and settles the hold."""
    sale = await store.open_sale()
    now = utcnow()
    async with pool.acquire() as blocker, blocker.transaction():
        await lock_item(blocker, sale)
        buying = asyncio.create_task(store.buy(sale, quantity=2, customer="c", key="k1", now=now))
        await waiting_for_lock(pool)  # the ledger write waits for the item row
        assert await store.holds(sale) == 1
        judging = asyncio.create_task(judge_at(store, now + LATER))

        async def queued_or_done() -> bool:
            return judging.done() or await lock_waiters(pool, 2)

        await until(queued_or_done, "the reconciler queues behind the writer (or judges without waiting)", within=30)
    purchase = await buying
    assert await judging == {"returned": 0, "settled": 1, "gone": 0}
    assert purchase.quantity == 2
    assert await ledger_units(pool, sale["id"]) == 2
    assert await store.counts(sale) == {"left": 8, "c": 2}  # the sold units were not given back
    assert await store.holds(sale) == 0


async def test_a_write_that_comes_after_the_void_is_refused_and_the_units_come_back_once(
    settings: Settings, redis: Redis, pool: asyncpg.Pool
) -> None:
    """The reconciler judges first (the purchase is stuck before its ledger write, past the
    grace): it voids the hold and gives the units back; the late ledger write fails on the void."""
    assert settings.database_url is not None
    async with shop(settings.database_url, redis, max_size=1, acquire_timeout=30.0) as stuck, \
            shop(settings.database_url, redis, max_size=2) as judge:  # fmt: skip
        sale = await judge.open_sale()
        await stuck.sales.config.refresh(background=False)  # it knows the sale without asking PostgreSQL
        now = utcnow()
        async with stuck.pool.acquire():  # the stuck process's only connection: its write waits
            buying = asyncio.create_task(stuck.buy(sale, quantity=2, customer="c", key="k1", now=now))
            await until(lambda: judge.holds(sale), "the purchase took its units in Redis", within=30)
            assert await judge.counts(sale) == {"left": 8, "c": 2}
            assert await judge_at(judge, now + LATER) == {"returned": 1, "settled": 0, "gone": 0}
            assert await judge.counts(sale) == {"left": 10, "c": 0}
        with pytest.raises(DependencyUnavailable):
            await buying  # its ledger write met the void: nothing sold
        assert await judge.counts(sale) == {"left": 10, "c": 0}  # its own undo gave nothing back twice
        assert await ledger_units(pool, sale["id"]) == 0
        assert await pool.fetchval("SELECT count(*) FROM flash_hold_voids") == 1
        # The same key goes through afterwards: the pending marker went with the hold.
        await judge.buy(sale, quantity=2, customer="c", key="k1", now=utcnow())
        assert await judge.counts(sale) == {"left": 8, "c": 2}
        assert await ledger_units(pool, sale["id"]) == 2


async def test_a_purchase_whose_client_left_is_recorded_and_waited_for_at_shutdown(
    store: Shop, pool: asyncpg.Pool
) -> None:
    sale = await store.open_sale()
    async with pool.acquire() as blocker, blocker.transaction():
        await blocker.execute("SELECT 1 FROM flash_sale_items WHERE flash_sale_id = $1 FOR UPDATE",
                              uuid.UUID(sale["id"]))  # fmt: skip
        request = asyncio.create_task(store.buy(sale, quantity=2, customer="c", key="k1", now=utcnow()))
        await waiting_for_lock(pool)  # units taken in Redis, the ledger write under way
        request.cancel()  # the client hangs up
        with contextlib.suppress(asyncio.CancelledError):
            await request
        del request
        gc.collect()
        assert store.purchases.recording == 1  # still running, and referenced
        draining = asyncio.create_task(store.purchases.drain())
        await asyncio.sleep(0)
        assert not draining.done()  # shutdown waits for it
    await draining  # the blocker is gone: the write finishes
    assert store.purchases.recording == 0
    assert await pool.fetchval("SELECT sum(quantity) FROM flash_purchases") == 2
    assert await store.counts(sale) == {"left": 8, "c": 2}
    assert await store.holds(sale) == 0


async def test_a_rebuild_is_shared_and_nothing_of_it_stays(store: Shop, redis: Redis) -> None:
    sales = [await store.open_sale() for _ in range(3)]
    ids = [uuid.UUID(sale["id"]) for sale in sales]
    await redis.flushdb()  # every sale's counters are gone
    before = REGISTRY.get_sample_value(REBUILDS) or 0.0
    callers = [asyncio.create_task(store.sales.ensure_counters(sale_id)) for sale_id in ids for _ in range(5)]
    await asyncio.sleep(0)  # each caller ran up to its wait: each sale's rebuild has started
    assert store.sales.rebuilds == 3
    callers[0].cancel()  # one caller gives up: the others still get the rebuild
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert all(result is None for result in results[1:])
    assert (REGISTRY.get_sample_value(REBUILDS) or 0.0) - before == 3  # one per sale, however many callers
    assert all([await store.sales.counters.exists(sale_id) for sale_id in ids])
    assert store.sales.rebuilds == 0  # no per-sale state outlives its rebuild
