"""The service's Redis client (quote_service/cache/redis.py) against the real server."""

from __future__ import annotations

import asyncio

from quote_service.cache import redis as redis_module
from quote_service.cache.redis import create_redis
from quote_service.config import Settings
from tests.garbage import cyclic_garbage, kinds


async def test_commands_beyond_the_connection_limit_wait_for_a_free_connection(settings: Settings) -> None:
    """More commands in flight than connections: the extra ones wait (a storm's burst), none fails."""
    client = create_redis(settings.redis_url or "")
    try:
        in_flight = redis_module.MAX_CONNECTIONS + 50
        # Each BLPOP holds its connection for 0.2 s: 150 at once need 150 connections.
        answers = await asyncio.gather(*(client.blpop([f"qs:test:empty:{n}"], timeout=0.2) for n in range(in_flight)))
        assert answers == [None] * in_flight
    finally:
        await client.aclose()


async def test_a_new_connection_costs_one_handshake_and_leaves_no_garbage(settings: Settings) -> None:
    """Opening connections sends HELLO and nothing the server refuses (CLIENT SETINFO before Redis
    7.2, CLIENT MAINT_NOTIFICATIONS on open-source Redis: each a round trip and a caught error whose
    traceback is a reference cycle), so a pool growing under load leaves the collector nothing."""
    client = create_redis(settings.redis_url or "")
    try:
        with cyclic_garbage() as cyclic:
            # Each BLPOP holds its connection for 0.05 s: 20 at once open 20 connections.
            assert (
                await asyncio.gather(*(client.blpop([f"qs:test:empty:{n}"], timeout=0.05) for n in range(20)))
                == [None] * 20
            )
        assert not cyclic, kinds(cyclic)
        names = [entry.get("lib-name", "") for entry in await client.client_list()]
        assert "redis-py" not in names  # no SETINFO was sent
    finally:
        await client.aclose()
