"""The service's Redis client (quote_service/cache/redis.py) against the real server."""

from __future__ import annotations

import asyncio

from quote_service.cache import redis as redis_module
from quote_service.cache.redis import create_redis
from quote_service.config import Settings


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
