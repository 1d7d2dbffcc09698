"""ProductCache: catalog products for the quote path, two tiers deep, invalidated by an outbox.

Lookup order: this process's memory (cache/local.py) → Redis (one round trip) → PostgreSQL (one
`= any($1::uuid[])` query), filling the tiers above on the way back. Unknown ids are cached
as absent too, so a warm quote touches no database even for request-priced items.

Every entry carries the product's `cache_version` it was read at (PostgreSQL bumps it, in the
write's own transaction, whenever a field cached here changes — migration 0009). Redis holds
`<version>:<msgpack>` (`<version>:-` for an absent product) or a tombstone `<version>:` that
says "anything older than this is stale"; a script writes an entry only over an older one, so a
slow reader can never put an old price back over a newer invalidation.

Invalidation is an outbox: the same trigger writes a `product_cache_outbox` row in the write's
transaction. Every process drains the outbox (rows claimed with SKIP LOCKED, deleted only in
the transaction in which Redis took the tombstones and the channel message), so an
invalidation Redis could not take is retried until delivered — idempotent, any process may do
it, in any order. The writer drains right after its commit (a healthy Redis: invalidated
before the answer leaves); the others poll every `DRAIN_INTERVAL_SECONDS`, backing off to
`DRAIN_MAX_BACKOFF_SECONDS` while Redis or PostgreSQL fails. Each process drops its local
entries when it hears the channel, drops all of them whenever its subscription is
(re)established (messages may have been missed), and a local entry expires after
`LOCAL_TTL_SECONDS` anyway. Measured bounds: docs/consistency.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from uuid import UUID

import msgspec
import structlog

from quote_service.background import BackgroundLoop, stop_all
from quote_service.cache.channel import ChannelFollower
from quote_service.cache.local import LocalCache, local_cache
from quote_service.cache.redis import RedisClient, get_many, run_each
from quote_service.db.pool import Pool
from quote_service.observability.metrics import count_cache
from quote_service.pricing.quote import CatalogProduct

log = structlog.get_logger("quote_service.cache.products")

CHANNEL = "qs:{catalog}:changed"
LOCAL_TTL_SECONDS = 30
REDIS_TTL_SECONDS = 3600
DRAIN_INTERVAL_SECONDS = 0.5
DRAIN_MAX_BACKOFF_SECONDS = 2.0
DRAIN_BATCH = 500
WRITER_DRAIN_TIMEOUT_SECONDS = 1.0
"""A catalog write waits at most this long for its invalidation (it has committed either way)."""
REDIS_STEP_TIMEOUT_SECONDS = 2.0
"""A drain holds its outbox rows locked while Redis works: never longer than this."""
ABSENT = b"-"
_FLOOR_LIMIT = 10_000

_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(CatalogProduct)
# A product its active campaign holds below the campaign's base price carries when that campaign
# first moved it below (its price history): a lookup only for products with an active campaign.
# Every price move bumps `cache_version`, so this is always read with the price it describes.
_SQL = """SELECT p.id, p.currency, p.current_price, p.min_price, p.category_id, p.seller_id, p.is_active,
                 p.prices_include_tax, p.weight, p.cache_version, (
                     SELECT min(h.changed_at) FROM campaigns c JOIN price_history h
                         ON h.product_id = c.product_id AND h.source = 'campaign' AND h.ref_id = c.id
                        AND h.new_price < c.base_price
                      WHERE c.product_id = p.id AND c.status = 'active' AND p.current_price < c.base_price
                 ) AS campaign_reduced_since
          FROM products p WHERE p.id = any($1::uuid[])"""
_CLAIM = """SELECT id, product_id, product_version FROM product_cache_outbox
            ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED"""
_DELIVERED = "DELETE FROM product_cache_outbox WHERE id = any($1::bigint[])"

# Write ARGV[2] ("<version>:<body>") under KEYS[1] unless Redis holds something at least as new:
# an older entry or tombstone is replaced, an equal tombstone too (the data it waited for).
_PUT_IF_NEWER = """
local current = redis.call('GET', KEYS[1])
local version, body = string.match(ARGV[2], '^(%d+):(.*)$')
version = tonumber(version)
if current then
  local have, have_body = string.match(current, '^(%d+):(.*)$')
  have = tonumber(have)
  if have and (have > version or (have == version and have_body ~= '')) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[1])
return 1
"""

Entry = tuple[int, CatalogProduct | None]
"""A local entry: the version it was read at, and the product (None: no such product)."""


def product_key(product_id: str) -> str:
    return f"qs:product:{product_id}"


def _encode(version: int, product: CatalogProduct | None) -> bytes:
    return b"%d:%s" % (version, ABSENT if product is None else _ENCODER.encode(product))


def _decode(payload: bytes) -> Entry | None:
    """An entry, or None for a tombstone."""
    version, _, body = payload.partition(b":")
    if not body:
        return None
    return int(version), None if body == ABSENT else _DECODER.decode(body)


class ProductCache:
    """Batched product lookups through the two tiers, and the outbox drain; one per process."""

    def __init__(self, redis: RedisClient, pool: Pool) -> None:
        self._redis = redis
        self._pool = pool
        self._local = local_cache()
        self._put_if_newer = redis.register_script(_PUT_IF_NEWER)
        # Per key, the newest version an invalidation announced: a local fill older than that
        # (read before the invalidation, stored after it) is refused.
        self._floors: dict[str, tuple[int, float]] = {}
        self._drain_lock = asyncio.Lock()
        self._drainer = _OutboxDrain(self.drain)
        self._follower = ChannelFollower(
            redis, CHANNEL, self._on_change, name="product-cache-listen", on_subscribed=self._on_subscribed
        )
        self._inflight: dict[str, asyncio.Future[Entry | None]] = {}
        """Misses being read from Redis or PostgreSQL now, by product id: a later miss of the same id waits."""
        self.delivered = 0
        """Outbox rows this process delivered to Redis."""

    async def start(self) -> None:
        self._follower.start()
        self._drainer.start()

    async def stop(self) -> None:
        await stop_all((self._follower, self._drainer))

    async def get_many(self, product_ids: Iterable[str]) -> dict[str, CatalogProduct]:
        """The catalog products among `product_ids` (absent ids are simply missing)."""
        wanted = list(dict.fromkeys(product_ids))
        found: dict[str, CatalogProduct] = {}
        missing: list[str] = []
        tier = self._local  # a resubscription replaces it: what this call read must not refill the new one
        local: list[Entry | None] = await tier.get_many([product_key(i) for i in wanted])
        for product_id, entry in zip(wanted, local, strict=True):
            if entry is None:
                missing.append(product_id)
            elif entry[1] is not None:
                found[product_id] = entry[1]
        count_cache("products", "local", len(wanted) - len(missing), len(missing))
        if not missing:
            return found
        # A miss another call is reading already (local entries expire together: quotes at that instant all
        # miss) waits for that read instead of making its own (docs/hot-path.md#the-local-cache-tier).
        inflight = self._inflight
        waiting = [(i, inflight[i]) for i in missing if i in inflight]
        if waiting:
            missing = [i for i in missing if i not in inflight]
        if missing:
            loop = asyncio.get_running_loop()
            mine = {i: loop.create_future() for i in missing}
            inflight.update(mine)
            entries: dict[str, Entry] = {}
            try:
                entries = await self._read(missing, tier)
            finally:
                for product_id, future in mine.items():
                    if inflight.get(product_id) is future:
                        del inflight[product_id]
                    future.set_result(entries.get(product_id))  # None: the read failed, a waiter reads itself
            for product_id, (_, product) in entries.items():
                if product is not None:
                    found[product_id] = product
        if waiting:
            count_cache("products", "coalesced", len(waiting), 0)
            unread: list[str] = []
            for product_id, future in waiting:
                entry = await future
                if entry is None:
                    unread.append(product_id)
                elif entry[1] is not None:
                    found[product_id] = entry[1]
            if unread:
                for product_id, (_, product) in (await self._read(unread, tier)).items():
                    if product is not None:
                        found[product_id] = product
        return found

    async def _read(self, missing: list[str], tier: LocalCache) -> dict[str, Entry]:
        """The entries of `missing` from Redis, else PostgreSQL (filling Redis), kept in `tier` on the way back."""
        from_redis = await get_many(self._redis, [product_key(i) for i in missing])
        still_missing: list[str] = []
        entries: dict[str, Entry] = {}
        refill: list[tuple[str, Entry]] = []
        for product_id, payload in zip(missing, from_redis, strict=True):
            entry = _decode(payload) if payload is not None else None
            if entry is None:
                still_missing.append(product_id)
                continue
            refill.append((product_key(product_id), entry))
            entries[product_id] = entry
        count_cache("products", "redis", len(missing) - len(still_missing), len(still_missing))
        if still_missing:
            loaded = await self._load(still_missing)
            hits = sum(1 for _, product in loaded.values() if product is not None)
            count_cache("products", "postgres", hits, len(still_missing) - hits)
            fresh = [(product_key(i), loaded[i]) for i in still_missing]
            puts = [([key], [REDIS_TTL_SECONDS, _encode(version, product)]) for key, (version, product) in fresh]
            await run_each(self._redis, self._put_if_newer, puts)
            entries.update(loaded)
            refill += fresh
        await tier.set_many(
            [(key, entry) for key, entry in refill if entry[0] >= self._floors.get(key, (0, 0.0))[0]],
            ttl=LOCAL_TTL_SECONDS,
        )
        return entries

    async def invalidate(self, product_ids: Iterable[str | UUID]) -> bool:
        """Call after a catalog write commits: forget the products here at once, then deliver the
        outbox (this write's rows and any left over) within `WRITER_DRAIN_TIMEOUT_SECONDS`.
        Never raises: the write has committed, and what is not delivered now the background
        drain retries. True when everything pending was delivered."""
        for product_id in product_ids:
            await self._local.delete(product_key(str(product_id)))
        try:
            async with asyncio.timeout(WRITER_DRAIN_TIMEOUT_SECONDS):
                while await self.drain() == DRAIN_BATCH:
                    pass
        except Exception as exc:  # TimeoutError included
            log.warning("product_invalidation_deferred", error=repr(exc))
            self._drainer.wake()
            return False
        return True

    async def drain(self) -> int:
        """Deliver one batch of the outbox to Redis; returns how many rows it delivered."""
        async with self._drain_lock, self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM, DRAIN_BATCH)
            if not rows:
                return 0
            newest: dict[str, int] = {}
            for row in rows:
                key = product_key(str(row["product_id"]))
                newest[key] = max(newest.get(key, 0), row["product_version"])
            async with asyncio.timeout(REDIS_STEP_TIMEOUT_SECONDS):
                tombstones = [([key], [REDIS_TTL_SECONDS, b"%d:" % version]) for key, version in newest.items()]
                message = ",".join(f"{key}={version}" for key, version in newest.items())
                await run_each(self._redis, self._put_if_newer, tombstones, then_publish=(CHANNEL, message))
            await conn.execute(_DELIVERED, [row["id"] for row in rows])
        self.delivered += len(rows)
        return len(rows)

    async def _load(self, product_ids: list[str]) -> dict[str, Entry]:
        """Every id's entry from PostgreSQL (version 0 and no product: it does not exist)."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_SQL, product_ids)
        loaded: dict[str, Entry] = {i: (0, None) for i in product_ids}
        for r in rows:
            loaded[str(r["id"])] = (
                r["cache_version"],
                CatalogProduct(
                    id=r["id"], currency=r["currency"], current_price=r["current_price"], min_price=r["min_price"],
                    category_id=r["category_id"], seller_id=r["seller_id"], is_active=r["is_active"],
                    prices_include_tax=r["prices_include_tax"], campaign_reduced_since=r["campaign_reduced_since"],
                    weight=r["weight"],
                ),
            )  # fmt: skip
        return loaded

    async def _on_change(self, data: bytes) -> None:
        now = time.monotonic()
        for item in data.decode().split(","):
            key, _, version = item.partition("=")
            await self._local.delete(key)
            if version:
                floor = self._floors.get(key, (0, 0.0))[0]
                self._floors[key] = (max(floor, int(version)), now)
        if len(self._floors) > _FLOOR_LIMIT:
            # A floor only matters to a fill already in flight: old ones can go.
            self._floors = {k: v for k, v in self._floors.items() if now - v[1] < LOCAL_TTL_SECONDS}

    async def reset(self) -> None:
        """Forget the local tier and the version floors (a started app the tests reuse)."""
        await self._local.clear()
        self._floors.clear()

    async def _on_subscribed(self) -> None:
        # Invalidations sent while not subscribed were missed: start the local tier afresh,
        # and deliver what waited for Redis now rather than at the next backoff step.
        self._local = local_cache()
        self._drainer.wake()


class _OutboxDrain(BackgroundLoop):
    """Delivers the outbox: again at once after a full batch or a wake, else every
    DRAIN_INTERVAL_SECONDS, backing off to DRAIN_MAX_BACKOFF_SECONDS while Redis or PostgreSQL
    fails."""

    task_name = "product-cache-outbox"
    failure_event = "product_outbox_drain_failed"
    interval = DRAIN_INTERVAL_SECONDS
    jitter = 0.0
    max_backoff = DRAIN_MAX_BACKOFF_SECONDS
    start_at_once = True

    def __init__(self, drain: Callable[[], Awaitable[int]]) -> None:
        self._drain = drain
        self._full = False

    def next_delay(self) -> float | None:
        return 0.0 if self._full else super().next_delay()

    async def run_pass(self) -> None:
        self._full = False
        self._full = await self._drain() == DRAIN_BATCH
