"""GET /api/v1/analytics/flags (flag adoption) and what the quote log records for it and for the
report by region: the delivery city and country and the flags that were on."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.analytics.test_analytics import fixed_data
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, field_errors
from tests.integration.quotes.test_quote_api import QUOTE, quote_body
from tests.waiting import until

FLAGS = "/api/v1/analytics/flags"


def flag(key: str, **rollout: Any) -> dict[str, Any]:
    return {"key": key, "name": key, "type": "BOOLEAN", "value": True, "rollout": rollout}


async def test_flag_adoption_by_hand(client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool) -> None:
    """fixed_data's 4 quotes: banner on for q1, q2, q4 (variants control, savings, control, savings
    over q1-q4), dynamic_pricing on for q1; `unused` is defined and was never on."""
    for body in (flag("dynamic_pricing"), flag("unused")):
        assert (await client.post("/api/v1/feature-flags", json=body, headers=admin.headers)).status_code == 201
    await fixed_data(pool)
    response = await client.get(f"{FLAGS}?from=2026-03-09&to=2026-03-10", headers=admin.headers)
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["from"], data["to"], data["quotes"]) == ("2026-03-09", "2026-03-10", 4)
    assert data["rows"] == [
        # banner is no flag any more (only logged): its history still shows.
        {"key": "banner", "quotes": 3, "on_share": "75.00", "variants": {"control": "50.00", "savings": "50.00"}},
        {"key": "dynamic_pricing", "quotes": 1, "on_share": "25.00", "variants": {}},
        {"key": "unused", "quotes": 0, "on_share": "0.00", "variants": {}},
    ]
    empty = (await client.get(f"{FLAGS}?from=2026-03-01&to=2026-03-02", headers=admin.headers)).json()["data"]
    assert empty["quotes"] == 0
    assert [(r["key"], r["quotes"], r["on_share"]) for r in empty["rows"]] == [
        ("dynamic_pricing", 0, None),
        ("unused", 0, None),
    ]


async def test_a_real_quote_logs_its_delivery_and_flags(
    client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool
) -> None:
    assert (
        await client.post("/api/v1/feature-flags", json=flag("fast_lane"), headers=admin.headers)
    ).status_code == 201
    assert (
        await client.post("/api/v1/feature-flags", json=flag("nobody", percentage=0), headers=admin.headers)
    ).status_code == 201
    body = quote_body(delivery_address={"city": "Izmir", "country": "TR"})
    response = await client.post(QUOTE, json=body, headers=admin.headers)
    assert response.status_code == 200
    assert set(response.json()["data"]["feature_flags"]) == {"fast_lane"}

    async def logged() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM quote_log"))

    await until(logged, "the quote's log row written behind the response")
    row = await pool.fetchrow("SELECT delivery_city, delivery_country, flags FROM quote_log")
    assert row is not None
    assert (row["delivery_city"], row["delivery_country"], row["flags"]) == ("Izmir", "TR", ["fast_lane"])
    data = (await client.get(FLAGS, headers=admin.headers)).json()["data"]
    assert [(r["key"], r["quotes"], r["on_share"]) for r in data["rows"]] == [
        ("fast_lane", 1, "100.00"),
        ("nobody", 0, "0.00"),
    ]
    regions = (await client.get("/api/v1/analytics/pricing?group_by=region", headers=admin.headers)).json()["data"]
    assert [(r["key"], r["city"], r["country"], r["quotes"]) for r in regions["rows"]] == [
        ("Izmir, TR", "Izmir", "TR", 1)
    ]


async def test_flag_report_validates_its_query(
    client: AsyncTestClient[Litestar], admin: Caller, shopper: Caller, pool: asyncpg.Pool
) -> None:
    for query, field in (("?from=2026-02-30", "from"), ("?to=soon", "to"), ("?from=2026-03-10&to=2026-03-01", "from")):
        response = await client.get(f"{FLAGS}{query}", headers=admin.headers)
        assert list(field_errors(expect_error(response, 422, "VALIDATION_FAILED"))) == [field], query
    expect_error(await client.get(FLAGS, headers=shopper.headers), 403, "FORBIDDEN")


async def test_flag_evaluations_are_timed_in_metrics(client: AsyncTestClient[Litestar], admin: Caller) -> None:
    """Each priced quote times its flag step (source=quote) and each evaluate call its flag
    (source=api), published at the scrape."""
    from tests.integration.observability.test_observability import sample

    assert (
        await client.post("/api/v1/feature-flags", json=flag("fast_lane"), headers=admin.headers)
    ).status_code == 201
    before = (await client.get("/metrics", headers=admin.headers)).text
    for _ in range(2):
        assert (await client.post(QUOTE, json=quote_body(), headers=admin.headers)).status_code == 200
    evaluated = await client.post(
        "/api/v1/feature-flags/fast_lane/evaluate", json={"user_id": "u-1"}, headers=admin.headers
    )
    assert evaluated.status_code == 200
    text = (await client.get("/metrics", headers=admin.headers)).text
    name = "qs_flag_evaluation_seconds"
    for source, count in (("quote", 2), ("api", 1)):
        assert sample(text, f"{name}_count", source=source) - sample(before, f"{name}_count", source=source) == count
        assert sample(text, f"{name}_sum", source=source) > sample(before, f"{name}_sum", source=source)
        assert (
            sample(text, f"{name}_bucket", source=source, le="+Inf")
            - sample(before, f"{name}_bucket", source=source, le="+Inf")
            == count
        )
