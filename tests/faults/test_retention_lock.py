"""A retention pass while a long reader holds a partitioned table: orders still answer in their
normal time, and the pass reports the drop it left for the next one (docs/data-lifecycle.md).

`quote-service serve` on a private PostgreSQL; `stock_movements` has a month partition two years
past retention. A session holds a reader open on `stock_movements` (as a long report or pg_dump
does) while `quote-service retention` runs and orders keep coming. The pass's DROP TABLE cannot
have its lock while the reader holds the table, and every order inserts its stock movements into
that table: they queue behind the waiting drop, so the drop may wait RETENTION_LOCK_TIMEOUT
(0.2 s) only, never the seconds a reader may last. Once the reader has gone, the next pass drops it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import asyncpg
import httpx
import pytest

from quote_service.clock import utcnow
from quote_service.lifecycle import partitions
from tests.faults.private import PrivatePostgres, PrivateRedis, service_env, serving
from tests.faults.scenario import ORDERS, QUOTE, Seed, basket, seed
from tests.integration.servers import CLI

pytestmark = [pytest.mark.long, pytest.mark.slow]

BASELINE_ORDERS = 8
MARGIN = 2.0
"""Seconds an order may take beyond the slowest one before the pass: the pass's lock wait
(RETENTION_LOCK_TIMEOUT, 0.2 s), and the command starting beside the service on a shared 2-core
machine. The drop used to wait 5 s, and the orders queued behind it answered 503 after DB_LOCK_TIMEOUT."""


async def timed_order(http: httpx.AsyncClient, data: Seed, n: int) -> float:
    """Seconds the order (not its quote) took to answer 201."""
    quoted = await http.post(QUOTE, json=basket(n, data.products), headers=data.service_key)
    assert quoted.status_code == 200, quoted.text
    headers = {**data.service_key, "Idempotency-Key": uuid.uuid4().hex}
    started = time.monotonic()
    ordered = await http.post(ORDERS, json={"quote_id": quoted.json()["data"]["quote_id"]}, headers=headers)
    seconds = time.monotonic() - started
    assert ordered.status_code == 201, ordered.text
    return seconds


async def retention(env: dict[str, str]) -> tuple[int, str]:
    """`quote-service retention`: its exit status and what it printed."""
    command = await asyncio.create_subprocess_exec(
        *CLI, "retention", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    printed, _ = await command.communicate()
    assert command.returncode is not None
    return command.returncode, printed.decode()


async def test_orders_answer_in_their_normal_time_while_a_reader_blocks_a_retention_drop(
    private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    # RETENTION_INTERVAL=0: the service's own passes stay out of the way of the one under test.
    env = service_env(private_pg.url, private_redis.url, LOG_LEVEL="WARNING", RETENTION_INTERVAL="0")
    with serving(env, "--workers", "1") as service:
        async with httpx.AsyncClient(base_url=service.base, timeout=30) as http:
            data = await seed(http, private_pg.url)
            baseline = [await timed_order(http, data, n) for n in range(BASELINE_ORDERS)]

            conn = await asyncpg.connect(private_pg.url)
            try:
                long_ago = utcnow() - timedelta(days=730)
                await partitions.cover(conn, long_ago, long_ago, (partitions.BY_NAME["stock_movements"],))
                [old] = [p for p in await partitions.partitions(conn, "stock_movements") if p.hi and p.hi < utcnow()]
                async with conn.transaction():  # the long reader: ACCESS SHARE on the table until it ends
                    await conn.fetchval("SELECT count(*) FROM stock_movements")
                    passing = asyncio.create_task(retention(env))
                    during: list[float] = []
                    n = BASELINE_ORDERS
                    while not passing.done():
                        n += 1
                        during.append(await timed_order(http, data, n))
                    status, printed = await passing
                    assert await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", old.name), "kept while read"
                status_after, printed_after = await retention(env)
                assert not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", old.name)
            finally:
                await conn.close()

    assert status == 1, printed
    assert f"not dropped {old.name} (the next pass retries): 0.2 s passed without its table's lock" in printed
    assert status_after == 0, printed_after
    assert any(line.startswith(f"dropped {old.name}: stock_movements") for line in printed_after.splitlines())
    assert len(during) >= 3, "orders kept coming while the pass ran"
    slowest = max(baseline)
    assert max(during) <= slowest + MARGIN, f"an order took {max(during):.2f} s in the pass (before: {slowest:.2f} s)"
    print(
        f"orders before the pass: slowest {max(baseline):.2f} s; during it: {len(during)} orders, slowest "
        f"{max(during):.2f} s"
    )
