"""ProductCache: catalog products for the quote path, two tiers deep.

Lookup order: this process's memory (aiocache) → Redis (one MGET) → PostgreSQL (one
`= any($1::uuid[])` query), filling the tiers above on the way back. Unknown ids are cached
as absent too, so a warm quote touches no database even for request-priced items.

Invalidation: a catalog write calls `invalidate(ids)` after it commits — the Redis entries are
deleted and the ids are published on `qs:{catalog}:changed`; every process drops its local
entries when it hears them. A local entry also expires after `LOCAL_TTL_SECONDS`, which bounds
staleness if a message is ever missed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import cast
from uuid import UUID

import msgspec
from redis.asyncio import Redis

from quote_service.cache.channel import follow_channel
from quote_service.cache.local import local_cache
from quote_service.db.pool import Pool
from quote_service.observability.metrics import count_cache
from quote_service.pricing.quote import CatalogProduct

CHANNEL = "qs:{catalog}:changed"
LOCAL_TTL_SECONDS = 30
REDIS_TTL_SECONDS = 3600
ABSENT = b"-"

_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(CatalogProduct)
_SQL = """SELECT id, currency, current_price, min_price, category_id, seller_id, is_active
          FROM products WHERE id = any($1::uuid[])"""


def product_key(product_id: str) -> str:
    return f"qs:product:{product_id}"


class ProductCache:
    """Batched product lookups through the two tiers; one per process."""

    def __init__(self, redis: Redis, pool: Pool) -> None:
        self._redis = redis
        self._pool = pool
        self._local = local_cache()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="product-cache-listen")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def get_many(self, product_ids: Iterable[str]) -> dict[str, CatalogProduct]:
        """The catalog products among `product_ids` (absent ids, and ids that are no UUID, are missing)."""
        wanted = list(dict.fromkeys(product_ids))
        found: dict[str, CatalogProduct] = {}
        missing: list[str] = []
        # The local tier keeps decoded products (frozen, shared): a warm lookup decodes nothing.
        local = await self._local.get_many([product_key(i) for i in wanted])
        for product_id, product in zip(wanted, local, strict=True):
            if product is None:
                missing.append(product_id)
            elif product is not ABSENT:
                found[product_id] = product
        count_cache("products", "local", len(wanted) - len(missing), len(missing))
        # Only ids that can name a product go further (checked on a miss, not on every quote).
        missing = [i for i in missing if _is_uuid(i)]
        if not missing:
            return found
        from_redis = cast(list[bytes | None], await self._redis.mget([product_key(i) for i in missing]))
        still_missing = [i for i, payload in zip(missing, from_redis, strict=True) if payload is None]
        refill: list[tuple[str, CatalogProduct | bytes]] = []
        for product_id, payload in zip(missing, from_redis, strict=True):
            if payload is None:
                continue
            if payload == ABSENT:
                refill.append((product_key(product_id), ABSENT))
            else:
                found[product_id] = product = _DECODER.decode(payload)
                refill.append((product_key(product_id), product))
        count_cache("products", "redis", len(missing) - len(still_missing), len(still_missing))
        if still_missing:
            loaded = await self._load(still_missing)
            count_cache("products", "postgres", len(loaded), len(still_missing) - len(loaded))
            found.update(loaded)
            fresh = [(product_key(i), _ENCODER.encode(loaded[i]) if i in loaded else ABSENT) for i in still_missing]
            await self._redis.mset(dict(fresh))
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, _ in fresh:
                    pipe.expire(key, REDIS_TTL_SECONDS)
                await pipe.execute()
            refill += [(product_key(i), loaded.get(i, ABSENT)) for i in still_missing]
        await self._local.set_many(refill, ttl=LOCAL_TTL_SECONDS)
        return found

    async def invalidate(self, product_ids: Iterable[str | UUID]) -> None:
        """Forget `product_ids` everywhere; call after the change has committed."""
        keys = [product_key(str(i)) for i in product_ids]
        if not keys:
            return
        for key in keys:
            await self._local.delete(key)
        await self._redis.delete(*keys)
        await self._redis.publish(CHANNEL, ",".join(keys))

    async def _load(self, product_ids: list[str]) -> dict[str, CatalogProduct]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_SQL, product_ids)
        return {
            str(r["id"]): CatalogProduct(
                id=r["id"], currency=r["currency"], current_price=r["current_price"], min_price=r["min_price"],
                category_id=r["category_id"], seller_id=r["seller_id"], is_active=r["is_active"],
            )
            for r in rows
        }  # fmt: skip

    async def _listen(self) -> None:
        async def on_change(data: bytes) -> None:
            for key in data.decode().split(","):
                await self._local.delete(key)

        await follow_channel(self._redis, CHANNEL, on_change)


def _is_uuid(value: str) -> bool:
    if len(value) != 36:
        return False
    try:
        UUID(value)
    except ValueError:
        return False
    return True
