"""Local time (docs/time-zones.md): BUSINESS_TIMEZONE, TIME_WINDOW zones in quotes, and the `tz` of
analytics, seller statements and the dashboard's "today"."""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.analytics.rollups import RollupJob, rebuild
from quote_service.analytics.service import Analytics
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.db.replica import ReadPools
from quote_service.periods import local_days, parse_period
from tests.integration.analytics.test_analytics import log_quotes, order, quote_row, refund
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors

Client = AsyncTestClient[Litestar]
ANALYTICS = "/api/v1/analytics"
ISTANBUL = ZoneInfo("Europe/Istanbul")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def sale(pool: asyncpg.Pool, when: datetime, amount: str, *, seller: str = "s-1") -> uuid.UUID:
    """A quote and its order at `when` (one line of `seller`, 10 % seller commission)."""
    quote_id, row = quote_row(at=when, lines=[("p1", "shoes", 1, amount, "0")])
    await log_quotes(pool, row)
    commission = str(Decimal(amount) / 10)
    return await order(
        pool,
        quote_id,
        at=when,
        subtotal=amount,
        lines=[("p1", seller, "shoes")],
        commissions=[("p1", "seller", commission)],
    )


async def istanbul_night(pool: asyncpg.Pool) -> None:
    """Sales on the evening of 9 March and in the night after, as Istanbul (UTC+3) lives them."""
    await sale(pool, at("2026-03-09T20:30"), "10.00")  # 23:30 on the 9th in Istanbul
    await sale(pool, at("2026-03-09T21:00"), "20.00")  # 00:00 on the 10th: the day starts
    await sale(pool, at("2026-03-09T23:59"), "40.00")  # 02:59 on the 10th
    await sale(pool, at("2026-03-10T12:00"), "80.00")  # 15:00 on the 10th


def by_day(report: dict[str, Any], *fields: str) -> dict[str, tuple[Any, ...]]:
    return {row["key"]: tuple(row[field] for field in fields) for row in report["rows"]}


async def test_sales_between_midnight_and_three_in_istanbul_land_on_the_istanbul_day(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    await istanbul_night(pool)
    query = "group_by=day&from=2026-03-09&to=2026-03-10"

    async def reports() -> list[dict[str, Any]]:
        return [
            expect_ok(await client.get(f"{ANALYTICS}/{kind}?{query}&tz={tz}", headers=admin.headers))
            for kind in ("pricing", "commission")
            for tz in ("Europe/Istanbul", "UTC")
        ]

    live = await reports()  # every hour is still marked: computed from the raw rows
    istanbul, utc, istanbul_commission, utc_commission = live
    assert by_day(istanbul, "quotes", "revenue") == {"2026-03-09": (1, "10.00"), "2026-03-10": (3, "140.00")}
    assert by_day(utc, "quotes", "revenue") == {"2026-03-09": (3, "70.00"), "2026-03-10": (1, "80.00")}
    assert by_day(istanbul_commission, "orders", "seller_commission") == {
        "2026-03-09": (1, "1.00"),
        "2026-03-10": (3, "14.00"),
    }
    assert by_day(utc_commission, "orders") == {"2026-03-09": (3,), "2026-03-10": (1,)}
    assert (istanbul["from"], istanbul["to"], istanbul["tz"]) == ("2026-03-09", "2026-03-10", "Europe/Istanbul")
    assert (istanbul["start"], istanbul["end"]) == ("2026-03-08T21:00:00Z", "2026-03-10T21:00:00Z")

    await RollupJob(pool).tick()  # the hours are rolled up: the same answers from the rollups
    assert await pool.fetchval("SELECT count(*) FROM rollup_dirty") == 0
    assert await reports() == live
    await rebuild(pool, now=utcnow())
    assert await reports() == live


async def test_a_period_may_be_given_as_instants_and_in_any_zone(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    await istanbul_night(pool)
    await RollupJob(pool).tick()
    # From 21:30 UTC (00:30 in Istanbul) to 12:00 UTC excluded: the two night sales, on the 10th.
    query = "group_by=day&from=2026-03-09T21:30:00Z&to=2026-03-10T15:00:00%2B03:00&tz=Europe/Istanbul"
    report = expect_ok(await client.get(f"{ANALYTICS}/pricing?{query}", headers=admin.headers))
    assert by_day(report, "quotes", "revenue") == {"2026-03-10": (1, "40.00")}
    assert (report["from"], report["to"], report["start"], report["end"]) == (
        "2026-03-10",
        "2026-03-10",
        "2026-03-09T21:30:00Z",
        "2026-03-10T12:00:00Z",
    )
    # Kolkata (UTC+5:30): the 10th starts at 18:30 UTC on the 9th, inside an hour of the rollups.
    kolkata = expect_ok(
        await client.get(
            f"{ANALYTICS}/pricing?group_by=day&from=2026-03-09&to=2026-03-10&tz=Asia/Kolkata", headers=admin.headers
        )
    )
    assert by_day(kolkata, "quotes") == {"2026-03-10": (4,)}


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        (f"{ANALYTICS}/pricing", "tz=Europe/Istambul", "tz"),
        (f"{ANALYTICS}/commission", "tz=+03:00", "tz"),
        (f"{ANALYTICS}/flags", "tz=", "tz"),
        (f"{ANALYTICS}/pricing", "from=2026-03-09T25:00:00Z", "from"),
        (f"{ANALYTICS}/pricing", "to=2026-03-09T10:00:00", "to"),  # an instant needs its offset
        (f"{ANALYTICS}/pricing", "from=2026-03-10T10:00:00Z&to=2026-03-10T10:00:00Z", "from"),
        (f"{ANALYTICS}/pricing", "from=0000-12-31T23:00:00-02:00", "from"),
        ("/api/v1/sellers/s-1/statement", "tz=Mars/Olympus", "tz"),
        ("/api/v1/sellers/s-1/statement", "from=10000-01-01", "from"),
        ("/api/v1/dashboard/summary", "tz=europe/istanbul", "tz"),
        # docs/http.md: files of the zone database that name no region, and times given as numbers
        (f"{ANALYTICS}/pricing", "tz=localtime", "tz"),
        (f"{ANALYTICS}/commission", "tz=Factory", "tz"),
        ("/api/v1/sellers/s-1/statement", "tz=posixrules", "tz"),
        ("/api/v1/sellers/s-1/statement", "format=csv&tz=localtime", "tz"),
        ("/api/v1/dashboard/summary", "tz=localtime", "tz"),
        (f"{ANALYTICS}/pricing", "to=1", "to"),
        ("/api/v1/sellers/s-1/statement", "from=1700000000", "from"),
        ("/api/v1/sellers/s-1/statement", "to=", "to"),
        ("/api/v1/orders", "to=1", "to"),
        ("/api/v1/audit", "to=1", "to"),
        ("/api/v1/audit", "from=1700000000", "from"),
        ("/api/v1/audit", "to=2026-03-10T10:00:00", "to"),
    ],
)
async def test_an_unknown_zone_or_a_bad_bound_is_named(
    client: Client, admin: Caller, path: str, query: str, field: str
) -> None:
    refused = expect_error(await client.get(f"{path}?{query}", headers=admin.headers), 422, "VALIDATION_FAILED")
    assert list(field_errors(refused)) == [field]


async def test_statements_cut_local_days_the_same_as_json_csv_and_analytics(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    orders = [await sale(pool, when, amount) for when, amount in ((at("2026-03-09T20:30"), "10.00"),
                                                                  (at("2026-03-09T22:00"), "20.00"))]  # fmt: skip
    # The second order is refunded 01:30 Istanbul time on the 11th (22:30 UTC on the 10th).
    await refund(pool, orders[1], at=at("2026-03-10T22:30"), amount="20.00", seller="2.00")
    params = {"from": "2026-03-09", "to": "2026-03-11", "tz": "Europe/Istanbul"}
    url = "/api/v1/sellers/s-1/statement"
    shown = expect_ok(await client.get(url, params=params, headers=admin.headers))
    assert [(d["date"], d["gross_sales"], d["refunds"], d["payout"]) for d in shown["days"]] == [
        ("2026-03-09", "10.00", "0.00", "9.00"),
        ("2026-03-10", "20.00", "0.00", "18.00"),
        ("2026-03-11", "0.00", "20.00", "-18.00"),
    ]
    assert (shown["tz"], shown["start"], shown["end"]) == (
        "Europe/Istanbul",
        "2026-03-08T21:00:00Z",
        "2026-03-11T21:00:00Z",
    )
    in_utc = expect_ok(await client.get(url, params={**params, "tz": "UTC"}, headers=admin.headers))
    assert [(d["date"], d["gross_sales"], d["refunds"]) for d in in_utc["days"]] == [
        ("2026-03-09", "30.00", "0.00"),
        ("2026-03-10", "0.00", "20.00"),
    ]
    sheet = await client.get(url, params={**params, "format": "csv"}, headers=admin.headers)
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert [(r["date"], r["gross_sales"], r["refunds"], r["payout"]) for r in rows] == [
        *((d["date"], d["gross_sales"], d["refunds"], d["payout"]) for d in shown["days"]),
        ("total", shown["gross_sales"], shown["refunds"], shown["payout"]),
    ]
    assert "2026-03-09-2026-03-11" in sheet.headers["content-disposition"]
    # The same days in the commission report, live and after a rebuild.
    query = {"group_by": "day", "from": "2026-03-09", "to": "2026-03-11", "tz": "Europe/Istanbul"}
    commission = expect_ok(await client.get(f"{ANALYTICS}/commission", params=query, headers=admin.headers))
    assert by_day(commission, "orders", "seller_commission") == {"2026-03-09": (1, "1.00"), "2026-03-10": (1, "2.00")}
    await rebuild(pool, now=utcnow())
    assert expect_ok(await client.get(f"{ANALYTICS}/commission", params=query, headers=admin.headers)) == commission


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The service keeps Istanbul's days and clocks (BUSINESS_TIMEZONE)."""
    return msgspec.structs.replace(settings, business_timezone="Europe/Istanbul")


async def test_the_business_zone_is_the_default_of_reports_and_time_windows(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    await istanbul_night(pool)
    report = expect_ok(
        await client.get(f"{ANALYTICS}/pricing?group_by=day&from=2026-03-09&to=2026-03-10", headers=admin.headers)
    )
    assert (report["tz"], by_day(report, "quotes")) == ("Europe/Istanbul", {"2026-03-09": (1,), "2026-03-10": (3,)})

    # A window around the current minute of Istanbul's clock, with no zone of its own: it applies;
    # the same window in UTC (three hours earlier) does not.
    product = await create_product(client, admin, base_price="100.00", min_price="1.00", cost_price="0.50")
    local = utcnow().astimezone(ISTANBUL)
    start, end = ((local + timedelta(minutes=m)).strftime("%H:%M") for m in (-30, 30))
    for name, zone, percent in (("here", None, -10), ("there", "UTC", -20)):
        configuration = {"adjust_percent": percent, "start_time": start, "end_time": end}
        if zone:
            configuration["timezone"] = zone
        body = {
            "name": name,
            "type": "TIME_WINDOW",
            "configuration": configuration,
            "effective_from": "2025-01-01T00:00:00Z",
        }
        expect_ok(await client.post("/api/v1/pricing-rules", json=body, headers=admin.headers), 201)
    quote = {
        "customer_id": "anyone",
        "items": [{"product_id": product["id"], "quantity": 1}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "currency": "TRY",
    }
    line = expect_ok(await client.post("/api/v1/quote", json=quote, headers=admin.headers))["items"][0]
    assert [rule["name"] for rule in line["applied_rules"]] == ["here"]
    assert line["unit_price"] == "90.00"


async def test_the_dashboards_today_is_the_local_day_of_tz(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    now = utcnow()
    thirteen_hours_ago = now - timedelta(hours=13)
    await sale(pool, thirteen_hours_ago, "50.00")
    # Every whole-hour offset from UTC-11 to UTC+14 (the Etc/GMT names count the other way round).
    zones = [f"Etc/GMT+{hours}" for hours in range(1, 12)] + [f"Etc/GMT-{hours}" for hours in range(15)]
    seen: Counter[bool] = Counter()
    for name in zones:
        zone = ZoneInfo(name)
        local_midnight = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        today = thirteen_hours_ago >= local_midnight
        seen[today] += 1
        summary = expect_ok(await client.get("/api/v1/dashboard/summary", params={"tz": name}, headers=admin.headers))
        assert summary["tz"] == name
        assert [(t["currency"], t["revenue"]) for t in summary["today"]] == ([("TRY", "50.00")] if today else []), name
        days = [(d["date"], d["revenue"]) for d in summary["revenue_per_day"]]
        assert days == [(thirteen_hours_ago.astimezone(zone).date().isoformat(), "50.00")], name
    assert seen[True] > 0  # in some zones today began before the sale,
    assert seen[False] > 0  # in others after it


async def test_reports_in_any_zone_add_up_like_the_raw_rows(pool: asyncpg.Pool) -> None:
    """Random quotes, orders and refunds over five days; half the hours rolled up, some marked
    again after; reports by day and by product in zones of whole, half and quarter hours and
    across a clock change, for periods of dates and of instants: each equals the raw rows."""
    rng = random.Random(49)
    now = at("2026-03-30T10:20")  # Berlin's clocks went forward on the 29th at 01:00 UTC
    made: list[tuple[datetime, Decimal, datetime | None]] = []  # quote time, revenue, order time
    # Half the quotes at random, half in the hours local midnights cut (18:00-19:00 UTC for Kolkata
    # and Kathmandu, 21:00 and 22:00 for Istanbul and Berlin). The first 60, over five days, are
    # rolled up; the next 60, over the last day and a half, are not (their days are not settled).
    cut_hours = [now.replace(hour=h, minute=0) - timedelta(days=d) for d in range(1, 6) for h in (18, 21, 22)]
    for n in range(120):
        recent = n >= 60
        when = now - timedelta(minutes=rng.randrange(0, (36 if recent else 5 * 24) * 60))
        if n % 2:
            when = rng.choice(cut_hours[: 3 if recent else None]) + timedelta(minutes=rng.randrange(60))
        amount = Decimal(rng.randrange(100, 10_000)) / 100
        quote_id, row = quote_row(at=when, lines=[("p1", "shoes", 1, str(amount), "0")])
        await log_quotes(pool, row)
        ordered = None
        if rng.random() < 0.5:
            ordered = min(now, when + timedelta(minutes=rng.randrange(0, 90)))
            await order(pool, quote_id, at=ordered, subtotal=str(amount), lines=[("p1", "s-1", "shoes")])
        made.append((when, amount if ordered else Decimal(0), ordered))
        if len(made) == 60:
            await RollupJob(pool, clock=lambda: now).tick()  # the first half rolled up, the rest marked
    analytics = Analytics(ReadPools(pool))
    zones = ("UTC", "Europe/Istanbul", "Asia/Kolkata", "Asia/Kathmandu", "Europe/Berlin", "America/New_York")
    for name in zones:
        zone = ZoneInfo(name)
        periods = [local_days(date(2026, 3, 25), date(2026, 3, 30), name)]
        for _ in range(3):
            a, b = sorted(now - timedelta(minutes=rng.randrange(0, 6 * 24 * 60)) for _ in range(2))
            periods.append(
                parse_period(a.isoformat(), (b + timedelta(minutes=1)).isoformat(), name, default_zone="UTC", now=now)
            )
        for period in periods:
            inside = [(w, r, o) for w, r, o in made if period.start <= w < period.end]
            quotes: defaultdict[str, int] = defaultdict(int)
            revenue: defaultdict[str, Decimal] = defaultdict(Decimal)
            for when, amount, _ in inside:
                quotes[when.astimezone(zone).date().isoformat()] += 1
                revenue[when.astimezone(zone).date().isoformat()] += amount
            report = msgspec.to_builtins(await analytics.pricing("day", period, now=now))
            assert by_day(report, "quotes", "revenue") == {
                day: (n, f"{revenue[day]:.2f}") for day, n in quotes.items()
            }, (name, period.start, period.end)
            products = msgspec.to_builtins(await analytics.pricing("product", period, now=now))
            assert by_day(products, "quotes") == ({"p1": (len(inside),)} if inside else {})
            orders = Counter(
                o.astimezone(zone).date().isoformat() for _, _, o in made if o and period.start <= o < period.end
            )
            commission = msgspec.to_builtins(await analytics.commission("day", period, now=now))
            assert by_day(commission, "orders") == {day: (n,) for day, n in orders.items()}, (name, period.start)


async def test_a_half_hour_zone_reads_the_hours_its_midnights_cut_in_one_statement(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kolkata's midnights (18:30 UTC) cut an hour of the rollups every day: the two halves of each of
    those hours are read from the raw rows, all in one statement (not two per day), and the report
    by day equals the raw rows."""
    now = at("2026-03-30T10:20")
    zone = ZoneInfo("Asia/Kolkata")
    made: list[tuple[datetime, Decimal, datetime | None]] = []
    for day in range(1, 41):  # both sides of 40 local midnights, and one quote in a whole hour a day
        cut = now.replace(hour=18, minute=0) - timedelta(days=day)
        for when in (cut + timedelta(minutes=10), cut + timedelta(minutes=45), cut - timedelta(hours=5)):
            amount = Decimal(day * 100 + when.minute) / 100
            quote_id, row = quote_row(at=when, lines=[("p1", "shoes", 1, str(amount), "0")])
            await log_quotes(pool, row)
            ordered = when + timedelta(minutes=1) if day % 2 else None
            if ordered is not None:
                await order(pool, quote_id, at=ordered, subtotal=str(amount), lines=[("p1", "s-1", "shoes")])
            made.append((when, amount if ordered else Decimal(0), ordered))
    while await RollupJob(pool, clock=lambda: now).tick():
        pass
    statements: list[str] = []
    fetch = asyncpg.Connection.fetch

    async def counted(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> list[asyncpg.Record]:
        if "FROM unnest($1::timestamptz[], $2::timestamptz[]) AS span" in query:
            statements.append(query)
        return await fetch(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.Connection, "fetch", counted)
    period = local_days(date(2026, 2, 15), date(2026, 3, 30), "Asia/Kolkata")
    analytics = Analytics(ReadPools(pool))

    report = msgspec.to_builtins(await analytics.pricing("day", period, now=now))
    commission = msgspec.to_builtins(await analytics.commission("day", period, now=now))

    assert len(statements) == 2  # one per report: every cut hour's halves, and the current hour
    quotes: defaultdict[str, int] = defaultdict(int)
    revenue: defaultdict[str, Decimal] = defaultdict(Decimal)
    for when, amount, _ in made:
        quotes[when.astimezone(zone).date().isoformat()] += 1
        revenue[when.astimezone(zone).date().isoformat()] += amount
    assert by_day(report, "quotes", "revenue") == {day: (n, f"{revenue[day]:.2f}") for day, n in quotes.items()}
    orders = Counter(o.astimezone(zone).date().isoformat() for _, _, o in made if o)
    assert by_day(commission, "orders") == {day: (n,) for day, n in orders.items()}
