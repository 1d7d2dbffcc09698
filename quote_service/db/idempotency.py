"""Idempotency-Keys: one request per key at a time, and its first answer kept for every retry.

Every keyed write (an order, a refund, a cancel, an edit's commit, a payment, a coupon code batch) runs the
same path:

1. `claimed(conn, ...)`: a PostgreSQL advisory lock named after (what, caller, key), taken on
   the connection that does the work, before anything looks at the key. A second request with
   the same key — a client retrying after a dropped connection while the first is still running
   — waits here for the first to finish instead of running the business checks against its own
   twin's half-done work (which answered 409 for an order that had been placed). It waits at
   most `DB_LOCK_TIMEOUT` (1 s; an order takes milliseconds), then answers 409
   `IDEMPOTENCY_IN_PROGRESS` with `Retry-After`.
2. Under the lock, the answer kept for the key, if any, is the answer: `claimed` raises `Replayed`
   with it (its status, content type and body bytes as they were first sent; the HTTP edge sends
   them again with `Idempotent-Replayed: true`, web/replay.py), after `same_request` checked it was
   the same body, else 409 `IDEMPOTENCY_CONFLICT`.
3. Otherwise the work runs. Inside its transaction, on the same connection, it calls
   `Claim.keep(result)`: the request's `Reply` writes the answer the route sends (the envelope,
   money as the request asked) and it is stored with the write (`idempotency_answers`, migration
   0850), so a crash after the commit loses neither. A definitive refusal (any 4xx the registry does
   not call retryable) is written and kept before the lock is let go. So a key is never answered
   both "done" and "refused", whatever order its requests arrive in, and every answer is the first.

A request without a `Reply` (a command-line tool) keeps no answer; a key whose work is on record
without a kept answer (made before answers were kept, or kept past IDEMPOTENCY_RETENTION_DAYS) is
answered by its caller from that record as it is now, and a refusal kept by an earlier version
(`idempotency_refusals`, migration 0161) is raised again as it was.

The lock is a session-level one: released when the work is done, and by PostgreSQL itself when
the connection dies with the process that held it (SIGKILL, a crash), so a retry never waits on
a dead request. The pool's reset also releases it before a connection is reused. There is no
"in progress" marker to repair: the record of truth for a key is the committed row.

Flash-sale purchases keep their key in Redis, atomic with the stock they take (the storm path
must not touch PostgreSQL for the buyers it refuses); their first answer is kept here, in the
ledger row's transaction (`keep_answer`), and a retry is answered from it (flash_sales/purchases.py).

To make another keyed write answer this way: the route builds a `first_answer` (web/replay.py) and
passes it down as `reply`; the service takes `claimed(..., reply=reply)` and calls `claim.keep(result)`
in the write's transaction; the route returns `reply.response()` (docs/errors.md#idempotency-keys).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, Literal, NamedTuple, Protocol
from uuid import UUID

import asyncpg
import msgspec

from quote_service.db.pool import Connection
from quote_service.errors import REGISTRY, Conflict, FieldError, IdempotencyInProgress, ServiceError

Scope = Literal[
    "order", "refund", "code_batch", "order_edit", "order_payment", "flash_purchase", "payout_run", "checkout_session"
]
"""What a key is for: a caller's keys of two scopes never meet (an order's key and a refund's may be equal).
A refund and a cancel share `refund` (their fingerprints name which)."""

JSON = "application/json"

# hashtextextended: a 64-bit hash of the name, the advisory lock's key space. Two names that
# collide only make two unrelated requests wait for each other; they share no result.
_LOCK = "SELECT pg_advisory_lock(hashtextextended($1, 0))"
_UNLOCK = "SELECT pg_advisory_unlock(hashtextextended($1, 0))"


def lock_name(scope: str, principal_id: UUID, key: str) -> str:
    return f"idempotency:{scope}:{principal_id}:{key}"


class Answer(NamedTuple):
    """A keyed request's answer as it was sent: what every retry with its key gets back, byte for byte."""

    status: int
    body: bytes
    content_type: str = JSON


class Reply(Protocol):
    """How one keyed request's answers are written: the HTTP edge's (web/replay.py `first_answer`)."""

    def success(self, result: Any) -> Answer:
        """The answer the route sends for `result` (and remembers it, to send it)."""
        ...

    def refusal(self, error: ServiceError) -> Answer:
        """The answer the route sends for a refusal."""
        ...


class Replayed(Exception):
    """The key was answered before: that answer, sent again as it was with `Idempotent-Replayed: true`
    (web/replay.py). `refusal`: a refusal kept by an earlier version, as its fields, raised again."""

    def __init__(self, answer: Answer | None = None, *, refusal: ServiceError | None = None) -> None:
        super().__init__("replayed")
        self.answer = answer
        self.refusal = refusal


_KEPT = """
SELECT request_hash, status, content_type, body, NULL AS code, NULL AS message, NULL::jsonb AS details
  FROM idempotency_answers WHERE principal_id = $1 AND scope = $2 AND idempotency_key = $3
UNION ALL
SELECT request_hash, status, NULL, NULL, code, message, details
  FROM idempotency_refusals WHERE principal_id = $1 AND scope = $2 AND idempotency_key = $3
LIMIT 1
"""
_KEEP = (
    "INSERT INTO idempotency_answers (principal_id, scope, idempotency_key, request_hash, status, content_type, body)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING"
)


class Claim:
    """A key held for one request (`claimed`): `keep` stores its first answer with the write it answers."""

    def __init__(
        self, conn: Connection, scope: Scope, principal_id: UUID, key: str, fingerprint: bytes, reply: Reply | None
    ) -> None:
        self._conn = conn
        self._where = (scope, principal_id, key, fingerprint)
        self._reply = reply

    async def keep(self, result: Any) -> None:
        """Inside the write's transaction, on the claiming connection: the answer the request's reply writes
        for `result`, stored with the write (nothing without a reply)."""
        if self._reply is not None:
            scope, principal_id, key, fingerprint = self._where
            await keep_answer(self._conn, scope, principal_id, key, fingerprint, self._reply.success(result))


@contextlib.asynccontextmanager
async def claimed(
    conn: Connection, *, scope: Scope, principal_id: UUID, key: str, fingerprint: bytes, reply: Reply | None = None
) -> AsyncIterator[Claim]:
    """Hold `key` (of `principal_id`, for `scope`) while the block runs; raise `Replayed` with the answer
    kept for it, if any; keep the block's success (`Claim.keep`) or definitive refusal as its answer."""
    name = lock_name(scope, principal_id, key)
    try:
        await conn.execute(_LOCK, name)
    except asyncpg.LockNotAvailableError as exc:  # lock_timeout: the first request is still running
        raise in_progress() from exc
    try:
        await replay_kept(conn, scope, principal_id, key, fingerprint)
        try:
            yield Claim(conn, scope, principal_id, key, fingerprint, reply)
        except ServiceError as refused:
            # Another body under the key says nothing of the key's own answer: not kept (the first body's
            # retry still gets its answer).
            if reply is not None and definitive(refused) and refused.code != "IDEMPOTENCY_CONFLICT":
                await keep_answer(conn, scope, principal_id, key, fingerprint, reply.refusal(refused))
            raise
    finally:
        # A broken connection has lost the lock already (and the pool will not reuse it).
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            await conn.execute(_UNLOCK, name)


async def replay_kept(conn: Connection, scope: Scope, principal_id: UUID, key: str, fingerprint: bytes) -> None:
    """Raise `Replayed` with the answer kept for the key (409 IDEMPOTENCY_CONFLICT for another request)."""
    again = await kept_answer(conn, scope, principal_id, key, fingerprint)
    if again is not None:
        raise again


async def kept_answer(
    conn: Connection, scope: Scope, principal_id: UUID, key: str, fingerprint: bytes
) -> Replayed | None:
    """The answer kept for the key, as the `Replayed` to raise; None when none is (409 IDEMPOTENCY_CONFLICT for
    another request)."""
    kept = await conn.fetchrow(_KEPT, principal_id, scope, key)
    if kept is None:
        return None
    same_request(bytes(kept["request_hash"]), fingerprint)
    if kept["body"] is None:
        return Replayed(refusal=_refusal(kept))
    return Replayed(Answer(kept["status"], bytes(kept["body"]), kept["content_type"]))


async def keep_answer(
    conn: Connection, scope: Scope, principal_id: UUID, key: str, fingerprint: bytes, answer: Answer
) -> None:
    """Store `answer` as the key's: in the transaction of the write it answers, or under the key's lock."""
    await conn.execute(_KEEP, principal_id, scope, key, fingerprint, answer.status, answer.content_type, answer.body)


def definitive(error: ServiceError) -> bool:
    """A 4xx answer that retrying the same request cannot change (the registry's retry advice)."""
    row = REGISTRY.get(error.code)
    return 400 <= error.status_code < 500 and row is not None and row.retry != "yes"


def _refusal(kept: asyncpg.Record) -> ServiceError:
    """A refusal an earlier version kept as its fields, raised as its code's class: the same status, code,
    message and details."""
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
