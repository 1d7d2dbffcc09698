"""Invalidation bus: a version counter and a channel in Redis.

An admin write, after its transaction commits, calls `announce_change`: the version is
incremented and published. Every process subscribes to the channel and also polls the
version, so a missed message (a reconnect, a restart) is noticed within the poll interval.
"""

from __future__ import annotations

from redis.asyncio import Redis

# One hash tag so both keys land in the same Redis Cluster slot.
VERSION_KEY = "qs:{config}:version"
CHANNEL = "qs:{config}:changed"


async def announce_change(redis: Redis, *, domain: str) -> int:
    """Bump the configuration version and tell every process; returns the new version."""
    version = int(await redis.incr(VERSION_KEY))
    await redis.publish(CHANNEL, f"{version}:{domain}")
    return version


async def current_version(redis: Redis) -> int:
    """The configuration version in Redis (0 when never bumped or after a flush)."""
    raw = await redis.get(VERSION_KEY)
    return int(raw) if raw is not None else 0
