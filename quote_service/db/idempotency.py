"""Idempotency-Keys: one request per key at a time, and PostgreSQL's record as the answer.

Every keyed write (an order, a refund, a cancel, an edit's commit, a payment, a coupon code batch) runs the
same path:

1. `claimed(conn, ...)`: a PostgreSQL advisory lock named after (what, caller, key), taken on
   the connection that does the work, before anything looks at the key. A second request with
   the same key — a client retrying after a dropped connection while the first is still running
   — waits here for the first to finish instead of running the business checks against its own
   twin's half-done work (which answered 409 for an order that had been placed). It waits at
   most `DB_LOCK_TIMEOUT` (1 s; an order takes milliseconds), then answers 409
   `IDEMPOTENCY_IN_PROGRESS` with `Retry-After`.
2. Under the lock, the first definitive answer for the key, if any, is the answer: its
   committed result (the caller looks it up), or the refusal kept for it (`claimed` raises it
   again); `same_request` checks it was the same body, else 409 `IDEMPOTENCY_CONFLICT`.
3. Otherwise the work runs, and commits its result with the key in one transaction; a
   definitive refusal (any 4xx the registry does not call retryable) is kept for the key before
   the lock is let go (`idempotency_refusals`, migration 0161). So a key is never answered both
   "done" and "refused", whatever order its requests arrive in.

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
from typing import Literal
from uuid import UUID

import asyncpg
import msgspec

from quote_service.db.pool import Connection
from quote_service.errors import REGISTRY, Conflict, FieldError, IdempotencyInProgress, ServiceError

Scope = Literal["order", "refund", "code_batch", "order_edit", "order_payment"]

# hashtextextended: a 64-bit hash of the name, the advisory lock's key space. Two names that
# collide only make two unrelated requests wait for each other; they share no result.
_LOCK = "SELECT pg_advisory_lock(hashtextextended($1, 0))"
_UNLOCK = "SELECT pg_advisory_unlock(hashtextextended($1, 0))"


def lock_name(scope: str, principal_id: UUID, key: str) -> str:
    return f"idempotency:{scope}:{principal_id}:{key}"


_REFUSAL = (
    "SELECT request_hash, status, code, message, details FROM idempotency_refusals"
    " WHERE principal_id = $1 AND scope = $2 AND idempotency_key = $3"
)
_KEEP = (
    "INSERT INTO idempotency_refusals (principal_id, scope, idempotency_key, request_hash, status, code, message,"
    " details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING"
)


@contextlib.asynccontextmanager
async def claimed(
    conn: Connection, *, scope: Scope, principal_id: UUID, key: str, fingerprint: bytes
) -> AsyncIterator[None]:
    """Hold `key` (of `principal_id`, for `scope`) while the block runs; answer the refusal kept
    for it, if any; keep the block's own definitive refusal for it."""
    name = lock_name(scope, principal_id, key)
    try:
        await conn.execute(_LOCK, name)
    except asyncpg.LockNotAvailableError as exc:  # lock_timeout: the first request is still running
        raise in_progress() from exc
    try:
        kept = await conn.fetchrow(_REFUSAL, principal_id, scope, key)
        if kept is not None:
            same_request(bytes(kept["request_hash"]), fingerprint)
            raise _refusal(kept)
        try:
            yield
        except ServiceError as refused:
            if definitive(refused):
                await _keep(conn, scope, principal_id, key, fingerprint, refused)
            raise
    finally:
        # A broken connection has lost the lock already (and the pool will not reuse it).
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            await conn.execute(_UNLOCK, name)


def definitive(error: ServiceError) -> bool:
    """A 4xx answer that retrying the same request cannot change (the registry's retry advice)."""
    row = REGISTRY.get(error.code)
    return 400 <= error.status_code < 500 and row is not None and row.retry != "yes"


async def _keep(
    conn: Connection, scope: Scope, principal_id: UUID, key: str, fingerprint: bytes, refused: ServiceError
) -> None:
    await conn.execute(
        _KEEP, principal_id, scope, key, fingerprint, refused.status_code, refused.code, refused.message,
        refused.details,
    )  # fmt: skip


def _refusal(kept: asyncpg.Record) -> ServiceError:
    """The kept refusal, raised as its code's class: the same status, code, message and details."""
    row = REGISTRY.get(kept["code"])
    cls = row.raised_as if row is not None and row.raised_as is not None else ServiceError
    error = cls(kept["message"], code=kept["code"], details=msgspec.convert(kept["details"], list[FieldError]))
    error.status_code = kept["status"]
    return error


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
