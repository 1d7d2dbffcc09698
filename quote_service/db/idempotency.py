"""Idempotency-Keys: one request per key at a time, and PostgreSQL's record as the answer.

Every keyed write (an order, a refund, a cancel) runs the same path:

1. `claimed(conn, ...)`: a PostgreSQL advisory lock named after (what, caller, key), taken on
   the connection that does the work, before anything looks at the key. A second request with
   the same key — a client retrying after a dropped connection while the first is still running
   — waits here for the first to finish instead of running the business checks against its own
   twin's half-done work (which answered 409 for an order that had been placed). It waits at
   most `DB_LOCK_TIMEOUT` (1 s; an order takes milliseconds), then answers 409
   `IDEMPOTENCY_IN_PROGRESS` with `Retry-After`.
2. Under the lock, the committed result for the key, if any, is the answer (`same_request`
   checks it was the same body, else 409 `IDEMPOTENCY_CONFLICT`).
3. Otherwise the work runs, and commits its result with the key in one transaction.

The lock is a session-level one: released when the work is done, and by PostgreSQL itself when
the connection dies with the process that held it (SIGKILL, a crash), so a retry never waits on
a dead request. The pool's reset also releases it before a connection is reused. There is no
"in progress" marker to repair: the record of truth for a key is the committed row.

Flash-sale purchases keep their key in Redis, atomic with the stock they take (the storm path
must not touch PostgreSQL for the buyers it refuses); PostgreSQL's ledger is still what a retry
is answered from whenever Redis cannot say (flash_sales/purchases.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg

from quote_service.db.pool import Connection
from quote_service.errors import Conflict, IdempotencyInProgress

# hashtextextended: a 64-bit hash of the name, the advisory lock's key space. Two names that
# collide only make two unrelated requests wait for each other; they share no result.
_LOCK = "SELECT pg_advisory_lock(hashtextextended($1, 0))"
_UNLOCK = "SELECT pg_advisory_unlock(hashtextextended($1, 0))"


def lock_name(scope: str, principal_id: UUID, key: str) -> str:
    return f"idempotency:{scope}:{principal_id}:{key}"


@contextlib.asynccontextmanager
async def claimed(conn: Connection, *, scope: str, principal_id: UUID, key: str) -> AsyncIterator[None]:
    """Hold `key` (of `principal_id`, for `scope`: orders, refunds) while the block runs."""
    name = lock_name(scope, principal_id, key)
    try:
        await conn.execute(_LOCK, name)
    except asyncpg.LockNotAvailableError as exc:  # lock_timeout: the first request is still running
        raise in_progress() from exc
    try:
        yield
    finally:
        # A broken connection has lost the lock already (and the pool will not reuse it).
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            await conn.execute(_UNLOCK, name)


def in_progress() -> IdempotencyInProgress:
    return IdempotencyInProgress(
        "A request with this Idempotency-Key is still being processed; send it again shortly to get its result"
    )


def same_request(stored: bytes, fingerprint: bytes) -> None:
    """Refuse a key used before for another request (another body, order or kind)."""
    if stored != fingerprint:
        raise conflict()


def conflict() -> Conflict:
    return Conflict("This Idempotency-Key was already used with a different request body", code="IDEMPOTENCY_CONFLICT")
