"""The redis-py asyncio client (hiredis parser when installed): one Redis, or a Redis Cluster.

Cluster mode (`REDIS_CLUSTER=true`, or a `redis+cluster://` / `rediss+cluster://` URL) gives a
`RedisCluster` that discovers the cluster from the URL's node and routes every command to the
master of its key's slot. On a cluster, a script's keys, a MGET's keys and a transaction's keys
must share one slot: the helpers below are how the service touches keys of several slots at
once, the same calls on both kinds of client (docs/deployment.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, TypeAlias, cast

from redis import exceptions as redis_exceptions
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.maint_notifications import MaintNotificationsConfig

RedisClient: TypeAlias = Redis | RedisCluster
"""What the service holds: a single Redis or a Redis Cluster (`create_redis`)."""

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
_OPTIONS: dict[str, Any] = {
    "decode_responses": False,
    "socket_timeout": 5,
    "socket_connect_timeout": 5,
    # No CLIENT SETINFO lib-name / lib-ver on each new connection: two round trips, both refused by
    # Redis before 7.2 (a caught error a connection), and redis-py would read its own version from
    # the installed packages' metadata (a scan of sys.path) for every connection it opens.
    "driver_info": None,
}
_NO_MAINTENANCE_NOTICES = MaintNotificationsConfig(enabled=False)
"""redis-py asks each new RESP3 connection to subscribe to a managed Redis's maintenance notices
(CLIENT MAINT_NOTIFICATIONS), which open-source Redis refuses: one round trip and one caught error a
connection for nothing. The service reconnects on its own when a server goes away."""

MAX_CONNECTIONS = 100
"""Connections one single-Redis client (one process) opens at most: redis-py's own default."""
POOL_WAIT_SECONDS = 2.0
"""How long a command waits for a free connection when all are busy, then fails (503).

redis-py's default pool raises at once when its connections are all in use: under a flash-sale
storm a worker with more than 100 commands in flight answered some purchases 503 that a
moment's wait would have served."""
CLUSTER_MAX_CONNECTIONS_PER_NODE = 1000
"""redis-py's cluster client has no waiting pool: it raises when a node's connections are all
busy. Every key of one flash sale lives on one node, so a storm's commands all go to that node;
the cap is set well above what one worker's admission limits let through at once."""


EVICTION_POLICY = "volatile-lru"
"""The `maxmemory-policy` to run Redis with (docker-compose.yml; docs/operations.md#which-keys-may-go):
at `maxmemory` Redis evicts only keys that carry a TTL — stored quotes, the least recently used
first — and never a key without one: flash-sale counters, coupon counters, the configuration
version, streams. Every key whose loss would lose something is written without a TTL
(tests/tooling/test_redis_keys.py keeps that true)."""

REFUSAL_CODES = ("OOM", "READONLY", "MISCONF", "NOREPLICAS")
"""Error codes of a write Redis refused without running it: `maxmemory` reached under
`noeviction`, a read-only replica, snapshots failing to reach the disk
(`stop-writes-on-bgsave-error`), fewer replicas than `min-replicas-to-write`."""


def write_refused(exc: BaseException) -> bool:
    """Whether `exc` is Redis refusing a write (REFUSAL_CODES): nothing of that command ran.

    redis-py maps OOM and READONLY to classes of their own, but a MISCONF or NOREPLICAS reply is a
    plain ResponseError, and Redis 6 (the embedded server's) wraps a refusal met inside a script as
    `Error running script ... -OOM command not allowed ...`."""
    if isinstance(exc, redis_exceptions.OutOfMemoryError | redis_exceptions.ReadOnlyError):
        return True
    if not isinstance(exc, redis_exceptions.ResponseError):
        return False
    text = str(exc)
    return text.split(" ", 1)[0] in REFUSAL_CODES or any(f"-{code} " in text for code in REFUSAL_CODES)


def cluster_url(url: str) -> tuple[bool, str]:
    """(whether the URL asks for cluster mode, the URL redis-py understands)."""
    scheme, separator, rest = url.partition("://")
    if separator and scheme.lower() in CLUSTER_SCHEMES:
        return True, f"{CLUSTER_SCHEMES[scheme.lower()]}://{rest}"
    return False, url


def create_redis(url: str, *, cluster: bool = False) -> RedisClient:
    """A client for `url` (redis://, rediss:// or unix://; with `cluster` or a `+cluster` scheme,
    a Redis Cluster reached through that node); connects lazily."""
    by_scheme, plain = cluster_url(url)
    if cluster or by_scheme:
        return RedisCluster.from_url(plain, max_connections=CLUSTER_MAX_CONNECTIONS_PER_NODE, **_OPTIONS)
    pool = BlockingConnectionPool.from_url(
        plain,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_WAIT_SECONDS,
        health_check_interval=30,
        maint_notifications_config=_NO_MAINTENANCE_NOTICES,
        **_OPTIONS,
    )
    return Redis.from_pool(pool)


def is_cluster(redis: RedisClient) -> bool:
    return isinstance(redis, RedisCluster)


async def get_many(redis: RedisClient, keys: Sequence[str]) -> list[bytes | None]:
    """GET of every key in one round trip (a cluster: one per master, in parallel)."""
    if not keys:
        return []
    if isinstance(redis, RedisCluster):
        # MGET needs one slot; a non-transactional pipeline sends each master its GETs at once.
        async with redis.pipeline() as pipe:
            for key in keys:
                pipe.get(key)
            return cast(list[bytes | None], await pipe.execute())
    return cast(list[bytes | None], await redis.mget(keys))


async def run_each(
    redis: RedisClient,
    script: AsyncScript,
    calls: Sequence[tuple[list[str], list[Any]]],
    *,
    then_publish: tuple[str, str] | None = None,
) -> list[Any]:
    """Run `script` once per (keys, args), each call's keys in one slot, then PUBLISH
    `then_publish` (channel, message) if given: one round trip on a single Redis (a pipeline);
    on a cluster, where scripts and PUBLISH cannot be pipelined, the calls run concurrently and
    the message follows once they all succeeded. Returns the scripts' answers."""
    if isinstance(redis, RedisCluster):
        answers = list(await asyncio.gather(*(script(keys=keys, args=args) for keys, args in calls)))
        if then_publish is not None:
            await redis.publish(*then_publish)
        return answers
    if not calls and then_publish is None:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for keys, args in calls:
            await script(keys=keys, args=args, client=pipe)
        if then_publish is not None:
            pipe.publish(*then_publish)
        answers = await pipe.execute()
    return answers[: len(calls)]
