"""A payout run cut short (docs/payouts.md: each seller paid once or not at all, under any crash): the worker
SIGKILLed, or PostgreSQL killed, while a run is in the middle of its sellers — one seller's payout
written but not committed (the `payout.written` fault point holds each seller's transaction open a
moment before its commit: quote_service/fault_points.py). What committed stays, the open transaction
leaves nothing, and the same run asked again pays the sellers left, none twice."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from decimal import Decimal

import asyncpg
import httpx
import pytest

from quote_service.clock import utcnow
from tests.faults.private import PrivatePostgres, PrivateRedis, service_env, serving
from tests.faults.scenario import ORDERS, PRODUCTS, QUOTE, Seed, basket, seed
from tests.faults.test_idempotency_crashes import until_answered
from tests.waiting import until

pytestmark = [pytest.mark.long, pytest.mark.slow]

SELLERS = [f"s-{n}" for n in range(6)]
RUN = "/api/v1/payouts/run"
D = Decimal


async def _sales(http: httpx.AsyncClient, data: Seed) -> None:
    """A subscription to the payout events, payout terms without a hold, and an order for each seller."""
    hook = {"url": "https://erp.example/payouts", "events": ["payout.created"]}
    subscribed = await http.post("/api/v1/webhooks", json=hook, headers=data.admin)
    assert subscribed.status_code == 201, subscribed.text
    terms = await http.post("/api/v1/payout-terms", json={"hold_days": 0, "currency": "TRY"}, headers=data.admin)
    assert terms.status_code == 201, terms.text
    for n, seller in enumerate(SELLERS):
        body = {"sku": f"PAY-{n}", "name": f"Payout product {n}", "category_id": "books", "seller_id": seller,
                "currency": "TRY", "base_price": f"{20 + n}.00", "min_price": "1.00", "cost_price": "1.00",
                "stock": 10}  # fmt: skip
        product = await http.post(PRODUCTS, json=body, headers=data.admin)
        assert product.status_code == 201, product.text
        quote = await http.post(QUOTE, json=basket(n, [product.json()["data"]["id"]]), headers=data.service_key)
        assert quote.status_code == 200, quote.text
        headers = {**data.service_key, "Idempotency-Key": uuid.uuid4().hex}
        order = await http.post(ORDERS, json={"quote_id": quote.json()["data"]["quote_id"]}, headers=headers)
        assert order.status_code == 201, order.text


async def _committed(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM payouts")
        return count
    finally:
        await conn.close()


async def _paid_once(http: httpx.AsyncClient, data: Seed, database_url: str) -> None:
    """Every seller paid exactly once, exactly its ledger (no hold, no reserve); one event and the
    shares it pays per payout."""
    owed = {}
    for seller in SELLERS:
        entries = await http.get(f"/api/v1/sellers/{seller}/statement/entries", headers=data.admin)
        assert entries.status_code == 200, entries.text
        owed[seller] = sum((D(e["payout"]) for e in entries.json()["data"]["items"]), D(0))
    conn = await asyncpg.connect(database_url)
    try:
        payouts = await conn.fetch("SELECT id, seller_id, amount FROM payouts WHERE status <> 'failed' ORDER BY 2")
        events = await conn.fetch(
            "SELECT body::jsonb -> 'data' -> 'payout' ->> 'id' AS id FROM webhook_events WHERE type = 'payout.created'"
        )
        shares = await conn.fetch("SELECT payout_id, sum(amount) AS amount FROM payout_items GROUP BY payout_id")
    finally:
        await conn.close()
    assert [r["seller_id"] for r in payouts] == SELLERS
    assert {r["seller_id"]: D(r["amount"]) for r in payouts} == owed
    assert sorted(r["id"] for r in events) == sorted(str(r["id"]) for r in payouts)
    assert {r["payout_id"]: r["amount"] for r in shares} == {r["id"]: D(r["amount"]) for r in payouts}


async def test_a_run_whose_worker_is_killed_mid_run_pays_each_seller_once_when_run_again(
    private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    env = service_env(private_pg.url, private_redis.url, QS_FAULT_POINTS="payout.written=sleep:1")
    with serving(env, "--workers", "1") as service:
        async with httpx.AsyncClient(base_url=service.base, timeout=60) as http:
            data = await seed(http, private_pg.url, products=0)
            await _sales(http, data)
            body = {"as_of": utcnow().isoformat()}
            running = asyncio.create_task(http.post(RUN, json=body, headers=data.admin))
            await until(lambda: _at_least(private_pg.url, 2), "two sellers paid", within=60)
            [worker] = service.worker_pids()
            os.kill(worker, signal.SIGKILL)  # the third seller's transaction is open, its payout written
            with pytest.raises(httpx.TransportError):
                await running
            cut = await _committed(private_pg.url)
            assert 2 <= cut < len(SELLERS)
            again = await until_answered(http, "POST", RUN, json=body, headers=data.admin)
            assert again.status_code == 201, again.text
            assert len(again.json()["data"]["payouts"]) == len(SELLERS) - cut
            repeated = await http.post(RUN, json=body, headers=data.admin)
            assert repeated.json()["data"]["payouts"] == []
            await _paid_once(http, data, private_pg.url)


async def _at_least(database_url: str, count: int) -> bool:
    return await _committed(database_url) >= count


async def test_a_run_whose_postgres_is_killed_mid_run_pays_each_seller_once_when_run_again(
    private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    env = service_env(private_pg.url, private_redis.url, QS_FAULT_POINTS="payout.written=sleep:1")
    with serving(env, "--workers", "1") as service:
        async with httpx.AsyncClient(base_url=service.base, timeout=60) as http:
            data = await seed(http, private_pg.url, products=0)
            await _sales(http, data)
            body = {"as_of": utcnow().isoformat()}
            running = asyncio.create_task(http.post(RUN, json=body, headers=data.admin))
            await until(lambda: _at_least(private_pg.url, 2), "two sellers paid", within=60)
            private_pg.kill()  # a crash of its host: the third seller's open transaction is lost
            cut_short = await running
            assert cut_short.status_code == 503, cut_short.text
            assert cut_short.json()["success"] is False
            private_pg.start()  # crash recovery
            cut = await _committed(private_pg.url)
            assert 2 <= cut < len(SELLERS)
            again = await until_answered(http, "POST", RUN, json=body, headers=data.admin)
            assert again.status_code == 201, again.text
            assert len(again.json()["data"]["payouts"]) == len(SELLERS) - cut
            await _paid_once(http, data, private_pg.url)
