"""Experiment health on real PostgreSQL (docs/experiments.md#health): the sample-ratio test and
Welch's revenue test on GET /experiments/{key}, the sample_ratio_mismatch signal (one live
signal, resolved when the split is sound again) during which the guardrail does not judge, and
the guardrail on revenue per quote."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from quote_service.analytics.guardrail import GuardrailChecker
from quote_service.analytics.rollups import rebuild
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.flags import service
from quote_service.flags.schemas import FeatureFlagCreate
from quote_service.quotes.quote_log import LogValues
from tests.integration.analytics.test_analytics import log_quotes, quote_row
from tests.integration.conftest import Caller

KEY = "banner"


def flag(**guardrail: Any) -> dict[str, Any]:
    rollout: dict[str, Any] = {
        "variants": [
            {"key": "control", "weight": 50, "value": "plain"},
            {"key": "savings", "weight": 50, "value": "savings"},
        ]
    }
    if guardrail:
        rollout["guardrail"] = {"max_drop_percent": 20, "min_exposures": 1000, **guardrail}
    return {"key": KEY, "name": "Banner", "type": "STRING", "value": "plain", "rollout": rollout}


async def arm(
    pool: asyncpg.Pool,
    name: str,
    *,
    exposures: int,
    orders: int,
    amount: str = "20.00",
    customers: int | None = None,
    who: str | None = None,
) -> None:
    """`exposures` quotes of one arm a minute ago from `customers` customers named `who`-n (default:
    one each, named after the arm), the first `orders` of them ordered for `amount`."""
    at = utcnow() - timedelta(minutes=1)
    rows: list[LogValues] = []
    ordered: list[uuid.UUID] = []
    people = customers or exposures
    for i in range(exposures):
        quote_id, row = quote_row(at=at, customer=f"{who or name}-{i % people}", lines=[("p1", "c", 1, amount, "0")],
                                  variants={KEY: name})  # fmt: skip
        rows.append(row)
        if i < orders:
            ordered.append(quote_id)
    await log_quotes(pool, *rows)
    await pool.executemany(
        "INSERT INTO orders (id, quote_id, customer_id, currency, subtotal, discount_amount, tax_amount,"
        " delivery_fee, small_basket_fee, total_amount, total_commission, seller_commission, category_commission,"
        " logistics_commission, principal_id, idempotency_key, request_hash, created_by, created_at)"
        " VALUES ($1, $2, 'c-1', 'TRY', $3, 0, 0, 0, 0, $3, 0, 0, 0, 0, $4, $5, '\\x00', 't', $6)",
        [(uuid.uuid4(), q, Decimal(amount), uuid.uuid4(), str(q), at) for q in ordered],
    )


async def roll_up(pool: asyncpg.Pool) -> None:
    """Every hour up to now rolled up (customers per variant are counted over rolled-up hours)."""
    await rebuild(pool, now=utcnow() + timedelta(hours=1))


async def create(pool: asyncpg.Pool, body: dict[str, Any]) -> uuid.UUID:
    return (await service.create_flag(pool, msgspec.convert(body, FeatureFlagCreate), actor="test")).id


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The app's own checker off: the tests run theirs."""
    return msgspec.structs.replace(settings, guardrail_interval_seconds=0)


async def live_srm_signals(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT status, details FROM signals WHERE type = 'sample_ratio_mismatch' ORDER BY created_at"
    )


async def test_get_experiment_shows_the_split_test_and_welchs_revenue_test(
    client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool
) -> None:
    await create(pool, flag())
    await arm(pool, "control", exposures=1000, orders=100, amount="60.00", customers=560)
    await arm(pool, "savings", exposures=1000, orders=100, amount="30.00", customers=440)
    await roll_up(pool)

    response = await client.get(f"/api/v1/experiments/{KEY}", headers=admin.headers)

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    # 560 against 440 customers where 500/500 is expected: chi-square 14.4, p = 0.000148.
    assert data["srm"] == {
        "p_value": pytest.approx(0.000148, abs=1e-6),
        "expected": {"control": 500.0, "savings": 500.0},
        "observed": {"control": 560, "savings": 440},
        "mismatch": True,
    }
    control, savings = data["variants"]
    assert (control["revenue_per_quote"], savings["revenue_per_quote"]) == ("6.00", "3.00")
    assert control["revenue_p_value"] is None
    assert 0 < savings["revenue_p_value"] < 0.01


async def test_a_mismatched_split_raises_one_signal_and_pauses_the_guardrail(pool: asyncpg.Pool, redis: Redis) -> None:
    flag_id = await create(pool, flag(max_drop_percent=20))
    # A losing variant (20 % against 10 %) the guardrail would roll back... on a broken split.
    await arm(pool, "control", exposures=2000, orders=400, customers=2000)
    await arm(pool, "savings", exposures=2000, orders=200, customers=1600)
    await roll_up(pool)
    checker = GuardrailChecker(pool, redis, interval=60)

    assert await checker.check() == []
    assert await checker.check() == []  # a second pass: still the one signal

    [signal] = await live_srm_signals(pool)
    assert signal["status"] == "open"
    assert signal["details"]["experiment_id"] == KEY
    assert signal["details"]["observed"] == {"control": 2000, "savings": 1600}
    assert signal["details"]["p_value"] < 0.001
    assert await pool.fetchval("SELECT rolled_back_at FROM feature_flags WHERE id = $1", flag_id) is None

    # The split is sound again (400 more savings customers): the signal resolves, the guardrail judges.
    await arm(pool, "savings", exposures=400, orders=0, who="late")
    await roll_up(pool)
    assert await checker.check() == [KEY]
    [resolved] = await live_srm_signals(pool)
    assert resolved["status"] == "resolved"


async def test_the_guardrail_can_watch_revenue_per_quote(pool: asyncpg.Pool, redis: Redis) -> None:
    await create(pool, flag(metric="revenue_per_quote"))
    # The same conversion (20 %), a third of the revenue per quote: 6.00 against 2.00.
    await arm(pool, "control", exposures=2000, orders=400, amount="30.00")
    await arm(pool, "savings", exposures=2000, orders=400, amount="10.00")

    assert await GuardrailChecker(pool, redis, interval=60).check() == [KEY]

    reason = await pool.fetchval("SELECT reason FROM feature_flag_history WHERE action = 'rolled_back'")
    assert "variant 'savings' earns 2.00 TRY per quote over 2000 exposures" in reason
    assert "against control 'control' 6.00 over 2000: lift -66.67 %" in reason
    details = await pool.fetchval("SELECT details FROM signals WHERE type = 'experiment_rollback'")
    assert (details["metric"], details["variant"], details["currency"]) == ("revenue_per_quote", "savings", "TRY")
    assert details["sequential_p_value"] < 0.05


async def test_the_conversion_guardrail_ignores_revenue(pool: asyncpg.Pool, redis: Redis) -> None:
    await create(pool, flag(metric="conversion"))
    await arm(pool, "control", exposures=2000, orders=400, amount="30.00")
    await arm(pool, "savings", exposures=2000, orders=400, amount="10.00")

    assert await GuardrailChecker(pool, redis, interval=60).check() == []
