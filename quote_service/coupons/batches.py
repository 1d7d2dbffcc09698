"""Coupon code batches (docs/promotions.md#code-batches): single-use codes generated for a coupon.

A batch of up to 100,000 codes is generated and written in one transaction: random codes from a
31-character alphabet without look-alikes (no 0/O, 1/I/L), `prefix` + `length` characters, written
with one `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING` per round; codes that collide
with an existing generated code or a coupon's own code are drawn again (rare: with 10 characters
there are 31^10 ≈ 8·10^14 codes).

A batch takes no lock on its coupon's row while it writes (an order applying the coupon locks that
row FOR UPDATE, and 100,000 codes take seconds): the coupon is read without a lock, each code
refers to its batch alone, and the batch's reference to its coupon is checked as the transaction
commits (migrations/0693).

A request with an Idempotency-Key is made once (db/idempotency.py, as orders are): a retry with
the same key and body answers the batch the first made, one still generating makes the retry wait
(then 409 IDEMPOTENCY_IN_PROGRESS past DB_LOCK_TIMEOUT), another body is 409 IDEMPOTENCY_CONFLICT.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Annotated, NamedTuple
from uuid import UUID

import asyncpg
import msgspec

from quote_service.db import idempotency
from quote_service.db.pool import Connection
from quote_service.errors import Conflict, FieldError, NotFound, ValidationFailed
from quote_service.structs import Frozen, Strict

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
"""31 upper-case letters and digits, none two people mistake for each other (no 0/O, 1/I/L)."""
MAX_COUNT = 100_000
_CHUNK = 10_000
"""Codes written a statement: 100,000 in one would pass the 5 s statement timeout on a loaded box."""
_ROUNDS = 40
_BATCH_COLUMNS = "id AS batch_id, coupon_code, count, prefix, length, created_at"
_ENCODER = msgspec.json.Encoder()


class BatchInput(Strict):
    count: Annotated[int, msgspec.Meta(ge=1, le=MAX_COUNT)]
    prefix: Annotated[str, msgspec.Meta(max_length=16)] = ""
    """Upper-case letters, digits, `_` and `-` (any case in, upper-case stored)."""
    length: Annotated[int, msgspec.Meta(ge=6, le=16)] = 10
    """Random characters after the prefix."""


class Batch(Frozen):
    batch_id: UUID
    coupon_code: str
    count: int
    prefix: str
    length: int
    created_at: datetime


class BatchMade(Frozen):
    batch_id: UUID
    count: int


class Keyed(NamedTuple):
    """Who asked, under which Idempotency-Key, for which request (its fingerprint), and the key's claim."""

    principal_id: UUID
    key: str
    fingerprint: bytes
    claim: idempotency.Claim


async def generate(
    conn: Connection,
    *,
    coupon_code: str,
    data: BatchInput,
    actor: str,
    principal_id: UUID,
    idempotency_key: str | None = None,
    reply: idempotency.Reply | None = None,
) -> tuple[Batch, bool]:
    """A batch of `data.count` new codes for the coupon (already normalised); True with the batch
    an earlier request with the same Idempotency-Key made. `reply` writes the answer kept for the key
    with the batch, from the batch made (`made`)."""
    prefix = _checked_prefix(data)
    if idempotency_key is None:
        return await _write_batch(conn, coupon_code, data, prefix, actor, keyed=None), False
    fingerprint = hashlib.sha256(_ENCODER.encode([coupon_code, data.count, prefix, data.length])).digest()
    async with idempotency.claimed(
        conn, scope="code_batch", principal_id=principal_id, key=idempotency_key, fingerprint=fingerprint, reply=reply
    ) as claim:
        keyed = Keyed(principal_id, idempotency_key, fingerprint, claim)
        earlier = await conn.fetchrow(
            f"""SELECT {_BATCH_COLUMNS}, request_hash FROM coupon_code_batches
                WHERE principal_id = $1 AND idempotency_key = $2""",
            principal_id,
            idempotency_key,
        )
        if earlier is not None:
            idempotency.same_request(bytes(earlier["request_hash"]), fingerprint)
            return _batch_from_row(earlier), True
        return await _write_batch(conn, coupon_code, data, prefix, actor, keyed=keyed), False


def _checked_prefix(data: BatchInput) -> str:
    """The prefix as stored; a 422 on a bad prefix or a length too short for the count."""
    prefix = data.prefix.upper()
    if prefix and not all(c.isascii() and (c.isalnum() or c in "_-") for c in prefix):
        raise ValidationFailed(
            "Invalid batch: prefix may hold only letters, digits, _ and -",
            details=[FieldError("prefix", "may hold only letters A-Z, digits, _ and -")],
        )
    if len(ALPHABET) ** data.length < data.count * 1_000_000:
        raise ValidationFailed(
            "Invalid batch: too few possible codes of this length for this count",
            details=[FieldError("length", f"too short for {data.count} codes: make it longer")],
        )
    return prefix


async def _write_batch(
    conn: Connection, coupon_code: str, data: BatchInput, prefix: str, actor: str, *, keyed: Keyed | None
) -> Batch:
    """The batch and its codes, in one transaction that never locks the coupon's row."""
    try:
        async with conn.transaction():
            # No FOR SHARE: orders of the coupon lock its row while this writes for seconds. A coupon
            # deleted meanwhile fails the batch's deferred foreign key at commit (below).
            if await conn.fetchval("SELECT 1 FROM coupons WHERE code = $1", coupon_code) is None:
                raise NotFound(f"coupon {coupon_code!r} not found")
            row = await conn.fetchrow(
                f"""INSERT INTO coupon_code_batches
                        (coupon_code, count, prefix, length, created_by, principal_id, idempotency_key, request_hash)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {_BATCH_COLUMNS}""",
                coupon_code,
                data.count,
                prefix,
                data.length,
                actor,
                *((None, None, None) if keyed is None else (keyed.principal_id, keyed.key, keyed.fingerprint)),
            )
            assert row is not None
            missing = data.count
            for _ in range(_ROUNDS):
                written = await _write_some(
                    conn, prefix, data.length, min(missing, _CHUNK), coupon_code, row["batch_id"]
                )
                missing -= written
                if missing == 0:
                    break
            else:  # pragma: no cover - rounds of collisions: the code space is nearly full
                raise Conflict("could not draw enough unique codes: use a longer length", code="DUPLICATE_KEY")
            if keyed is not None:
                await keyed.claim.keep(made(_batch_from_row(row)))
    except asyncpg.ForeignKeyViolationError as exc:  # the coupon was deleted while the codes were written
        raise NotFound(f"coupon {coupon_code!r} not found") from exc
    return _batch_from_row(row)


def made(batch: Batch) -> BatchMade:
    """What a code batch request answers."""
    return BatchMade(batch_id=batch.batch_id, count=batch.count)


def _batch_from_row(row: asyncpg.Record) -> Batch:
    return msgspec.convert({name: row[name] for name in Batch.__struct_fields__}, Batch)


def _draw(prefix: str, length: int, count: int) -> list[str]:
    """`count` distinct random codes."""
    alphabet = ALPHABET
    size = len(alphabet)
    drawn: set[str] = set()
    while len(drawn) < count:
        raw = secrets.token_bytes((count - len(drawn)) * length * 2)
        # Bytes below the largest multiple of the alphabet's size: every character equally likely.
        usable = [b % size for b in raw if b < 256 - 256 % size]
        for start in range(0, len(usable) - length + 1, length):
            drawn.add(prefix + "".join(alphabet[i] for i in usable[start : start + length]))
            if len(drawn) == count:
                break
    return list(drawn)


async def _write_some(conn: Connection, prefix: str, length: int, count: int, coupon_code: str, batch_id: UUID) -> int:
    """Draw `count` codes and write those no code or coupon has yet (one statement, well within the
    statement timeout); how many were written."""
    written: int = await conn.fetchval(
        """WITH added AS (
                       INSERT INTO coupon_codes (code, coupon_code, batch_id)
                       SELECT u.code, $2, $3 FROM unnest($1::text[]) AS u (code)
                       WHERE NOT EXISTS (SELECT 1 FROM coupons c WHERE c.code = u.code)
                       ON CONFLICT DO NOTHING RETURNING 1)
                   SELECT count(*) FROM added""",
        _draw(prefix, length, count),
        coupon_code,
        batch_id,
    )
    return written
