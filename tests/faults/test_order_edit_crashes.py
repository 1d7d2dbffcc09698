"""A worker killed during an order edit's commit: the edit is applied once or never, never half.

`order_edit.writing=kill` kills the worker inside the commit's transaction, after every row is written
and before it commits: PostgreSQL rolls all of it back (the order's revision, its lines, the stock, the
ledger, the refund), and a retry with the same Idempotency-Key, on a worker without the fault, applies it
once. `order_edit.committed=kill` kills it right after the commit: the retry is answered from what was
committed, and nothing moves twice (quote_service/fault_points.py).
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.faults.private import PrivatePostgres, PrivateRedis, service_env, serving
from tests.faults.scenario import ORDERS, QUOTE, Seed, seed
from tests.faults.test_idempotency_crashes import until_answered

pytestmark = [pytest.mark.long, pytest.mark.slow]


async def _ordered(http: httpx.AsyncClient, data: Seed) -> dict[str, Any]:
    body = {
        "customer_id": "edit-buyer",
        "currency": "TRY",
        "items": [{"product_id": data.products[0], "quantity": 3}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
    }
    quoted = await http.post(QUOTE, json=body, headers=data.service_key)
    assert quoted.status_code == 200, quoted.text
    placed = await http.post(
        ORDERS,
        json={"quote_id": quoted.json()["data"]["quote_id"]},
        headers={**data.service_key, "Idempotency-Key": f"order-{uuid.uuid4()}"},
    )
    assert placed.status_code == 201, placed.text
    order: dict[str, Any] = placed.json()["data"]
    return order


async def _previewed(http: httpx.AsyncClient, data: Seed, order_id: str) -> dict[str, Any]:
    edit = {
        "remove": [{"product_id": data.products[0], "quantity": 1}],
        "add": [{"product_id": data.products[1], "quantity": 2}],
    }
    response = await http.post(f"{ORDERS}/{order_id}/edits", json=edit, headers=data.service_key)
    assert response.status_code == 201, response.text
    preview: dict[str, Any] = response.json()["data"]
    return preview


async def _state(database_url: str, order_id: str, products: list[str]) -> tuple[Any, ...]:
    """Everything a commit writes: the order, its live lines, the stock, the edits, ledger entries, refunds."""
    conn = await asyncpg.connect(database_url)
    try:
        oid = uuid.UUID(order_id)
        return (
            await conn.fetchval("SELECT revision FROM orders WHERE id = $1", oid),
            await conn.fetchval("SELECT count(*) FROM order_lines WHERE order_id = $1 AND retired_by IS NULL", oid),
            [await conn.fetchval("SELECT stock FROM products WHERE id = $1", uuid.UUID(p)) for p in products[:2]],
            await conn.fetchval("SELECT count(*) FROM order_edits WHERE committed_at IS NOT NULL"),
            await conn.fetchval("SELECT count(*) FROM seller_ledger WHERE kind = 'edit'"),
            await conn.fetchval("SELECT count(*) FROM refunds"),
            await conn.fetchval("SELECT count(*) FROM stock_movements WHERE reason LIKE 'edit %'"),
        )
    finally:
        await conn.close()


async def test_a_commit_killed_before_its_transaction_commits_is_never_applied_and_its_retry_once(
    private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    env = service_env(private_pg.url, private_redis.url, QS_FAULT_POINTS="order_edit.writing=kill")
    key = {"Idempotency-Key": "commit-once"}
    with serving(env, "--workers", "1") as service:
        async with httpx.AsyncClient(base_url=service.base, timeout=30) as http:
            data = await seed(http, private_pg.url, stock=10)
            order = await _ordered(http, data)
            preview = await _previewed(http, data, order["id"])
            url = f"{ORDERS}/{order['id']}/edits/{preview['edit_id']}/commit"
            with pytest.raises(httpx.TransportError):  # the worker died inside the transaction
                await http.post(url, headers={**data.service_key, **key})
    # Never: nothing of it was committed.
    assert await _state(private_pg.url, order["id"], data.products) == (1, 1, [7, 10], 0, 0, 0, 0)
    with serving(service_env(private_pg.url, private_redis.url), "--workers", "1") as service:
        async with httpx.AsyncClient(base_url=service.base, timeout=30) as http:
            retried = await until_answered(http, "POST", url, headers={**data.service_key, **key})
            again = await http.post(url, headers={**data.service_key, **key})
    assert retried.status_code == 200, retried.text
    assert again.status_code == 200, again.text
    assert again.json()["data"] == retried.json()["data"]
    assert retried.json()["data"]["revision"] == 2
    # Once: a unit back, two taken, one ledger entry, one refund of the difference... or none.
    revision, lines, stock, edits, entries, refunds, movements = await _state(
        private_pg.url, order["id"], data.products
    )
    assert (revision, lines, stock, edits, entries, movements) == (2, 2, [8, 8], 1, 1, 2)
    assert refunds == (1 if preview["difference_due"].startswith("-") else 0)


async def test_a_commit_killed_after_its_transaction_committed_is_answered_from_it(
    private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    env = service_env(private_pg.url, private_redis.url, QS_FAULT_POINTS="order_edit.committed=kill")
    with serving(env, "--workers", "1") as service:
        async with httpx.AsyncClient(base_url=service.base, timeout=30) as http:
            data = await seed(http, private_pg.url, stock=10)
            order = await _ordered(http, data)
            preview = await _previewed(http, data, order["id"])
            url = f"{ORDERS}/{order['id']}/edits/{preview['edit_id']}/commit"
            headers = {**data.service_key, "Idempotency-Key": "commit-after"}
            with pytest.raises(httpx.TransportError):  # the worker died after the commit
                await http.post(url, headers=headers)
            retried = await until_answered(http, "POST", url, headers=headers)
    assert retried.status_code == 200, retried.text
    assert retried.json()["data"]["revision"] == 2
    revision, lines, stock, edits, entries, _, movements = await _state(private_pg.url, order["id"], data.products)
    assert (revision, lines, stock, edits, entries, movements) == (2, 2, [8, 8], 1, 1, 2)
