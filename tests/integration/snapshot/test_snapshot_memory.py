"""A configuration snapshot's memory (docs/operations.md#memory): an unchanged snapshot is not rebuilt by the
periodic check, and a replaced one is released at once — its plans and per-customer memos freed by reference
counting, not left for a full garbage collection."""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime

from quote_service.cache.config_store import FULL_RELOAD_SECONDS, ConfigStore
from quote_service.cache.redis import RedisClient
from quote_service.config import Settings
from quote_service.db.pool import create_pool
from quote_service.pricing.engine import region_for
from quote_service.pricing.quote import Address, EngineDefaults, QuoteRequest
from quote_service.snapshot.loader import load_snapshot

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DEFAULTS = EngineDefaults()


class _Entry:
    """Stands for what a plan keeps per customer (its served flags)."""


def _plan_of(store: ConfigStore) -> weakref.ref[_Entry]:  # type: ignore[type-arg]
    request = QuoteRequest(
        customer_id="c", items=[], delivery_address=Address(city="Istanbul", country="TR"), currency="TRY"
    )
    plan = region_for(request, snapshot=store.snapshot, defaults=DEFAULTS, now=NOW)
    entry = _Entry()
    plan.flags["customer-1"] = entry  # a per-customer entry, as served flags keep them
    return weakref.ref(entry)


async def test_the_periodic_check_keeps_an_unchanged_snapshot_and_a_replaced_one_is_freed_at_once(
    settings: Settings, redis: RedisClient
) -> None:
    assert settings.database_url is not None
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    store = ConfigStore(pool, redis, load_snapshot)
    try:
        await store.refresh(force=True, background=False)
        first = store.snapshot
        plan = _plan_of(store)
        for _ in range(3):  # what the 1 s loop does: a version read, no reload while nothing changed
            await store._check_postgres()
        assert store.snapshot is first
        assert store.reloads == 1
        assert FULL_RELOAD_SECONDS >= 3600

        gc.disable()  # freed by reference counting alone, not by a collection
        try:
            await store.refresh(force=True, background=False)  # the hourly full reload
            assert store.snapshot is not first
            assert plan() is None, "the replaced snapshot's plan (and its per-customer entry) is still alive"
            assert first.resolver.at(NOW).plans == {}
        finally:
            gc.enable()
    finally:
        await pool.close()
