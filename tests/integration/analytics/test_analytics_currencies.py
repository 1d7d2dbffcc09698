"""Reports over quotes and orders in two currencies: amounts are given per currency, never added
(issue 32: experiments summed EUR and TRY revenue under one currency)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.clock import utcnow
from tests.integration.analytics.test_analytics import log_quotes, order, quote_row
from tests.integration.conftest import Caller

BANNER = {
    "key": "banner",
    "name": "Banner",
    "type": "STRING",
    "value": "control",
    "rollout": {
        "variants": [{"key": "control", "weight": 1, "value": "a"}, {"key": "savings", "weight": 1, "value": "b"}]
    },
}


async def test_experiment_revenue_per_quote_is_per_currency(
    client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool
) -> None:
    """control: 2 EUR quotes (one ordered, 20.00) and 2 TRY quotes (one ordered, 1000.00);
    savings: 2 EUR quotes, none ordered. Revenue per quote: EUR 10.00 and TRY 500.00, not 255.00."""
    assert (await client.post("/api/v1/feature-flags", json=BANNER, headers=admin.headers)).status_code == 201
    at = utcnow() - timedelta(seconds=30)
    for arm, currency, subtotal, ordered in (
        ("control", "EUR", "20.00", 1),
        ("control", "TRY", "1000.00", 1),
        ("savings", "EUR", "20.00", 0),
    ):
        for i in range(2):
            quote_id, row = quote_row(at=at, customer=f"{arm}-{currency}-{i}", lines=[("p1", "c", 1, subtotal, "0")],
                                      variants={"banner": arm}, currency=currency)  # fmt: skip
            await log_quotes(pool, row)
            if i < ordered:
                await order(pool, quote_id, at=at, subtotal=subtotal, currency=currency)
    data: dict[str, Any] = (await client.get("/api/v1/experiments/banner", headers=admin.headers)).json()["data"]
    assert data["currency"] is None  # its quotes span two currencies
    control, savings = data["variants"]
    assert (control["exposures"], control["orders"], control["conversion_rate"]) == (4, 2, "50.00")
    assert control["revenue_per_quote"] is None
    assert control["revenue_per_quote_by_currency"] == {"EUR": "10.00", "TRY": "500.00"}
    assert savings["revenue_per_quote"] is None
    assert savings["revenue_per_quote_by_currency"] == {"EUR": "0.00"}
    assert (savings["exposures"], savings["orders"]) == (2, 0)


async def test_pricing_and_commission_rows_are_per_currency(
    client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool
) -> None:
    """A EUR order of 10.00 and a TRY order of 1000.00 to the same city on the same day: each report
    has a row per currency, each naming it, and none adds 10.00 to 1000.00."""
    at = utcnow() - timedelta(seconds=30)
    for currency, subtotal, commission in (("EUR", "10.00", "1.00"), ("TRY", "1000.00", "150.00")):
        quote_id, row = quote_row(at=at, customer=f"c-{currency}", lines=[("p1", "shoes", 1, subtotal, "0")],
                                  currency=currency, delivery=("Berlin", "DE"), flags=("banner",))  # fmt: skip
        await log_quotes(pool, row)
        await order(pool, quote_id, at=at, subtotal=subtotal, currency=currency, lines=[("p1", "s-1", "shoes")],
                    commissions=[("p1", "seller", commission)])  # fmt: skip
    for group in ("day", "product", "category", "region", "variant", "rule"):
        body = (await client.get(f"/api/v1/analytics/pricing?group_by={group}", headers=admin.headers)).json()
        rows = [(r["currency"], r["revenue"], r["average_basket"]) for r in body["data"]["rows"]]
        if group in ("variant", "rule"):
            assert rows == [], group  # none of these quotes had a variant or a rule
            continue
        assert rows == [("EUR", "10.00", "10.00"), ("TRY", "1000.00", "1000.00")], group
    regions = (await client.get("/api/v1/analytics/pricing?group_by=region", headers=admin.headers)).json()["data"]
    assert {r["key"] for r in regions["rows"]} == {"Berlin, DE"}
    for group in ("day", "seller", "category", "logistics_provider"):
        body = (await client.get(f"/api/v1/analytics/commission?group_by={group}", headers=admin.headers)).json()
        rows = [(r["currency"], r["total_commission"], r["goods"], r["average_rate"]) for r in body["data"]["rows"]]
        assert rows == [("EUR", "1.00", "10.00", "10.00"), ("TRY", "150.00", "1000.00", "15.00")], group
    flags = (await client.get("/api/v1/analytics/flags", headers=admin.headers)).json()["data"]
    assert (flags["quotes"], flags["rows"]) == (
        2,
        [{"key": "banner", "quotes": 2, "on_share": "100.00", "variants": {}}],
    )


async def test_dashboard_summary_is_per_currency(
    client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool
) -> None:
    at = utcnow()  # today (UTC), as the summary's day
    for currency, subtotal, commission in (("EUR", "10.00", "1.00"), ("TRY", "1000.00", "150.00")):
        quote_id, row = quote_row(at=at, lines=[("p1", "c", 1, subtotal, "0")], currency=currency)
        await log_quotes(pool, row)
        await order(pool, quote_id, at=at, subtotal=subtotal, currency=currency, lines=[("p1", "s-1", "c")],
                    commissions=[("p1", "seller", commission)])  # fmt: skip
    data = (await client.get("/api/v1/dashboard/summary", headers=admin.headers)).json()["data"]
    assert data["today"] == [
        {"currency": "EUR", "revenue": "10.00", "commission": "1.00", "refunds": "0.00", "refund_count": 0},
        {"currency": "TRY", "revenue": "1000.00", "commission": "150.00", "refunds": "0.00", "refund_count": 0},
    ]
    day = at.date().isoformat()
    assert data["revenue_per_day"] == [
        {"date": day, "currency": "EUR", "revenue": "10.00", "refunds": "0.00", "orders": 1},
        {"date": day, "currency": "TRY", "revenue": "1000.00", "refunds": "0.00", "orders": 1},
    ]
