"""A worker killed between a commit and what follows it: the retry with the same Idempotency-Key
is answered from PostgreSQL, at once, with what was committed.

The chaos soak found a flash purchase charged (its ledger row committed) while its client was
finally told 409 `IDEMPOTENCY_CONFLICT`: the worker died before it marked the key done in Redis,
and the retry waited 5 s on the "in progress" marker, then refused; the marker was repaired
only after 60 s. The `flash.ledger_committed` and `order.committed` fault points kill the worker
exactly there (`QS_FAULT_POINTS`, quote_service/fault_points.py); granian respawns it.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from quote_service.clock import utcnow
from tests.faults.private import PrivatePostgres, PrivateRedis, service_env, serving
from tests.faults.scenario import ORDERS, QUOTE, Seed, basket, seed

pytestmark = [pytest.mark.long, pytest.mark.slow]

SALES = "/api/v1/flash-sales"


async def until_answered(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """Send the request again (same headers, same key) until the service answers it (the killed
    worker is being replaced meanwhile); the first answer that is not a transport error or 503."""
    deadline = time.monotonic() + 60
    while True:
        try:
            response = await http.request(method, url, **kwargs)
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code != 503:
            return response
        assert time.monotonic() < deadline, "the service did not answer again within 60 s"


async def open_sale(http: httpx.AsyncClient, data: Seed) -> dict[str, Any]:
    now = utcnow()
    body = {
        "name": "Crash sale",
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "items": [{"product_id": data.products[0], "flash_price": "21.00", "allocated_stock": 10, "per_user_limit": 3}],
    }
    response = await http.post(SALES, json=body, headers=data.admin)
    assert response.status_code == 201, response.text
    sale: dict[str, Any] = response.json()["data"]
    return sale


@pytest.mark.long
async def test_a_purchase_whose_worker_died_after_its_ledger_commit_is_replayed_at_once(
    private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    env = service_env(private_pg.url, private_redis.url, QS_FAULT_POINTS="flash.ledger_committed=kill")
    with serving(env, "--workers", "1") as service:
        async with httpx.AsyncClient(base_url=service.base, timeout=30) as http:
            data = await seed(http, private_pg.url)
            sale = await open_sale(http, data)
            url = f"{SALES}/{sale['id']}/purchases"
            body = {"product_id": data.products[0], "quantity": 2, "customer_id": "buyer-1"}
            headers = {**data.service_key, "Idempotency-Key": "buy-once"}
            with pytest.raises(httpx.TransportError):  # the worker died after the commit
                await http.post(url, json=body, headers=headers)
            retried_at = time.monotonic()
            retried = await until_answered(http, "POST", url, json=body, headers=headers)
            waited = time.monotonic() - retried_at
            again = await http.post(url, json=body, headers=headers)
    conn = await asyncpg.connect(private_pg.url)
    try:
        ledger = await conn.fetch("SELECT id, quantity FROM flash_purchases WHERE idempotency_key = 'buy-once'")
    finally:
        await conn.close()
    print(f"\nretry answered {retried.status_code} {waited:.2f} s after the worker died (respawn included)")
    assert retried.status_code == 201, retried.text
    assert [(str(r["id"]), r["quantity"]) for r in ledger] == [(retried.json()["data"]["purchase_id"], 2)]
    assert again.status_code == 201, again.text  # from Redis again: the replay restored the marker
    assert again.content == retried.content  # the answer kept with the ledger row, byte for byte
    assert retried.headers.get("Idempotent-Replayed") == again.headers.get("Idempotent-Replayed") == "true"
    assert waited < 30, "answered from the ledger, not after the hold reconciler's 60 s grace"


async def test_an_order_whose_worker_died_after_its_commit_is_replayed(
    private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    """The answer a key keeps is written in the order's own transaction: the worker killed right after the
    commit loses nothing, and every retry, before and after the order is edited, gets the same bytes (before,
    the retry after the edit answered the order at revision 2)."""
    env = service_env(private_pg.url, private_redis.url, QS_FAULT_POINTS="order.committed=kill")
    with serving(env, "--workers", "1") as service:
        async with httpx.AsyncClient(base_url=service.base, timeout=30) as http:
            data = await seed(http, private_pg.url)
            quoted = await http.post(QUOTE, json=basket(1, data.products, "buyer-2"), headers=data.service_key)
            assert quoted.status_code == 200, quoted.text
            body = {"quote_id": quoted.json()["data"]["quote_id"]}
            headers = {**data.service_key, "Idempotency-Key": f"order-{uuid.uuid4()}"}
            with pytest.raises(httpx.TransportError):
                await http.post(ORDERS, json=body, headers=headers)
            retried = await until_answered(http, "POST", ORDERS, json=body, headers=headers)
            order_id = retried.json()["data"]["id"]
            add = {"add": [{"product_id": data.products[0], "quantity": 1}]}
            shown = await http.post(f"{ORDERS}/{order_id}/edits", json=add, headers=data.service_key)
            assert shown.status_code == 201, shown.text
            url = f"{ORDERS}/{order_id}/edits/{shown.json()['data']['edit_id']}/commit"
            done = await http.post(url, headers={**data.service_key, "Idempotency-Key": "edit-after-crash"})
            assert done.status_code == 200, done.text
            again = await http.post(ORDERS, json=body, headers=headers)
    conn = await asyncpg.connect(private_pg.url)
    try:
        orders = await conn.fetch("SELECT id FROM orders")
    finally:
        await conn.close()
    assert retried.status_code == 201, retried.text
    assert [str(r["id"]) for r in orders] == [order_id]
    assert retried.headers.get("Idempotent-Replayed") == "true"  # the answer the killed request kept
    assert retried.json()["data"]["revision"] == 1
    assert done.json()["data"]["revision"] == 2
    assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (201, "true")
    assert again.content == retried.content
