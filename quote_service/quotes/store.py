"""Stored quotes: readable and orderable right after the response, cheap on the hot path.

Two tiers, one writer:
- Redis, `qs:quote:{id}` with a TTL to `valid_until`: written by GROUP COMMIT — every
  request hands its quote to a flusher that sends whatever has queued as one script call, and
  the request answers once that call is acknowledged. One round trip per batch, not per
  quote, yet a quote is readable from any process the moment its response leaves;
- PostgreSQL `quote_log`: write-behind in batches (COPY) for analytics, never read here; a
  lean row (totals, compact lines, applied rules, coupons, variants), not the response.
  Idempotent (a batch whose acknowledgement was lost is written again without error), and
  lossy only on a crash: a killed process loses the rows not yet flushed — the quotes it
  answered in its last flush interval (0.2 s), or everything since PostgreSQL became
  unreachable, up to MAX_LOG_BACKLOG rows. The quotes themselves are in Redis already.
  A row is queued only once its quote's Redis write was acknowledged (a quote that was not
  answered is not logged); beyond the backlog's bound rows are dropped and counted
  (`qs_quote_log_rows_dropped_total`, one warning line per BACKLOG_WARNING_SECONDS). A row that
  PostgreSQL refuses (a value out of a column's range) is isolated, logged and counted
  (`qs_quote_log_rows_rejected_total`), and the rest of its batch written: one bad row never
  stops the log (docs/hot-path.md#what-a-crash-can-lose).

Ordering a quote marks it (`qs:quote-ordered:{id}`, in the same round trip as the order's read
of the quote, until the quote expires). The quote service's identical-request cache asks
`was_ordered` before it hands a quote out again; that question rides on the same group-commit
call as the writes, so a cache hit costs a share of one round trip, not a round trip.

There is deliberately no in-process tier: Redis already holds every quote before its
response leaves, reads (`GET /quotes/{id}`, orders) are rare next to writes, and a local
copy of every quote for its 15 minutes costs a timer per quote and a heap that the garbage
collector must traverse — full collections of hundreds of milliseconds under load.

`stop()` drains both queues, so nothing accepted is lost on a graceful shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import asyncpg
import msgspec
import structlog
from asyncpg.exceptions._base import DataError as ClientDataError

from quote_service.cache.redis import RedisClient, is_cluster
from quote_service.db.pool import Connection, Pool
from quote_service.observability.metrics import QUOTE_LOG_ROWS_DROPPED, QUOTE_LOG_ROWS_REJECTED
from quote_service.pricing.quote import Quote

log = structlog.get_logger("quote_service.quotes.store")

_ENCODER = msgspec.json.Encoder()
_NUMBERS = msgspec.json.Encoder(decimal_format="number")
_DECODER = msgspec.json.Decoder(Quote)  # reads money written either way
_LOG_COLUMNS = (
    "quote_id", "customer_id", "currency", "subtotal", "discount_amount", "tax_amount", "delivery_fee",
    "small_basket_fee", "total_amount", "total_commission", "seller_commission", "category_commission",
    "logistics_commission", "item_count", "config_version", "lines", "applied_rules", "coupon_codes",
    "experiments", "caller_kind", "caller_id", "created_at", "valid_until", "delivery_city", "delivery_country",
    "flags", "forced_experiments",
)  # fmt: skip
# One SET ... PX per quote of the batch, then EXISTS per ordered-mark asked about, in one call:
# a pipeline costs the client ~3x more per quote. The last ARGV is the number of quotes to SET.
_FLUSH = """
local puts = tonumber(ARGV[#ARGV])
for i = 1, puts do
  redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'PX', ARGV[2 * i])
end
local ordered = {}
for i = puts + 1, #KEYS do
  ordered[#ordered + 1] = redis.call('EXISTS', KEYS[i])
end
return ordered
"""
# The quote, marking it ordered until it expires (a quote always has a TTL; 15 min if not).
_TAKE = """
local quote = redis.call('GET', KEYS[1])
if quote then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl <= 0 then ttl = 900000 end
  redis.call('SET', KEYS[2], '1', 'PX', ttl)
end
return quote
"""
MAX_LOG_BACKLOG = 100_000
BACKLOG_WARNING_SECONDS = 10.0
"""At most one `quote_log_backlog_full` line per this many seconds, however many rows are dropped."""
UNSTORABLE = (
    asyncpg.DataError,  # 22xxx: numeric overflow, invalid text, a NUL byte, ...
    asyncpg.IntegrityConstraintViolationError,  # 23xxx: a NOT NULL or CHECK the row breaks
    ClientDataError,  # a value asyncpg cannot encode for its column
)
"""A batch that fails with one of these holds a row PostgreSQL will never take: writing it again
cannot help, so the batch is split to find it. Anything else (connection lost, server restarting)
is retried as it is."""
_STAGING = "quote_log_incoming"
_CREATE_STAGING = f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} (LIKE quote_log) ON COMMIT DELETE ROWS"
_MOVE_STAGED = (
    f"INSERT INTO quote_log ({', '.join(_LOG_COLUMNS)}) SELECT {', '.join(_LOG_COLUMNS)} FROM {_STAGING}"
    " ON CONFLICT (quote_id) DO NOTHING"
)

LogRow = tuple[object, ...]


def quote_key(quote_id: UUID) -> str:
    return f"qs:quote:{quote_id}"


def ordered_key(quote_id: UUID) -> str:
    return f"qs:quote-ordered:{quote_id}"


class QuoteStore:
    """Puts and gets quotes; one per process."""

    def __init__(
        self,
        redis: RedisClient,
        pool: Pool,
        *,
        log_interval: float = 0.2,
        log_batch: int = 1000,
        log_backlog: int = MAX_LOG_BACKLOG,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._pool = pool
        self._flush = redis.register_script(_FLUSH)
        self._take = redis.register_script(_TAKE)
        self._log_interval = log_interval
        self._log_batch = log_batch
        self._log_limit = log_backlog
        self._monotonic = monotonic
        """The clock of the backlog-full warning's interval (tests move it)."""
        self._dropped = 0
        """Rows dropped since the last backlog-full warning line."""
        self._next_warning = float("-inf")
        # (key, payload, valid_until as a UNIX time, quote-log row, waiter): no Quote objects are kept alive here.
        self._pending: list[tuple[str, bytes, float, LogRow, asyncio.Future[None]]] = []
        self._checks: list[tuple[str, asyncio.Future[bool]]] = []
        self._wake = asyncio.Event()
        self._log_backlog: list[LogRow] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._flush_redis_forever(), name="quote-store-redis"),
            asyncio.create_task(self._flush_log_forever(), name="quote-store-log"),
        ]

    async def stop(self) -> None:
        """Drain every queue, then stop the flushers."""
        # The flushers finish their current write and return: cancelling one mid-COPY left it
        # unknown whether the batch had committed, and writing it again failed on the primary key.
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._flush_redis_once()
        while self._log_backlog:
            if not await self._flush_log_once():
                break

    async def put(
        self,
        quote: Quote,
        *,
        now: datetime,
        caller: tuple[str, str] | None = None,
        delivery: tuple[str, str] | None = None,
        numbers: bool = False,
    ) -> bytes:
        """Store `quote` until its `valid_until`; returns (its encoding) once any process can read it.

        `caller` (kind, id) is who asked and `delivery` (city, country) where to, both recorded in
        the quote log. `numbers`: money written as JSON numbers (X-Money-Format: number), which
        `decode_quote` reads as well as strings."""
        payload = (_NUMBERS if numbers else _ENCODER).encode(quote)
        if quote.valid_until <= now:
            return payload
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        row = log_row(quote, caller, delivery)  # queued for the log by the flush that stores the quote
        self._pending.append((quote_key(quote.quote_id), payload, quote.valid_until.timestamp(), row, future))
        self._wake.set()
        await future
        return payload

    async def get(self, quote_id: UUID, *, now: datetime) -> Quote | None:
        """The stored quote, or None when unknown or past `valid_until`."""
        payload = cast(bytes | None, await self._redis.get(quote_key(quote_id)))  # decode_responses=False
        return _unexpired(payload, now)

    async def take_for_order(self, quote_id: UUID, *, now: datetime) -> Quote | None:
        """As `get`, and marks the quote ordered for every process's `was_ordered` (one round trip)."""
        if is_cluster(self._redis):
            payload = await self._take_on_cluster(quote_id)
        else:
            payload = cast(bytes | None, await self._take(keys=[quote_key(quote_id), ordered_key(quote_id)]))
        return _unexpired(payload, now)

    async def _take_on_cluster(self, quote_id: UUID) -> bytes | None:
        """`_TAKE` in two steps: the quote's key and its mark live in different slots."""
        async with self._redis.pipeline() as pipe:
            pipe.get(quote_key(quote_id))
            pipe.pttl(quote_key(quote_id))
            payload, ttl = cast(tuple[bytes | None, int], await pipe.execute())
        if payload is not None:
            await self._redis.set(ordered_key(quote_id), b"1", px=ttl if ttl > 0 else 900_000)
        return payload

    async def was_ordered(self, quote_id: UUID) -> bool:
        """True once any process took the quote for an order; asked in the next group-commit call."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._checks.append((ordered_key(quote_id), future))
        self._wake.set()
        return await future

    async def _flush_redis_forever(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            await self._flush_redis_once()

    async def _flush_redis_once(self) -> None:
        batch, self._pending = self._pending, []
        checks, self._checks = self._checks, []
        if not batch and not checks:
            return
        now = time.time()
        keys: list[str] = []
        args: list[bytes | int] = []
        for key, payload, valid_until, _, _ in batch:
            keys.append(key)
            args += (payload, max(1, int((valid_until - now) * 1000)))
        keys += [key for key, _ in checks]
        args.append(len(batch))
        try:
            if is_cluster(self._redis):
                ordered = await self._flush_on_cluster(keys, args)
            else:
                ordered = cast(list[int], await self._flush(keys=keys, args=args))
        except Exception as exc:  # every waiting request learns it failed
            waiting: list[asyncio.Future[Any]] = [*(f for *_, f in batch), *(f for _, f in checks)]
            for future in waiting:
                if not future.done():
                    future.set_exception(exc)
            return
        # Before any response can leave; a request that gave up meanwhile (deadline) was not answered.
        self._queue_log_rows([row for *_, row, put in batch if not put.done()])
        for *_, put in batch:
            if not put.done():
                put.set_result(None)
        for (_, check), flag in zip(checks, ordered, strict=True):
            if not check.done():
                check.set_result(bool(flag))

    def _queue_log_rows(self, rows: list[LogRow]) -> None:
        """Queue the rows of quotes now stored in Redis; past the bound, drop and count the rest."""
        room = max(0, self._log_limit - len(self._log_backlog))
        if len(rows) <= room:
            self._log_backlog += rows
            return
        self._log_backlog += rows[:room]
        dropped = len(rows) - room
        QUOTE_LOG_ROWS_DROPPED.inc(dropped)
        self._dropped += dropped
        now = self._monotonic()
        if now >= self._next_warning:  # one line per interval, not one per quote
            log.warning("quote_log_backlog_full", dropped=self._dropped, backlog=len(self._log_backlog))
            self._dropped = 0
            self._next_warning = now + BACKLOG_WARNING_SECONDS

    async def _flush_on_cluster(self, keys: list[str], args: list[bytes | int]) -> list[int]:
        """`_FLUSH` as a pipeline: its keys span every slot, and a cluster pipeline sends each
        master its SETs and EXISTSes in one round trip (the masters in parallel)."""
        puts = cast(int, args[-1])
        async with self._redis.pipeline() as pipe:
            for i, key in enumerate(keys[:puts]):
                pipe.set(key, args[2 * i], px=cast(int, args[2 * i + 1]))
            for key in keys[puts:]:
                pipe.exists(key)
            answers = await pipe.execute()
        return [int(flag) for flag in answers[puts:]]

    async def _flush_log_forever(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self._log_interval)
            await self._flush_log_once()

    async def _flush_log_once(self) -> bool:
        """Write one batch of the quote log; False (and the batch kept) when PostgreSQL failed."""
        batch = self._log_backlog[: self._log_batch]
        if not batch:
            return True
        rejected: list[LogRow] = []
        try:
            async with self._pool.acquire() as conn:
                await write_isolating(conn, batch, rejected)
        except Exception:
            if rejected:  # an outage cut the search short: what was rejected stays out of the retry
                gone = {id(row) for row in rejected}
                self._log_backlog[: len(batch)] = [row for row in batch if id(row) not in gone]
            log.warning("quote_log_write_failed", pending=len(self._log_backlog), exc_info=True)
            return False
        del self._log_backlog[: len(batch)]
        return True


async def write_isolating(conn: Connection, rows: list[LogRow], rejected: list[LogRow]) -> None:
    """`write_log_rows`, leaving out each row PostgreSQL cannot store: logged, counted, added to `rejected`.

    A batch refused for its data is halved until the refused rows stand alone: one bad row among
    1,000 costs about 20 more writes, once. Rows written before an outage interrupts the search
    are written again harmlessly with the retried batch (the write is idempotent)."""
    try:
        await write_log_rows(conn, rows)
    except UNSTORABLE as exc:
        if len(rows) > 1:
            half = len(rows) // 2
            await write_isolating(conn, rows[:half], rejected)
            await write_isolating(conn, rows[half:], rejected)
            return
        rejected.append(rows[0])
        QUOTE_LOG_ROWS_REJECTED.inc()
        log.error("quote_log_row_rejected", quote_id=rows[0][0], error=f"{type(exc).__name__}: {exc}")


async def write_log_rows(conn: Connection, rows: list[LogRow]) -> None:
    """Insert quote-log rows idempotently: rows already present are skipped, the others written.

    A batch is retried until PostgreSQL acknowledges it, and an acknowledgement can be lost after
    the commit (connection dropped, server restarted): the retry then meets rows already stored.
    COPY cannot skip them, so the batch is COPYed into a session-private staging table and moved
    with INSERT ... ON CONFLICT DO NOTHING, in one transaction. The staging table is created once
    per connection and emptied by every commit.
    """
    async with conn.transaction():
        await conn.execute(_CREATE_STAGING)
        await conn.copy_records_to_table(_STAGING, records=rows, columns=_LOG_COLUMNS)
        await conn.execute(_MOVE_STAGED)


def decode_quote(payload: bytes) -> Quote:
    """A quote from the JSON `QuoteStore.put` returned."""
    return _DECODER.decode(payload)


def _unexpired(payload: bytes | None, now: datetime) -> Quote | None:
    if payload is None:
        return None
    quote = decode_quote(payload)
    return quote if quote.valid_until > now else None


def log_row(q: Quote, caller: tuple[str, str] | None = None, delivery: tuple[str, str] | None = None) -> LogRow:
    """The lean quote-log row: totals as columns, lines, rules and variants as small JSON arrays
    (positions in migrations/0015_lean_quote_log.sql), the delivery city and country and the keys
    of the flags on (migration 0045), never the whole response."""
    # Only immutable scalars (the id as text, the JSON parts as raw bytes), so the garbage
    # collector stops tracking the row: a backlog of Quote objects made every collection traverse them.
    breakdown = q.commission_breakdown
    # Forced variants (context.ab_test_group) are kept apart: the experiment statistics read `experiments`.
    exposures, forced = q.experiments, {}
    if q.forced_experiments:
        forced = {key: q.experiments[key] for key in q.forced_experiments}
        exposures = {key: variant for key, variant in q.experiments.items() if key not in forced}
    lines = [
        (
            i.product_id,
            i.category_id,
            i.seller_id,
            i.quantity,
            i.unit_price,
            i.line_subtotal,
            i.discount,
            i.price_source,
        )
        for i in q.items
    ]
    return (
        str(q.quote_id),
        q.customer_id,
        q.currency,
        q.subtotal,
        q.discount_amount,
        q.tax_amount,
        q.delivery_fee,
        q.small_basket_fee,
        q.total_amount,
        breakdown.total_commission,
        breakdown.seller_commission,
        breakdown.category_commission,
        breakdown.logistics_commission,
        len(q.items),
        q.config_version,
        msgspec.Raw(_ENCODER.encode(lines)),
        msgspec.Raw(_ENCODER.encode([(r.rule_id, r.type, r.version, r.amount) for r in q.applied_rules])),
        tuple(c.code for c in q.applied_coupons),
        msgspec.Raw(_ENCODER.encode(exposures)),
        caller[0] if caller else None,
        caller[1] if caller else None,
        q.created_at,
        q.valid_until,
        delivery[0] if delivery else None,
        delivery[1] if delivery else None,
        tuple(q.feature_flags),
        msgspec.Raw(_ENCODER.encode(forced)),
    )
