"""Following a Redis pub/sub channel for the life of the process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from quote_service.cache.redis import RedisClient

log = structlog.get_logger("quote_service.cache.channel")

SUBSCRIBE_TIMEOUT_SECONDS = 5.0


async def follow_channel(
    redis: RedisClient,
    channel: str,
    handle: Callable[[bytes], Awaitable[None]],
    *,
    on_subscribed: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Call `handle(data)` for every message on `channel`, forever; reconnect after failures.

    `on_subscribed` runs each time the subscription is confirmed by Redis (the first time and
    after every reconnect): messages published while the process was not subscribed are lost,
    so that is where a caller catches up (drops what it cached, checks the version).
    Cancel the task to stop; cancellation never waits on Redis.
    """
    while True:
        # Subscribe confirmations are wanted once (`_confirmed`), then skipped per call: a client
        # built with ignore_subscribe_messages=True would hide them from every call.
        pubsub = redis.pubsub(ignore_subscribe_messages=False)
        try:
            if isinstance(redis, RedisCluster):
                # A cluster pubsub picks its node from the slot map: load it first (a no-op once loaded).
                await redis.initialize()
            await pubsub.subscribe(channel)
            await _confirmed(pubsub)
            if on_subscribed is not None:
                await on_subscribed()
            while True:
                # get_message with a timeout, not listen(): cancellation must never block on a read.
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    await handle(message["data"])
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError) as exc:
            # Redis down or restarting: one line a second, no traceback (rendering one costs more
            # than the retry, and says nothing new).
            log.warning("channel_follow_failed", channel=channel, error=repr(exc))
            await asyncio.sleep(1.0)
        except Exception:
            log.warning("channel_follow_failed", channel=channel, exc_info=True)
            await asyncio.sleep(1.0)
        finally:
            await _close_pubsub(pubsub)


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
