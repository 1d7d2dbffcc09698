"""The private servers themselves: start, crash, restart, pause, with data where expected."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest
from redis.asyncio import Redis

from tests.faults.private import PrivatePostgres, PrivateRedis

pytestmark = [pytest.mark.long, pytest.mark.slow]


async def test_private_postgres_is_migrated_and_survives_kill_and_restart(private_pg: PrivatePostgres) -> None:
    assert private_pg.port not in (5432,)
    conn = await asyncpg.connect(private_pg.url)
    assert await conn.fetchval("SELECT count(*) FROM schema_migrations") > 0
    await conn.execute("CREATE TABLE fault_probe (n int)")
    await conn.execute("INSERT INTO fault_probe VALUES (1)")
    await conn.close()

    private_pg.kill()
    with pytest.raises(ConnectionRefusedError):
        await asyncpg.connect(private_pg.url, timeout=2)
    private_pg.start()
    conn = await asyncpg.connect(private_pg.url)
    assert await conn.fetchval("SELECT count(*) FROM fault_probe") == 1
    await conn.close()

    private_pg.restart("fast")
    conn = await asyncpg.connect(private_pg.url)
    private_pg.pause()
    started = time.monotonic()
    with pytest.raises((TimeoutError, asyncio.TimeoutError)):
        await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=0.5)
    assert time.monotonic() - started < 2
    private_pg.resume()
    conn.terminate()
    conn = await asyncpg.connect(private_pg.url)
    assert await conn.fetchval("SELECT 1") == 1
    await conn.close()


async def test_private_redis_restarts_empty_or_from_its_append_only_file(
    private_redis: PrivateRedis, private_redis_aof: PrivateRedis
) -> None:
    assert 6379 not in (private_redis.port, private_redis_aof.port)
    for server in (private_redis, private_redis_aof):
        client = Redis.from_url(server.url)
        await client.set("k", "v")
        await client.aclose()
    private_redis.restart()
    private_redis_aof.restart()
    plain, aof = Redis.from_url(private_redis.url), Redis.from_url(private_redis_aof.url)
    assert await plain.get("k") is None
    assert await aof.get("k") == b"v"
    await plain.aclose()
    await aof.aclose()

    private_redis_aof.restart_empty()
    aof = Redis.from_url(private_redis_aof.url)
    assert await aof.get("k") is None
    private_redis_aof.pause()
    with pytest.raises((TimeoutError, asyncio.TimeoutError)):
        await asyncio.wait_for(aof.ping(), timeout=0.5)
    private_redis_aof.resume()
    await aof.aclose()
    aof = Redis.from_url(private_redis_aof.url)
    assert await aof.ping()
    started = time.monotonic()
    await asyncio.to_thread(private_redis_aof.debug_sleep, 0.5)
    assert time.monotonic() - started >= 0.4
    await aof.aclose()
