"""Migrations 0900 and 0901 move data: a refund line's parts leave `refund_lines.taxes` for columns of their own,
an order line's installment commission leaves `order_lines.taxes`, and the sellers' ledger is filled with the
entries of the orders, refunds and edits made before it, as the statements worked them out until then
(docs/architecture.md#money-after-the-quote). The whole demo, written by the tree before them and read back by
the tree after them, is loadtests/migration_check.py (docs/development.md#checking-a-migration-on-the-demo)."""

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
MIGRATION = 900
KDV = {"taxes": [{"code": "KDV", "rate": "20", "base": "90.00", "amount": "18.00"}], "installment_commission": "1.80"}


async def _sold_and_refunded(conn: asyncpg.Connection, order: uuid.UUID, refund: uuid.UUID) -> None:
    """An order of two sellers' lines (s1: 100.00 less 10.00, KDV 18.00, commission 5.00 + 3.00 + a 1.80
    installment share + a 2.00 payment fee, taxed 2.00, 1.00 from the platform; its shipment 10.00 with 1.00
    logistics; s2: 50.00 taxed 9.00 by one rate), and a refund of one of s1's two units."""
    await conn.execute(
        "INSERT INTO orders (id, quote_id, customer_id, currency, subtotal, discount_amount, tax_amount,"
        " delivery_fee, small_basket_fee, total_amount, total_commission, seller_commission, category_commission,"
        " logistics_commission, principal_id, idempotency_key, request_hash, created_by, record, tax_terms)"
        " VALUES ($1, $1, 'c-1', 'TRY', 150, 10, 27, 10, 0, 177, 13.8, 3, 8, 1, $1, $2, '\\x00', 't', 1, $3)",
        order, str(order), json.dumps({"rounding": {"mode": "HALF_UP", "level": "line"}}),
    )  # fmt: skip
    await conn.execute(
        "INSERT INTO order_lines (order_id, position, product_id, quantity, list_unit_price, unit_price,"
        " line_subtotal, discount, tax, tax_rate, price_source, seller_id, prices_include_tax, taxes,"
        " commission_category, commission_seller, commission_fees, platform_contribution, commission_tax)"
        " VALUES ($1, 0, 'phone', 2, 50, 50, 100, 10, 18, 20, 'catalog', 's1', false, $2, 5, 3, $3, 1, 2),"
        "        ($1, 1, 'case', 1, 50, 50, 50, 0, 9, 18, 'catalog', 's2', false, NULL, 4, 0, NULL, 0, 0)",
        order, json.dumps(KDV), json.dumps({"payment_fee": "2.00"}),
    )  # fmt: skip
    await conn.execute(
        "INSERT INTO order_shipments (order_id, position, seller_id, product_ids, goods, options, delivery_fee,"
        " logistics_commission, seller_goods, seller_discount, seller_tax, seller_tax_included, seller_commission,"
        " seller_commission_tax, seller_payout)"
        " VALUES ($1, 0, 's1', '{phone}', 100, '[]', 10, 1, 100, 10, 18, 0, 12.8, 2, 114.2)",
        order,
    )  # fmt: skip
    await conn.execute(
        "INSERT INTO refunds (id, order_id, kind, currency, amount, discount, tax, seller_commission,"
        " category_commission, delivery_fee, small_basket_fee, logistics_commission, total_refunded,"
        " commission_reversed, principal_id, idempotency_key, request_hash, created_by)"
        " VALUES ($1, $2, 'refund', 'TRY', 50, 5, 9, 1.5, 2.5, 0, 0, 0, 54, 5.9, $2, 'k', '\\x00', 't')",
        refund, order,
    )  # fmt: skip
    await conn.execute(
        "INSERT INTO refund_lines (refund_id, order_id, position, product_id, quantity, amount, discount, tax,"
        " seller_commission, category_commission, prices_include_tax, platform_contribution, commission_tax, taxes)"
        " VALUES ($1, $2, 0, 'phone', 1, 50, 5, 9, 1.5, 2.5, false, 0.5, 1, $3)",
        refund, order, json.dumps({"tax:KDV": "9.00", "installment_commission": "0.90", "fee:payment_fee": "1.00"}),
    )  # fmt: skip


async def test_the_parts_move_to_their_columns_and_the_ledger_holds_what_the_statements_counted(
    make_database: Callable[[], Awaitable[str]], tmp_path: Path
) -> None:
    dsn = await database_before(make_database, tmp_path, MIGRATION)
    order, refund = uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(dsn)
    try:
        await _sold_and_refunded(conn, order, refund)
        await apply_migrations(dsn)  # 0900 and 0901 among the rest
        line = await conn.fetchrow("SELECT taxes, installment_commission FROM order_lines WHERE position = 0")
        moved = await conn.fetchrow(
            "SELECT tax_components, tax_exempted, installment_commission, commission_fees FROM refund_lines"
        )
        entries = await conn.fetch(
            "SELECT seller_id, kind, goods, tax, platform, commission, commission_tax, delivery, tax_collected,"
            " tax_refunded, fees FROM seller_ledger ORDER BY kind, seller_id"
        )
        codes = await conn.fetch(
            "SELECT seller_id, kind, code, kept, collected, refunded FROM seller_ledger_taxes ORDER BY kind, seller_id"
        )
    finally:
        await conn.close()

    assert json.loads(line["taxes"]) == {"taxes": KDV["taxes"]}
    assert line["installment_commission"] == D("1.8")
    assert (json.loads(moved["tax_components"]), moved["tax_exempted"]) == ({"KDV": "9.00"}, None)
    assert (moved["installment_commission"], json.loads(moved["commission_fees"])) == (
        D("0.9"),
        {"payment_fee": "1.00"},
    )
    assert [
        (e["seller_id"], e["kind"], e["goods"], e["tax"], e["platform"], e["commission"], e["commission_tax"],
         e["delivery"], e["tax_collected"], e["tax_refunded"], json.loads(e["fees"]))
        for e in entries
    ] == [
        # s1: 90.00 of goods and 18.00 of tax; 5 + 3 + 1.80 + 2.00 of its line and 1.00 on its shipment.
        ("s1", "order", D(90), D(18), D(1), D("12.8"), D(2), D(10), D(18), D(0), {"payment_fee": "2.00"}),
        ("s2", "order", D(50), D(9), D(0), D(4), D(0), D(0), D(9), D(0), {}),
        ("s1", "refund", D(-45), D(-9), D("-0.5"), D("-5.9"), D(-1), D(0), D(0), D(9), {"payment_fee": "-1.00"}),
    ]  # fmt: skip
    assert [tuple(c) for c in codes] == [
        ("s1", "order", "KDV", True, D(18), D(0)),
        ("s2", "order", "TAX", False, D(9), D(0)),
        ("s1", "refund", "KDV", True, D(0), D(9)),
    ]
