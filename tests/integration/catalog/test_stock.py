"""Stock: atomic adjustments that never go below zero, even under concurrency.

The racing requests go to a real server process (one per test): the in-process test client
answers one request at a time, so through it nothing would race.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.catalog import service
from quote_service.catalog.schemas import StockAdjust
from quote_service.config import Settings
from quote_service.db.pool import create_pool
from quote_service.errors import InsufficientStock, NotFound
from tests.integration.catalog.test_catalog import PRODUCTS, create_product, error_of, refused, success_data
from tests.integration.conftest import Caller
from tests.integration.servers import RaceServer

Client = AsyncTestClient[Litestar]


async def adjust(
    client: Client | httpx.AsyncClient, admin: Caller, product_id: str, delta: int, reason: str = "count"
) -> Any:
    return await client.post(
        f"{PRODUCTS}/{product_id}/stock", json={"delta": delta, "reason": reason}, headers=admin.headers
    )


async def stock_of(pool: asyncpg.Pool, product_id: str) -> int:
    async with pool.acquire() as conn:
        stock: int = await conn.fetchval("SELECT stock FROM products WHERE id = $1", uuid.UUID(product_id))
    return stock


async def movements(pool: asyncpg.Pool, product_id: str) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch(
            "SELECT delta, stock_after, reason, actor FROM stock_movements WHERE product_id = $1 ORDER BY id",
            uuid.UUID(product_id),
        )


async def test_stock_goes_up_and_down_and_each_move_is_recorded(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, stock=5)
    pid = product["id"]
    level = success_data(await adjust(client, admin, pid, 10, "restock from supplier"))
    assert level == {"product_id": pid, "stock": 15, "delta": 10}
    level = success_data(await adjust(client, admin, pid, -15, "sold at the market"))
    assert level == {"product_id": pid, "stock": 0, "delta": -15}
    fetched = success_data(await client.get(f"{PRODUCTS}/{pid}", headers=admin.headers))
    assert fetched["stock"] == 0
    assert [tuple(m) for m in await movements(pool, pid)] == [
        (10, 15, "restock from supplier", "admin"),
        (-15, 0, "sold at the market", "admin"),
    ]


async def test_stock_changes_leave_price_history_alone(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    product = await create_product(client, admin, stock=5)
    success_data(await adjust(client, admin, product["id"], 3))
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM price_history") == 1


async def test_going_below_zero_is_refused_and_changes_nothing(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, stock=3)
    error_of(await adjust(client, admin, product["id"], -4), 409, "INSUFFICIENT_STOCK")
    assert await stock_of(pool, product["id"]) == 3
    assert await movements(pool, product["id"]) == []
    # Exactly what is there can be taken.
    assert success_data(await adjust(client, admin, product["id"], -3))["stock"] == 0
    error_of(await adjust(client, admin, product["id"], -1), 409, "INSUFFICIENT_STOCK")
    assert await stock_of(pool, product["id"]) == 0


async def test_stock_cannot_overflow(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    product = await create_product(client, admin, stock=2_000_000_000)
    error_of(await adjust(client, admin, product["id"], 200_000_000), 409, "INSUFFICIENT_STOCK")
    assert await stock_of(pool, product["id"]) == 2_000_000_000


async def test_an_inactive_product_still_has_stock(client: Client, admin: Caller) -> None:
    product = await create_product(client, admin, stock=1)
    success_data(await client.delete(f"{PRODUCTS}/{product['id']}", headers=admin.headers))
    assert success_data(await adjust(client, admin, product["id"], 4))["stock"] == 5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"delta": 1}, "reason"),
        ({"delta": 1, "reason": ""}, "reason"),
        ({"delta": "one", "reason": "x"}, "delta"),
        ({"delta": 1.5, "reason": "x"}, "delta"),
        ({"delta": 2_000_000_000, "reason": "x"}, "delta"),
        ({"delta": 1, "reason": "x", "stock": 9}, "stock"),
    ],
    ids=["no-reason", "empty-reason", "word-delta", "fractional-delta", "huge-delta", "unknown-field"],
)
async def test_malformed_adjustments_are_422(
    client: Client, admin: Caller, pool: asyncpg.Pool, body: dict[str, Any], field: str
) -> None:
    product = await create_product(client, admin, stock=3)
    response = await client.post(f"{PRODUCTS}/{product['id']}/stock", json=body, headers=admin.headers)
    assert refused(response, field), response.text
    assert await stock_of(pool, product["id"]) == 3


async def test_concurrent_http_decrements_never_oversell(
    client: Client, server: RaceServer, admin: Caller, pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, stock=50)
    responses = await server.race(120, lambda http, _: adjust(http, admin, product["id"], -1, "checkout"))
    outcomes = Counter((r.status_code, "ok" if r.status_code < 400 else r.json()["error"]["code"]) for r in responses)
    assert outcomes == {(200, "ok"): 50, (409, "INSUFFICIENT_STOCK"): 70}
    assert await stock_of(pool, product["id"]) == 0
    moves = await movements(pool, product["id"])
    assert len(moves) == 50
    assert sorted(m["stock_after"] for m in moves) == list(range(50))  # each unit sold exactly once
    reported = sorted(r.json()["data"]["stock"] for r in responses if r.status_code == 200)
    assert reported == list(range(50))


async def test_concurrent_service_adjustments_never_oversell(
    client: Client, admin: Caller, settings: Settings, pool: asyncpg.Pool
) -> None:
    """The same through the service, mixing sizes: the total taken never exceeds what there was."""
    product = await create_product(client, admin, stock=50)
    product_id = uuid.UUID(product["id"])
    deltas = [-1, -2, -3] * 40
    assert settings.database_url is not None
    # 120 callers on 5 connections: with the default one-second waits a loaded machine would
    # turn some into TimeoutErrors, and what is counted here would depend on the load.
    patient = await create_pool(
        settings.database_url, max_size=5, acquire_timeout=60, statement_timeout=30, lock_timeout=30
    )
    try:
        results = await asyncio.gather(
            *(
                service.adjust_stock(patient, product_id, StockAdjust(delta=d, reason="bulk"), actor="test")
                for d in deltas
            ),
            return_exceptions=True,
        )
    finally:
        await patient.close()
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, InsufficientStock)]
    assert unexpected == []
    taken = sum(-d for d, r in zip(deltas, results, strict=True) if not isinstance(r, BaseException))
    stock = await stock_of(pool, product["id"])
    assert stock == 50 - taken
    assert 0 <= stock < 3  # refused only when what was asked no longer fitted
    moves = await movements(pool, product["id"])
    assert sum(m["delta"] for m in moves) == -taken
    assert len(moves) == sum(not isinstance(r, BaseException) for r in results)


async def test_service_refuses_an_unknown_product(pool: asyncpg.Pool) -> None:
    with pytest.raises(NotFound):
        await service.adjust_stock(pool, uuid.uuid4(), StockAdjust(delta=1, reason="x"), actor="test")
