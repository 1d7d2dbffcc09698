"""SIGTERM under load: requests in flight finish, and nothing accepted is lost.

A real `quote-service serve --workers 2` takes a stream of quotes and flash purchases; SIGTERM
arrives while requests are in flight. Afterwards every quote that was answered 200 must be in
PostgreSQL's quote_log (written behind the request, so only a drain at shutdown puts the last
ones there) and in Redis, and every purchase answered 201 must be in the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from quote_service.config import Settings
from tests.conftest import free_port
from tests.integration.conftest import Caller
from tests.integration.flash import SALES, Client, new_sale
from tests.integration.servers import CLI, cli_env, wait_until_ready
from tests.integration.test_catalog import create_product

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def server(env: dict[str, str], *args: str) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_file = Path(tempfile.mkstemp(prefix="qs-shutdown-", suffix=".log")[1])
    with log_file.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [*CLI, "serve", "--port", str(port), *args], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        wait_until_ready(process, base, log_file)
        yield base, process, log_file
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log_file.unlink(missing_ok=True)


def basket(n: int, products: list[str]) -> dict[str, Any]:
    return {
        "customer_id": f"c-{n}",
        "currency": "TRY",
        "items": [{"product_id": products[n % len(products)], "quantity": 1 + n % 3}],
        "delivery_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0 + n / 1e5, "longitude": 28.97},
    }


async def test_sigterm_drains_requests_and_write_behind_buffers(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    products = [(await create_product(client, admin, stock=1000, min_price="10.00"))["id"] for _ in range(5)]
    sale, _ = await new_sale(client, admin, stock=20_000, item={"allocated_stock": 10_000, "per_user_limit": 5})
    env = cli_env(DATABASE_URL=settings.database_url or "", REDIS_URL=settings.redis_url or "")
    quotes: list[str] = []
    purchases: list[str] = []
    stop = asyncio.Event()

    async def quoting(http: httpx.AsyncClient, worker: int) -> None:
        n = worker
        while not stop.is_set():
            n += 100
            try:
                response = await http.post("/api/v1/quote", json=basket(n, products), headers=service_key)
            except httpx.TransportError:
                return  # the server stopped accepting: not an accepted request
            assert response.status_code in (200, 503), response.text
            if response.status_code == 200:
                quotes.append(response.json()["data"]["quote_id"])

    async def buying(http: httpx.AsyncClient, worker: int) -> None:
        n = worker
        while not stop.is_set():
            n += 100
            body = {"product_id": sale["items"][0]["product_id"], "quantity": 1, "customer_id": f"b-{n}"}
            headers = {**service_key, "Idempotency-Key": uuid.uuid4().hex}
            try:
                response = await http.post(f"{SALES}/{sale['id']}/purchases", json=body, headers=headers)
            except httpx.TransportError:
                return
            assert response.status_code in (201, 503), response.text
            if response.status_code == 201:
                purchases.append(response.json()["data"]["purchase_id"])

    with server(env, "--workers", "2") as (base, process, log_file):
        limits = httpx.Limits(max_connections=40)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
            load = [asyncio.create_task(quoting(http, w)) for w in range(24)]
            load += [asyncio.create_task(buying(http, w)) for w in range(8)]
            await asyncio.sleep(3.0)
            in_flight_before = len(quotes)
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.gather(*load)
        code = await asyncio.to_thread(process.wait, 60)
        log = log_file.read_text()
    assert code == 0, log
    assert in_flight_before > 50, "the load did not get going"
    assert quotes
    assert purchases

    conn = await asyncpg.connect(settings.database_url or "")
    try:
        logged = await conn.fetchval(
            "SELECT count(*) FROM quote_log WHERE quote_id = any($1::uuid[])", [uuid.UUID(q) for q in quotes]
        )
        recorded = await conn.fetchval(
            "SELECT count(*) FROM flash_purchases WHERE id = any($1::uuid[])", [uuid.UUID(p) for p in purchases]
        )
    finally:
        await conn.close()
    assert logged == len(quotes), f"{len(quotes) - logged} answered quotes missing from quote_log"
    assert recorded == len(purchases)
    redis = Redis.from_url(settings.redis_url or "")
    try:
        stored = await redis.exists(*(f"qs:quote:{q}" for q in quotes))
    finally:
        await redis.aclose()
    assert stored == len(quotes)
