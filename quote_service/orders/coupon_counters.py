"""The quote path's per-customer coupon counters in Redis: a cache of `coupon_redemptions`.

`qs:coupon-uses:<code>:<customer>` lets a quote reject a coupon the customer has used up
(`USAGE_LIMIT`) without reading PostgreSQL. PostgreSQL holds the truth and every order checks it
under the coupon's lock, so the counter is only advice, and its two ways of being wrong cost
differently:

- **too low or missing** (Redis lost it: eviction, a flush, a write refused after an order
  committed): a quote applies the coupon, and the order is refused `COUPON_LIMIT_REACHED`. That
  refusal teaches the counter PostgreSQL's count (`relearn`), so the next quote says so;
- **too high** (a cancel released a use and Redis did not hear it): the customer is refused a
  coupon they may use, and nothing would ever correct it. So a cancel deletes the counters in its
  own transaction, before the commit (`forget`: a DEL, which Redis accepts even when full), and a
  Redis that refuses even that (read-only, down) fails the cancel with 503, nothing changed.
  After the commit it writes PostgreSQL's count (`publish_released`), or deletes again.

Counters carry no TTL: under the `volatile-*` eviction policy (docs/operations.md) they are never
evicted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import structlog

from quote_service.cache.redis import RedisClient, is_cluster, run_each
from quote_service.db.pool import Connection
from quote_service.orders import repository
from quote_service.quotes.service import coupon_uses_key

log = structlog.get_logger("quote_service.orders")

# Raise each counter to at least the count PostgreSQL committed: the same value INCR would
# give, but order-independent and self-healing after a Redis flush or a missed update.
_RAISE_COUNTERS = """
for i, key in ipairs(KEYS) do
  local count = tonumber(ARGV[i])
  if count > tonumber(redis.call('GET', key) or '0') then
    redis.call('SET', key, count)
  end
end
return 0
"""


async def raise_to(redis: RedisClient, customer_id: str, counts: Mapping[str, int]) -> None:
    """Raise the customer's counters to `counts` (PostgreSQL's, committed); never raises."""
    if not counts:
        return
    keys = [coupon_uses_key(code, customer_id) for code in counts]
    try:
        # register_script only hashes locally; Redis loads the script once, on first use.
        script = redis.register_script(_RAISE_COUNTERS)
        if is_cluster(redis):  # the counters are independent: one call per key (its own slot)
            await run_each(redis, script, [([key], [count]) for key, count in zip(keys, counts.values(), strict=True)])
        else:
            await script(keys=keys, args=list(counts.values()))
    except Exception:  # PostgreSQL holds the truth; an order refused at the limit relearns it
        log.warning("coupon_use_counter_failed", customer_id=customer_id, exc_info=True)


async def relearn(conn: Connection, redis: RedisClient, customer_id: str, codes: Sequence[str]) -> None:
    """After an order was refused at a limit: the counters learn the customer's committed uses."""
    uses = await repository.customer_coupon_uses(conn, customer_id=customer_id, codes=codes)
    await raise_to(redis, customer_id, uses)


async def forget(redis: RedisClient, customer_id: str, codes: Sequence[str]) -> None:
    """Delete the counters (inside a cancel's transaction: a refusal raises, and the cancel with it)."""
    if codes:
        await redis.delete(*(coupon_uses_key(code, customer_id) for code in codes))


async def publish_released(conn: Connection, redis: RedisClient, customer_id: str, codes: Sequence[str]) -> None:
    """After a cancel committed: each counter as PostgreSQL now has it; never raises. Written
    outright (a cancel lowers it), or deleted when Redis will not take the write (a full Redis
    still deletes): a missing counter is never too high."""
    if not codes:
        return
    uses = await repository.customer_coupon_uses(conn, customer_id=customer_id, codes=codes)
    keys = [coupon_uses_key(code, customer_id) for code in codes]
    try:
        for key, code in zip(keys, codes, strict=True):
            await redis.set(key, uses.get(code, 0))
    except Exception:
        log.warning("coupon_use_counter_failed", customer_id=customer_id, exc_info=True)
        try:
            await redis.delete(*keys)
        except Exception:  # forgotten before the commit already
            log.warning("coupon_use_counter_failed", customer_id=customer_id, exc_info=True)
