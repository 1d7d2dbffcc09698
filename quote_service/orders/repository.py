"""SQL for orders, their lines, commissions and coupon redemptions, and the stock they take."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg
from msgspec import UnsetType

from quote_service.db.pool import Connection
from quote_service.pricing.quote import AppliedCoupon, CommissionDetail, QuoteLine

ORDER_COLUMNS = (
    "id, quote_id, customer_id, currency, status, subtotal, discount_amount, tax_amount, delivery_fee, "
    "small_basket_fee, total_amount, total_commission, seller_commission, category_commission, "
    "logistics_commission, principal_id, request_hash, created_by, created_at, refunded_amount, tax_included, record, "
    "tax_terms, flash_sale_id, flash_purchase_id, limited_products, revision, balance_due, terms, fees_refunded, "
    "paid_amount, agent, checkout_session_id, fx"
)
_INSERTED = (
    "quote_id",
    "customer_id",
    "currency",
    "subtotal",
    "discount_amount",
    "tax_amount",
    "tax_included",
    "delivery_fee",
    "small_basket_fee",
    "total_amount",
    "total_commission",
    "seller_commission",
    "category_commission",
    "logistics_commission",
    "principal_id",
    "idempotency_key",
    "request_hash",
    "created_by",
    "record",
    "tax_terms",
    "flash_sale_id",
    "flash_purchase_id",
    "limited_products",
    "terms",
    "agent",
    "checkout_session_id",
    "fx",
)
IDEMPOTENCY_CONSTRAINT = "orders_idempotency_key"


class Placement(NamedTuple):
    """Where an order edit writes the edited basket's rows: after the order's last line, commission detail,
    promotion and shipment (their next positions), marked with the edit's id."""

    edit_id: UUID
    line: int
    commission: int
    promotion: int
    shipment: int


QUOTE_ONCE_CONSTRAINT = "orders_quote_once"


async def insert_order(conn: Connection, *, fields: dict[str, Any]) -> asyncpg.Record:
    """Insert the order row; raises UniqueViolationError on a reused key or an ordered quote.

    It is the transaction's first write, so a concurrent order with the same key or quote
    waits here, on the unique index, before it has locked any product or coupon.
    """
    placeholders = ", ".join(f"${i}" for i in range(1, len(_INSERTED) + 1))
    row = await conn.fetchrow(
        f"INSERT INTO orders ({', '.join(_INSERTED)}) VALUES ({placeholders}) RETURNING {ORDER_COLUMNS}",
        *(fields[c] for c in _INSERTED),
    )
    assert row is not None
    return row


async def set_terms(conn: Connection, *, order_id: UUID, terms: object) -> None:
    """Replace the order's own pricing terms (orders/terms.py)."""
    await conn.execute("UPDATE orders SET terms = $2 WHERE id = $1", order_id, terms)


async def get_order(conn: Connection, *, order_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1", order_id)


async def get_order_by_key(conn: Connection, *, principal_id: UUID, idempotency_key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE principal_id = $1 AND idempotency_key = $2",
        principal_id,
        idempotency_key,
    )


async def list_orders(
    conn: Connection,
    *,
    customer_id: str | None,
    principal_id: UUID | None,
    seller_id: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Orders newest first, each filter optional: of one customer, placed by one principal, with a line
    of one seller, in one status, created in [since, until)."""
    return await conn.fetch(
        f"""SELECT {ORDER_COLUMNS} FROM orders o
            WHERE ($1::text IS NULL OR customer_id = $1)
              AND ($2::uuid IS NULL OR principal_id = $2)
              AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
              AND ($6::text IS NULL
                   OR EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id AND l.seller_id = $6))
              AND ($7::text IS NULL OR status = $7)
              AND ($8::timestamptz IS NULL OR created_at >= $8)
              AND ($9::timestamptz IS NULL OR created_at < $9)
            ORDER BY created_at DESC, id DESC
            LIMIT $5""",
        customer_id,
        principal_id,
        before[0] if before else None,
        before[1] if before else None,
        limit + 1,
        seller_id,
        status,
        since,
        until,
    )


async def lock_coupons(conn: Connection, *, codes: Sequence[str]) -> list[asyncpg.Record]:
    """Lock the coupons' rows in code order; times_used read here is the committed latest."""
    return await conn.fetch(
        """SELECT code, usage_limit, per_customer_limit, times_used FROM coupons
           WHERE code = any($1::text[]) ORDER BY code FOR UPDATE""",
        codes,
    )


async def count_coupon_use(conn: Connection, *, codes: Sequence[str]) -> None:
    await conn.execute(
        "UPDATE coupons SET times_used = times_used + 1 WHERE code = any($1::text[])",
        codes,
    )


async def insert_redemptions(
    conn: Connection, *, order_id: UUID, customer_id: str, coupons: Sequence[AppliedCoupon]
) -> None:
    """One row per applied coupon, in the order the quote applied them."""
    await conn.executemany(
        """INSERT INTO coupon_redemptions (order_id, coupon_code, position, customer_id, type, amount)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        [
            (order_id, coupon.code, position, customer_id, coupon.type, coupon.amount)
            for position, coupon in enumerate(coupons)
        ],
    )


async def insert_lines(
    conn: Connection,
    *,
    order_id: UUID,
    lines: Sequence[QuoteLine],
    commissions: Sequence[tuple[Decimal, Decimal]],
    money: Sequence[tuple[Decimal, Decimal]],
    taxes: Sequence[dict[str, Any] | None] | None = None,
    at: Placement | None = None,
    fees: Sequence[dict[str, str] | None] | None = None,
) -> None:
    """The quote's lines, in its order, each with its (category, seller) commission, its (platform
    contribution, commission tax) and its named commission fees (docs/commission.md); `at`: where an edit
    writes them (docs/orders-and-refunds.md)."""
    first, edit_id = (0, None) if at is None else (at.line, at.edit_id)
    await conn.executemany(
        """INSERT INTO order_lines (order_id, position, product_id, quantity, list_unit_price, unit_price,
               line_subtotal, discount, tax, tax_rate, price_source, flash_sale_id, category_id, seller_id,
               price_list_id, prices_include_tax, commission_category, commission_seller,
               platform_contribution, commission_tax, taxes, edit_id, commission_fees, offer_id,
               installment_commission)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                   $21, $22, $23, $24, $25)""",
        [
            (
                order_id,
                first + position,
                line.product_id,
                line.quantity,
                line.list_unit_price,
                line.unit_price,
                line.line_subtotal,
                line.discount,
                line.tax,
                line.tax_rate,
                line.price_source,
                line.flash_sale_id,
                line.category_id,
                line.seller_id,
                line.price_list_id,
                line.prices_include_tax is True,  # absent (a quote with no tax-inclusive line): net
                commissions[position][0],
                commissions[position][1],
                money[position][0],
                money[position][1],
                None if taxes is None else taxes[position],
                edit_id,
                None if fees is None else fees[position],
                line.offer_id if isinstance(line.offer_id, UUID) else None,
                None if isinstance(line.installment_commission, UnsetType) else line.installment_commission,
            )
            for position, line in enumerate(lines)
        ],
    )


_IDS = "ARRAY(SELECT jsonb_array_elements_text(CASE jsonb_typeof({0}) WHEN 'array' THEN {0} ELSE '[]' END))"


async def discount_scopes(
    conn: Connection, *, codes: Sequence[str], promotion_ids: Sequence[UUID]
) -> dict[tuple[str, str], tuple[frozenset[str], frozenset[str]]]:
    """(category ids, product ids) each coupon and promotion is limited to, keyed by ("coupon", code)
    and ("promotion", id); both empty: every line. A buy-X-get-Y promotion discounts its `get` units,
    a bundle its qualifying units."""
    scopes: dict[tuple[str, str], tuple[frozenset[str], frozenset[str]]] = {}
    if codes:
        # A generated code (docs/promotions.md#code-batches) is limited as its coupon is.
        rows = await conn.fetch(
            """SELECT x.code, c.category_ids FROM unnest($1::text[]) AS x (code)
               JOIN coupons c
                 ON c.code = coalesce((SELECT g.coupon_code FROM coupon_codes g WHERE g.code = x.code), x.code)""",
            codes,
        )
        for row in rows:
            scopes[("coupon", row["code"])] = (frozenset(row["category_ids"]), frozenset())
    if promotion_ids:
        scope = (
            "CASE WHEN kind = 'BUY_X_GET_Y' THEN config->'get' WHEN kind = 'FIXED_PRICE_BUNDLE' THEN config"
            " ELSE conditions END"
        )
        rows = await conn.fetch(
            f"""SELECT id, {_IDS.format(f"({scope})->'category_ids'")} AS category_ids,
                       {_IDS.format(f"({scope})->'product_ids'")} AS product_ids
                FROM promotions WHERE id = any($1::uuid[])""",
            promotion_ids,
        )
        for row in rows:
            scopes[("promotion", str(row["id"]))] = (frozenset(row["category_ids"]), frozenset(row["product_ids"]))
    return scopes


class DiscountRow(NamedTuple):
    """One source's share of one line's discount (table order_line_discounts)."""

    line_position: int
    source: str
    source_id: str
    name: str
    code: str | None
    funded_by: str
    amount: Decimal


async def insert_line_discounts(
    conn: Connection, *, order_id: UUID, rows: Sequence[DiscountRow], first_line: int = 0
) -> None:
    """The lines' discounts by source; `position` counts within a line, in the order given; each row's
    `line_position` counts from `first_line` (the first line an edit writes)."""
    positions: dict[int, int] = {}
    values = []
    for row in rows:
        position = positions.get(row.line_position, 0)
        positions[row.line_position] = position + 1
        values.append((order_id, first_line + row.line_position, position, *row[1:]))
    await conn.executemany(
        """INSERT INTO order_line_discounts (order_id, line_position, position, source, source_id, name, code,
               funded_by, amount)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        values,
    )


async def insert_promotions(
    conn: Connection, *, order_id: UUID, promotions: Sequence[tuple[UUID, str, str, Decimal, str]], first: int = 0
) -> None:
    """The quote's applied promotions (id, name, kind, amount, funded_by), in its order (from position `first`)."""
    await conn.executemany(
        """INSERT INTO order_promotions (order_id, position, promotion_id, name, kind, amount, funded_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        [(order_id, first + position, *promotion) for position, promotion in enumerate(promotions)],
    )


async def insert_commissions(
    conn: Connection,
    *,
    order_id: UUID,
    details: Sequence[CommissionDetail],
    lines: Sequence[int | None],
    at: Placement | None = None,
    once: Sequence[tuple[str | None, str | None, Decimal | None]] | None = None,
) -> None:
    """The quote's commission details (per line, then the per-order logistics one), in its order, each with
    the position of the line it is on (`lines`, `commission_record.details_on_lines`; None: the logistics one,
    or a fee charged once per shipment or order) and, for such a fee, (per, its seller, the tax on it) (`once`,
    `commission_record.charged_once`); `at`: where an edit writes them (marked with its id)."""
    first, first_line, edit_id = (0, 0, None) if at is None else (at.commission, at.line, at.edit_id)
    kept = once or [(None, None, None)] * len(details)
    await conn.executemany(
        """INSERT INTO order_commissions (order_id, position, product_id, rate_id, dimension, commission_type,
               base, rate, amount, line_position, per, seller_id, commission_tax, edit_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)""",
        [
            (
                order_id,
                position,
                detail.product_id,
                detail.rate_id,
                detail.dimension,
                detail.commission_type,
                detail.base,
                detail.rate,
                detail.amount,
                None if line is None else first_line + line,
                *charged,
                edit_id,
            )
            for position, (detail, line, charged) in enumerate(zip(details, lines, kept, strict=True), start=first)
        ],
    )


class OrderParts(NamedTuple):
    """The rows under a set of orders, each list ordered by (order_id, position)."""

    lines: list[asyncpg.Record]
    commissions: list[asyncpg.Record]
    coupons: list[asyncpg.Record]
    refunds: list[asyncpg.Record]
    discounts: list[asyncpg.Record]
    """Ordered by (order_id, line_position, position)."""
    promotions: list[asyncpg.Record]
    edits: list[asyncpg.Record]
    """The committed edits of the orders edited, by order and revision."""


async def parts_of(conn: Connection, *, order_ids: Sequence[UUID], edited: Sequence[UUID] = ()) -> OrderParts:
    """Live lines, commissions and promotions (an edit retires the rows it replaces), coupon redemptions,
    refund ids and line discounts of these orders (six queries, any page size), and the committed edits of
    those `edited` (a seventh, only when there are some)."""
    ids = list(order_ids)
    lines = await conn.fetch(
        """SELECT order_id, position, product_id, quantity, list_unit_price, unit_price, line_subtotal, discount,
                  tax, tax_rate, price_source, flash_sale_id, category_id, seller_id, price_list_id,
                  prices_include_tax, commission_category, commission_seller, platform_contribution,
                  commission_tax, taxes, commission_fees, offer_id, installment_commission
           FROM order_lines WHERE order_id = any($1::uuid[]) AND retired_by IS NULL ORDER BY order_id, position""",
        ids,
    )
    commissions = await conn.fetch(
        """SELECT order_id, product_id, rate_id, dimension, commission_type, base, rate, amount, line_position,
                  per, seller_id, commission_tax, refund_id
           FROM order_commissions WHERE order_id = any($1::uuid[]) AND retired_by IS NULL
           ORDER BY order_id, position""",
        ids,
    )
    coupons = await conn.fetch(
        """SELECT order_id, coupon_code, type, amount FROM (
               SELECT order_id, coupon_code, type, amount, position
               FROM coupon_redemptions WHERE order_id = any($1::uuid[])
               UNION ALL  -- generated single-use codes (docs/promotions.md#code-batches)
               SELECT order_id, code, type, amount, position FROM coupon_codes WHERE order_id = any($1::uuid[])
           ) AS used ORDER BY order_id, position""",
        ids,
    )
    refunds = await conn.fetch(
        "SELECT order_id, id FROM refunds WHERE order_id = any($1::uuid[]) ORDER BY order_id, created_at, id",
        ids,
    )
    discounts = await conn.fetch(
        """SELECT order_id, line_position, source, source_id, name, code, funded_by, amount
           FROM order_line_discounts WHERE order_id = any($1::uuid[]) ORDER BY order_id, line_position, position""",
        ids,
    )
    promotions = await conn.fetch(
        """SELECT order_id, promotion_id, name, kind, amount, funded_by
           FROM order_promotions WHERE order_id = any($1::uuid[]) AND retired_by IS NULL
           ORDER BY order_id, position""",
        ids,
    )
    edits = []
    if edited:
        edits = await conn.fetch(
            """SELECT order_id, id, committed_revision, difference_due, committed_at, refund_id FROM order_edits
               WHERE order_id = any($1::uuid[]) AND committed_at IS NOT NULL ORDER BY order_id, committed_revision""",
            list(edited),
        )
    return OrderParts(lines, commissions, coupons, refunds, discounts, promotions, edits)
