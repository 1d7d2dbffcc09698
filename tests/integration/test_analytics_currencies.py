"""Reports over quotes and orders in two currencies: amounts are given per currency, never added
(issue 32: experiments summed EUR and TRY revenue under one currency)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.clock import utcnow
from tests.integration.conftest import Caller
from tests.integration.test_analytics import log_quotes, order, quote_row

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
