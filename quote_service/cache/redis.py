"""The redis-py asyncio client (hiredis parser when installed)."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

MAX_CONNECTIONS = 100
"""Connections one client (one process) opens at most: redis-py's own default."""
POOL_WAIT_SECONDS = 2.0
"""How long a command waits for a free connection when all are busy, then fails (503).

redis-py's default pool raises at once when its connections are all in use: under a flash-sale
storm a worker with more than 100 commands in flight answered some purchases 503 that a
moment's wait would have served."""


def create_redis(url: str) -> Redis:
    """A client for `url` (redis://, rediss:// or unix://); connects lazily."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_WAIT_SECONDS,
        decode_responses=False,
        socket_timeout=5,
        socket_connect_timeout=5,
        health_check_interval=30,
    )
    return Redis.from_pool(pool)
