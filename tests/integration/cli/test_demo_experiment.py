"""seed-demo's history: non-empty analytics and one running experiment the guardrail keeps."""

from __future__ import annotations

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from quote_service.analytics.guardrail import GuardrailChecker
from quote_service.cli import demo
from quote_service.clock import utcnow
from quote_service.config import Settings
from tests.integration.conftest import Caller


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, guardrail_interval_seconds=0)


async def test_seed_demo_shows_analytics_and_a_running_experiment(
    client: AsyncTestClient[Litestar], admin: Caller, settings: Settings, pool: asyncpg.Pool
) -> None:
    summary = await demo.seed_demo(settings, pool)
    assert summary.history is not None
    assert summary.history.quotes > 0
    assert summary.history.orders > 0
    again = await demo.seed_demo(settings, pool)  # safe to run again: the history is written once
    assert again.history is None
    assert await pool.fetchval("SELECT count(*) FROM quote_log") == summary.history.quotes
    # One order partly refunded and one cancelled, once (a second run writes no history).
    statuses = {r["status"]: r["n"] for r in await pool.fetch("SELECT status, count(*) AS n FROM orders GROUP BY 1")}
    assert (statuses["partially_refunded"], statuses["cancelled"]) == (1, 1)

    get = client.get
    listed = (await get("/api/v1/experiments", headers=admin.headers)).json()["data"]
    assert [(e["key"], e["status"]) for e in listed] == [("checkout_banner", "running")]
    banner = (await get("/api/v1/experiments/checkout_banner", headers=admin.headers)).json()["data"]
    assert banner["guardrail"] == {"max_drop_percent": 20.0, "min_exposures": 1000, "metric": "conversion"}
    # A healthy experiment: its customers split as its weights say, revenue compared by Welch's test.
    assert banner["srm"]["mismatch"] is False
    assert set(banner["srm"]["observed"]) == {"control", "savings"}
    control, savings = banner["variants"]
    for arm in (control, savings):
        assert arm["exposures"] >= 1000  # enough for the guardrail to judge
        assert arm["orders"] > 0
        assert arm["customers"] > 0
        assert arm["conversion_rate"] is not None
    assert savings["p_value"] is not None
    assert savings["ci95"] is not None
    assert savings["revenue_p_value"] is not None
    # The guardrail judges it and keeps it running (the demo shows no significant drop).
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)
    try:
        assert await GuardrailChecker(pool, redis, interval=60).check() == []
    finally:
        await redis.aclose()
    assert (await get("/api/v1/experiments/checkout_banner", headers=admin.headers)).json()["data"]["status"] == (
        "running"
    )

    for group in ("day", "product", "category", "rule", "variant"):
        rows = (await get(f"/api/v1/analytics/pricing?group_by={group}", headers=admin.headers)).json()["data"]["rows"]
        assert rows, group
        assert sum(row["orders"] for row in rows) > 0, group
    for group in ("day", "seller", "category", "logistics_provider"):
        response = await get(f"/api/v1/analytics/commission?group_by={group}", headers=admin.headers)
        assert response.json()["data"]["rows"], group
    sale_id = await pool.fetchval(
        "SELECT id FROM flash_sales WHERE ends_at < $1 ORDER BY ends_at DESC LIMIT 1", utcnow()
    )
    assert sale_id is not None
    report = (await get(f"/api/v1/analytics/flash-sales/{sale_id}", headers=admin.headers)).json()["data"]
    assert report["units_sold"] > 0
    assert report["per_day"]
