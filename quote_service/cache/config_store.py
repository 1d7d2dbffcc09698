"""ConfigStore: the process's current configuration snapshot, kept fresh.

The version is PostgreSQL's (`config_version`, bumped in every configuration write's own
transaction), read in the same transaction as the data: a snapshot's version is exactly the
version of what it holds, and it never goes back, whatever happens to Redis.

How a change arrives (docs/consistency.md has the measured bounds):
- the process that makes an admin write reloads before it answers the write (`changed`), and so
  does one whose order or cancel moved the version (`follow`: a coupon used up or given back);
- every other process hears the new version on the Redis channel and reloads (a few ms);
- a missed message is noticed by the Redis version poll (every `poll_interval`, 0.25 s);
- whatever Redis does (down, paused, restarted empty, the announcement lost), every process
  also asks PostgreSQL for the version every `check_interval` (1 s): one single-row SELECT,
  and a full reload only when the version moved — no reload storm while Redis is down;
- a full reload also runs every `full_reload_interval` (an hour) as a safety net, and to refresh what a
  snapshot holds by the clock (flash sales and rates in force from the load on). Nothing else rebuilds an
  unchanged snapshot: a rebuild empties every memo the quotes filled.

A replaced snapshot is `release`d (when it has that method): its memos are emptied at once, so the plans
and per-customer entries it held go with their last reference instead of waiting, as cyclic garbage, for a
full collection (docs/operations.md#memory-per-worker). A quote still pricing on it refills what it reads.

Failed PostgreSQL checks and reloads back off exponentially (up to `max_backoff`) so an
outage costs one attempt every few seconds, not four a second. Reloads are serialised and
coalesced: a burst of changes costs one or two reloads, not one each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar, runtime_checkable

import structlog
from redis.exceptions import RedisError

from quote_service.background import OUTAGES, BackgroundLoop, Every, stop_all
from quote_service.cache.channel import ChannelFollower
from quote_service.cache.config_bus import CHANNEL, announce_change, current_version, raise_version, read_version
from quote_service.cache.redis import RedisClient
from quote_service.db.pool import Pool
from quote_service.observability.metrics import SNAPSHOT_RELOADS, SNAPSHOT_VERSION

log = structlog.get_logger("quote_service.snapshot")

ANNOUNCE_TIMEOUT_SECONDS = 1.0
"""An admin write waits at most this long for Redis to carry its version (it has committed)."""
POSTGRES_TIMEOUT_SECONDS = 5.0
"""A version check or a reload that takes longer counts as failed (PostgreSQL hung)."""


FULL_RELOAD_SECONDS = 3600.0
"""A full reload at least this often, whatever the version says (see the module docstring)."""


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


@runtime_checkable
class Releasable(Protocol):
    def release(self) -> None: ...


S = TypeVar("S", bound=Versioned)
Loader = Callable[[Pool], Awaitable[S]]


class ConfigStore(Generic[S]):
    """Holds the current snapshot; `snapshot` is a plain attribute read on the hot path."""

    def __init__(
        self,
        pool: Pool,
        redis: RedisClient,
        loader: Loader[S],
        *,
        poll_interval: float = 0.25,
        check_interval: float = 1.0,
        full_reload_interval: float = FULL_RELOAD_SECONDS,
        max_backoff: float = 8.0,
    ) -> None:
        self._pool = pool
        self._redis = redis
        self._loader = loader
        self._poll_interval = poll_interval
        self._check_interval = check_interval
        self._full_reload_interval = full_reload_interval
        self._max_backoff = max_backoff
        self._lock = asyncio.Lock()
        self._loops: list[BackgroundLoop] = [
            ChannelFollower(redis, CHANNEL, self._on_change, name="config-listen", on_subscribed=self._on_subscribed),
            Every(
                "config-poll",
                poll_interval,
                self._poll_redis,
                failure_event="config_poll_failed",
                backoff=check_interval,
            ),
            Every("config-check", check_interval, self._check_postgres, failure_event="config_check_failed"),
        ]
        self._loaded_at = 0.0
        self._backoff = 0.0
        self._retry_at = 0.0
        self.reloads = 0
        """Full loads of the configuration since start."""
        self.version_checks = 0
        """Version reads from PostgreSQL since start (cheap; a reload follows only on a change)."""
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
        async with self._lock:
            await self._load()
        for loop in self._loops:
            loop.start()

    async def stop(self) -> None:
        await stop_all(self._loops)

    async def reload(self) -> None:
        """Load the snapshot afresh and count as a store that has just started (a started app the
        tests reuse, after they emptied the tables)."""
        async with self._lock:
            self.reloads = self.version_checks = 0
            self._succeeded()
            await self._load()

    async def catch_up(self) -> None:
        """Ask PostgreSQL once more, just before the process starts serving: a change committed
        since `start()` loaded the snapshot was announced before this process listened (or while
        Redis was away), and would otherwise wait for the first version check. A failure only
        logs: the background checks carry on."""
        await self._refresh_logged()

    async def changed(self, domain: str) -> None:
        """Call after an admin write commits: reload this process at once, then carry the new
        version to the others. The write has committed, so nothing here may fail it: a Redis
        that does not answer is skipped (the others see the version in PostgreSQL within
        `check_interval`)."""
        try:
            await self.refresh(background=False)
        except Exception:
            log.warning("config_reload_after_write_failed", domain=domain, exc_info=True)
        if not hasattr(self, "snapshot"):
            return  # never loaded (a command-line tool's store): nothing to announce
        try:
            async with asyncio.timeout(ANNOUNCE_TIMEOUT_SECONDS):
                await announce_change(self._redis, self.version, domain=domain)
        except (RedisError, TimeoutError, OSError):
            log.warning("config_announce_failed", domain=domain, version=self.version)

    async def follow(self, domain: str) -> None:
        """Call after a hot-path write whose triggers may have moved the version (an order that took
        a coupon's last use, a cancel that gave one back): one single-row SELECT, and only when the
        version moved, `changed` (reload this process, carry the version to the others). Never
        raises: the write has committed, and the version check catches up within `check_interval`."""
        if not hasattr(self, "snapshot"):
            return
        try:
            async with asyncio.timeout(POSTGRES_TIMEOUT_SECONDS), self._pool.acquire() as conn:
                version = await read_version(conn)
        except Exception:
            log.warning("config_version_read_failed", domain=domain, exc_info=True)
            return
        if version > self.snapshot.version:
            await self.changed(domain)

    async def refresh(self, *, force: bool = False, background: bool = True) -> bool:
        """Reload when PostgreSQL's version is newer than the snapshot's (or `force`); True when
        a reload ran. Background callers skip the attempt while a failure's backoff lasts."""
        if background and time.monotonic() < self._retry_at:
            return False
        async with self._lock:
            try:
                async with asyncio.timeout(POSTGRES_TIMEOUT_SECONDS):
                    if not force:
                        async with self._pool.acquire() as conn:
                            version = await read_version(conn)
                        self.version_checks += 1
                        if hasattr(self, "snapshot") and version <= self.snapshot.version:
                            self._succeeded()
                            return False
                    await self._load()
            except asyncio.CancelledError:
                raise
            except Exception:
                self._failed()
                raise
            self._succeeded()
            return True

    async def _load(self) -> None:
        snapshot = await self._loader(self._pool)
        replaced = getattr(self, "snapshot", None)
        self.snapshot = snapshot
        if replaced is not None and replaced is not snapshot and isinstance(replaced, Releasable):
            replaced.release()
        self._loaded_at = time.monotonic()
        self.reloads += 1
        SNAPSHOT_RELOADS.inc()
        SNAPSHOT_VERSION.set(snapshot.version)
        log.debug("config_reloaded", version=snapshot.version)

    def _succeeded(self) -> None:
        self._backoff = 0.0
        self._retry_at = 0.0

    def _failed(self) -> None:
        self._backoff = min(self._max_backoff, max(self._check_interval, self._backoff * 2))
        self._retry_at = time.monotonic() + self._backoff

    async def _on_change(self, _: bytes) -> None:
        await self._refresh_logged()

    async def _on_subscribed(self) -> None:
        # Messages sent while unsubscribed are lost: ask PostgreSQL now.
        await self._refresh_logged()

    async def _poll_redis(self) -> None:
        """Redis's version. Newer → reload; missing or older (Redis lost it) → put ours back, so
        the processes that rely on Redis see it again. A failure backs the poll off to
        `check_interval` (the PostgreSQL checks carry on meanwhile)."""
        carried = await current_version(self._redis)
        if carried is None or carried < self.version:
            await raise_version(self._redis, self.version)
        elif carried > self.version:
            await self._refresh_logged()

    async def _check_postgres(self) -> None:
        """PostgreSQL's version (a reload when it moved, or a full one when the snapshot is old);
        failures back off inside `refresh` (shared with the reloads the channel asks for)."""
        await self.refresh(force=self.age_seconds > self._full_reload_interval)

    async def _refresh_logged(self, *, force: bool = False) -> None:
        try:
            await self.refresh(force=force)
        except asyncio.CancelledError:
            raise
        except OUTAGES as exc:  # a store away or busy: its message says so, a traceback nothing more
            log.warning("config_reload_failed", retry_in=round(self._backoff, 2), error=repr(exc))
        except Exception:
            log.warning("config_reload_failed", retry_in=round(self._backoff, 2), exc_info=True)
