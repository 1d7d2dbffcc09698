"""The quote path's view of a customer's units of its limited products: a cache, in Redis, of what
PostgreSQL's orders hold (unit_limits/repository.py).

`qs:unit-purchases:<customer>:<product>` holds `<epoch>/<units>,<epoch>/<units>...:<version>`: the
customer's orders of the product in the last MAX_WINDOW_DAYS days that still hold units, and the
version of PostgreSQL's data they were read at; a write only ever moves a key to a newer version
(cache/versioned.py). Orders write it after their commit, and so do cancels and refunds of an order
that was under a limit. It is only advice: an order counts again under its lock, and a quote that
the counter would refuse asks PostgreSQL before refusing (`UnitPurchases.confirm`), so a counter
left too high (a write lost after a cancel) refuses nobody, and one too low (Redis lost it) is put
right by the order it lets through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import structlog

from quote_service.cache.redis import RedisClient, get_many
from quote_service.cache.versioned import value_of, write_newer
from quote_service.unit_limits.repository import Purchases

log = structlog.get_logger("quote_service.unit_limits")


def purchases_key(customer_id: str, product_id: str) -> str:
    """The Redis key of one customer's units of one product."""
    return f"qs:unit-purchases:{customer_id}:{product_id}"


def encoded(purchases: Purchases) -> str:
    return ",".join(f"{at}/{units}" for at, units in purchases.entries)


def decoded(held: bytes) -> list[tuple[int, int]]:
    """The (epoch second, units) entries a key's value holds."""
    value = value_of(held)
    if not value:
        return []
    entries = []
    for entry in value.split(b","):
        at, _, units = entry.partition(b"/")
        entries.append((int(at), int(units)))
    return entries


async def read(redis: RedisClient, customer_id: str, product_ids: Sequence[str]) -> dict[str, list[tuple[int, int]]]:
    """The customer's entries for each product the counters know (one round trip)."""
    held = await get_many(redis, [purchases_key(customer_id, pid) for pid in product_ids])
    return {pid: decoded(value) for pid, value in zip(product_ids, held, strict=True) if value is not None}


async def publish(redis: RedisClient, customer_id: str, purchases: Mapping[str, Purchases]) -> int:
    """Move the customer's keys to PostgreSQL's committed `purchases` where they hold an older version;
    how many it wrote. Never raises: PostgreSQL holds the truth."""
    if not purchases:
        return 0
    values = {purchases_key(customer_id, pid): (encoded(p), p.version) for pid, p in purchases.items()}
    try:
        return await write_newer(redis, values)
    except Exception:
        log.warning("unit_purchases_counter_failed", customer_id=customer_id, exc_info=True)
        return 0
