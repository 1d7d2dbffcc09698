"""The quote path's per-customer coupon counters in Redis: a cache of `coupon_redemptions`.

`qs:coupon-uses:<code>:<customer>` lets a quote reject a coupon the customer has used up
(`USAGE_LIMIT`) without reading PostgreSQL. PostgreSQL holds the truth and every order checks it
under the coupon's lock, so the counter is only advice.

**A counter is never overwritten by an older count.** It holds `<count>:<version>`: the
customer's live uses of the code and how many times they changed (`version`: the customer's
redemptions of the code plus those released, so every order and every cancel moves it on by
one, in the transaction that commits the change; rows are never deleted). Every write is a
compare-and-set that only moves a counter to a newer version (cache/versioned.py), so writers
that race (an order publishing the count it read in its transaction, a cancel publishing the
count after its commit, a repair) leave the newest count whatever order their writes arrive in.

Its ways of being wrong, and what puts each right:

- **too low or missing** (Redis lost it: eviction, a flush, a write refused after an order
  committed): a quote applies the coupon, and the order is refused `COUPON_LIMIT_REACHED`. That
  refusal teaches the counter PostgreSQL's count (`relearn`), so the next quote says so;
- **too high** (a cancel committed and Redis did not take its count): the customer would be
  refused a coupon they may use. A cancel deletes the counters in its own transaction, before
  the commit (`forget`: a DEL, which Redis accepts even when full; a Redis that refuses even
  that fails the cancel with 503, nothing changed), and writes PostgreSQL's count after it
  (`publish_released`), or deletes again. Whatever still gets through (a process that died
  between a commit and its write, a stale write landing on a deleted counter) is repaired by
  the quote path: a quote that finds a counter at its limit has `Repairs` read PostgreSQL's
  count off the request path (at most once per customer and code every `RECHECK_SECONDS` per
  process), so the quotes after it price with the truth.

Counters carry no TTL: under the `volatile-*` eviction policy (docs/operations.md) they are never
evicted, so a customer who used a coupon up is told so by every quote, not by a refused order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import structlog

from quote_service.background import BackgroundLoop
from quote_service.cache.redis import RedisClient
from quote_service.cache.versioned import write_newer
from quote_service.coupons.repository import Uses, customer_uses
from quote_service.db.pool import Connection, Pool
from quote_service.pricing.coupons import normalize_code

log = structlog.get_logger("quote_service.coupons")

RECHECK_SECONDS = 10.0
"""A quote's suspicion of a counter is checked against PostgreSQL at most this often (per
customer and code, per process)."""
_MAX_TRACKED = 10_000
"""Suspicions remembered for RECHECK_SECONDS, and checks waiting, at most (then forgotten)."""


def uses_key(code: str, customer_id: str) -> str:
    """Redis counter of one customer's uses of one coupon (kept by orders and cancels)."""
    return f"qs:coupon-uses:{normalize_code(code)}:{customer_id}"


def count_of(value: bytes) -> int:
    """The use count a counter's value holds (`<count>:<version>`, or a bare count)."""
    return int(value.partition(b":")[0])


def after_order(uses: Mapping[str, Uses], codes: Sequence[str]) -> dict[str, Uses]:
    """Each code's count and version once the order that read `uses` (under the coupons' locks)
    and redeems `codes` has committed."""
    after = {}
    for code in codes:
        before = uses.get(code, Uses())
        after[code] = Uses(count=before.count + 1, version=before.version + 1)
    return after


async def _write(redis: RedisClient, customer_id: str, uses: Mapping[str, Uses]) -> int:
    """Move the customer's counters to `uses` where they hold an older version; how many it wrote."""
    return await write_newer(redis, {uses_key(code, customer_id): (u.count, u.version) for code, u in uses.items()})


async def publish(redis: RedisClient, customer_id: str, uses: Mapping[str, Uses]) -> int:
    """Move the customer's counters to `uses` (PostgreSQL's, committed) where they hold an older
    version; how many it wrote. Never raises: PostgreSQL holds the truth."""
    if not uses:
        return 0
    try:
        return await _write(redis, customer_id, uses)
    except Exception:
        log.warning("coupon_use_counter_failed", customer_id=customer_id, exc_info=True)
        return 0


async def _committed(conn: Connection, customer_id: str, codes: Sequence[str]) -> dict[str, Uses]:
    """PostgreSQL's count and version of each code for the customer (a code never used: none, 0)."""
    uses = await customer_uses(conn, customer_id=customer_id, codes=codes)
    return {code: uses.get(code, Uses()) for code in codes}


async def relearn(conn: Connection, redis: RedisClient, customer_id: str, codes: Sequence[str]) -> int:
    """The counters learn the customer's committed uses (after an order was refused at a limit,
    or when a quote found one at its limit); how many were behind."""
    return await publish(redis, customer_id, await _committed(conn, customer_id, codes))


async def forget(redis: RedisClient, customer_id: str, codes: Sequence[str]) -> None:
    """Delete the counters (inside a cancel's transaction: a refusal raises, and the cancel with it)."""
    if codes:
        await redis.delete(*(uses_key(code, customer_id) for code in codes))


async def publish_released(conn: Connection, redis: RedisClient, customer_id: str, codes: Sequence[str]) -> None:
    """After a cancel committed: each counter as PostgreSQL now has it (unless a newer count is
    there already); never raises. Deleted when Redis will not take the write (a full Redis still
    deletes): a missing counter is never too high."""
    if not codes:
        return
    uses = await _committed(conn, customer_id, codes)
    try:
        await _write(redis, customer_id, uses)
    except Exception:
        log.warning("coupon_use_counter_failed", customer_id=customer_id, exc_info=True)
        try:
            await forget(redis, customer_id, codes)
        except Exception:  # forgotten before the commit already
            log.warning("coupon_use_counter_failed", customer_id=customer_id, exc_info=True)


class Repairs(BackgroundLoop):
    """Counters quotes found at a per-customer limit, checked against PostgreSQL off the request
    path: one that is too high (its cancel's write lost) is put right, so the customer's next
    quotes apply the coupon again. Runs when a quote hands it work (`suspect`)."""

    task_name = "coupon-counter-repairs"
    failure_event = "coupon_counter_repair_failed"

    def __init__(
        self,
        pool: Pool,
        redis: RedisClient,
        *,
        recheck_seconds: float = RECHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._redis = redis
        self._recheck = recheck_seconds
        self._clock = clock
        self._checked: dict[tuple[str, str], float] = {}
        self._waiting: dict[str, set[str]] = {}
        self.repaired = 0
        """Counters found behind PostgreSQL and rewritten since start."""

    def next_delay(self) -> float | None:
        return None  # until a quote hands it work

    def reset(self) -> None:
        """Forget the counters checked lately and those waiting (a started app the tests reuse)."""
        self._checked.clear()
        self._waiting.clear()
        self.repaired = 0

    def suspect(self, customer_id: str, code: str) -> None:
        """A quote found this counter at its limit: check it against PostgreSQL (unless it was checked lately)."""
        now = self._clock()
        checked = self._checked.get((code, customer_id))
        if checked is not None and now - checked < self._recheck:
            return
        if len(self._checked) >= _MAX_TRACKED:
            self._checked.clear()
        if len(self._waiting) >= _MAX_TRACKED:
            return  # the loop is behind (or not running): a later quote asks again
        self._checked[(code, customer_id)] = now
        self._waiting.setdefault(customer_id, set()).add(code)
        self.wake()

    async def run_pass(self) -> None:
        waiting, self._waiting = self._waiting, {}
        if not waiting:
            return
        async with self._pool.acquire() as conn:
            for customer_id, codes in waiting.items():
                written = await relearn(conn, self._redis, customer_id, sorted(codes))
                if written:
                    self.repaired += written
                    log.info("coupon_use_counter_repaired", customer_id=customer_id, codes=sorted(codes))
