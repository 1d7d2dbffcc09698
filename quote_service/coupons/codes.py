"""Generated coupon codes (docs/promotions.md#code-batches): looked up, redeemed, given back, listed.

The batches that make them are written by `batches.py`. A quote prices a generated code as its
coupon, usable once (`coupon_for_codes`); an order redeems it by setting `used_at` where it is
still NULL (`redeem`: the row lock makes the first order win, every other gets 409
COUPON_EXHAUSTED); a cancel gives it back (`release`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import asyncpg
import msgspec
import structlog

from quote_service.db.pool import Connection, Pool
from quote_service.db.rows import row_as
from quote_service.errors import Conflict, FieldError
from quote_service.pricing.coupons import Coupon, normalize_code
from quote_service.structs import Frozen

log = structlog.get_logger("quote_service.coupons.codes")


class BatchUse(Frozen):
    """A batch with how many of its codes orders used (the books page's code batches)."""

    batch_id: UUID
    coupon_code: str
    count: int
    used: int
    prefix: str
    created_at: datetime


class GeneratedCode(Frozen):
    code: str
    batch_id: UUID
    used_at: datetime | None
    order_id: UUID | None


async def list_codes(
    conn: Connection, *, coupon_code: str, batch_id: UUID | None, after: str | None, limit: int | None
) -> list[asyncpg.Record]:
    """The coupon's generated codes (of one batch, when given) by code, after `after`."""
    return await conn.fetch(
        """SELECT code, batch_id, used_at, order_id FROM coupon_codes
           WHERE coupon_code = $1 AND ($2::uuid IS NULL OR batch_id = $2)
             AND ($3::text IS NULL OR code > $3)
           ORDER BY code LIMIT $4""",
        coupon_code,
        batch_id,
        after,
        limit,
    )


async def exists(conn: Connection, *, code: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM coupon_codes WHERE code = $1", code))


async def coupon_for_codes(conn: Connection, codes: Sequence[str]) -> dict[str, tuple[str, bool]]:
    """Generated codes among `codes` (upper-case): code → (its coupon's code, used)."""
    rows = await conn.fetch(
        "SELECT code, coupon_code, used_at IS NOT NULL AS used FROM coupon_codes WHERE code = any($1::text[])",
        [normalize_code(code) for code in codes],
    )
    return {row["code"]: (row["coupon_code"], row["used"]) for row in rows}


class GeneratedCodes:
    """The quote path's look-up of generated codes (PostgreSQL, the one truth about their use)."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def lookup(self, codes: Sequence[str]) -> dict[str, tuple[str, bool]]:
        """None found when PostgreSQL cannot answer: the quote prices them as unknown codes (its
        order could not be placed meanwhile anyway), rather than failing the whole quote."""
        try:
            async with self._pool.acquire() as conn:
                return await coupon_for_codes(conn, codes)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("generated_codes_unread", error=type(exc).__name__)
            return {}


def as_coupon(parent: Coupon, code: str, *, used: bool) -> Coupon:
    """A generated code as the engine prices it: its coupon's terms, usable once."""
    return msgspec.structs.replace(parent, code=code, usage_limit=1, times_used=int(used), per_customer_limit=None)


async def redeem(conn: Connection, *, order_id: UUID, used: Sequence[tuple[str, str, Decimal, int]]) -> None:
    """Take each generated code (code, its coupon's type, the amount, its place among the order's
    coupons) for the order; 409 COUPON_EXHAUSTED naming (`applied_coupons[i]`) those another
    order took first."""
    taken = {
        row["code"]
        for row in await conn.fetch(
            """UPDATE coupon_codes g SET used_at = clock_timestamp(), order_id = $1, type = u.type,
                   amount = u.amount, position = u.position
               FROM unnest($2::text[], $3::text[], $4::numeric[], $5::integer[]) AS u (code, type, amount, position)
               WHERE g.code = u.code AND g.used_at IS NULL RETURNING g.code""",
            order_id,
            [u[0] for u in used],
            [u[1] for u in used],
            [u[2] for u in used],
            [u[3] for u in used],
        )
    }
    gone = [
        FieldError(f"applied_coupons[{position}]", f"code {code} was already used")
        for code, _, _, position in used
        if code not in taken
    ]
    if gone:
        raise Conflict(
            "coupon code already used: " + "; ".join(e.message for e in gone), code="COUPON_EXHAUSTED", details=gone
        )


async def release(conn: Connection, *, order_id: UUID) -> int:
    """Give back the generated codes an order redeemed (its cancel); how many."""
    result = await conn.execute(
        """UPDATE coupon_codes SET used_at = NULL, order_id = NULL, type = NULL, amount = NULL, position = NULL
           WHERE order_id = $1""",
        order_id,
    )
    return int(result.split()[-1])


def code_from_row(row: asyncpg.Record) -> GeneratedCode:
    return GeneratedCode(code=row["code"], batch_id=row["batch_id"], used_at=row["used_at"], order_id=row["order_id"])


def as_csv(rows: Sequence[asyncpg.Record]) -> bytes:
    """`code,used_at,order_id` and a line per code (empty cells for an unused one; UTC `...Z` times)."""
    lines = ["code,used_at,order_id"]
    for row in rows:
        used = row["used_at"]
        when = used.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if used is not None else ""
        lines.append(f"{row['code']},{when},{row['order_id'] or ''}")
    return ("\r\n".join(lines) + "\r\n").encode()


async def list_batches(conn: Connection, *, limit: int) -> list[BatchUse]:
    """The newest batches of every coupon, each with its codes used."""
    rows = await conn.fetch(
        """SELECT b.id, b.coupon_code, b.count, b.prefix, b.created_at,
                  (SELECT count(*) FROM coupon_codes g WHERE g.batch_id = b.id AND g.used_at IS NOT NULL) AS used
           FROM coupon_code_batches b ORDER BY b.created_at DESC, b.id LIMIT $1""",
        limit,
    )
    return [row_as(BatchUse, row, batch_id=row["id"]) for row in rows]
