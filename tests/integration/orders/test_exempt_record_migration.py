"""Migration 0696: orders, refunds and per-seller totals kept before it express an exempt tax-inclusive line
as orders do now (docs/taxes.md#exemptions): its subtotal leaves out the tax its price held."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import asyncpg

from quote_service.db.migrate import apply_migrations
from tests.integration.orders.test_line_keyed_money import database_before

D = Decimal
MIGRATION = 696


async def test_an_exempt_lines_kept_amounts_leave_out_the_tax_it_held(
    make_database: Callable[[], Awaitable[str]], tmp_path: Path
) -> None:
    dsn = await database_before(make_database, tmp_path, MIGRATION)
    order, refund = uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(dsn)
    try:
        # 2 x 144.00 tax included, exempt: 88.00 held, 200.00 charged (+ 5.00 delivery); one unit refunded.
        await conn.execute(
            "INSERT INTO orders (id, quote_id, customer_id, currency, subtotal, discount_amount, tax_amount,"
            " delivery_fee, small_basket_fee, total_amount, total_commission, seller_commission, category_commission,"
            " logistics_commission, principal_id, idempotency_key, request_hash, created_by, record, tax_terms)"
            " VALUES ($1, $1, 'c-1', 'TRY', 288, 0, 0, 5, 0, 205, 30, 0, 30, 0, $1, $2, '\\x00', 't', 1, $3)",
            order, str(order), json.dumps({"tax_exemption": "exempt", "tax_exempted": "88.00"}),
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO order_lines (order_id, position, product_id, quantity, list_unit_price, unit_price,"
            " line_subtotal, discount, tax, tax_rate, price_source, seller_id, prices_include_tax, taxes)"
            " VALUES ($1, 0, 'phone', 2, 144, 144, 288, 0, 0, 0, 'catalog', 's1', true, $2)",
            order, json.dumps({"taxes": [], "tax_exemption": "exempt", "tax_exempted": "88.00"}),
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO order_shipments (order_id, position, seller_id, product_ids, goods, options, delivery_fee,"
            " logistics_commission, seller_goods, seller_discount, seller_tax, seller_tax_included, seller_commission,"
            " seller_commission_tax, seller_payout)"
            " VALUES ($1, 0, 's1', '{phone}', 288, '[]', 5, 0, 288, 0, 0, 0, 30, 0, 175)",
            order,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO refunds (id, order_id, kind, currency, amount, discount, tax, seller_commission,"
            " category_commission, delivery_fee, small_basket_fee, logistics_commission, total_refunded,"
            " commission_reversed, principal_id, idempotency_key, request_hash, created_by)"
            " VALUES ($1, $2, 'refund', 'TRY', 144, 0, 0, 0, 15, 0, 0, 0, 100, 15, $2, 'k', '\\x00', 't')",
            refund, order,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO refund_lines (refund_id, order_id, position, product_id, quantity, amount, discount, tax,"
            " seller_commission, category_commission, prices_include_tax, taxes)"
            " VALUES ($1, $2, 0, 'phone', 1, 144, 0, 0, 0, 15, true, $3)",
            refund, order, json.dumps({"exempted": "44.00"}),
        )  # fmt: skip
        await apply_migrations(dsn)  # the rest, 0696 among them
        kept = await conn.fetchrow(
            "SELECT o.subtotal, o.total_amount, l.line_subtotal, r.amount AS refunded, rl.amount AS refunded_line,"
            " sh.seller_goods, sh.seller_payout, sh.seller_tax_exempted"
            " FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN refunds r ON r.order_id = o.id"
            " JOIN refund_lines rl ON rl.refund_id = r.id JOIN order_shipments sh ON sh.order_id = o.id"
            " WHERE o.id = $1",
            order,
        )
    finally:
        await conn.close()

    assert dict(kept) == {
        "subtotal": D(200), "total_amount": D(205), "line_subtotal": D(200), "refunded": D(100),
        "refunded_line": D(100), "seller_goods": D(200), "seller_payout": D(175), "seller_tax_exempted": D(88),
    }  # fmt: skip
