"""A repricing is seen by every worker process: the next quotes, whichever worker answers, use the new price."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from tests.integration.conftest import Caller
from tests.integration.repricing.test_inventory_repricing import inventory_rule, priced
from tests.integration.servers import cli_env, running_server
from tests.waiting import until

pytestmark = pytest.mark.slow
Client = AsyncTestClient[Litestar]
SETTLE_SECONDS = 3.0  # an outbox drain (every 0.5 s) and Redis pub/sub: well under a second, generously bounded


def body(customer: str, product_id: str) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "items": [{"product_id": product_id, "quantity": 1}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "currency": "TRY",
    }


async def unit_prices(http: httpx.AsyncClient, headers: dict[str, str], product_id: str, count: int) -> list[str]:
    """`count` concurrent quotes (spread over the workers), their unit prices."""
    answers = await asyncio.gather(
        *(http.post("/api/v1/quote", json=body(f"c-{n}", product_id), headers=headers) for n in range(count))
    )
    assert [a.status_code for a in answers] == [200] * count, answers[0].text
    return sorted({a.json()["data"]["items"][0]["unit_price"] for a in answers})


async def has_prices(http: httpx.AsyncClient, headers: dict[str, str], product_id: str, expected: list[str]) -> bool:
    """Whether 10 concurrent quotes all answer with the unit prices `expected`."""
    return await unit_prices(http, headers, product_id, 10) == expected


async def test_every_worker_quotes_the_repriced_product_at_its_new_price(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    await inventory_rule(client, admin)
    product = await priced(client, admin, stock=11)
    env = cli_env(DATABASE_URL=settings.database_url or "", REDIS_URL=settings.redis_url or "", LOG_LEVEL="WARNING")
    with running_server(env, "--workers", "2") as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            # Both workers now hold the product in their own memory.
            assert await unit_prices(http, service_key, product["id"], 40) == ["100.00"]
            moved = await http.post(
                f"/api/v1/products/{product['id']}/stock", json={"delta": -1, "reason": "sold"}, headers=admin.headers
            )
            assert moved.status_code == 200, moved.text
            await until(
                lambda: has_prices(http, service_key, product["id"], ["110.00"]),
                "every worker prices 110.00 after the stock move",
                within=SETTLE_SECONDS,
            )
            # From then on, no worker ever answers with the old price.
            for _ in range(5):
                assert await unit_prices(http, service_key, product["id"], 40) == ["110.00"]


@pytest.mark.long
async def test_a_repricing_by_plain_sql_reaches_every_worker(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings, pool: asyncpg.Pool
) -> None:
    await inventory_rule(client, admin)
    product = await priced(client, admin, stock=50)
    env = cli_env(DATABASE_URL=settings.database_url or "", REDIS_URL=settings.redis_url or "", LOG_LEVEL="WARNING")
    with running_server(env, "--workers", "2") as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            assert await unit_prices(http, service_key, product["id"], 40) == ["100.00"]
            async with pool.acquire() as conn:  # no service process takes part in this change
                await conn.execute("UPDATE products SET stock = 150 WHERE id = $1", uuid.UUID(product["id"]))
            await until(
                lambda: has_prices(http, service_key, product["id"], ["90.00"]),
                "every worker prices 90.00 after the SQL update",
                within=SETTLE_SECONDS,
            )
            for _ in range(5):
                assert await unit_prices(http, service_key, product["id"], 40) == ["90.00"]
