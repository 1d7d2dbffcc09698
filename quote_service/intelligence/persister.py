"""Finishing accepted observations: the work behind a stream entry or a replayed inbox row.

For a batch, in this order, each step repeatable (a crash anywhere redoes the batch):

1. decode each observation and check it again with the API's own `stream.validate` and
   `stream.match_product` — the stream is trusted no more than a client (anyone who can reach
   Redis can XADD); what fails is dead-lettered with the reason;
2. insert the rest in one statement (ON CONFLICT DO NOTHING: a redelivery stores nothing
   twice); if the batch fails on the data, each one alone, dead-lettering what still fails;
3. evaluate the signals of the batch's observations (an error here raises: nothing is
   finished, the entries stay pending and come back);
4. write the dead letters, then delete the batch's inbox rows: now it is durable and done.
The caller acknowledges stream entries only after `finish` returned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg
import structlog

from quote_service.cache.redis import RedisClient
from quote_service.db.pool import Pool
from quote_service.intelligence import repository, stream
from quote_service.intelligence.schemas import ObservationRecord, Rejection
from quote_service.intelligence.signal_rules import SignalEvaluator
from quote_service.observability.metrics import count_observations

log = structlog.get_logger("quote_service.intelligence")

# Errors that belong to the data, not to the moment: retrying the entry cannot help.
POISON = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError, ValueError, TypeError)


class Accepted(NamedTuple):
    """One accepted observation to finish: its encoded form, its inbox row, where it came from."""

    data: bytes
    inbox_id: int | None
    source: bytes
    """The stream entry id, or `inbox:<id>` for a replayed row (named in its dead letter)."""


class Persister:
    def __init__(
        self, redis: RedisClient, pool: Pool, *, signals: SignalEvaluator | None, clock: Callable[[], datetime]
    ) -> None:
        self.redis = redis
        self.pool = pool
        self.signals = signals
        self.clock = clock

    async def finish(self, batch: Sequence[Accepted], *, path: str) -> int:
        """Store, evaluate, dead-letter and clear a batch; returns the rows it inserted."""
        dead: list[tuple[Accepted, str]] = []
        good, inserted = await self._store(self._checked(batch, dead), dead)
        if self.signals is not None and good:
            await self.signals.observations_arrived(good, now=self.clock())
        await self._dead_letter(dead)
        finished = [item.inbox_id for item in batch if item.inbox_id is not None]
        if finished:
            async with self.pool.acquire() as conn:
                await repository.finish_inbox(conn, finished)
        count_observations(path, stored=inserted, duplicate=len(good) - inserted, dead_lettered=len(dead))
        return inserted

    def _checked(
        self, batch: Sequence[Accepted], dead: list[tuple[Accepted, str]]
    ) -> list[tuple[Accepted, ObservationRecord]]:
        now = self.clock()
        checked: list[tuple[Accepted, ObservationRecord]] = []
        for item in batch:
            try:
                record = stream.decode(item.data)
            except Exception as exc:  # any undecodable entry is poison
                dead.append((item, f"undecodable: {exc}"))
                continue
            valid = stream.revalidate(record, 0, now)
            if isinstance(valid, Rejection):
                dead.append((item, f"invalid {valid.field}: {valid.message}"))
            else:
                checked.append((item, valid))
        return checked

    async def _store(
        self, checked: list[tuple[Accepted, ObservationRecord]], dead: list[tuple[Accepted, str]]
    ) -> tuple[list[ObservationRecord], int]:
        """Match the products, insert what matches (one statement; one by one if the data breaks
        it); returns the records stored or already there, and how many rows were inserted."""
        if not checked:
            return [], 0
        async with self.pool.acquire() as conn:
            currencies = await repository.product_currencies(conn, [record.product_id for _, record in checked])
            good: list[tuple[Accepted, ObservationRecord]] = []
            for item, record in checked:
                matched = stream.match_product(record, 0, currencies)
                if isinstance(matched, Rejection):
                    dead.append((item, f"invalid {matched.field}: {matched.message}"))
                else:
                    good.append((item, matched))
            if not good:
                return [], 0
            try:
                inserted = len(await repository.insert_observations(conn, [record for _, record in good]))
                return [record for _, record in good], inserted
            except POISON:
                pass
            stored: list[ObservationRecord] = []
            inserted = 0
            for item, record in good:
                try:
                    inserted += len(await repository.insert_observations(conn, [record]))
                    stored.append(record)
                except POISON as exc:
                    dead.append((item, f"{type(exc).__name__}: {exc}"))
            return stored, inserted

    async def _dead_letter(self, dead: list[tuple[Accepted, str]]) -> None:
        if not dead:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for item, error in dead:
                body: dict[Any, Any] = {stream.FIELD: item.data, b"error": error[:1000], b"source_id": item.source}
                pipe.xadd(stream.DEAD_LETTER, body, maxlen=stream.DEAD_LETTER_MAX_LENGTH, approximate=True)
                log.warning("stream_entry_dead_lettered", entry=item.source, error=error[:200])
            await pipe.execute()
