"""Accepting competitor observations: check each, write the accepted ones ahead, publish them.

What "accepted" promises (docs/market-intelligence.md): every accepted observation is a row of
the PostgreSQL inbox, committed before the caller hears so — the stream entry that follows is
the fast path to a consumer, not the only copy. If Redis loses the entry (a restart without
persistence, a failover) or refuses it, a consumer finishes the observation from the inbox
once `replay_after` seconds have passed. PostgreSQL down means nothing is accepted (503).

The API and the ingest command call `accept`; the consumer re-checks every entry with the same
`stream.validate` and `stream.match_product`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import structlog
from redis.exceptions import RedisClusterException, RedisError

from quote_service.cache.redis import RedisClient
from quote_service.db.pool import Pool
from quote_service.intelligence import repository, stream
from quote_service.intelligence.schemas import IngestResult, ObservationRecord, Rejection

log = structlog.get_logger("quote_service.intelligence")


async def accept(
    pool: Pool, redis: RedisClient, numbered: Iterable[tuple[int, object]], *, now: datetime, replay_after: float
) -> IngestResult:
    """Check each (index, observation); store the accepted ones durably, then put them on the
    stream. Rejections name the index (a request's position, a file's line) and the field."""
    checked = [(index, stream.validate(raw, index, now)) for index, raw in numbered]
    records = [c for _, c in checked if isinstance(c, ObservationRecord)]
    if not records:
        return IngestResult(accepted=0, rejected=[c for _, c in checked if isinstance(c, Rejection)])
    async with pool.acquire() as conn:
        currencies = await repository.product_currencies(conn, [r.product_id for r in records])
        results = [
            c if isinstance(c, Rejection) else stream.match_product(c, index, currencies) for index, c in checked
        ]
        encoded = [stream.encode(r) for r in results if isinstance(r, ObservationRecord)]
        inbox_ids = await repository.write_ahead(conn, encoded, replay_after=replay_after) if encoded else []
    try:
        await stream.publish_encoded(redis, list(zip(encoded, inbox_ids, strict=True)))
    except (RedisError, RedisClusterException):
        # Durable already: the consumers finish them from the inbox after `replay_after`.
        log.warning("competitor_observations_not_published", count=len(encoded), exc_info=True)
    return IngestResult(accepted=len(encoded), rejected=[r for r in results if isinstance(r, Rejection)])
