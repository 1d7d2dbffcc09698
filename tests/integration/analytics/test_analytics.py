"""Analytics: each figure against hand-computed values, rollups == live == rebuilt, late rows.

Quote-log rows go in through the service's own writer (`write_log_rows`, whose insert fires
the rollup triggers); orders are inserted directly with their lines and commissions.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.analytics.figures import percent
from quote_service.analytics.flash_report import arc_elasticity
from quote_service.analytics.rollups import RollupJob, rebuild
from quote_service.analytics.service import Analytics
from quote_service.db.replica import ReadPools
from quote_service.periods import local_days
from quote_service.quotes.quote_log import LogValues, encode_row, write_log_rows
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, field_errors
from tests.waiting import until

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)  # the current hour is 12:00-12:59
TWO_DAYS = local_days(date(2026, 3, 9), date(2026, 3, 10))  # UTC days
H9 = datetime(2026, 3, 10, 9, 15, tzinfo=UTC)
YESTERDAY = datetime(2026, 3, 9, 18, 5, tzinfo=UTC)
RULE = str(uuid.UUID(int=7))


def quote_row(
    *,
    at: datetime,
    customer: str = "c-1",
    lines: list[tuple[str, str, int, str, str]],  # product, category, quantity, line_subtotal, discount
    rules: list[tuple[str, str]] = (),  # type: ignore[assignment]
    variants: dict[str, str] | None = None,
    currency: str = "TRY",
    delivery: tuple[str, str] | None = None,
    flags: tuple[str, ...] = (),
) -> tuple[uuid.UUID, LogValues]:
    quote_id = uuid.uuid4()
    subtotal = sum((Decimal(s) for *_, s, _ in lines), Decimal(0))
    discount = sum((Decimal(d) for *_, d in lines), Decimal(0))
    encode = msgspec.json.encode
    row: LogValues = (
        str(quote_id), customer, currency, subtotal, discount, Decimal(0), Decimal(0), Decimal(0), subtotal - discount,
        Decimal(0), Decimal(0), Decimal(0), Decimal(0), len(lines), 1,
        msgspec.Raw(encode([[p, c, "s-1", q, s, s, d, "catalog"] for p, c, q, s, d in lines])),
        msgspec.Raw(encode([[r, "TIME_WINDOW", 1, a] for r, a in rules])), (),
        msgspec.Raw(encode(variants or {})), None, None, at, at + timedelta(minutes=15),
        *(delivery or (None, None)), flags, msgspec.Raw(b"{}"),
    )  # fmt: skip
    return quote_id, row


def encoded(*rows: LogValues) -> list[tuple[str, bytes]]:
    """The rows as the store queues them (each encoded when its quote is made)."""
    made = [encode_row(row) for row in rows]
    assert None not in made
    return [row for row in made if row is not None]


def lines(*rows: LogValues) -> list[bytes]:
    """The rows as the writer reads them back from the spool (their JSON alone)."""
    return [text for _, text in encoded(*rows)]


async def log_quotes(pool: asyncpg.Pool, *rows: LogValues) -> None:
    async with pool.acquire() as conn:
        await write_log_rows(conn, lines(*rows))


async def order(
    pool: asyncpg.Pool,
    quote_id: uuid.UUID,
    *,
    at: datetime,
    subtotal: str,
    discount: str = "0",
    lines: list[tuple[str, str, str]] = (),  # type: ignore[assignment]  # product, seller, category
    # product, dimension, amount[, the line's position: else the product's first line]
    commissions: list[tuple[Any, ...]] = (),  # type: ignore[assignment]
    provider_rate: uuid.UUID | None = None,
    currency: str = "TRY",
) -> uuid.UUID:
    parts = {
        d: sum((Decimal(c[2]) for c in commissions if c[1] == d), Decimal(0))
        for d in ("seller", "category", "logistics")
    }
    order_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO orders (id, quote_id, customer_id, currency, subtotal, discount_amount, tax_amount,"
            " delivery_fee, small_basket_fee, total_amount, total_commission, seller_commission, category_commission,"
            " logistics_commission, principal_id, idempotency_key, request_hash, created_by, created_at)"
            " VALUES ($1, $2, 'c-1', $12, $3::numeric, $4::numeric, 0, 0, 0, $3::numeric - $4::numeric, $5, $6, $7,"
            " $8, $9, $10, '\\x00', 't', $11)",
            order_id, quote_id, Decimal(subtotal), Decimal(discount), sum(parts.values()), parts["seller"],
            parts["category"], parts["logistics"], uuid.uuid4(), str(order_id), at, currency,
        )  # fmt: skip
        for position, (product, seller, category) in enumerate(lines):  # the order's goods split evenly
            await conn.execute(
                "INSERT INTO order_lines (order_id, position, product_id, quantity, list_unit_price, unit_price,"
                " line_subtotal, discount, tax, tax_rate, price_source, seller_id, category_id)"
                " VALUES ($1, $2, $3, 1, $6, $6, $6, $7, 0, 0, 'catalog', $4, $5)",
                order_id, position, product, seller, category, Decimal(subtotal) / len(lines),
                Decimal(discount) / len(lines),
            )  # fmt: skip
        products = [product for product, _, _ in lines]
        for position, (product, dimension, amount, *named) in enumerate(commissions):
            # Each line detail names its line, as the service writes it.
            on = named[0] if named else products.index(product) if product in products else None
            await conn.execute(
                "INSERT INTO order_commissions (order_id, position, product_id, rate_id, dimension, commission_type,"
                " base, amount, line_position) VALUES ($1, $2, $3, $4, $5, 'FLAT', 0, $6, $7)",
                order_id, position, product, provider_rate if dimension == "logistics" else None, dimension,
                Decimal(amount), on,
            )  # fmt: skip
        # Each line carries its own commission parts too, as the service writes it (statements read them).
        await conn.execute(
            "UPDATE order_lines l SET commission_seller = c.seller, commission_category = c.category"
            " FROM (SELECT line_position, sum(amount) FILTER (WHERE dimension = 'seller') AS seller,"
            "              sum(amount) FILTER (WHERE dimension = 'category') AS category"
            "       FROM order_commissions WHERE order_id = $1 AND line_position IS NOT NULL GROUP BY line_position) c"
            " WHERE l.order_id = $1 AND l.position = c.line_position",
            order_id,
        )
        # Its entries in its sellers' ledgers, as placing it writes them (orders/money.py; no tax here).
        await conn.execute(
            "INSERT INTO seller_ledger (seller_id, kind, id, order_id, currency, at, goods, tax, platform, commission,"
            " commission_tax, delivery, tax_collected, tax_refunded)"
            " SELECT l.seller_id, 'order', o.id, o.id, o.currency, o.created_at, sum(l.line_subtotal - l.discount), 0,"
            " 0, sum(COALESCE(l.commission_seller, 0) + COALESCE(l.commission_category, 0)), 0, 0, 0, 0"
            " FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.id = $1 AND l.seller_id IS NOT NULL"
            " GROUP BY l.seller_id, o.id",
            order_id,
        )
    return order_id


async def refund(
    pool: asyncpg.Pool,
    order_id: uuid.UUID,
    *,
    at: datetime,
    amount: str,
    discount: str = "0",
    seller: str = "0",
    category: str = "0",
    logistics: str = "0",
    position: int = 0,
) -> None:
    """A refund of the order's line at `position` (one refund row, one refund line), as the service writes."""
    d = Decimal
    async with pool.acquire() as conn, conn.transaction():
        refund_id = await conn.fetchval(
            "INSERT INTO refunds (order_id, kind, currency, amount, discount, tax, seller_commission,"
            " category_commission, delivery_fee, small_basket_fee, logistics_commission, total_refunded,"
            " commission_reversed, principal_id, idempotency_key, request_hash, created_by, created_at)"
            " SELECT id, 'refund', currency, $2, $3, 0, $4, $5, 0, 0, $6, $2::numeric - $3::numeric,"
            " $4::numeric + $5::numeric + $6::numeric, $7, $8, '\\x00',"
            " 't', $9 FROM orders WHERE id = $1 RETURNING id",
            order_id, d(amount), d(discount), d(seller), d(category), d(logistics), uuid.uuid4(), str(uuid.uuid4()),
            at,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO refund_lines (refund_id, order_id, position, product_id, quantity, amount, discount, tax,"
            " seller_commission, category_commission)"
            " SELECT $1, order_id, position, product_id, 1, $3, $4, 0, $5, $6 FROM order_lines"
            " WHERE order_id = $2 AND position = $7",
            refund_id, order_id, d(amount), d(discount), d(seller), d(category), position,
        )  # fmt: skip
        # Its entry in the line's seller's ledger, as a refund writes it (no tax, no shipment here).
        await conn.execute(
            "INSERT INTO seller_ledger (seller_id, kind, id, order_id, currency, at, goods, tax, platform, commission,"
            " commission_tax, delivery, tax_collected, tax_refunded)"
            " SELECT l.seller_id, 'refund', r.id, r.order_id, r.currency, r.created_at, rl.discount - rl.amount, 0, 0,"
            " -(rl.seller_commission + rl.category_commission), 0, 0, 0, 0"
            " FROM refunds r JOIN refund_lines rl ON rl.refund_id = r.id"
            " JOIN order_lines l ON l.order_id = rl.order_id AND l.position = rl.position"
            " WHERE r.id = $1 AND l.seller_id IS NOT NULL",
            refund_id,
        )


async def fixed_data(pool: asyncpg.Pool) -> None:
    """Yesterday 18h: q1 (ordered), q2. Today 9h: q3 (ordered, with a coupon). Current hour: q4.
    q1 and q2 go to Istanbul (spelt two ways), q3 to Ankara, q4 has no delivery city logged."""
    q1, r1 = quote_row(at=YESTERDAY, customer="a", lines=[("p1", "shoes", 2, "100.00", "0")],
                       rules=[(RULE, "-5.00")], variants={"banner": "control"}, delivery=("Istanbul", "TR"),
                       flags=("banner", "dynamic_pricing"))  # fmt: skip
    _q2, r2 = quote_row(at=YESTERDAY + timedelta(minutes=20), customer="b",
                       lines=[("p1", "shoes", 1, "50.00", "0"), ("p2", "bags", 1, "30.00", "0")],
                       variants={"banner": "savings"}, delivery=(" ISTANBUL ", "tr"), flags=("banner",))  # fmt: skip
    q3, r3 = quote_row(at=H9, customer="a", lines=[("p2", "bags", 3, "90.00", "9.00")], rules=[(RULE, "-4.50")],
                       variants={"banner": "control"}, delivery=("Ankara", "TR"))  # fmt: skip
    _q4, r4 = quote_row(at=NOW - timedelta(minutes=10), customer="c", lines=[("p1", "shoes", 1, "50.00", "0")],
                       variants={"banner": "savings"}, flags=("banner",))  # fmt: skip
    await log_quotes(pool, r1, r2, r3, r4)
    logistics = uuid.uuid4()
    await pool.execute(
        "INSERT INTO commission_rates (id, logistics_provider, commission_type, rate, currency, effective_from,"
        " created_by, updated_by) VALUES ($1, 'fastship', 'FLAT', 2, 'TRY', $2, 't', 't')",
        logistics, YESTERDAY - timedelta(days=1),
    )  # fmt: skip
    await order(pool, q1, at=YESTERDAY + timedelta(minutes=5), subtotal="100.00", lines=[("p1", "s-1", "shoes")],
                commissions=[("p1", "seller", "10.00"), ("p1", "category", "5.00"), (None, "logistics", "2.00")],
                provider_rate=logistics)  # fmt: skip
    await order(pool, q3, at=H9 + timedelta(minutes=3), subtotal="90.00", discount="9.00",
                lines=[("p2", "s-2", "bags")],
                commissions=[("p2", "seller", "8.10"), (None, "logistics", "2.00")])  # fmt: skip


def rows_by_key(report: Any) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in msgspec.to_builtins(report)["rows"]}


PRICING_BY_DAY = {
    "2026-03-09": {"quotes": 2, "orders": 1, "conversion_rate": "50.00", "revenue": "100.00", "discount": "0.00",
                   "average_basket": "100.00"},
    "2026-03-10": {"quotes": 2, "orders": 1, "conversion_rate": "50.00", "revenue": "81.00", "discount": "9.00",
                   "average_basket": "81.00"},
}  # fmt: skip


async def check_reports(analytics: Analytics) -> None:
    days = rows_by_key(await analytics.pricing("day", TWO_DAYS, now=NOW))
    assert {k: {f: v[f] for f in PRICING_BY_DAY[k]} for k, v in days.items()} == PRICING_BY_DAY
    products = rows_by_key(await analytics.pricing("product", TWO_DAYS, now=NOW))
    # p1: in q1 (ordered, 100.00), q2, q4 -> 3 quotes, 1 order; p2: q2, q3 (ordered, 90.00 - 9.00).
    assert (products["p1"]["quotes"], products["p1"]["orders"], products["p1"]["revenue"]) == (3, 1, "100.00")
    assert (products["p2"]["quotes"], products["p2"]["orders"], products["p2"]["revenue"]) == (2, 1, "81.00")
    assert products["p2"]["conversion_rate"] == "50.00"
    assert products["p1"]["conversion_rate"] == "33.33"
    categories = rows_by_key(await analytics.pricing("category", TWO_DAYS, now=NOW))
    assert {k: v["quotes"] for k, v in categories.items()} == {"shoes": 3, "bags": 2}
    rules = rows_by_key(await analytics.pricing("rule", TWO_DAYS, now=NOW))
    assert rules[RULE]["quotes"] == 2
    assert rules[RULE]["orders"] == 2
    assert rules[RULE]["amount"] == "-9.50"
    variants = rows_by_key(await analytics.pricing("variant", TWO_DAYS, now=NOW))
    assert {k: (v["quotes"], v["orders"]) for k, v in variants.items()} == {
        "banner:control": (2, 2),
        "banner:savings": (2, 0),
    }
    assert variants["banner:savings"]["average_basket"] is None
    one_day = rows_by_key(await analytics.pricing("day", local_days(date(2026, 3, 10), date(2026, 3, 10)), now=NOW))
    assert list(one_day) == ["2026-03-10"]
    empty = await analytics.pricing("day", local_days(date(2026, 3, 1), date(2026, 3, 2)), now=NOW)
    assert empty.rows == []
    regions = rows_by_key(await analytics.pricing("region", TWO_DAYS, now=NOW))
    figures = {k: (v["quotes"], v["orders"], v["revenue"], v.get("city"), v.get("country")) for k, v in regions.items()}
    assert figures == {
        "Istanbul, TR": (2, 1, "100.00", "Istanbul", "TR"),  # "Istanbul"/"TR" and " ISTANBUL "/"tr": one region
        "Ankara, TR": (1, 1, "81.00", "Ankara", "TR"),
        "": (1, 0, "0.00", None, None),  # no delivery city logged
    }  # fmt: skip
    commission = rows_by_key(await analytics.commission("day", TWO_DAYS, now=NOW))
    assert commission["2026-03-09"]["total_commission"] == "17.00"
    assert commission["2026-03-10"]["seller_commission"] == "8.10"
    # average_rate = commission / goods x 100: 17.00 / 100.00; 10.10 / (90.00 - 9.00) = 12.469...
    assert {k: (v["goods"], v["average_rate"]) for k, v in commission.items()} == {
        "2026-03-09": ("100.00", "17.00"),
        "2026-03-10": ("81.00", "12.47"),
    }
    sellers = rows_by_key(await analytics.commission("seller", TWO_DAYS, now=NOW))
    # The per-order logistics parts are not a seller's: they have the key "" (and no goods, so no rate).
    assert {k: (v["total_commission"], v["goods"], v["average_rate"]) for k, v in sellers.items()} == {
        "s-1": ("15.00", "100.00", "15.00"),
        "s-2": ("8.10", "81.00", "10.00"),
        "": ("4.00", "0.00", None),
    }
    providers = rows_by_key(await analytics.commission("logistics_provider", TWO_DAYS, now=NOW))
    assert {k: (v["orders"], v["total_commission"], v["average_rate"]) for k, v in providers.items()} == {
        "fastship": (1, "17.00", "17.00"),
        "": (1, "10.10", "12.47"),
    }


async def test_reports_match_hand_computed_values_live_and_from_rollups(pool: asyncpg.Pool) -> None:
    await fixed_data(pool)
    analytics = Analytics(ReadPools(pool))
    await check_reports(analytics)  # nothing rolled up yet: every hour computed live
    job = RollupJob(pool, clock=lambda: NOW)
    assert await job.tick() > 0
    assert await pool.fetchval("SELECT count(*) FROM rollup_dirty WHERE hour < $1", NOW.replace(minute=0)) == 0
    assert await pool.fetchval("SELECT count(*) FROM rollup_pricing_hourly") > 0
    await check_reports(analytics)  # closed hours from the rollups, the current hour live
    await rebuild(pool, now=NOW)
    await check_reports(analytics)


async def test_commission_by_seller_follows_the_line_not_the_product_id(pool: asyncpg.Pool) -> None:
    # One product id sold by two sellers in one order: each seller's commission is on its own line.
    await order(pool, uuid.uuid4(), at=H9, subtotal="240.00", lines=[("p9", "s-a", "toys"), ("p9", "s-b", "toys")],
                commissions=[("p9", "category", "30.00", 0), ("p9", "category", "6.00", 1),
                             ("p9", "seller", "2.00", 1)])  # fmt: skip
    analytics = Analytics(ReadPools(pool))
    for _ in range(2):  # live, then from the rollups
        sellers = rows_by_key(await analytics.commission("seller", TWO_DAYS, now=NOW))
        assert {k: (v["category_commission"], v["seller_commission"]) for k, v in sellers.items()} == {
            "s-a": ("30.00", "0.00"),
            "s-b": ("6.00", "2.00"),
        }
        await RollupJob(pool, clock=lambda: NOW).tick()


async def test_reports_are_net_of_refunds_live_and_from_rollups(pool: asyncpg.Pool) -> None:
    await fixed_data(pool)
    q3_order = await pool.fetchval("SELECT id FROM orders WHERE created_at = $1", H9 + timedelta(minutes=3))
    # One of q3's three bags comes back: 30.00 with 3.00 of its discount, 2.70 seller commission,
    # and the delivery's 2.00 logistics commission; refunded in the current hour, counted with the order.
    analytics = Analytics(ReadPools(pool))
    job = RollupJob(pool, clock=lambda: NOW)
    await job.tick()  # the order's hours are rolled up before the refund comes
    await check_reports(analytics)  # and cached as settled
    await refund(pool, q3_order, at=NOW - timedelta(minutes=5), amount="30.00", discount="3.00", seller="2.70",
                 logistics="2.00")  # fmt: skip

    async def check() -> None:
        days = rows_by_key(await analytics.pricing("day", TWO_DAYS, now=NOW))
        assert {k: (v["revenue"], v["refunds"]) for k, v in days.items()} == {
            "2026-03-09": ("100.00", "0.00"),
            "2026-03-10": ("54.00", "27.00"),  # 90.00 - 9.00 - (30.00 - 3.00)
        }
        products = rows_by_key(await analytics.pricing("product", TWO_DAYS, now=NOW))
        assert (products["p2"]["revenue"], products["p2"]["refunds"]) == ("54.00", "27.00")
        assert (products["p1"]["revenue"], products["p1"]["refunds"]) == ("100.00", "0.00")
        commission = rows_by_key(await analytics.commission("day", TWO_DAYS, now=NOW))
        today = commission["2026-03-10"]
        assert today["total_commission"] == "10.10"  # as charged
        assert today["reversed"] == {"seller_commission": "2.70", "category_commission": "0.00",
                                     "logistics_commission": "2.00", "total_commission": "4.70"}  # fmt: skip
        assert today["net"] == {"seller_commission": "5.40", "category_commission": "0.00",
                                "logistics_commission": "0.00", "total_commission": "5.40"}  # fmt: skip
        sellers = rows_by_key(await analytics.commission("seller", TWO_DAYS, now=NOW))
        assert sellers["s-2"]["reversed"]["seller_commission"] == "2.70"
        assert sellers[""]["reversed"]["logistics_commission"] == "2.00"  # per order, like its charge
        assert sellers["s-1"]["net"]["total_commission"] == "15.00"

    await check()  # exact before the job runs again: the refund marked its order's hours
    await job.tick()
    await check()  # from the rewritten rollups
    await rebuild(pool, now=NOW)
    await check()


async def test_a_late_row_lands_in_its_own_hour(pool: asyncpg.Pool) -> None:
    await fixed_data(pool)
    job = RollupJob(pool, clock=lambda: NOW)
    await job.tick()
    analytics = Analytics(ReadPools(pool))  # one instance throughout: its cache of settled days must not go stale

    async def yesterday_quotes() -> int:
        days = rows_by_key(await analytics.pricing("day", TWO_DAYS, now=NOW))
        quotes: int = days["2026-03-09"]["quotes"]
        return quotes

    assert await yesterday_quotes() == 2  # from the daily rollup (and now cached)
    # A write-behind row of yesterday 18h arrives after that hour was rolled up.
    _late, row = quote_row(at=YESTERDAY + timedelta(minutes=50), customer="z", lines=[("p3", "hats", 1, "10.00", "0")])
    await log_quotes(pool, row)
    assert await yesterday_quotes() == 3  # exact before the job ran again (the hour is computed live)
    await job.tick()
    stored = await pool.fetchval(
        "SELECT quotes FROM rollup_pricing_hourly WHERE dim = 'all' AND hour = $1", YESTERDAY.replace(minute=0)
    )
    assert stored == 3
    assert await pool.fetchval("SELECT count(*) FROM rollup_dirty WHERE hour < $1", NOW.replace(minute=0)) == 0
    assert await yesterday_quotes() == 3  # settled again, from the rewritten daily rollup, not the cache


async def _snapshot(pool: asyncpg.Pool) -> list[list[tuple[Any, ...]]]:
    return [
        sorted(tuple(r) for r in await pool.fetch(f"SELECT * FROM {table}"))
        for table in ("rollup_pricing_hourly", "rollup_commission_hourly", "rollup_variant_customers")
    ]


async def test_incremental_rollups_equal_a_rebuild_under_concurrent_writes(pool: asyncpg.Pool) -> None:
    rng = random.Random(5)
    start = NOW.replace(minute=0) - timedelta(hours=6)
    job_a, job_b = RollupJob(pool, clock=lambda: NOW), RollupJob(pool, clock=lambda: NOW)
    stop = asyncio.Event()

    async def writer(seed: int) -> None:
        local = random.Random(seed)
        placed_orders: list[tuple[uuid.UUID, datetime]] = []
        for _ in range(40):
            at = start + timedelta(seconds=local.uniform(0, 6 * 3600))
            product = f"p{local.randint(1, 4)}"
            currency = local.choice(("TRY", "EUR"))  # every dimension in two currencies
            quote_id, row = quote_row(at=at, customer=f"c{local.randint(1, 9)}",
                                      lines=[(product, "cat", 1, "10.00", "0")],
                                      variants={"banner": local.choice(("control", "savings"))}, currency=currency,
                                      delivery=local.choice((("Izmir", "TR"), ("Berlin", "DE"))),
                                      flags=local.choice(((), ("banner",), ("banner", "fast"))))  # fmt: skip
            await log_quotes(pool, row)
            if local.random() < 0.4:
                placed = await order(pool, quote_id, at=at + timedelta(minutes=2), subtotal="10.00",
                                     currency=currency, lines=[(product, "s", "cat")],
                                     commissions=[(product, "seller", "1.00")])  # fmt: skip
                placed_orders.append((placed, at))
            if placed_orders and local.random() < 0.3:  # an earlier order refunded, its hours maybe rolled up
                placed, at = placed_orders.pop(local.randrange(len(placed_orders)))
                await refund(pool, placed, at=at + timedelta(minutes=local.randint(3, 300)), amount="4.00",
                             seller="0.40", logistics=local.choice(("0", "0.50")))  # fmt: skip

    async def ticking(job: RollupJob) -> None:
        while not stop.is_set():
            await job.tick()
            await asyncio.sleep(rng.uniform(0, 0.01))

    tickers = [asyncio.create_task(ticking(job_a)), asyncio.create_task(ticking(job_b))]
    await asyncio.gather(*(writer(seed) for seed in range(4)))
    stop.set()
    await asyncio.gather(*tickers)
    while await job_a.tick():
        pass
    incremental = await _snapshot(pool)
    assert incremental[0], "the job rolled something up"
    assert {(r[1], r[3]) for r in incremental[0] if r[1] in ("region", "flag")} == {
        (dim, currency) for dim in ("region", "flag") for currency in ("EUR", "TRY")
    }
    await rebuild(pool, now=NOW)
    assert await _snapshot(pool) == incremental


async def test_writes_of_one_hour_never_wait_for_each_other_to_mark_it(pool: asyncpg.Pool) -> None:
    # Every order and quote-log batch marks its hour dirty in its own transaction: an upsert of one
    # row per hour made the second writer of the hour wait for the first one's commit (orders got
    # 503 on lock timeouts under load).
    hour = NOW.replace(minute=0, second=0, microsecond=0)
    async with pool.acquire() as first, pool.acquire() as second, first.transaction():
        await first.execute("SELECT rollup_mark('commission', ARRAY[$1::timestamptz])", hour)
        async with second.transaction():
            await second.execute("SET LOCAL lock_timeout = '200ms'")
            await second.execute("SELECT rollup_mark('commission', ARRAY[$1::timestamptz])", hour)

    job = RollupJob(pool, interval=60, clock=lambda: hour + timedelta(hours=1))
    assert await job.tick() == 1  # both marks of the hour cleared in one pass
    assert await pool.fetchval("SELECT count(*) FROM rollup_dirty") == 0


_GENERATED_DIGEST = """
SELECT md5(string_agg(t, '|' ORDER BY t)) FROM (
    SELECT quote_id::text || customer_id || total_amount::text || lines::text || applied_rules::text
           || experiments::text || created_at::text AS t FROM quote_log
    UNION ALL SELECT quote_id::text || total_amount::text || created_at::text FROM orders
    UNION ALL SELECT id::text || current_price::text FROM products
    UNION ALL SELECT product_id::text || competitor || price::text || observed_at::text || in_stock::text
                     || received_at::text FROM competitor_prices
    UNION ALL SELECT flash_sale_id::text || product_id::text || quantity::text || created_at::text
              FROM flash_purchases
) x
"""

_ROLLUPS_DIGEST = """
SELECT md5(string_agg(t, '|' ORDER BY t)) FROM (
    SELECT 'ph' || r::text AS t FROM rollup_pricing_hourly r
    UNION ALL SELECT 'pd' || r::text FROM rollup_pricing_daily r
    UNION ALL SELECT 'ch' || r::text FROM rollup_commission_hourly r
    UNION ALL SELECT 'cd' || r::text FROM rollup_commission_daily r
    UNION ALL SELECT 'vc' || r::text FROM rollup_variant_customers r
) x
"""


async def test_generate_data_is_reproducible(make_database: Any) -> None:
    """Same seed: the same rows (competitor observations and flash purchases included); another
    seed: other rows. The rollups it recomputes as it goes equal a rebuild from the raw rows."""
    from quote_service.cli.generate import generate
    from quote_service.db.migrate import apply_migrations
    from quote_service.db.pool import create_pool

    digests = []
    for seed in (3, 3, 4):
        url = await make_database()  # type: ignore[operator]
        await apply_migrations(url)
        pool = await create_pool(url, min_size=1, max_size=2)
        try:
            summary = await generate(pool, products=20, days=2, quotes_per_day=300, seed=seed, now=NOW, progress=False)
            assert summary.quotes == 600
            assert summary.orders > 0
            assert summary.flash_sales == 1
            assert summary.competitor_prices == await pool.fetchval("SELECT count(*) FROM competitor_prices") > 0
            # Observations sit around our price of the moment, within the day, after they were made.
            assert await pool.fetchval(
                "SELECT bool_and(c.price BETWEEN p.min_price / 0.9 * 0.8 AND p.base_price * 1.3"
                " AND c.received_at > c.observed_at AND c.observed_at < $1)"
                " FROM competitor_prices c JOIN products p ON p.id = c.product_id",
                NOW,
            )
            digests.append(await pool.fetchval(_GENERATED_DIGEST))
            assert await pool.fetchval("SELECT sum(quotes) FROM rollup_pricing_hourly WHERE dim = 'all'") == 600
            assert await pool.fetchval("SELECT sum(quotes) FROM rollup_pricing_daily WHERE dim = 'all'") == 600
            assert await pool.fetchval("SELECT sum(orders) FROM rollup_commission_hourly WHERE dim = 'all'") == (
                summary.orders
            )
            if seed == 3:  # an order in day 1's first hour marks day 0's last hour again, after day 0
                second_day = NOW.replace(minute=0) - timedelta(days=1)
                assert await pool.fetchval(
                    "SELECT count(*) FROM orders WHERE created_at >= $1 AND created_at < $2",
                    second_day,
                    second_day + timedelta(hours=1),
                )
            assert await pool.fetchval("SELECT count(*) FROM rollup_dirty") == 0  # every hour written settled
            recomputed = await pool.fetchval(_ROLLUPS_DIGEST)
            await rebuild(pool, now=NOW)
            assert await pool.fetchval(_ROLLUPS_DIGEST) == recomputed
        finally:
            await pool.close()
    assert digests[0] == digests[1]
    assert digests[0] != digests[2]


def test_rates_and_elasticity_by_hand() -> None:
    assert percent(1, 3) == Decimal("33.33")
    assert percent(2, 3) == Decimal("66.67")
    assert percent(5, 0) is None
    # (p0 100, q0 10) -> (p1 80, q1 30): dq = 20 / 20 = 1; dp = -20 / 90; e = -4.5
    assert arc_elasticity(Decimal(100), 10, Decimal(80), 30) == -4.5
    assert arc_elasticity(Decimal(100), 0, Decimal(80), 30) is None
    assert arc_elasticity(Decimal(100), 10, Decimal(80), 0) is None


async def test_http_reports_validate_their_query(
    client: AsyncTestClient[Litestar], admin: Caller, shopper: Caller
) -> None:
    base = "/api/v1/analytics"
    for query, field in (
        ("?from=2026-13-01", "from"),
        ("?to=yesterday", "to"),
        ("?from=2026-03-10&to=2026-03-01", "from"),
        ("?group_by=week", "group_by"),
    ):
        response = await client.get(f"{base}/pricing{query}", headers=admin.headers)
        assert list(field_errors(expect_error(response, 422, "VALIDATION_FAILED"))) == [field], query
    by_rule = await client.get(f"{base}/commission?group_by=rule", headers=admin.headers)
    assert list(field_errors(expect_error(by_rule, 422, "VALIDATION_FAILED"))) == ["group_by"]
    expect_error(await client.get(f"{base}/pricing", headers=shopper.headers), 403, "FORBIDDEN")
    ok = await client.get(f"{base}/commission?group_by=seller", headers=admin.headers)
    assert ok.status_code == 200
    assert ok.json()["data"]["rows"] == []
    expect_error(await client.get(f"{base}/flash-sales/{uuid.uuid4()}", headers=admin.headers), 404, "NOT_FOUND")


async def test_a_real_quote_reaches_the_reports(
    client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool
) -> None:
    """The service's own quote-log rows (written behind the response) are what the rollup SQL reads."""
    from tests.integration.quotes.test_quote_api import QUOTE, quote_body

    response = await client.post(QUOTE, json=quote_body(), headers=admin.headers)
    assert response.status_code == 200
    # the write-behind flush runs every 0.2 s
    await until(lambda: pool.fetchval("SELECT count(*) FROM quote_log"), "the quote-log row is written", within=5)
    rows = rows_by_key(
        msgspec.convert(
            (await client.get("/api/v1/analytics/pricing?group_by=product", headers=admin.headers)).json()["data"],
            dict,
        )
    )
    items = response.json()["data"]["items"]
    assert rows[items[0]["product_id"]]["quotes"] == 1
    assert rows[items[0]["product_id"]]["orders"] == 0


async def test_experiment_figures_and_z_test_by_hand(
    client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool
) -> None:
    """control: 4 quotes, 2 orders (50 %); savings: 4 quotes, 1 order (25 %).
    pooled 3/8: se = sqrt(0.375 x 0.625 x (1/4 + 1/4)) = 0.342327, z = -0.730297, p = 0.465209;
    lift = -50 %; CI = -0.25 -+ 1.96 sqrt(0.0625 + 0.046875) = [-89.82, 39.82] percentage points."""
    flag = {
        "key": "banner",
        "name": "Banner",
        "type": "STRING",
        "value": "control",
        "rollout": {
            "variants": [{"key": "control", "weight": 1, "value": "a"}, {"key": "savings", "weight": 1, "value": "b"}],
            "guardrail": {"max_drop_percent": 20, "min_exposures": 1000},
        },
    }
    assert (await client.post("/api/v1/feature-flags", json=flag, headers=admin.headers)).status_code == 201
    from quote_service.clock import utcnow

    at = utcnow() - timedelta(seconds=30)
    for arm, ordered in (("control", 2), ("savings", 1)):
        for i in range(4):
            quote_id, row = quote_row(at=at, customer=f"{arm}-{i % 3}", lines=[("p1", "c", 1, "20.00", "0")],
                                      variants={"banner": arm})  # fmt: skip
            await log_quotes(pool, row)
            if i < ordered:
                await order(pool, quote_id, at=at, subtotal="20.00")
    response = await client.get("/api/v1/experiments/banner", headers=admin.headers)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["control"] == "control"
    assert data["status"] == "running"
    assert data["guardrail"] == {"max_drop_percent": 20.0, "min_exposures": 1000, "metric": "conversion"}
    control, savings = data["variants"]
    assert (control["exposures"], control["orders"], control["conversion_rate"]) == (4, 2, "50.00")
    assert control["revenue_per_quote"] == "10.00"
    assert (data["currency"], control["revenue_per_quote_by_currency"]) == ("TRY", {"TRY": "10.00"})
    assert control["lift"] is None
    assert (savings["exposures"], savings["orders"], savings["conversion_rate"]) == (4, 1, "25.00")
    assert savings["lift"] == -50.0
    assert savings["p_value"] == pytest.approx(0.465209, abs=1e-6)
    assert savings["ci95"] == [-89.82, 39.82]
    listed = (await client.get("/api/v1/experiments", headers=admin.headers)).json()["data"]
    assert [e["key"] for e in listed] == ["banner"]
    expect_error(await client.get("/api/v1/experiments/nope", headers=admin.headers), 404, "NOT_FOUND")
    bad = dict(flag, key="lonely", rollout={"guardrail": {"max_drop_percent": 20, "min_exposures": 10}})
    refused = await client.post("/api/v1/feature-flags", json=bad, headers=admin.headers)
    assert "rollout.guardrail" in field_errors(expect_error(refused, 422, "VALIDATION_FAILED"))
    expect_error(await client.get("/api/v1/feature-flags/key/lonely", headers=admin.headers), 404, "NOT_FOUND")
