"""The stream consumer: persists competitor observations at least once, in batches.

Every process runs one `StreamConsumer` in the consumer group (its name: host, pid, a random
suffix). A pass:

1. every `claim_interval` seconds, XAUTOCLAIM entries pending for more than `claim_idle_ms`
   in ANY consumer (a process that died mid-batch) and process them as its own;
2. XREADGROUP up to `batch_size` new entries (blocking up to `block_ms`);
3. decode them; an undecodable entry goes to the dead-letter stream at once;
4. insert the batch in one statement (ON CONFLICT DO NOTHING: a redelivered entry is a
   duplicate and is dropped). If the batch fails, each entry is tried alone and the ones that
   still fail go to the dead-letter stream with the error — a poison entry never blocks the
   group;
5. XACK the batch only after the rows committed (a crash before the ack means redelivery,
   which the unique key makes harmless: at least once + idempotent = effectively once);
6. evaluate the signals of the products the batch touched.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

import asyncpg
import structlog
from redis.exceptions import ResponseError

from quote_service.background import BackgroundLoop
from quote_service.cache.redis import RedisClient
from quote_service.clock import utcnow
from quote_service.db.pool import Pool
from quote_service.intelligence import repository, stream
from quote_service.intelligence.schemas import ObservationRecord
from quote_service.intelligence.signal_rules import SignalEvaluator

log = structlog.get_logger("quote_service.intelligence")

# Errors that belong to the data, not to the moment: retrying the entry cannot help.
POISON = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError, ValueError, TypeError)

Entry = tuple[bytes, dict[bytes, bytes]]


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


async def ensure_group(redis: RedisClient) -> None:
    """Create the stream and its group once (every process tries; BUSYGROUP means done)."""
    try:
        await redis.xgroup_create(stream.STREAM, stream.GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class StreamConsumer(BackgroundLoop):
    """One member of the `persisters` group; `run_once` is one pass (tests drive it directly)."""

    task_name = "competitor-price-consumer"
    failure_event = "stream_consumer_failed"
    start_at_once = True
    _group_ready = False

    def __init__(
        self,
        redis: RedisClient,
        pool: Pool,
        *,
        signals: SignalEvaluator | None,
        name: str | None = None,
        batch_size: int = 500,
        block_ms: int = 1000,
        claim_idle_ms: int = 30_000,
        claim_interval: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.redis = redis
        self.pool = pool
        self.signals = signals
        self.name = name or consumer_name()
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.claim_interval = claim_interval
        self.clock = clock
        self._last_claim = 0.0
        self.persisted = 0

    async def run_once(self, *, claim: bool = False) -> int:
        """One pass: claimed stale entries (when due or `claim`), then new ones. Returns entries handled."""
        handled = 0
        loop = asyncio.get_running_loop()
        if claim or loop.time() - self._last_claim >= self.claim_interval:
            self._last_claim = loop.time()
            handled += await self._claim_stale()
        response = cast(
            "list[tuple[bytes, list[Entry]]] | None",
            await self.redis.xreadgroup(
                stream.GROUP, self.name, {stream.STREAM: ">"}, count=self.batch_size, block=self.block_ms
            ),
        )
        for _key, entries in response or []:
            await self.handle(entries)
            handled += len(entries)
        return handled

    async def _claim_stale(self) -> int:
        handled = 0
        start = "0-0"
        while True:
            result = await self.redis.xautoclaim(
                stream.STREAM, stream.GROUP, self.name, self.claim_idle_ms, start_id=start, count=self.batch_size
            )
            next_start, entries = result[0], result[1]
            entries = [entry for entry in entries if entry[1]]  # trimmed entries come back empty
            if entries:
                log.info("stream_entries_claimed", consumer=self.name, count=len(entries))
                await self.handle(entries)
                handled += len(entries)
            if next_start in (b"0-0", "0-0"):
                return handled
            start = next_start

    async def handle(self, entries: Sequence[Entry]) -> None:
        """Persist a batch of entries, dead-letter the poison ones, ack them all."""
        good: list[tuple[bytes, ObservationRecord]] = []
        for entry_id, fields in entries:
            try:
                good.append((entry_id, stream.decode(fields[stream.FIELD])))
            except Exception as exc:  # any undecodable entry is poison
                await self._dead_letter(entry_id, fields, f"undecodable: {exc}")
        try:
            async with self.pool.acquire() as conn:
                inserted = await repository.insert_observations(conn, [record for _, record in good])
        except POISON:
            inserted = await self._one_by_one(good)
        self.persisted += len(inserted)
        if entries:
            await self.redis.xack(stream.STREAM, stream.GROUP, *[entry_id for entry_id, _ in entries])
        if self.signals is not None and good:
            try:
                await self.signals.observations_arrived([record for _, record in good], now=self.clock())
            except Exception:
                log.warning("signal_evaluation_failed", exc_info=True)

    async def _one_by_one(self, good: list[tuple[bytes, ObservationRecord]]) -> list[asyncpg.Record]:
        inserted: list[asyncpg.Record] = []
        for entry_id, record in good:
            try:
                async with self.pool.acquire() as conn:
                    inserted += await repository.insert_observations(conn, [record])
            except POISON as exc:
                await self._dead_letter(entry_id, {stream.FIELD: stream.encode(record)}, f"{type(exc).__name__}: {exc}")
        return inserted

    async def _dead_letter(self, entry_id: bytes, fields: dict[bytes, bytes], error: str) -> None:
        body: dict[Any, Any] = {**fields, b"error": error[:1000], b"source_id": entry_id}
        await self.redis.xadd(stream.DEAD_LETTER, body, maxlen=stream.DEAD_LETTER_MAX_LENGTH, approximate=True)
        log.warning("stream_entry_dead_lettered", entry=entry_id, error=error[:200])

    def next_delay(self) -> float | None:
        # Back to back: each pass blocks on the stream for up to `block_ms` itself.
        return self.interval if self.failures else 0.0

    async def run_pass(self) -> None:
        # After a failure Redis may have come back empty: make sure of the group first. Redis or
        # PostgreSQL away: unacked entries stay pending and are retried.
        if self.failures or not self._group_ready:
            await ensure_group(self.redis)
            self._group_ready = True
        await self.run_once()
