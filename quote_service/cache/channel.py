"""Following a Redis pub/sub channel for the life of the process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import cast

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster

from quote_service.background import BackgroundLoop
from quote_service.cache.redis import RedisClient

SUBSCRIBE_TIMEOUT_SECONDS = 5.0


class ChannelFollower(BackgroundLoop):
    """Calls `handle(data)` for every message on `channel` for the life of the process.

    One pass is one subscription, followed until it fails (Redis down or restarting, a handler
    that raised); the loop subscribes again a second later. `on_subscribed` runs each time the
    subscription is confirmed by Redis (the first time and after every reconnect): messages
    published while the process was not subscribed are lost, so that is where a caller catches
    up (drops what it cached, checks the version). Stopping cancels the pass; cancellation never
    waits on Redis.
    """

    failure_event = "channel_follow_failed"
    interval = 1.0
    jitter = 0.0
    start_at_once = True

    def __init__(
        self,
        redis: RedisClient,
        channel: str,
        handle: Callable[[bytes], Awaitable[None]],
        *,
        name: str,
        on_subscribed: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.task_name = name
        self.redis = redis
        self.channel = channel
        self.handle = handle
        self.on_subscribed = on_subscribed
        self._attempt = 0

    async def run_pass(self) -> None:
        subscriber: Redis | None = None  # on a cluster: a client of one node, for this subscription alone
        pubsub: PubSub | None = None
        try:
            if isinstance(self.redis, RedisCluster):
                subscriber = await _node_client(self.redis, self._attempt)
            self._attempt += 1
            # Subscribe confirmations are wanted once (`_confirmed`), then skipped per call: a
            # client built with ignore_subscribe_messages=True would hide them from every call.
            pubsub = (subscriber or cast(Redis, self.redis)).pubsub(ignore_subscribe_messages=False)
            await pubsub.subscribe(self.channel)
            await _confirmed(pubsub)
            if self.on_subscribed is not None:
                await self.on_subscribed()
            while True:
                # get_message with a timeout, not listen(): cancellation must never block on a read.
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    await self.handle(message["data"])
        finally:
            if pubsub is not None:
                await _close_pubsub(pubsub)
            if subscriber is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(subscriber.aclose(), timeout=1.0)


async def _node_client(cluster: RedisCluster, attempt: int) -> Redis:
    """A plain client of one cluster node (the next one on each attempt, so a dead node is
    skipped): classic PUBLISH reaches the subscribers of every node, so any node will do.
    Not redis-py's ClusterPubSub: it borrows connections from the node's command pool, and a
    subscription torn down while commands ran broke a connection a command was using."""
    await cluster.initialize()  # the node list (a no-op once loaded)
    nodes = cluster.get_primaries() or cluster.get_nodes()
    node = nodes[attempt % len(nodes)]
    return Redis(connection_pool=ConnectionPool(connection_class=node.connection_class, **node.connection_kwargs))


async def _confirmed(pubsub: PubSub) -> None:
    """Wait for Redis's subscribe confirmation: from then on no message can be missed."""
    async with asyncio.timeout(SUBSCRIBE_TIMEOUT_SECONDS):
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=False, timeout=1.0)
            if message is not None and message["type"] == "subscribe":
                return


async def _close_pubsub(pubsub: PubSub) -> None:
    """Close a pubsub connection, bounded: redis-py's aclose can stall (redis/redis-py#3941)."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(pubsub.aclose(), timeout=1.0)  # type: ignore[no-untyped-call]
