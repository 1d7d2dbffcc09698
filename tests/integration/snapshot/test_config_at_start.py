"""A process starts serving with the configuration of its start, not of the moment, a second or
more earlier, when its snapshot was first loaded: tests/faults/test_redis_config.py caught a
worker that started while Redis restarted answer with the configuration from before a change
committed during its start-up, until its first version check."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.cache.config_bus import read_version
from quote_service.cache.products import ProductCache
from quote_service.commissions import service as commissions
from quote_service.commissions.schemas import CommissionRateInput
from quote_service.config import Settings


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
