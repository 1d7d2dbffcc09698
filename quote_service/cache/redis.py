"""The redis-py asyncio client (hiredis parser when installed)."""

from __future__ import annotations

from redis.asyncio import Redis


def create_redis(url: str) -> Redis:
    """A client for `url` (redis://, rediss:// or unix://); connects lazily."""
    return Redis.from_url(
        url, decode_responses=False, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
    )
