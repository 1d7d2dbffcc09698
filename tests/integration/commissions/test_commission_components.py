"""Commission components over HTTP and in the database (docs/pricing.md "Commission rates"):
the Go README's example, the derived and explicit `component`, refused shapes, and migration
0050 keeping what existing rates charge."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.commissions import repository
from quote_service.db.migrate import apply_migrations, load_migrations, migrations_dir
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.unit.pricing.test_engine_support import D, item, product, quote, request

Client = AsyncTestClient[Litestar]
RATES = "/api/v1/commission-rates"
COMPONENTS_MIGRATION = 50
MakeDatabase = Callable[[], Awaitable[str]]

# The Go service's README, sent as its clients send it: money and percents as JSON numbers.
GO_RATES: list[dict[str, Any]] = [
    {"seller_id": "go-seller", "commission_type": "FLAT", "rate": 3.25},
    {"category_id": "go-category", "commission_type": "PERCENTAGE", "rate": 1.5},
    {"logistics_provider": "go-logistics", "commission_type": "PERCENTAGE", "rate": 1.9},
]
GO_QUOTE: dict[str, Any] = {
    "customer_id": "go-customer",
    "seller_id": "go-seller",
    "items": [
        {
            "product_id": "go-product",
            "variant_id": "go-variant",
            "quantity": 2,
            "unit_price": 25.50,
            "category_id": "go-category",
            "tags": ["electronics", "mobile"],
            "weight": 0.5,
        }
    ],
    "delivery_address": {"street": "Istiklal Caddesi 123", "city": "Istanbul", "country": "TR"},
    "is_express_delivery": True,
    "currency": "TRY",
    "logistics_provider": "go-logistics",
}


def rate_body(**fields: Any) -> dict[str, Any]:
    return {"currency": "TRY", "effective_from": "2025-01-01T00:00:00Z", **fields}


async def test_the_go_readme_example_answers_6_50_plus_0_77_plus_0_38(client: Client, admin: Caller) -> None:
    created = [
        expect_ok(await client.post(RATES, json=rate_body(**body), headers=admin.headers), 201) for body in GO_RATES
    ]

    data = expect_ok(await client.post("/api/v1/quote", json=GO_QUOTE, headers=admin.headers))

    assert [rate["component"] for rate in created] == ["seller", "category", "logistics"]
    assert (data["subtotal"], data["tax_amount"], data["delivery_fee"], data["total_amount"]) == (
        "51.00",
        "9.18",
        "20.00",
        "80.18",
    )
    breakdown = data["commission_breakdown"]
    assert {part: breakdown[part] for part in breakdown if part.endswith("_commission")} == {
        "total_commission": "7.65",
        "seller_commission": "6.50",
        "category_commission": "0.77",
        "logistics_commission": "0.38",
    }
    assert [(d["dimension"], d["rate_id"], d["amount"]) for d in breakdown["details"]] == [
        ("category", created[1]["id"], "0.77"),
        ("seller", created[0]["id"], "6.50"),
        ("logistics", created[2]["id"], "0.38"),
    ]


async def test_component_is_derived_when_omitted_and_kept_when_set(client: Client, admin: Caller) -> None:
    async def component(**fields: Any) -> str:
        body = rate_body(commission_type="PERCENTAGE", rate="5", **fields)
        created: dict[str, Any] = expect_ok(await client.post(RATES, json=body, headers=admin.headers), 201)
        return str(created["component"])

    assert await component(seller_id="s-1") == "seller"
    assert await component(seller_id="s-1", category_id="books") == "category"
    assert await component(category_id="books") == "category"
    assert await component() == "category"
    assert await component(logistics_provider="fastship", seller_id="s-1") == "logistics"
    assert await component(seller_id="s-1", component="category") == "category"
    assert await component(category_id="books", component="seller") == "seller"


async def test_refused_component_shapes_name_their_fields_and_store_nothing(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    cases = [
        (rate_body(commission_type="FLAT", rate="1", component="logistics"), "logistics_provider"),
        (rate_body(commission_type="FLAT", rate="1", component="seller", logistics_provider="x"), "component"),
        (rate_body(commission_type="FLAT", rate="1", component="category", logistics_provider="x"), "component"),
        (rate_body(commission_type="FLAT", rate="1", component="Payment-Fee"), "component"),
        (rate_body(commission_type="FLAT", rate="1", component=None, logistics_provider=""), "logistics_provider"),
    ]
    for body, field in cases:
        refused = expect_error(await client.post(RATES, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")
        assert field in field_errors(refused), (body, refused)

    assert await pool.fetchval("SELECT count(*) FROM commission_rates") == 0


# --- migration 0050: existing rates keep what they charge -----------------------------------------

OLD_RATES = """
INSERT INTO commission_rates (category_id, seller_id, logistics_provider, commission_type, rate, currency,
                              effective_from, priority, created_by, updated_by)
VALUES ('electronics', NULL, NULL, 'PERCENTAGE', 12, 'EUR', '2020-01-01Z', 0, 'old', 'old'),
       (NULL, 'anatolia', NULL, 'PERCENTAGE', 9, 'EUR', '2020-01-01Z', 1, 'old', 'old'),
       ('books', 'anatolia', NULL, 'PERCENTAGE', 7, 'EUR', '2020-01-01Z', 0, 'old', 'old'),
       (NULL, NULL, 'FastShip', 'PERCENTAGE', 5, 'EUR', '2020-01-01Z', 0, 'old', 'old')
"""


async def test_migration_keeps_what_existing_rates_charge(make_database: MakeDatabase, tmp_path: Path) -> None:
    dsn = await make_database()
    for migration in load_migrations(migrations_dir()):
        if migration.version < COMPONENTS_MIGRATION:
            (tmp_path / f"{migration.version:04d}_{migration.name}.sql").write_text(migration.sql, encoding="utf-8")
    await apply_migrations(dsn, tmp_path)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(OLD_RATES)
        await apply_migrations(dsn)  # the rest, 0050 among them
        rows = await conn.fetch("SELECT seller_id, logistics_provider, component FROM commission_rates ORDER BY rate")
        rates = await repository.load_active(conn)
    finally:
        await conn.close()

    assert [(r["seller_id"], r["logistics_provider"], r["component"]) for r in rows] == [
        (None, "FastShip", "logistics"),
        ("anatolia", None, "category"),
        ("anatolia", None, "category"),  # seller only: still competes with the category rates
        (None, None, "category"),
    ]
    phone = product("100.00", category="electronics", seller="anatolia")
    book = product("100.00", category="books", seller="anatolia")
    other = product("100.00", category="electronics", seller="bosphorus")
    result = quote(
        request(item(phone), item(book), item(other), logistics_provider="fastship"),
        products=[phone, book, other],
        rates=rates,
    )
    breakdown = result.commission_breakdown
    # As before 0050: anatolia's 9 % (priority 1) wins on both of its items, electronics' 12 % on
    # the other; the 5 % FastShip rate on the 10.00 delivery fee. Only the split moved: the seller
    # rate's 18.00 used to be reported as seller_commission.
    assert [d.amount for d in breakdown.details] == [D("9.00"), D("9.00"), D("12.00"), D("0.50")]
    assert (breakdown.category_commission, breakdown.seller_commission, breakdown.logistics_commission) == (
        D("30.00"),
        D("0.00"),
        D("0.50"),
    )
    assert breakdown.total_commission == D("30.50")
