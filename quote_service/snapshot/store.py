"""ConfigStore: the process's current configuration snapshot, kept fresh.

Freshness (the staleness bound documented in the README):
- the process that makes an admin change reloads before it answers the write;
- every other process hears the change on the Redis channel and reloads (typically a few ms);
- if a message is missed, the version poll (every `poll_interval`, default 0.25 s) notices;
- if Redis itself is unreachable, a full reload runs every `full_reload_interval` (60 s).

Reloads are serialised and coalesced: a burst of changes costs one or two reloads, not one each.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from quote_service.cache.channel import follow_channel
from quote_service.db.pool import Pool
from quote_service.observability.metrics import SNAPSHOT_RELOADS, SNAPSHOT_VERSION
from quote_service.snapshot.bus import CHANNEL, announce_change, current_version

log = structlog.get_logger("quote_service.snapshot")


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


S = TypeVar("S", bound=Versioned)
Loader = Callable[[Pool, int], Awaitable[S]]


class ConfigStore(Generic[S]):
    """Holds the current snapshot; `snapshot` is a plain attribute read on the hot path."""

    def __init__(
        self,
        pool: Pool,
        redis: Redis,
        loader: Loader[S],
        *,
        poll_interval: float = 0.25,
        full_reload_interval: float = 60.0,
    ) -> None:
        self._pool = pool
        self._redis = redis
        self._loader = loader
        self._poll_interval = poll_interval
        self._full_reload_interval = full_reload_interval
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._loaded_at = 0.0
        self.reloads = 0
        self.snapshot: S  # set by start()

    @property
    def version(self) -> int:
        return self.snapshot.version

    @property
    def age_seconds(self) -> float:
        """Seconds since the snapshot was last (re)loaded."""
        return time.monotonic() - self._loaded_at

    async def start(self) -> None:
        """Load the first snapshot, then follow changes in the background."""
        await self.reload(force=True)
        self._tasks = [
            asyncio.create_task(self._listen(), name="config-listen"),
            asyncio.create_task(self._poll(), name="config-poll"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def changed(self, domain: str) -> None:
        """Call after an admin write commits: announce it, then reload this process at once."""
        try:
            await announce_change(self._redis, domain=domain)
        except RedisError:
            # Other processes will pick the change up with their periodic full reload.
            log.warning("config_announce_failed", domain=domain)
        await self.reload(force=True)

    async def reload(self, *, force: bool = False) -> bool:
        """Reload when the version moved (or `force`); returns True when a reload ran."""
        async with self._lock:
            try:
                version = await current_version(self._redis)
            except RedisError:
                version = self.snapshot.version if hasattr(self, "snapshot") else 0
                force = True
            if not force and hasattr(self, "snapshot") and version == self.snapshot.version:
                return False
            # Version first, data second: data is at least as new as the version it is tagged with.
            snapshot = await self._loader(self._pool, version)
            self.snapshot = snapshot
            self._loaded_at = time.monotonic()
            self.reloads += 1
            SNAPSHOT_RELOADS.inc()
            SNAPSHOT_VERSION.set(version)
            log.debug("config_reloaded", version=version)
            return True

    async def _listen(self) -> None:
        async def on_change(_: bytes) -> None:
            await self._reload_logged()

        await follow_channel(self._redis, CHANNEL, on_change)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_interval)
            stale = time.monotonic() - self._loaded_at > self._full_reload_interval
            await self._reload_logged(force=stale)

    async def _reload_logged(self, *, force: bool = False) -> None:
        try:
            await self.reload(force=force)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("config_reload_failed", exc_info=True)
