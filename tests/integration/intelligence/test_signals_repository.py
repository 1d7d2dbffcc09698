"""raise_signal: one live signal per subject and type, whoever raises it and how often."""

from __future__ import annotations

import asyncio
import uuid
from uuid import UUID

import asyncpg
import pytest

from quote_service.intelligence import signals


async def _product(pool: asyncpg.Pool) -> UUID:
    product_id = uuid.uuid4()
    await pool.execute(
        """INSERT INTO products (id, sku, name, category_id, seller_id, currency, base_price, current_price,
                                 min_price, cost_price, stock)
           VALUES ($1, $2, 'P', 'c', 's', 'USD', 100, 100, 50, 40, 20)""",
        product_id,
        f"sku-{product_id}",
    )
    return product_id


async def test_raising_twice_refreshes_the_open_signal(pool: asyncpg.Pool) -> None:
    product_id = await _product(pool)
    async with pool.acquire() as conn:
        first = await signals.raise_signal(
            conn, type="competitor_undercut", product_id=product_id, severity="warning", details={"gap": 16}
        )
        second = await signals.raise_signal(
            conn, type="competitor_undercut", product_id=product_id, severity="critical", details={"gap": 31}
        )
    assert first.created
    assert not second.created
    assert second.row["id"] == first.row["id"]
    assert second.row["severity"] == "critical"
    assert second.row["details"] == {"gap": 31}
    assert await pool.fetchval("SELECT count(*) FROM signals") == 1


async def test_concurrent_raises_make_one_row(pool: asyncpg.Pool) -> None:
    product_id = await _product(pool)

    async def raise_one() -> bool:
        async with pool.acquire() as conn:
            raised = await signals.raise_signal(
                conn, type="low_inventory", product_id=product_id, severity="warning", details={"stock": 3}
            )
            return raised.created

    created = await asyncio.gather(*(raise_one() for _ in range(5)))
    assert created.count(True) == 1
    assert await pool.fetchval("SELECT count(*) FROM signals") == 1


async def test_acknowledged_stays_live_and_resolved_allows_a_new_one(pool: asyncpg.Pool) -> None:
    product_id = await _product(pool)
    async with pool.acquire() as conn:
        first = await signals.raise_signal(
            conn, type="low_inventory", product_id=product_id, severity="warning", details={}
        )
        acked = await signals.acknowledge_signal(conn, signal_id=first.row["id"], actor="admin")
        assert acked is not None
        assert acked["status"] == "acknowledged"
        assert acked["acknowledged_by"] == "admin"
        again = await signals.raise_signal(
            conn, type="low_inventory", product_id=product_id, severity="info", details={}
        )
        assert not again.created
        assert again.row["status"] == "acknowledged"
        resolved = await signals.resolve_signal(conn, type="low_inventory", product_id=product_id)
        assert resolved is not None
        assert resolved["resolved_at"] is not None
        fresh = await signals.raise_signal(
            conn, type="low_inventory", product_id=product_id, severity="info", details={}
        )
    assert fresh.created
    assert fresh.row["id"] != first.row["id"]


async def test_the_unique_index_refuses_a_second_live_signal(pool: asyncpg.Pool) -> None:
    product_id = await _product(pool)
    insert = "INSERT INTO signals (id, type, product_id, severity) VALUES ($1, 'price_anomaly', $2, 'info')"
    await pool.execute(insert, uuid.uuid4(), product_id)
    with pytest.raises(asyncpg.UniqueViolationError):
        await pool.execute(insert, uuid.uuid4(), product_id)


async def test_signals_without_a_product_are_keyed_by_experiment(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        a = await signals.raise_signal(
            conn, type="experiment_guardrail", product_id=None, severity="critical", details={"experiment_id": "e1"}
        )
        b = await signals.raise_signal(
            conn, type="experiment_guardrail", product_id=None, severity="critical", details={"experiment_id": "e2"}
        )
        a2 = await signals.raise_signal(
            conn, type="experiment_guardrail", product_id=None, severity="warning", details={"experiment_id": "e1"}
        )
        with pytest.raises(ValueError, match="experiment_id"):
            await signals.raise_signal(conn, type="x", product_id=None, severity="info", details={})
    assert a.created
    assert b.created
    assert not a2.created
    assert a2.row["id"] == a.row["id"]
