"""A worker that starts while PostgreSQL is down serves 503s, and starts fully once it is back.

Before (issue 72): with PostgreSQL stopped, a SIGKILLed worker's replacement failed its start
(the pool could not connect), died again, and granian took that for a crash loop: the master
stopped the healthy worker too and exited ~6 s after the kill, and the service stayed down
after PostgreSQL came back. Now the replacement starts without PostgreSQL: it answers 503
DEPENDENCY_UNAVAILABLE with Retry-After (its /health/ready says it has not started), and
starts its domains once PostgreSQL answers again, without a restart. And the master never exits
for a worker that dies again right after its respawn: it respawns it after a pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.faults.private import PrivatePostgres, PrivateRedis, ServiceProcess, service_env, serving
from tests.faults.scenario import ORDERS, QUOTE, Seed, basket, seed
from tests.faults.test_app_start_outage import expect_unavailable
from tests.faults.test_worker_kill import _app_starts, _workers
from tests.waiting import until

pytestmark = [pytest.mark.long, pytest.mark.slow]

CRASH_LOOP_WINDOW = 5.5
"""granian's own rule: a worker dying again within 5.5 s of its respawn made the master exit."""
OUTAGE_SECONDS = 10.0
"""How long PostgreSQL stays down after the kill: past the 6 s after which the master used to exit."""


def _fresh(service: ServiceProcess) -> httpx.AsyncClient:
    """A client opening a new connection per request: requests spread over both workers."""
    limits = httpx.Limits(max_keepalive_connections=0)
    return httpx.AsyncClient(base_url=service.base, timeout=10, limits=limits)


async def _replaced(service: ServiceProcess, victim: int) -> None:
    def replaced() -> bool:
        assert service.alive(), f"the master exited:\n{service.log_text()[-3000:]}"
        workers = _workers(service)
        return len(workers) == 2 and victim not in workers

    await until(replaced, "the killed worker replaced", within=30)


async def _order(http: httpx.AsyncClient, data: Seed, n: int) -> tuple[int, int]:
    """A quote and its order by the shopper: (quote status, order status)."""
    quoted = await http.post(QUOTE, json=basket(n, data.products, customer_id=data.shopper_id), headers=data.shopper)
    if quoted.status_code != 200:
        return quoted.status_code, 0
    headers = {**data.shopper, "Idempotency-Key": uuid.uuid4().hex}
    ordered = await http.post(ORDERS, json={"quote_id": quoted.json()["data"]["quote_id"]}, headers=headers)
    return quoted.status_code, ordered.status_code


@contextlib.asynccontextmanager
async def _two_workers(
    pg: PrivatePostgres, redis: PrivateRedis, spool: Path
) -> AsyncIterator[tuple[ServiceProcess, httpx.AsyncClient, Seed]]:
    """`serve --workers 2`, both workers' applications started, seeded; it must stop cleanly (0)."""
    with serving(service_env(pg.url, redis.url, QUOTE_LOG_SPOOL_DIR=str(spool)), "--workers", "2") as service:
        async with _fresh(service) as http:
            data = await seed(http, pg.url)
            await until(lambda: _app_starts(service) >= 2, "both workers' apps started", within=60)
            yield service, http, data
        assert service.alive(), f"the master exited:\n{service.log_text()[-3000:]}"
        code = service.stop()
        assert code == 0, service.log_text()[-3000:]


async def test_a_worker_respawned_while_postgres_is_down_answers_503_then_starts_when_it_is_back(
    private_pg: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    async with _two_workers(private_pg, private_redis, tmp_path) as (service, http, data):
        victim = _workers(service)[0]

        await asyncio.to_thread(private_pg.stop, "immediate")
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        await _replaced(service, victim)

        # The replacement started without PostgreSQL: its readiness names the start it waits for.
        async def replacement_ready() -> httpx.Response | None:
            response = await http.get("/health/ready")
            return response if "startup" in response.json()["checks"] else None

        starting = await until(replacement_ready, "/health/ready answered by the replacement", within=30)
        assert starting.status_code == 503
        assert starting.headers["retry-after"]
        assert starting.json()["status"] == "unavailable"
        assert starting.json()["checks"]["startup"]["ok"] is False
        assert starting.json()["checks"]["postgres"]["ok"] is False

        # Through the outage, past granian's crash-loop window: the master and both workers stay
        # up, and every order (a route that needs PostgreSQL) is a 503 with the envelope.
        answers = 0
        while time.monotonic() - killed_at < OUTAGE_SECONDS:
            assert service.alive(), f"the master exited:\n{service.log_text()[-3000:]}"
            headers = {**data.shopper, "Idempotency-Key": uuid.uuid4().hex}
            response = await http.post(ORDERS, json={"quote_id": str(uuid.uuid4())}, headers=headers)
            expect_unavailable(response)
            answers += 1
        assert len(_workers(service)) == 2
        assert _app_starts(service) == 2, "the replacement started its application without PostgreSQL"

        await asyncio.to_thread(private_pg.start)
        back_at = time.monotonic()
        await until(lambda: _app_starts(service) == 3, "the replacement's application started", within=60)
        started_after = time.monotonic() - back_at

        async def all_ready() -> bool:  # 20 fresh connections in a row: both workers, almost surely
            for _ in range(20):
                if (await http.get("/health/ready")).status_code != 200:
                    return False
            return True

        await until(all_ready, "both workers ready", within=30)
        outcomes = [await _order(http, data, n) for n in range(20)]
        assert outcomes == [(200, 201)] * 20, outcomes
    print(
        f"\n{answers} orders answered 503 during the outage, the master up throughout; the replacement "
        f"started {started_after:.2f} s after PostgreSQL accepted connections again"
    )


async def test_a_worker_that_dies_again_right_after_its_respawn_is_respawned_again(
    private_pg: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    async with _two_workers(private_pg, private_redis, tmp_path) as (service, http, data):
        before = set(_workers(service))
        first = min(before)
        os.kill(first, signal.SIGKILL)
        await _replaced(service, first)
        respawned_at = time.monotonic()
        (second,) = set(_workers(service)) - before
        os.kill(second, signal.SIGKILL)  # within granian's crash-loop window of its respawn
        assert time.monotonic() - respawned_at < CRASH_LOOP_WINDOW
        await _replaced(service, second)
        assert service.alive(), service.log_text()[-3000:]
        await until(lambda: _app_starts(service) >= 3, "the third worker's application started", within=60)
        assert service.alive(), service.log_text()[-3000:]
        outcomes = [await _order(http, data, n) for n in range(10)]
        assert outcomes == [(200, 201)] * 10, outcomes
