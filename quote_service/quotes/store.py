"""Stored quotes: readable and orderable right after the response, cheap on the hot path.

Two tiers, one writer:
- Redis, `qs:quote:{id}` with a TTL to `valid_until`: written by GROUP COMMIT — every
  request hands its quote to a background loop (`_GroupCommit`, woken by each put) that sends
  whatever has queued as one script call, and the request answers once that call is
  acknowledged. One round trip per batch, not per quote, yet a quote is readable from any
  process the moment its response leaves. The value is the quote's JSON compressed with a
  dictionary trained on this deployment's quotes (quotes/compact.py): ~470 B instead of ~4.7 KB,
  behind 17 bytes naming who made the quote (`MADE_BY`: a user or an API key, and its id), so
  that only its maker or an admin reads it, orders it or releases its hold (auth/policy.py);
- PostgreSQL `quote_log`: a lean row per answered quote, written behind the requests
  (quotes/quote_log.py), never read here. A row is appended to the process's spool on local
  disk (quotes/spool.py) by its request once Redis acknowledged its quote and the request was
  not cancelled meanwhile, before the answer leaves (a quote that was not answered is not
  logged; one that was survives the process).

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
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol, cast
from uuid import UUID

import msgspec
import structlog
from hiredis import ReplyError, pack_command
from redis.commands.core import AsyncScript

from quote_service.auth.policy import Maker
from quote_service.background import BackgroundLoop, stop_all
from quote_service.cache.lean_redis import LeanRedis
from quote_service.cache.redis import RedisClient, is_cluster
from quote_service.db.pool import Pool
from quote_service.errors import DependencyUnavailable
from quote_service.event_loop import running_loop
from quote_service.ids import uuid_text
from quote_service.pricing.quote import Quote
from quote_service.quotes.compact import DictionaryKeeper, QuoteCodec
from quote_service.quotes.quote_log import LOG_BATCH, LOG_INTERVAL, MAX_SPOOL_BYTES, QuoteLogWriter, log_row

log = structlog.get_logger("quote_service.quotes.store")

_ENCODER = msgspec.json.Encoder()
_NUMBERS = msgspec.json.Encoder(decimal_format="number")
_DECODER = msgspec.json.Decoder(Quote)  # reads money written either way
# One SET ... PX per quote of the batch, then EXISTS per ordered-mark asked about (and for the
# dictionary the values were compressed with), then each rider's two writes (`Ride`; one riding on a
# mark's question only where that mark is absent), in one call: a pipeline costs the client ~3x more
# per quote. The last ARGV is the number of quotes to SET, the one before it the number of riders.
_FLUSH = """
local puts = tonumber(ARGV[#ARGV])
local riders = tonumber(ARGV[#ARGV - 1])
for i = 1, puts do
  redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'PX', ARGV[2 * i])
end
local ordered = {}
for i = puts + 2 * riders + 1, #KEYS do
  ordered[#ordered + 1] = redis.call('EXISTS', KEYS[i])
end
for r = 0, riders - 1 do
  local k, a = puts + 2 * r, 2 * puts + 6 * r
  local after = tonumber(ARGV[a + 6])
  if after == 0 or ordered[after] == 0 then
    redis.call('SET', KEYS[k + 1], ARGV[a + 1], 'EX', ARGV[a + 2])
    local stored = redis.call('GET', KEYS[k + 2])
    local at = stored and string.find(stored, '"status":', 1, true)
    if not at or string.sub(stored, at + 9, at + 8 + #ARGV[a + 5]) == ARGV[a + 5] then
      redis.call('SET', KEYS[k + 2], ARGV[a + 3], 'EX', ARGV[a + 4])
    end
  end
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


_Put = tuple[str, bytes, bytes, float, asyncio.Future[None]]
"""A queued put: key, who made it (`made_by`), the quote's JSON, valid_until as a UNIX time, its waiter."""

MADE_BY = {"user": b"\x02", "api_key": b"\x03"}
"""The first byte of a stored value that names its maker: the maker's kind, then its id's 16 bytes,
then the codec's value (compact.py: JSON or a compressed frame, whose first bytes are `{` or 1)."""
_KIND_OF = {mark: kind for kind, mark in MADE_BY.items()}
_MAKER_BYTES = 17


def made_by(maker: Maker | None) -> bytes:
    """The prefix naming `maker` (kind, principal id); none for no maker."""
    return b"" if maker is None else MADE_BY[maker[0]] + maker[1].bytes


class Ride(NamedTuple):
    """What a rider writes in its quote's group-commit call: `key` = `value` for `seconds`, and `guarded` =
    `guarded_value` for `guarded_seconds` unless `guarded` holds a value whose first `"status":` is not
    followed by `status` (JSON, quoted: `b'"open"'`)."""

    key: str
    value: bytes
    seconds: int
    guarded: str
    guarded_value: bytes
    guarded_seconds: int
    status: bytes


class Rider(Protocol):
    """A write made of the quote that goes to Redis in the quote's own call (a checkout session's update:
    checkout_sessions/live.py): one round trip for both, never the write without the quote."""

    def ride(self, payload: bytes, quote: Quote | None) -> Ride:
        """The write, of the quote's JSON (`QuoteStore.put`'s answer) and, where the store has it, the quote
        that JSON encodes (not for a quote handed out again), before the call is sent."""
        ...

    def landed(self) -> None:
        """The call that carried the write was acknowledged (before the quote's `put` returns)."""
        ...


class StoredQuote(NamedTuple):
    """A stored quote and who made it."""

    quote: Quote
    maker: Maker | None
    """The principal (kind, id) that made it; None for a value written by an earlier release,
    which recorded none (then only an admin may act on it: auth/policy.py)."""


def quote_key(quote_id: UUID) -> str:
    return _quote_key(uuid_text(quote_id))


def _quote_key(quote_id: str) -> str:
    return f"qs:quote:{quote_id}"


def ordered_key(quote_id: UUID) -> str:
    return f"qs:quote-ordered:{uuid_text(quote_id)}"


class _GroupCommit(BackgroundLoop):
    """Sends what the requests queued as one call each time a put wakes it; a failed call fails
    its requests (503) and is the loop's counted failure."""

    task_name = "quote-store-redis"
    failure_event = "quote_store_write_failed"
    finish_pass_on_stop = True
    """A batch on its way is acknowledged, not cut: its requests are waiting for the answer."""

    def __init__(self, flush: Callable[[], Awaitable[None]]) -> None:
        self._flush = flush

    def next_delay(self) -> float | None:
        return None  # until the next put

    async def run_pass(self) -> None:
        await self._flush()

    async def drain(self) -> None:
        await self._flush()


class QuoteStore:
    """Puts and gets quotes; one per process."""

    def __init__(
        self,
        redis: RedisClient,
        pool: Pool,
        *,
        spool: Path,
        log_interval: float = LOG_INTERVAL,
        log_batch: int = LOG_BATCH,
        spool_limit: int = MAX_SPOOL_BYTES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._flush = redis.register_script(_FLUSH)
        self._take = redis.register_script(_TAKE)
        self.codec = QuoteCodec(redis)
        self.log = QuoteLogWriter(
            pool, spool, interval=log_interval, batch=log_batch, spool_limit=spool_limit, monotonic=monotonic
        )
        # No Quote objects are kept alive here (only bytes and the row of immutable scalars).
        self._pending: list[_Put] = []
        self._checks: list[tuple[str, asyncio.Future[bool]]] = []
        self._riders: list[tuple[Ride, Rider, int]] = []
        """Each rider, its write and the question it rides on (1 the batch's first `was_ordered`; 0 a put)."""
        self._cluster = is_cluster(redis)
        """On a cluster a rider's keys live in other slots than the quotes': riders are not taken there."""
        self._commit = _GroupCommit(self._commit_once)
        self._keeper = DictionaryKeeper(self.codec)

    async def start(self) -> None:
        await self.log.open()
        for loop in (self._commit, self.log, self._keeper):
            loop.start()

    async def stop(self) -> None:
        """Drain every queue, then stop the loops."""
        # The group commit first: its last batch answers the last puts, which queue their quote-log
        # rows as they resume (let them run) before the log writer drains.
        await self._commit.stop()
        await asyncio.sleep(0)
        self.log.flush_rows()
        await asyncio.sleep(0)  # (the requests whose rows were written answer)
        await stop_all([self._keeper, self.log])

    async def settle(self) -> None:
        """Write what is queued (the group commit's puts, the quote log's spool) now: a started app
        the tests reuse leaves nothing to land in the next test's emptied stores."""
        await self._commit_once()
        await self.log.write_pending()

    def reset(self) -> None:
        """Start the codec afresh, as at start (after the tests emptied Redis)."""
        self.codec.reset()

    async def put(
        self,
        quote: Quote,
        *,
        now: datetime,
        caller: Maker | None = None,
        delivery: tuple[str, str] | None = None,
        numbers: bool = False,
        request: object = None,
        rider: Rider | None = None,
    ) -> bytes:
        """Store `quote` until its `valid_until`; returns (its JSON) once any process can read it.

        `caller` (kind, principal id) is who made it: stored with the quote (`StoredQuote.maker`)
        and recorded in the quote log with `delivery` (city, country), where to. `numbers`: money
        written as JSON numbers (X-Money-Format: number), which `decode_quote` reads as well as strings.
        `request`: what the quote log keeps to price the basket again (`quote_log.log_values`).
        `rider`: a write made of the quote's JSON, sent in the same call (`Rider`; not on a cluster, nor for
        a quote already expired: then it never lands, and its maker writes on its own)."""
        payload = (_NUMBERS if numbers else _ENCODER).encode(quote)
        if quote.valid_until <= now:
            return payload
        # The log row is made (and encoded) now, while the quote is still in the CPU's caches, and
        # queued only once Redis acknowledged the quote; the quote itself is let go before the wait
        # (docs/hot-path.md). The id is written as text once, for both.
        text = uuid_text(quote.quote_id)
        row = log_row(
            quote, None if caller is None else (caller[0], str(caller[1])), delivery, quote_id=text, request=request
        )
        future: asyncio.Future[None] = running_loop().create_future()
        self._pending.append((_quote_key(text), made_by(caller), payload, quote.valid_until.timestamp(), future))
        if rider is not None and not self._cluster:
            self._riders.append((rider.ride(payload, quote), rider, 0))
        del quote
        self._commit.wake()
        await future
        # Spooled here, by the request itself, not by the flush that acknowledged the write: a request
        # cancelled (its deadline, 504) in the instant its write was acknowledged never gets here, so a
        # quote that is not answered is not logged — and one that is answered is on disk first. The
        # batch's requests, resumed together, share one write (`spool_row`).
        if row is not None:
            try:
                await self.log.spool_row(row)
            except OSError as exc:
                log.error("quote_log_spool_write_failed", error=repr(exc))
                raise DependencyUnavailable("The quote could not be recorded in the quote log's spool") from exc
        return payload

    async def get(self, quote_id: UUID, *, now: datetime) -> StoredQuote | None:
        """The stored quote and its maker, or None when unknown or past `valid_until`."""
        stored = cast(bytes | None, await self._redis.get(quote_key(quote_id)))  # decode_responses=False
        return await self._unexpired(stored, now)

    async def take_for_order(self, quote_id: UUID, *, now: datetime) -> StoredQuote | None:
        """As `get`, and marks the quote ordered for every process's `was_ordered` (one round trip)."""
        if is_cluster(self._redis):
            stored = await self._take_on_cluster(quote_id)
        else:
            stored = cast(bytes | None, await self._take(keys=[quote_key(quote_id), ordered_key(quote_id)]))
        return await self._unexpired(stored, now)

    async def _unexpired(self, stored: bytes | None, now: datetime) -> StoredQuote | None:
        if stored is None:
            return None
        maker: Maker | None = None
        if (kind := _KIND_OF.get(stored[:1])) is not None:
            maker = (kind, UUID(bytes=stored[1:_MAKER_BYTES]))
            stored = stored[_MAKER_BYTES:]
        payload = await self.codec.unpack(stored)
        if payload is None:
            return None
        quote = decode_quote(payload)
        return StoredQuote(quote, maker) if quote.valid_until > now else None

    async def _take_on_cluster(self, quote_id: UUID) -> bytes | None:
        """`_TAKE` in two steps: the quote's key and its mark live in different slots."""
        async with self._redis.pipeline() as pipe:
            pipe.get(quote_key(quote_id))
            pipe.pttl(quote_key(quote_id))
            payload, ttl = cast(tuple[bytes | None, int], await pipe.execute())
        if payload is not None:
            await self._redis.set(ordered_key(quote_id), b"1", px=ttl if ttl > 0 else 900_000)
        return payload

    async def was_ordered(self, quote_id: UUID, payload: bytes = b"", rider: Rider | None = None) -> bool:
        """True once any process took the quote for an order; asked in the next group-commit call.
        `rider`: a write made of the quote's JSON `payload`, in the same call, landing only where the
        answer is False (the quote handed out again: `put`)."""
        future: asyncio.Future[bool] = running_loop().create_future()
        self._checks.append((ordered_key(quote_id), future))
        if rider is not None and not self._cluster:
            self._riders.append((rider.ride(payload, None), rider, len(self._checks)))
        self._commit.wake()
        return await future

    async def _commit_once(self) -> None:
        """One group-commit call: the queued puts, their riders and ordered-mark questions."""
        batch, self._pending = self._pending, []
        riders, self._riders = self._riders, []
        checks, self._checks = self._checks, []
        if not batch and not checks:
            return
        # Asked with the marks: is the dictionary of these values still there (Redis restarted empty)?
        dictionary = self.codec.dictionary_key if batch else None
        try:
            keys, args = self._call_arguments(batch, riders, checks, dictionary)
            if is_cluster(self._redis):
                ordered = await self._flush_on_cluster(keys, args)
            else:
                ordered = await lean_script(self._redis, self._flush, keys, args)
            if dictionary is not None and not ordered.pop():  # before any of its quotes is answered
                await self.codec.publish_again()
        except Exception as exc:  # every waiting request learns it failed
            waiting: list[asyncio.Future[Any]] = [*(f for *_, f in batch), *(f for _, f in checks)]
            for future in waiting:
                if not future.done():
                    future.set_exception(exc)
            raise
        for _, rider, after in riders:
            if not after or not ordered[after - 1]:
                rider.landed()
        for *_, put in batch:
            if not put.done():
                put.set_result(None)
        for (_, check), flag in zip(checks, ordered, strict=True):
            if not check.done():
                check.set_result(bool(flag))

    def _call_arguments(
        self,
        batch: list[_Put],
        riders: list[tuple[Ride, Rider, int]],
        checks: list[tuple[str, asyncio.Future[bool]]],
        dictionary: str | None,
    ) -> tuple[list[str], list[bytes | int]]:
        """`_FLUSH`'s keys (quotes, riders', marks, the dictionary) and arguments (value and TTL per quote,
        six per rider, the counts)."""
        now = time.time()
        keys: list[str] = []
        args: list[bytes | int] = []
        pack = self.codec.pack
        for key, maker, payload, valid_until, _ in batch:
            keys.append(key)
            # Compressed here, the batch back to back, so that the compressor's tables are warm for
            # all but the first (not measurably cheaper on the shared development machine: BENCHMARKS.md).
            args += (maker + pack(payload, valid_until), max(1, int((valid_until - now) * 1000)))
        for ride, _, after in riders:
            keys += (ride.key, ride.guarded)
            args += (ride.value, ride.seconds, ride.guarded_value, ride.guarded_seconds, ride.status, after)
        keys += [key for key, _ in checks]
        if dictionary is not None:
            keys.append(dictionary)
        args += (len(riders), len(batch))  # (two calls, as the one count's append and len were)
        return keys, args

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


async def lean_script(redis: RedisClient, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
    """`script` on the process's pipelined connection (cache/lean_redis.py; not a cluster's): EVALSHA packed in
    C (hiredis), written behind whatever is in flight, its reply matched in order, without redis-py's pool and
    command layer (~120 and ~200 Python calls a call: docs/hot-path.md). Anything but a reply (no connection,
    an error reply) is left to redis-py's own call, which loads the script (NOSCRIPT: Redis restarted) and
    retries as configured — as redis-py's call alone would, so a script called so must bear being run twice
    (the group commit's only SETs what it is given and reads marks)."""
    lean = LeanRedis.of(redis)
    if lean is not None:
        command: Any = (b"EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            reply = await lean.call(pack_command(command))  # packed in C, each argument in one go
        except OSError:  # ConnectionError and TimeoutError among them
            pass
        else:
            if not isinstance(reply, ReplyError):
                return reply
    return await script(keys=keys, args=args)


def decode_quote(payload: bytes) -> Quote:
    """A quote from the JSON `QuoteStore.put` returned."""
    return _DECODER.decode(payload)
