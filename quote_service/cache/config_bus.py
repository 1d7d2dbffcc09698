"""The configuration version: durable in PostgreSQL, carried by Redis.

PostgreSQL is the source of truth: triggers bump `config_version` in the same transaction as
every configuration write (migration 0009), so a committed change always has a new version
and the version never goes back, whatever happens to Redis.

Redis carries it to the processes: a key holding the highest version announced so far (only
ever raised, by a script) and a channel the new version is published on. A Redis that lost
the key (an empty restart) gets it back from the first process that notices.
"""

from __future__ import annotations

from typing import Any, cast

from quote_service.cache.redis import RedisClient
from quote_service.db.pool import Connection

# One hash tag so both keys land in the same Redis Cluster slot. "pg-version": the value is
# PostgreSQL's version (the former `qs:{config}:version` was a Redis-only counter).
VERSION_KEY = "qs:{config}:pg-version"
CHANNEL = "qs:{config}:changed"

# SET only when higher: two announcements racing can never move the version back.
_RAISE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
if wanted > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return wanted
end
return current
"""


async def read_version(conn: Connection) -> int:
    """The durable configuration version."""
    version = await conn.fetchval("SELECT version FROM config_version")
    return int(version) if version is not None else 0


async def raise_version(redis: RedisClient, version: int) -> int:
    """Make Redis's version at least `version`; returns what Redis holds afterwards."""
    result = await cast(Any, redis.eval(_RAISE, 1, VERSION_KEY, version))
    return int(result)


async def announce_change(redis: RedisClient, version: int, *, domain: str) -> None:
    """Carry a committed version to every process: raise the key, publish on the channel."""
    await raise_version(redis, version)
    await redis.publish(CHANNEL, f"{version}:{domain}")


async def current_version(redis: RedisClient) -> int | None:
    """The version Redis carries; None when it has none (never set, or lost by Redis)."""
    raw = await redis.get(VERSION_KEY)
    return int(raw) if raw is not None else None
