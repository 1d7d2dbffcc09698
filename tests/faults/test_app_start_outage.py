"""An app started while PostgreSQL (or Redis) is down: it starts, answers 503, and recovers.

The in-process counterpart of test_worker_start_outage.py (one app, no granian): before issue
72's fix the app's start failed outright when PostgreSQL could not be reached (the pool's first
connection, then every domain that reads at start), so a worker could not exist during an outage.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.config import Settings
from tests.faults.private import PrivatePostgres, PrivateRedis
from tests.faults.staleness import SECRET_KEY, make_callers, product_body, quote_body
from tests.integration.expect import expect_error
from tests.waiting import until

pytestmark = pytest.mark.slow

PRODUCTS = "/api/v1/products"
QUOTE = "/api/v1/quote"


def expect_unavailable(response: httpx.Response) -> None:
    """503 DEPENDENCY_UNAVAILABLE in the error envelope, with Retry-After."""
    expect_error(response, 503, "DEPENDENCY_UNAVAILABLE")
    assert int(response.headers["retry-after"]) > 0


def _app(pg: PrivatePostgres, redis: PrivateRedis, spool: Path) -> Litestar:
    settings = Settings(
        database_url=pg.url,
        redis_url=redis.url,
        secret_key=SECRET_KEY,
        log_format="json",
        log_level="WARNING",
        quote_log_spool_dir=spool,
    )
    return create_app(settings)


async def test_an_app_started_without_postgres_answers_503_then_starts_once_it_is_back(
    private_pg: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    callers = await make_callers(private_pg.url)
    await asyncio.to_thread(private_pg.stop, "immediate")
    async with AsyncTestClient(_app(private_pg, private_redis, tmp_path)) as client:
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.headers["retry-after"]
        checks = ready.json()["checks"]
        assert checks["postgres"]["ok"] is False
        assert checks["startup"]["ok"] is False
        assert "tries" in checks["startup"]["error"]
        assert (await client.get("/health")).status_code == 200  # alive, not ready
        created = await client.post(PRODUCTS, json=product_body("40.00"), headers=callers.admin)
        expect_unavailable(created)
        quoted = await client.post(QUOTE, json=quote_body("no-such-product"), headers=callers.service)
        expect_unavailable(quoted)

        await asyncio.to_thread(private_pg.start)

        async def is_ready() -> bool:
            return (await client.get("/health/ready")).status_code == 200

        await until(is_ready, "ready once PostgreSQL is back", within=30)
        assert "startup" not in (await client.get("/health/ready")).json()["checks"]
        created = await client.post(PRODUCTS, json=product_body("40.00"), headers=callers.admin)
        assert created.status_code == 201, created.text
        quoted = await client.post(QUOTE, json=quote_body(created.json()["data"]["id"]), headers=callers.service)
        assert quoted.status_code == 200, quoted.text
        assert quoted.json()["data"]["subtotal"] == "40.00"


@pytest.mark.long
async def test_an_app_started_without_redis_answers_503_until_redis_is_back(
    private_pg: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    callers = await make_callers(private_pg.url)
    await asyncio.to_thread(private_redis.stop)
    async with AsyncTestClient(_app(private_pg, private_redis, tmp_path)) as client:
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"]["ok"] is False
        assert "startup" not in ready.json()["checks"]  # nothing at start needs Redis
        created = await client.post(PRODUCTS, json=product_body("40.00"), headers=callers.admin)
        assert created.status_code == 201, created.text  # PostgreSQL alone
        body = quote_body(created.json()["data"]["id"])
        quoted = await client.post(QUOTE, json=body, headers=callers.service)
        expect_unavailable(quoted)  # a quote is answered only once Redis holds it

        await asyncio.to_thread(private_redis.start)

        async def quotes() -> bool:
            return (await client.post(QUOTE, json=body, headers=callers.service)).status_code == 200

        await until(quotes, "quotes once Redis is back", within=30)
        assert (await client.get("/health/ready")).status_code == 200
