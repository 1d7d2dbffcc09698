"""Accepted competitor observations survive Redis losing everything (printed with `-s`).

A two-worker service on private servers accepts 3,000 observations (three requests of 1,000,
each a 202), then Redis is killed and restarted empty: the stream, its entries and the consumer
group are gone. Twice: with the consumers running (some observations are stored before the
restart, the rest are lost from Redis; an earlier probe lost 1,500 of 3,000 this way), and with
no consumer able to store anything until after the restart (the test holds a lock on
`competitor_prices`: every accepted observation is in Redis alone when it is wiped; without the
inbox, 2,998 of 3,000 were lost). Every one is stored: the consumers finish, from the PostgreSQL
inbox, what was accepted and never finished, once INGEST_REPLAY_AFTER_SECONDS have passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from tests.faults.private import PrivatePostgres, PrivateRedis, service_env, serving
from tests.faults.scenario import seed
from tests.waiting import until

pytestmark = [pytest.mark.long, pytest.mark.slow]

OBSERVATIONS = 3000
REQUEST_SIZE = 1000
REPLAY_AFTER = 2.0
STORED_WITHIN = 60.0  # seconds after Redis is back: replay_after + a recovery pass + the inserts on a busy box


def _bodies(products: list[str]) -> list[dict[str, object]]:
    start = datetime.now(UTC) - timedelta(hours=1)
    observations = [
        {
            "product_id": products[n % len(products)],
            "competitor": f"fault-{n % 7}",
            "price": f"{20 + n % 50}.50",
            "currency": "TRY",
            "observed_at": (start + timedelta(milliseconds=n)).isoformat(),
        }
        for n in range(OBSERVATIONS)
    ]
    return [{"observations": observations[i : i + REQUEST_SIZE]} for i in range(0, OBSERVATIONS, REQUEST_SIZE)]


def _replayed(log_text: str) -> int:
    """Observations the service says it finished from the inbox (its JSON log lines)."""
    total = 0
    for line in log_text.splitlines():
        if '"competitor_observations_replayed"' in line:
            total += int(json.loads(line)["count"])
    return total


async def _stored_and_waiting(database_url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM competitor_prices")
        waiting = await conn.fetchval("SELECT count(*) FROM competitor_price_inbox")
    finally:
        await conn.close()
    return stored, waiting


@pytest.mark.parametrize("consumers", ["running", "blocked"])
async def test_accepted_observations_survive_redis_restarting_empty(
    private_pg: PrivatePostgres, private_redis: PrivateRedis, consumers: str
) -> None:
    env = service_env(private_pg.url, private_redis.url, INGEST_REPLAY_AFTER_SECONDS=str(REPLAY_AFTER))
    with serving(env, "--workers", "2") as service:
        async with httpx.AsyncClient(base_url=service.base, timeout=30) as http:
            data = await seed(http, private_pg.url)
            blocker = await asyncpg.connect(private_pg.url)
            try:
                # No consumer can store anything while this lock is held (their inserts time out
                # and are retried); the requests themselves only write the inbox.
                blocking = blocker.transaction()
                await blocking.start()
                if consumers == "blocked":
                    await blocker.execute("LOCK TABLE competitor_prices IN EXCLUSIVE MODE")
                accepted = 0
                for body in _bodies(data.products):
                    response = await http.post("/api/v1/competitor-prices", json=body, headers=data.service_key)
                    assert response.status_code == 202, response.text
                    accepted += response.json()["data"]["accepted"]
                on_the_stream = int(private_redis.command("XLEN", "{competitor-prices}:stream").lstrip(":"))
                stored_before, _ = await _stored_and_waiting(private_pg.url)
                await asyncio.to_thread(private_redis.restart_empty)
                back_at = time.monotonic()
                await blocking.commit()
            finally:
                await blocker.close()

            async def all_stored() -> bool:
                stored, waiting = await _stored_and_waiting(private_pg.url)
                return stored >= accepted and waiting == 0

            with contextlib.suppress(AssertionError):  # the numbers below say what was missing
                await until(all_stored, "every accepted observation stored", within=STORED_WITHIN)
            seconds = time.monotonic() - back_at
            stored, waiting = await _stored_and_waiting(private_pg.url)
        replayed = _replayed(service.log_text())
    print(
        f"\nconsumers {consumers}: {accepted} observations accepted (202), {on_the_stream} on the stream and "
        f"{stored_before} stored when Redis was restarted empty; {stored} stored {seconds:.1f} s after Redis was "
        f"back ({replayed} replayed from the PostgreSQL inbox), {accepted - stored} lost, {waiting} left in the inbox"
    )
    assert accepted == OBSERVATIONS
    assert on_the_stream == OBSERVATIONS
    if consumers == "blocked":  # the fault bit: every accepted observation was in Redis alone
        assert stored_before == 0
    assert stored == accepted, f"{accepted - stored} accepted observations were lost"
    assert waiting == 0
    if consumers == "blocked":
        # What Redis lost came back from the inbox. With the consumers running there may be
        # nothing to replay: consumers that had read every entry before the restart finish those
        # themselves once their inserts go through (seen: 2,502 stored at the restart, 3,000 after
        # it, none replayed); nothing lost is the point there.
        assert replayed > 0
