"""A worker killed between a checkout session's order and its `completed` mark (docs/agents.md): the retry
with the same Idempotency-Key finds the order by the session's order key, marks the session and answers it;
exactly one order exists (the `checkout_session.ordered` fault point, quote_service/fault_points.py)."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.faults.private import PrivatePostgres, PrivateRedis, service_env, serving
from tests.faults.scenario import seed
from tests.faults.test_idempotency_crashes import until_answered
from tests.integration.checkout_sessions.setup import ADDRESS

pytestmark = [pytest.mark.long, pytest.mark.slow]

ACP = "/acp/checkout_sessions"


async def test_a_complete_whose_worker_died_after_the_order_leaves_one_order_and_replays_it(
    private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    env = service_env(private_pg.url, private_redis.url, QS_FAULT_POINTS="checkout_session.ordered=kill")
    with serving(env, "--workers", "1") as service:
        async with httpx.AsyncClient(base_url=service.base, timeout=30) as http:
            data = await seed(http, private_pg.url)
            made = await http.post("/api/v1/api-keys", json={"name": "agent", "role": "agent"}, headers=data.admin)
            assert made.status_code == 201, made.text
            agent = {"Authorization": f"Bearer {made.json()['data']['key']}"}
            body = {"items": [{"id": data.products[0], "quantity": 2}], "fulfillment_address": ADDRESS}
            created = await http.post(ACP, json=body, headers={**agent, "Idempotency-Key": "create"})
            assert created.status_code == 201, created.text
            session = created.json()
            assert session["status"] == "ready_for_payment", session["messages"]
            url = f"{ACP}/{session['id']}/complete"
            payment = {"payment_data": {"token": "spt_1", "provider": "stripe"}}
            headers = {**agent, "Idempotency-Key": "complete-once"}
            with pytest.raises(httpx.TransportError):  # the worker died after the order's commit
                await http.post(url, json=payment, headers=headers)
            retried = await until_answered(http, "POST", url, json=payment, headers=headers)
            again = await http.post(url, json=payment, headers=headers)
    conn = await asyncpg.connect(private_pg.url)
    try:
        orders = await conn.fetch("SELECT id FROM orders")
        marked = await conn.fetchrow("SELECT status, order_id FROM checkout_sessions")
    finally:
        await conn.close()
    assert retried.status_code == 200, retried.text
    completed = retried.json()
    assert completed["status"] == "completed"
    assert [str(r["id"]) for r in orders] == [completed["order"]["id"]]
    assert marked is not None
    assert (marked["status"], str(marked["order_id"])) == ("completed", completed["order"]["id"])
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.content == retried.content
