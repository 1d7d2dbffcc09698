"""At most MAX_CONCURRENT_SIMULATIONS what-if simulations run at once in a process: the next is
refused 429 SIMULATIONS_BUSY with Retry-After (docs/governance.md#what-if-simulations).

Each simulation prices on the event loop that serves quotes; six at once took a quote's p50
from 4-13 ms to 306 ms (issue 72). Here the first simulation is held on the quote log's rows (a
lock this test takes), so it is still running, deterministically, when the next ones arrive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.config import Settings
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.waiting import until

Client = AsyncTestClient[Litestar]
SIMULATIONS = "/api/v1/simulations"


@pytest.fixture
async def capped(settings: Settings) -> AsyncIterator[Client]:
    """An app of its own with the default cap (1), whose simulations wait for a held lock (their
    quote-log read waits up to DB_LOCK_TIMEOUT, here longer than the test)."""
    assert Settings().max_concurrent_simulations == 1
    waits = msgspec.structs.replace(settings, db_lock_timeout=60.0, db_statement_timeout=60.0)
    async with AsyncTestClient(app=create_app(waits)) as client:
        yield client


async def status(client: Client, admin: Caller, simulation_id: str) -> str:
    found = expect_ok(await client.get(f"{SIMULATIONS}/{simulation_id}", headers=admin.headers))
    return str(found["status"])


async def test_a_second_simulation_is_refused_429_while_one_runs(
    capped: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("LOCK TABLE quote_log IN ACCESS EXCLUSIVE MODE")
        first = expect_ok(await capped.post(SIMULATIONS, json={"changes": []}, headers=admin.headers), 202)
        assert await status(capped, admin, first["id"]) == "running"
        bodies: list[dict[str, Any]] = [{"changes": []}, {"changes": [], "limit": 5}]
        for body in bodies:
            refused = await capped.post(SIMULATIONS, json=body, headers=admin.headers)
            answer = expect_error(refused, 429, "SIMULATIONS_BUSY")
            assert int(refused.headers["retry-after"]) > 0
            assert "MAX_CONCURRENT_SIMULATIONS=1" in answer["message"]
        assert await status(capped, admin, first["id"]) == "running"

    async def done() -> bool:
        return await status(capped, admin, first["id"]) == "done"

    await until(done, "the held simulation's end")
    second = expect_ok(await capped.post(SIMULATIONS, json={"changes": []}, headers=admin.headers), 202)

    async def second_done() -> bool:
        return await status(capped, admin, second["id"]) == "done"

    await until(second_done, "the next simulation's end")
