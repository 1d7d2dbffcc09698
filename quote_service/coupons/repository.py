"""SQL for coupons (keyed by their upper-case code)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec

from quote_service.db.pool import Connection
from quote_service.db.rows import row_as
from quote_service.db.writes import deactivate_sql, insert_row, picked, update_row
from quote_service.errors import DuplicateKey, FieldError
from quote_service.pricing.coupons import Coupon

COUPON_COLUMNS = (
    "code, type, value, currency, min_subtotal, max_discount, category_ids, valid_from, valid_to, "
    "usage_limit, per_customer_limit, is_active, times_used, funded_by, created_by, updated_by, created_at, "
    "updated_at, product_ids, seller_id, on_reduced_lines"
)
_WRITABLE = (
    "type",
    "value",
    "currency",
    "min_subtotal",
    "max_discount",
    "category_ids",
    "product_ids",
    "valid_from",
    "valid_to",
    "usage_limit",
    "per_customer_limit",
    "is_active",
    "funded_by",
    "on_reduced_lines",
)


def model_from_row(row: asyncpg.Record) -> Coupon:
    """The coupon as the quote engine reads it."""
    return row_as(
        Coupon,
        row,
        category_ids=frozenset(row["category_ids"]),
        product_ids=frozenset(row["product_ids"]),
    )


async def insert_coupon(
    conn: Connection, *, code: str, fields: dict[str, Any], actor: str, seller_id: str | None = None
) -> asyncpg.Record:
    """`seller_id`: the seller whose own coupon it is (docs/sellers.md); None: the platform's."""
    if await conn.fetchval("SELECT 1 FROM coupon_codes WHERE code = $1", code):  # unique across coupons' codes
        raise code_taken(code)
    values = {"code": code, **picked(fields, _WRITABLE), "seller_id": seller_id}
    try:
        return await insert_row(conn, "coupons", values, COUPON_COLUMNS, actor=actor)
    except asyncpg.UniqueViolationError as exc:
        raise code_taken(code) from exc


def code_taken(code: str) -> DuplicateKey:
    """One answer whoever holds `code` (the caller, another seller, the platform, a generated code
    of a batch): a seller learns that the code is taken, which a shopper's quote tells anyone,
    never by whom nor what it is (docs/sellers.md#a-sellers-coupons)."""
    return DuplicateKey(
        f"coupon code {code!r} is taken: choose another", details=[FieldError("code", "is taken: choose another")]
    )


async def get_coupon(conn: Connection, *, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {COUPON_COLUMNS} FROM coupons WHERE code = $1", code)


async def update_coupon(conn: Connection, *, code: str, fields: dict[str, Any], actor: str) -> asyncpg.Record | None:
    """Replace every writable field; None when no coupon has this code."""
    return await update_row(conn, "coupons", "code", code, picked(fields, _WRITABLE), COUPON_COLUMNS, actor=actor)


async def deactivate_coupon(conn: Connection, *, code: str, actor: str) -> asyncpg.Record | None:
    return await conn.fetchrow(deactivate_sql("coupons", "code", COUPON_COLUMNS), code, actor)


async def list_coupons(
    conn: Connection, *, is_active: bool | None, after: str | None, limit: int, seller_id: str | None = None
) -> list[asyncpg.Record]:
    """Coupons ordered by code, after the code `after`; `seller_id`: that seller's own only."""
    return await conn.fetch(
        f"""SELECT {COUPON_COLUMNS} FROM coupons
            WHERE ($1::boolean IS NULL OR is_active = $1)
              AND ($2::text IS NULL OR code > $2)
              AND ($4::text IS NULL OR seller_id = $4)
            ORDER BY code
            LIMIT $3""",
        is_active,
        after,
        limit + 1,
        seller_id,
    )


async def load_active(conn: Connection) -> list[Coupon]:
    """Coupons a quote may name: all but those expired over 90 days ago.

    Inactive and recently expired coupons are kept so a quote can say INACTIVE or EXPIRED
    rather than NOT_FOUND; long-dead codes are left out to bound the snapshot's size.
    """
    rows = await conn.fetch(
        f"""SELECT {COUPON_COLUMNS} FROM coupons
            WHERE valid_to IS NULL OR valid_to > now() - interval '90 days'
            ORDER BY code"""
    )
    return [model_from_row(row) for row in rows]


class Uses(msgspec.Struct, frozen=True):
    """A customer's live uses of a coupon, and how many times they changed (one per order and
    one per cancel of it: redemptions are released, never deleted, so it only grows)."""

    count: int = 0
    version: int = 0


async def customer_uses(conn: Connection, *, customer_id: str, codes: Sequence[str]) -> dict[str, Uses]:
    """The customer's uses of each code it ever redeemed (a cancel's released redemption no longer
    counts); read under the coupons' locks, the committed latest."""
    rows = await conn.fetch(
        """SELECT coupon_code, count(*) FILTER (WHERE released_at IS NULL) AS uses,
                  count(*) + count(released_at) AS version
             FROM coupon_redemptions
            WHERE customer_id = $1 AND coupon_code = any($2::text[])
            GROUP BY coupon_code""",
        customer_id,
        codes,
    )
    return {row["coupon_code"]: Uses(count=row["uses"], version=row["version"]) for row in rows}
