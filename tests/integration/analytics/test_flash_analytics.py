"""Flash-sale analytics against figures computed by hand on small fixed data (docs/analytics.md).

The sale, its items, purchases and summary row, the price history and the orders before the
sale are inserted directly; the report is read through the service and over HTTP.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.analytics.service import Analytics
from quote_service.db.replica import ReadPools
from tests.integration.conftest import Caller

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
# The two-day sale: 22:00 on the 8th to 04:00 on the 9th (6 hours).
STARTS = datetime(2026, 3, 8, 22, 0, tzinfo=UTC)
ENDS = STARTS + timedelta(hours=6)


async def product(conn: asyncpg.Connection, sku: str, current: str, currency: str = "TRY") -> uuid.UUID:
    return await conn.fetchval(  # type: ignore[no-any-return]
        "INSERT INTO products (id, sku, name, category_id, seller_id, currency, base_price, current_price,"
        " min_price, cost_price, stock) VALUES ($1, $2, $2, 'cat', 'seller', $4, $3::numeric, $3::numeric,"
        " 1, 1, 100) RETURNING id",
        uuid.uuid4(), sku, Decimal(current), currency,
    )  # fmt: skip


async def sale(
    conn: asyncpg.Connection,
    starts: datetime,
    ends: datetime,
    items: list[tuple[uuid.UUID, str, int]],  # product, flash price, allocated
    viewers: int | None,
) -> uuid.UUID:
    sale_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO flash_sales (id, name, status, starts_at, ends_at, activated_at, ended_at, created_by, updated_by)"
        " VALUES ($1, 'sale', 'ended', $2, $3, $2, $3, 't', 't')",
        sale_id, starts, ends,
    )  # fmt: skip
    for position, (product_id, price, allocated) in enumerate(items):
        await conn.execute(
            "INSERT INTO flash_sale_items (flash_sale_id, product_id, position, flash_price, allocated_stock,"
            " per_user_limit, sold, returned_stock) VALUES ($1, $2, $3, $4::numeric, $5, 5, 0, 0)",
            sale_id, product_id, position, Decimal(price), allocated,
        )  # fmt: skip
    if viewers is not None:
        await conn.execute(
            "INSERT INTO flash_sale_stats (flash_sale_id, purchases, units_sold, revenue, buyers, unique_viewers,"
            " attempts, computed_at) VALUES ($1, 0, 0, '{}', 0, $2, '{}', $3)",
            sale_id, viewers, ends,
        )  # fmt: skip
    return sale_id


async def purchase(
    conn: asyncpg.Connection, sale_id: uuid.UUID, product_id: uuid.UUID, customer: str, quantity: int, price: str,
    at: datetime, currency: str = "TRY",
) -> None:  # fmt: skip
    purchase_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO flash_purchases (id, flash_sale_id, product_id, customer_id, quantity, unit_price, total,"
        " currency, status, principal_id, idempotency_key, request_hash, created_at)"
        " VALUES ($1, $2, $3, $4, $5::int, $6::numeric, $6::numeric * $5::int, $10, 'confirmed', $7, $8, '\\x00',"
        " $9)",
        purchase_id, sale_id, product_id, customer, quantity, Decimal(price), uuid.uuid4(), str(purchase_id), at,
        currency,
    )  # fmt: skip


async def ordered(conn: asyncpg.Connection, product_id: uuid.UUID, quantity: int, at: datetime, source: str) -> None:
    """An order with one line of `product_id` (`source`: the line's price source)."""
    order_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO orders (id, quote_id, customer_id, currency, subtotal, discount_amount, tax_amount,"
        " delivery_fee, small_basket_fee, total_amount, total_commission, seller_commission, category_commission,"
        " logistics_commission, principal_id, idempotency_key, request_hash, created_by, created_at)"
        " VALUES ($1, $2, 'c', 'TRY', 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, $3, $4, '\\x00', 't', $5)",
        order_id, uuid.uuid4(), uuid.uuid4(), str(order_id), at,
    )  # fmt: skip
    await conn.execute(
        "INSERT INTO order_lines (order_id, position, product_id, quantity, list_unit_price, unit_price,"
        " line_subtotal, discount, tax, tax_rate, price_source, seller_id, category_id)"
        " VALUES ($1, 0, $2, $3::int, 1, 1, $3::int, 0, 0, 0, $4, 'seller', 'cat')",
        order_id, str(product_id), quantity, source,
    )  # fmt: skip


async def two_day_sale(pool: asyncpg.Pool) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, uuid.UUID]:
    """P1 (70.00, 10 allocated), P2 (45.00, 20), P3 (30.00, 5, sells nothing); 10 stored viewers.

    P1's price just before the sale is 100.00 (its last move before the start; a later move to
    120.00 does not count); it was ordered 2 + 1 units at catalog price in the 6 hours before
    (16:00-22:00), not counting 5 units at 15:59 nor 2 units bought at a flash price."""
    async with pool.acquire() as conn, conn.transaction():
        p1 = await product(conn, "P1", "120.00")
        p2 = await product(conn, "P2", "50.00")
        p3 = await product(conn, "P3", "40.00")
        for new, at in (("90.00", datetime(2026, 3, 1, tzinfo=UTC)), ("100.00", STARTS - timedelta(hours=12)),
                        ("120.00", STARTS + timedelta(hours=12))):  # fmt: skip
            await conn.execute(
                "INSERT INTO price_history (product_id, new_price, reason, source, actor, changed_at)"
                " VALUES ($1, $2::numeric, 'move', 'manual', 't', $3)",
                p1, Decimal(new), at,
            )  # fmt: skip
        await ordered(conn, p1, 2, STARTS - timedelta(hours=5, minutes=30), "catalog")
        await ordered(conn, p1, 1, STARTS - timedelta(minutes=1), "catalog")
        await ordered(conn, p1, 5, STARTS - timedelta(hours=6, minutes=1), "catalog")  # before the window
        await ordered(conn, p1, 2, STARTS - timedelta(hours=2), "flash_sale")  # not at the base price
        sale_id = await sale(conn, STARTS, ENDS, [(p1, "70.00", 10), (p2, "45.00", 20), (p3, "30.00", 5)], 10)
        on_8th, on_9th = STARTS, STARTS + timedelta(hours=2)  # 22:00 on the 8th, 00:00 on the 9th
        await purchase(conn, sale_id, p1, "c1", 2, "70.00", on_8th + timedelta(minutes=10))  # 22:10
        await purchase(conn, sale_id, p1, "c2", 1, "70.00", on_8th + timedelta(minutes=90))  # 23:30
        await purchase(conn, sale_id, p2, "c3", 2, "45.00", on_8th + timedelta(minutes=65))  # 23:05
        await purchase(conn, sale_id, p1, "c1", 1, "70.00", on_9th + timedelta(minutes=75))  # 01:15
        await purchase(conn, sale_id, p2, "c2", 1, "45.00", on_9th + timedelta(minutes=100))  # 01:40
        await purchase(conn, sale_id, p2, "c4", 1, "45.00", on_9th + timedelta(minutes=110))  # 01:50
    return sale_id, p1, p2, p3


async def test_flash_sale_figures_by_hand(pool: asyncpg.Pool) -> None:
    sale_id, p1, p2, p3 = await two_day_sale(pool)
    report = await Analytics(ReadPools(pool)).flash_sale(sale_id, now=NOW)
    assert report.status == "ended"
    assert report.currency == "TRY"
    assert report.units_sold == 8  # 4 + 4 + 0
    assert report.revenue == Decimal("460.00")  # 4 x 70 + 4 x 45
    assert report.revenue_by_currency == {"TRY": Decimal("460.00")}
    assert report.buyers == 4  # c1, c2, c3, c4
    assert report.viewers == 10
    assert report.conversion_rate == Decimal("40.00")  # 4 / 10
    assert report.sell_through == Decimal("22.86")  # 8 / 35 = 22.857...
    assert report.average_order_value == Decimal("76.67")  # 460 / 6 purchases = 76.666...
    assert report.average_order_value_by_currency == {"TRY": Decimal("76.67")}
    assert [(d.date, d.units, d.revenue) for d in report.per_day] == [
        (date(2026, 3, 8), 5, Decimal("300.00")),  # 2 x 70 + 70 + 2 x 45
        (date(2026, 3, 9), 3, Decimal("160.00")),  # 70 + 45 + 45
    ]
    # Units per hour: 22h 2, 23h 3, 01h 3: the tie between 23h and 01h goes to the earliest
    # hour of the day, 01h (not the one that came first in the sale).
    assert report.peak_hour == "01:00-01:59"
    by_product = {f.product_id: f for f in report.by_product}
    assert [f.product_id for f in report.by_product] == [p1, p2, p3]  # the sale's item order
    one, two, three = by_product[p1], by_product[p2], by_product[p3]
    assert (one.currency, one.units, one.revenue, one.sell_through) == ("TRY", 4, Decimal("280.00"), Decimal("40.00"))
    assert one.revenue_by_currency == {"TRY": Decimal("280.00")}
    # p0 100.00, q0 3; p1 70.00, q1 4: ((4 - 3) / 3.5) / ((70 - 100) / 85) = -34/42 = -0.80952...
    assert one.elasticity == -0.8095
    assert (two.units, two.revenue, two.sell_through) == (4, Decimal("180.00"), Decimal("20.00"))
    assert two.elasticity is None  # nothing ordered at catalog price before the sale
    assert (three.units, three.revenue, three.sell_through, three.elasticity) == (
        0, Decimal("0.00"), Decimal("0.00"), None,
    )  # fmt: skip

    # More viewers counted live (Redis) than stored: the larger count wins.
    live = await Analytics(ReadPools(pool)).flash_sale(sale_id, now=NOW, live_viewers=12)
    assert (live.viewers, live.conversion_rate) == (12, Decimal("33.33"))  # 4 / 12
    fewer = await Analytics(ReadPools(pool)).flash_sale(sale_id, now=NOW, live_viewers=3)
    assert (fewer.viewers, fewer.conversion_rate) == (10, Decimal("40.00"))


async def test_a_sale_without_sales_or_viewers(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        p = await product(conn, "Z1", "10.00")
        await ordered(conn, p, 4, STARTS - timedelta(hours=1), "catalog")  # demand before, none in the sale
        sale_id = await sale(conn, STARTS, ENDS, [(p, "8.00", 10)], None)
    report = await Analytics(ReadPools(pool)).flash_sale(sale_id, now=NOW)
    assert (report.units_sold, report.revenue, report.buyers, report.viewers) == (0, Decimal("0.00"), 0, 0)
    # Nothing sold: the currency is the products' one, with a zero revenue in it.
    assert (report.currency, report.revenue_by_currency) == ("TRY", {"TRY": Decimal("0.00")})
    assert report.average_order_value_by_currency == {}
    assert report.conversion_rate is None  # no viewers: no denominator
    assert report.sell_through == Decimal("0.00")
    assert report.average_order_value is None
    assert report.per_day == []
    assert report.peak_hour is None
    [figures] = report.by_product
    assert (figures.units, figures.revenue, figures.sell_through, figures.elasticity) == (
        0, Decimal("0.00"), Decimal("0.00"), None,
    )  # fmt: skip


async def test_a_one_day_sale_with_viewers_and_no_buyers_then_one(pool: asyncpg.Pool) -> None:
    starts = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    async with pool.acquire() as conn, conn.transaction():
        p = await product(conn, "O1", "20.00")
        await ordered(conn, p, 1, starts - timedelta(minutes=30), "catalog")
        sale_id = await sale(conn, starts, starts + timedelta(hours=2), [(p, "10.00", 4)], 7)
    empty = await Analytics(ReadPools(pool)).flash_sale(sale_id, now=NOW)
    assert (empty.buyers, empty.viewers, empty.conversion_rate) == (0, 7, Decimal("0.00"))  # viewers, no buyer
    async with pool.acquire() as conn:
        await purchase(conn, sale_id, p, "c1", 1, "10.00", starts + timedelta(minutes=59))  # 10h
        await purchase(conn, sale_id, p, "c2", 1, "10.00", starts + timedelta(minutes=61))  # 11h
    report = await Analytics(ReadPools(pool)).flash_sale(sale_id, now=NOW)
    assert [(d.date, d.units, d.revenue) for d in report.per_day] == [(date(2026, 3, 9), 2, Decimal("20.00"))]
    assert report.peak_hour == "10:00-10:59"  # 1 unit each in 10h and 11h: the earlier hour
    assert report.conversion_rate == Decimal("28.57")  # 2 / 7
    assert report.sell_through == Decimal("50.00")  # 2 / 4
    assert report.average_order_value == Decimal("10.00")
    # p0 20.00 (no price history: the current price), q0 1 (the 2 hours before); p1 10.00, q1 2:
    # ((2 - 1) / 1.5) / ((10 - 20) / 15) = -1.0
    assert report.by_product[0].elasticity == -1.0


async def test_flash_report_over_http(client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool) -> None:
    sale_id, p1, *_ = await two_day_sale(pool)
    response = await client.get(f"/api/v1/analytics/flash-sales/{sale_id}", headers=admin.headers)
    assert response.status_code == 200
    data: dict[str, Any] = response.json()["data"]
    assert (data["units_sold"], data["revenue"], data["buyers"], data["conversion_rate"]) == (8, "460.00", 4, "40.00")
    assert (data["sell_through"], data["average_order_value"], data["peak_hour"]) == ("22.86", "76.67", "01:00-01:59")
    assert (data["currency"], data["revenue_by_currency"]) == ("TRY", {"TRY": "460.00"})
    assert data["per_day"] == [
        {"date": "2026-03-08", "units": 5, "revenue": "300.00", "revenue_by_currency": {"TRY": "300.00"}},
        {"date": "2026-03-09", "units": 3, "revenue": "160.00", "revenue_by_currency": {"TRY": "160.00"}},
    ]
    assert data["by_product"][0] == {
        "product_id": str(p1), "currency": "TRY", "units": 4, "revenue": "280.00",
        "revenue_by_currency": {"TRY": "280.00"}, "sell_through": "40.00", "elasticity": -0.8095,
    }  # fmt: skip


async def test_a_sale_in_two_currencies_never_adds_them(
    client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool
) -> None:
    """A EUR product at 10.00 and a TRY product at 1000.00, one unit each: reported per currency,
    never as 1010.00 (issue 32: the sum and a `min(currency)` used to make "EUR 1010.00")."""
    async with pool.acquire() as conn, conn.transaction():
        eur = await product(conn, "EUR1", "12.00", "EUR")
        try_ = await product(conn, "TRY1", "1200.00", "TRY")
        sale_id = await sale(conn, STARTS, ENDS, [(eur, "10.00", 5), (try_, "1000.00", 5)], 4)
        await purchase(conn, sale_id, eur, "c1", 1, "10.00", STARTS + timedelta(minutes=5), "EUR")
        await purchase(conn, sale_id, try_, "c2", 1, "1000.00", STARTS + timedelta(minutes=6), "TRY")
        await purchase(conn, sale_id, eur, "c3", 2, "10.00", STARTS + timedelta(hours=2, minutes=1), "EUR")
    response = await client.get(f"/api/v1/analytics/flash-sales/{sale_id}", headers=admin.headers)
    assert response.status_code == 200
    data: dict[str, Any] = response.json()["data"]
    assert (data["currency"], data["revenue"], data["average_order_value"]) == (None, None, None)
    assert data["revenue_by_currency"] == {"EUR": "30.00", "TRY": "1000.00"}
    assert data["average_order_value_by_currency"] == {"EUR": "15.00", "TRY": "1000.00"}  # 30 / 2, 1000 / 1
    assert (data["units_sold"], data["buyers"], data["conversion_rate"]) == (4, 3, "75.00")  # units add up
    assert data["per_day"] == [
        {"date": "2026-03-08", "units": 2, "revenue": None, "revenue_by_currency": {"EUR": "10.00", "TRY": "1000.00"}},
        {"date": "2026-03-09", "units": 2, "revenue": None, "revenue_by_currency": {"EUR": "20.00"}},
    ]
    assert [(r["product_id"], r["currency"], r["revenue"], r["revenue_by_currency"]) for r in data["by_product"]] == [
        (str(eur), "EUR", "30.00", {"EUR": "30.00"}),
        (str(try_), "TRY", "1000.00", {"TRY": "1000.00"}),
    ]


async def test_a_sale_of_two_currencies_is_reported_per_currency_before_its_first_sale(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        eur = await product(conn, "EUR2", "12.00", "EUR")
        try_ = await product(conn, "TRY2", "1200.00", "TRY")
        sale_id = await sale(conn, STARTS, ENDS, [(eur, "10.00", 5), (try_, "1000.00", 5)], None)
    report = await Analytics(ReadPools(pool)).flash_sale(sale_id, now=NOW)
    assert (report.currency, report.revenue) == (None, None)
    assert report.revenue_by_currency == {"EUR": Decimal("0.00"), "TRY": Decimal("0.00")}
    assert [(p.currency, p.revenue) for p in report.by_product] == [("EUR", Decimal("0.00")), ("TRY", Decimal("0.00"))]
