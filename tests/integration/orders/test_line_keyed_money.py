"""One product id sold by two sellers in one basket: money is kept per line, never per product id.

Two request-priced lines name the same product id: two of seller-a's at 100.00 and one of seller-b's at
40.00, seller-b paying a flat 2.00 seller commission per unit (15 % category commission on both). The
order's lines, its commission details, a seller's view of it, a refund and each seller's statement
must give each seller its own line's money (docs/orders-and-refunds.md#one-product-on-several-lines).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from quote_service.db.migrate import apply_migrations, load_migrations, migrations_dir
from tests.integration.conftest import Caller, make_caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.shipping.test_shipping_orders import keyed
from tests.integration.shipping.test_shipping_profiles_api import create_profile

Client = AsyncTestClient[Litestar]
D = Decimal
WIDGET = "widget-shared-sku"
SELLER_B_FLAT = {
    "seller_id": "seller-b",
    "commission_type": "FLAT",
    "rate": "2.00",
    "currency": "TRY",
    "effective_from": "2020-01-01T00:00:00Z",
}


async def shared_product_order(client: Client, admin: Caller, service_key: dict[str, str]) -> dict[str, Any]:
    """The basket of the module docstring, quoted (seller-a ships by its profile) and ordered."""
    await create_profile(client, admin)  # seller-a's: the quote has shipments and per-seller totals
    expect_ok(await client.post("/api/v1/commission-rates", json=SELLER_B_FLAT, headers=admin.headers), 201)
    body = {
        "customer_id": "c-1",
        "currency": "TRY",
        "delivery_address": {"city": "Ankara", "country": "TR"},
        "items": [
            {"product_id": WIDGET, "quantity": 2, "unit_price": "100.00", "seller_id": "seller-a"},
            {"product_id": WIDGET, "quantity": 1, "unit_price": "40.00", "seller_id": "seller-b"},
        ],
    }
    quote = expect_ok(await client.post("/api/v1/quote", json=body, headers=service_key))
    order: dict[str, Any] = expect_ok(
        await client.post("/api/v1/orders", json={"quote_id": quote["quote_id"]}, headers=keyed(service_key)), 201
    )
    return order


async def test_each_line_keeps_its_own_commission(client: Client, admin: Caller, service_key: dict[str, str]) -> None:
    order = await shared_product_order(client, admin, service_key)

    assert [(i["seller_id"], i["commission"]) for i in order["items"]] == [
        ("seller-a", {"category": "30.00", "seller": "0.00"}),
        ("seller-b", {"category": "6.00", "seller": "2.00"}),
    ]
    assert [(d["line"], d["dimension"], d["amount"]) for d in order["commission_breakdown"]["details"]] == [
        (0, "category", "30.00"),
        (1, "category", "6.00"),
        (1, "seller", "2.00"),
    ]
    again = expect_ok(await client.get(f"/api/v1/orders/{order['id']}", headers=admin.headers))
    assert again == order


async def test_each_sellers_statement_counts_only_its_lines(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    order = await shared_product_order(client, admin, service_key)
    sellers = {s["seller_id"]: s for s in order["sellers"]}

    for seller_id, commission in (("seller-a", "30.00"), ("seller-b", "8.00")):
        shown = expect_ok(await client.get(f"/api/v1/sellers/{seller_id}/statement", headers=admin.headers))
        logistics = next(s["logistics_commission"] for s in order["shipments"] if s["seller_id"] == seller_id)
        assert D(shown["commission_charged"]) == D(commission) + D(logistics)
        assert shown["commission_charged"] == sellers[seller_id]["commission"]
        assert shown["payout"] == sellers[seller_id]["payout"]


async def test_a_seller_sees_only_its_lines_commission_details(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings, password_hash: str
) -> None:
    order = await shared_product_order(client, admin, service_key)
    seller_b = await make_caller(settings, password_hash, "seller-b-login", "seller", seller_id="seller-b")

    mine = expect_ok(await client.get(f"/api/v1/orders/{order['id']}", headers=seller_b.headers))
    assert [(d["dimension"], d["amount"]) for d in mine["commission_breakdown"]["details"]] == [
        ("category", "6.00"),
        ("seller", "2.00"),
    ]
    assert mine["commission_breakdown"]["total_commission"] == mine["sellers"][0]["commission"]


async def test_a_refund_of_a_product_on_two_sellers_lines_names_the_line(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    order = await shared_product_order(client, admin, service_key)
    url = f"/api/v1/orders/{order['id']}/refunds"

    ambiguous = await client.post(
        url, json={"lines": [{"product_id": WIDGET, "quantity": 1}]}, headers=keyed(admin.headers)
    )
    assert (
        "lines 0 (seller-a) and 1 (seller-b)"
        in field_errors(expect_error(ambiguous, 422, "VALIDATION_FAILED"))["lines[0].line"]
    )
    for wrong, field in (({"line": 2}, "lines[0].line"), ({"line": 0, "product_id": "other"}, "lines[0].line")):
        refused = await client.post(
            url, json={"lines": [{"product_id": WIDGET, "quantity": 1, **wrong}]}, headers=keyed(admin.headers)
        )
        assert field in field_errors(expect_error(refused, 422, "VALIDATION_FAILED"))
    too_many = await client.post(
        url, json={"lines": [{"product_id": WIDGET, "quantity": 2, "line": 1}]}, headers=keyed(admin.headers)
    )
    assert "1 left" in field_errors(expect_error(too_many, 409, "REFUND_EXCEEDS_ORDER"))["lines[0].quantity"]

    back = expect_ok(
        await client.post(
            url, json={"lines": [{"product_id": WIDGET, "quantity": 1, "line": 1}]}, headers=keyed(admin.headers)
        ),
        201,
    )
    assert [(b["line"], b["amount"], b["commission"]) for b in back["lines"]] == [
        (1, "40.00", {"seller": "2.00", "category": "6.00"})
    ]
    assert back["commission_reversed"] == "8.00"
    shown = expect_ok(await client.get("/api/v1/sellers/seller-a/statement", headers=admin.headers))
    assert (shown["refunds"], shown["commission_reversed"]) == ("0.00", "0.00")


LINE_KEYED_MIGRATION = 695
_ORDER = (
    "INSERT INTO orders (id, quote_id, customer_id, currency, subtotal, discount_amount, tax_amount, delivery_fee,"
    " small_basket_fee, total_amount, total_commission, seller_commission, category_commission, logistics_commission,"
    " principal_id, idempotency_key, request_hash, created_by, record)"
    " VALUES ($1, $1, 'c-1', 'TRY', 240, 0, 0, 0, 0, 240, 39, 2, 36, 1, $1, $3, '\\x00', 't', $2)"
)
_LINE = (
    "INSERT INTO order_lines (order_id, position, product_id, quantity, list_unit_price, unit_price, line_subtotal,"
    " discount, tax, tax_rate, price_source, seller_id, commission_category, commission_seller)"
    " VALUES ($1, $2, 'w', 1, 120, 120, 120, 0, 0, 0, 'request', $3, $4, $5)"
)
_DETAIL = (
    "INSERT INTO order_commissions (order_id, position, product_id, dimension, commission_type, base, amount)"
    " VALUES ($1, $2, $3, $4, 'FLAT', 0, $5)"
)


async def database_before(make_database: Callable[[], Awaitable[str]], tmp_path: Path, version: int) -> str:
    """A new database with the shipped migrations before `version` applied (`apply_migrations(dsn)` the rest)."""
    dsn = await make_database()
    for migration in load_migrations(migrations_dir()):
        if migration.version < version:
            (tmp_path / f"{migration.version:04d}_{migration.name}.sql").write_text(migration.sql, encoding="utf-8")
    await apply_migrations(dsn, tmp_path)
    return dsn


async def test_the_migration_puts_each_kept_detail_on_its_line(
    make_database: Callable[[], Awaitable[str]], tmp_path: Path
) -> None:
    dsn = await database_before(make_database, tmp_path, LINE_KEYED_MIGRATION)
    recorded, older = uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(dsn)
    try:
        # With the priced record: the lines kept their parts (the seller part as the old reading put it);
        # the details in the engine's order: line 0's category, line 1's category, then its seller part.
        await conn.execute(_ORDER, recorded, 1, str(recorded))
        await conn.execute(_LINE, recorded, 0, "a", D(30), D(2))
        await conn.execute(_LINE, recorded, 1, "b", D(6), D(0))
        for position, dimension, amount in ((0, "category", 30), (1, "category", 6), (2, "seller", 2)):
            await conn.execute(_DETAIL, recorded, position, "w", dimension, D(amount))
        await conn.execute(_DETAIL, recorded, 3, None, "logistics", D(1))
        # Before the record: lines without parts, details seller first (as generated data writes them).
        await conn.execute(_ORDER, older, None, str(older))
        for position in (0, 1):
            await conn.execute(_LINE, older, position, "a", None, None)
        for position, dimension, amount in (
            (0, "seller", 2),
            (1, "category", 30),
            (2, "seller", 1),
            (3, "category", 6),
        ):
            await conn.execute(_DETAIL, older, position, "w", dimension, D(amount))
        await apply_migrations(dsn)  # the rest, 0695 among them
        details = await conn.fetch(
            "SELECT order_id, line_position FROM order_commissions ORDER BY order_id = $1 DESC, position", recorded
        )
        lines = await conn.fetch(
            "SELECT order_id, commission_category, commission_seller FROM order_lines ORDER BY order_id = $1 DESC,"
            " position",
            recorded,
        )
    finally:
        await conn.close()

    assert [r["line_position"] for r in details] == [0, 1, 1, None, 0, 0, 1, 1]
    assert [(r["commission_category"], r["commission_seller"]) for r in lines] == [
        (D(30), D(2)),  # kept as recorded: the priced record is never recomputed
        (D(6), D(0)),
        (D(30), D(2)),
        (D(6), D(1)),
    ]
