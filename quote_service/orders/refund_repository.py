"""SQL for refunds and cancels: the order's row lock, its lines as refunded so far, the refund rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from quote_service.db.pool import Connection
from quote_service.db.writes import insert_row, picked
from quote_service.orders.commission_record import FEE_PART
from quote_service.orders.refund_math import LineTake
from quote_service.orders.repository import ORDER_COLUMNS

IDEMPOTENCY_CONSTRAINT = "refunds_idempotency_key"
REFUND_COLUMNS = (
    "id, order_id, kind, reason, currency, amount, discount, tax, seller_commission, category_commission, "
    "delivery_fee, small_basket_fee, logistics_commission, total_refunded, commission_reversed, "
    "request_hash, created_at, tax_included, balance_reduced"
)
_INSERTED = (
    "order_id",
    "kind",
    "reason",
    "currency",
    "amount",
    "discount",
    "tax",
    "tax_included",
    "seller_commission",
    "category_commission",
    "delivery_fee",
    "small_basket_fee",
    "logistics_commission",
    "total_refunded",
    "balance_reduced",
    "commission_reversed",
    "principal_id",
    "idempotency_key",
    "request_hash",
    "created_by",
)


async def lock_order(conn: Connection, *, order_id: UUID) -> asyncpg.Record | None:
    """The order's row, locked: refunds of one order queue here, one after another."""
    return await conn.fetchrow(f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1 FOR UPDATE", order_id)


async def get_refund_by_key(conn: Connection, *, principal_id: UUID, idempotency_key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {REFUND_COLUMNS} FROM refunds WHERE principal_id = $1 AND idempotency_key = $2",
        principal_id,
        idempotency_key,
    )


async def lines_with_refunds(conn: Connection, *, order_id: UUID) -> list[asyncpg.Record]:
    """The order's live lines (an edit retires the lines it replaces: docs/orders-and-refunds.md#edits-and-exchanges)
    with what earlier refunds took of each (read under the order's lock), and their prices (what an edit keeps)."""
    return await conn.fetch(
        """SELECT l.position, l.product_id, l.seller_id, l.quantity, l.line_subtotal, l.discount, l.tax,
                  l.price_source, l.refunded_quantity, l.prices_include_tax, l.list_unit_price, l.unit_price,
                  l.category_id, l.flash_sale_id, l.price_list_id,
                  COALESCE(l.commission_seller, 0) AS commission_seller,
                  COALESCE(l.commission_category, 0) AS commission_category,
                  COALESCE(sum(r.amount), 0) AS r_amount, COALESCE(sum(r.discount), 0) AS r_discount,
                  COALESCE(sum(r.tax), 0) AS r_tax, COALESCE(sum(r.seller_commission), 0) AS r_seller,
                  COALESCE(sum(r.category_commission), 0) AS r_category,
                  COALESCE(l.platform_contribution, 0) AS platform_contribution,
                  COALESCE(l.commission_tax, 0) AS commission_tax,
                  COALESCE(sum(r.platform_contribution), 0) AS r_platform,
                  COALESCE(sum(r.commission_tax), 0) AS r_commission_tax,
                  l.taxes, l.commission_fees, l.installment_commission, l.offer_id,
                  jsonb_agg(r.tax_components) FILTER (WHERE r.tax_components IS NOT NULL) AS r_tax_components,
                  jsonb_agg(r.commission_fees) FILTER (WHERE r.commission_fees IS NOT NULL) AS r_commission_fees,
                  sum(r.installment_commission) AS r_installment_commission, sum(r.tax_exempted) AS r_tax_exempted
           FROM order_lines l
           LEFT JOIN refund_lines r ON r.order_id = l.order_id AND r.position = l.position
           WHERE l.order_id = $1 AND l.retired_by IS NULL
           GROUP BY l.order_id, l.position ORDER BY l.position""",
        order_id,
    )


async def insert_refund(conn: Connection, *, fields: dict[str, Any], takes: Sequence[LineTake]) -> asyncpg.Record:
    """The refund row and its lines; raises UniqueViolationError on a reused Idempotency-Key."""
    row = await insert_row(conn, "refunds", picked(fields, _INSERTED), REFUND_COLUMNS)
    await conn.executemany(
        """INSERT INTO refund_lines (refund_id, order_id, position, product_id, quantity, amount, discount, tax,
               seller_commission, category_commission, prices_include_tax, platform_contribution, commission_tax,
               tax_components, tax_exempted, installment_commission, commission_fees)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)""",
        [
            (
                row["id"],
                fields["order_id"],
                t.position,
                t.product_id,
                t.quantity,
                t.parts["amount"],
                t.parts["discount"],
                t.parts["tax"],
                t.parts["seller"],
                t.parts["category"],
                t.prices_include_tax,
                t.parts["platform"],
                t.parts["commission_tax"],
                _named(t.parts, "tax:"),
                t.parts.get("exempted"),
                t.parts.get("installment_commission"),
                _named(t.parts, FEE_PART),
            )
            for t in takes
        ],
    )
    await conn.execute(
        """UPDATE order_lines l SET refunded_quantity = l.refunded_quantity + t.quantity
           FROM unnest($2::integer[], $3::integer[]) AS t(position, quantity)
           WHERE l.order_id = $1 AND l.position = t.position""",
        fields["order_id"],
        [t.position for t in takes],
        [t.quantity for t in takes],
    )
    return row


def _named(parts: dict[str, Decimal], prefix: str) -> dict[str, str] | None:
    """The parts named `prefix<name>` (a tax component's `tax:KDV`, a named fee's `fee:payment_fee`), by name, as
    exact decimal text (None: none)."""
    return {part.removeprefix(prefix): str(amount) for part, amount in parts.items() if part.startswith(prefix)} or None


async def charged_once(conn: Connection, *, order_id: UUID) -> list[asyncpg.Record]:
    """The order's fees charged once per shipment or order and not yet reversed (docs/commission.md), read
    under the order's lock: the live ones (an edit retires the rows it writes anew)."""
    return await conn.fetch(
        """SELECT position, dimension, amount, per, seller_id, rate_id, commission_tax, commission_type, base, rate
           FROM order_commissions
           WHERE order_id = $1 AND per IS NOT NULL AND refund_id IS NULL AND retired_by IS NULL
           ORDER BY position""",
        order_id,
    )


async def reverse_charged_once(conn: Connection, *, order_id: UUID, positions: Sequence[int], refund_id: UUID) -> None:
    """Mark these fees reversed by `refund_id` (under the order's row lock)."""
    await conn.execute(
        "UPDATE order_commissions SET refund_id = $3 WHERE order_id = $1 AND position = any($2::integer[])",
        order_id,
        list(positions),
        refund_id,
    )


async def charged_once_reversed(conn: Connection, *, refund_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    """The fees charged once per shipment or order that these refunds reversed; and, for an edit's refund
    (which has no lines), the named fees its edit reversed less those it charged, by seller and name."""
    return await conn.fetch(
        """SELECT refund_id, dimension, amount FROM (
               SELECT refund_id, dimension, amount, order_id, position, '' AS seller FROM order_commissions
               WHERE refund_id = any($1::uuid[])
               UNION ALL
               SELECT e.refund_id, f.key, -f.value::numeric, e.order_id, 0, s.seller_id
               FROM order_edits e JOIN seller_ledger s ON s.kind = 'edit' AND s.id = e.id, jsonb_each_text(s.fees) f
               WHERE e.refund_id = any($1::uuid[])
           ) AS reversed ORDER BY refund_id, order_id, position, seller, dimension""",
        list(refund_ids),
    )


async def update_order(
    conn: Connection, *, order_id: UUID, status: str, refunded: Any, fees_refunded: bool, reduced: Any = 0
) -> asyncpg.Record:
    """The order after a refund: its status, what went back to the customer (`refunded`) and what came off its
    balance due (`reduced`)."""
    row = await conn.fetchrow(
        f"""UPDATE orders SET status = $2, refunded_amount = refunded_amount + $3, fees_refunded = $4,
                balance_due = balance_due - $5
            WHERE id = $1 RETURNING {ORDER_COLUMNS}""",
        order_id,
        status,
        refunded,
        fees_refunded,
        reduced,
    )
    assert row is not None
    return row


async def release_coupons(conn: Connection, *, order_id: UUID, now: datetime) -> list[asyncpg.Record]:
    """A cancel gives the order's coupon uses back; returns each released (code, customer)."""
    released = await conn.fetch(
        """UPDATE coupon_redemptions SET released_at = $2
           WHERE order_id = $1 AND released_at IS NULL RETURNING coupon_code, customer_id""",
        order_id,
        now,
    )
    if released:
        await conn.execute(
            "UPDATE coupons SET times_used = greatest(times_used - 1, 0) WHERE code = any($1::text[])",
            [r["coupon_code"] for r in released],
        )
    return list(released)


async def lines_of(conn: Connection, *, refund_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT refund_id, position, product_id, quantity, amount, discount, tax, seller_commission,
                  category_commission, prices_include_tax, tax_components, tax_exempted, installment_commission,
                  commission_fees
           FROM refund_lines WHERE refund_id = any($1::uuid[]) ORDER BY refund_id, position""",
        list(refund_ids),
    )


async def refunds_of_order(conn: Connection, *, order_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {REFUND_COLUMNS} FROM refunds WHERE order_id = $1 ORDER BY created_at, id", order_id
    )


async def seller_refunds(conn: Connection, *, order_ids: Sequence[UUID], seller_id: str) -> list[asyncpg.Record]:
    """Each refund of these orders that gave back a line of `seller_id` or its shipment's fee, oldest
    first per order: `order_id`, `id` and `refunded`, what the customer got back of the seller's part
    (as orders/money.py counts what a refund gives back: goods after discount and their added tax, an
    exempt tax-inclusive line's amount holding no tax since migration 0696; the shipment's delivery fee).
    A seller's view of an order shows these only."""
    return await conn.fetch(
        """WITH lines AS (
               SELECT rl.refund_id,
                      sum(rl.amount - rl.discount + CASE WHEN rl.prices_include_tax THEN 0 ELSE rl.tax END)
                          AS refunded
               FROM refund_lines rl JOIN order_lines l ON l.order_id = rl.order_id AND l.position = rl.position
               WHERE rl.order_id = any($1::uuid[]) AND l.seller_id = $2
               GROUP BY rl.refund_id
           ), fees AS (
               SELECT refund_id, sum(delivery_fee) AS refunded FROM order_shipments
               WHERE order_id = any($1::uuid[]) AND seller_id = $2 AND refund_id IS NOT NULL AND NOT refund_carried
               GROUP BY refund_id
           )
           SELECT r.order_id, r.id, COALESCE(l.refunded, 0) + COALESCE(f.refunded, 0) AS refunded
           FROM refunds r LEFT JOIN lines l ON l.refund_id = r.id LEFT JOIN fees f ON f.refund_id = r.id
           WHERE r.order_id = any($1::uuid[]) AND (l.refund_id IS NOT NULL OR f.refund_id IS NOT NULL)
           ORDER BY r.order_id, r.created_at, r.id""",
        list(order_ids),
        seller_id,
    )
