"""The experiment guardrail checker on real PostgreSQL and Redis: it rolls back only when every
condition holds, exactly once with two checkers racing, through the flag-change path (history
with the reason, configuration version, every quote gets the control), with one signal."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from quote_service.analytics.experiments import Experiments
from quote_service.analytics.guardrail import LOOP, GuardrailChecker
from quote_service.analytics.service import Analytics
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.db.replica import ReadPools
from quote_service.flags import service
from quote_service.flags.schemas import FeatureFlagCreate
from quote_service.quotes.quote_log import LogValues
from tests.integration.analytics.test_analytics import log_quotes, quote_row
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, field_errors
from tests.integration.quotes.test_quote_api import QUOTE, quote_body
from tests.waiting import until

KEY = "banner"
METRICS = ("qs_guardrail_checks_total", "qs_guardrail_rollbacks_total", "qs_guardrail_check_duration_seconds_count")


def flag(*, max_drop_percent: float = 20, min_exposures: int = 1000, key: str = KEY) -> dict[str, Any]:
    return {
        "key": key,
        "name": "Banner",
        "type": "STRING",
        "value": "control",
        "rollout": {
            "variants": [
                {"key": "control", "weight": 50, "value": "plain"},
                {"key": "savings", "weight": 50, "value": "savings"},
            ],
            "guardrail": {"max_drop_percent": max_drop_percent, "min_exposures": min_exposures},
        },
    }


async def create_flag(pool: asyncpg.Pool, body: dict[str, Any]) -> uuid.UUID:
    created = await service.create_flag(pool, msgspec.convert(body, FeatureFlagCreate), actor="test")
    return created.id


async def arm_history(pool: asyncpg.Pool, key: str, arm: str, *, exposures: int, orders: int) -> None:
    """`exposures` quotes of one arm in the last minutes (rows through the service's writer),
    the first `orders` of them ordered."""
    at = utcnow() - timedelta(minutes=1)
    rows: list[LogValues] = []
    ordered: list[uuid.UUID] = []
    for i in range(exposures):
        quote_id, row = quote_row(at=at, customer=f"{arm}-{i}", lines=[("p1", "c", 1, "20.00", "0")],
                                  variants={key: arm})  # fmt: skip
        rows.append(row)
        if i < orders:
            ordered.append(quote_id)
    await log_quotes(pool, *rows)
    await pool.executemany(
        "INSERT INTO orders (id, quote_id, customer_id, currency, subtotal, discount_amount, tax_amount,"
        " delivery_fee, small_basket_fee, total_amount, total_commission, seller_commission, category_commission,"
        " logistics_commission, principal_id, idempotency_key, request_hash, created_by, created_at)"
        " VALUES ($1, $2, 'c-1', 'TRY', 20, 0, 0, 0, 0, 20, 0, 0, 0, 0, $3, $4, '\\x00', 't', $5)",
        [(uuid.uuid4(), q, uuid.uuid4(), str(q), at) for q in ordered],
    )


async def experiment(pool: asyncpg.Pool, *, control: tuple[int, int], savings: tuple[int, int], key: str = KEY) -> None:
    await arm_history(pool, key, "control", exposures=control[0], orders=control[1])
    await arm_history(pool, key, "savings", exposures=savings[0], orders=savings[1])


def checker(pool: asyncpg.Pool, redis: Redis) -> GuardrailChecker:
    return GuardrailChecker(pool, redis, interval=60)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The app's own checker off: the tests run theirs (one minute boundary must not race them)."""
    return msgspec.structs.replace(settings, guardrail_interval_seconds=0)


async def rollbacks(pool: asyncpg.Pool, key: str = KEY) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT actor, reason, after FROM feature_flag_history WHERE flag_key = $1 AND action = 'rolled_back'", key
    )


async def signals(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT severity, details FROM signals WHERE type = 'experiment_rollback'")


# control 400/2000 (20 %) against savings 200/2000 (10 %): lift -50 %, sequential p ~ 1e-15.
LOSING = {"control": (2000, 400), "savings": (2000, 200)}


async def test_a_significant_drop_beyond_the_limit_is_rolled_back(pool: asyncpg.Pool, redis: Redis) -> None:
    flag_id = await create_flag(pool, flag(max_drop_percent=20, min_exposures=1000))
    await experiment(pool, **LOSING)
    version = await pool.fetchval("SELECT version FROM config_version")
    before = {name: REGISTRY.get_sample_value(name) or 0.0 for name in METRICS}
    assert await checker(pool, redis).check() == [KEY]
    after = {name: REGISTRY.get_sample_value(name) or 0.0 for name in METRICS}
    assert {name: after[name] - before[name] for name in METRICS} == {
        "qs_guardrail_checks_total": 1,
        "qs_guardrail_rollbacks_total": 1,
        "qs_guardrail_check_duration_seconds_count": 1,
    }
    stored = await pool.fetchrow("SELECT rollout, rolled_back_at FROM feature_flags WHERE id = $1", flag_id)
    assert stored["rolled_back_at"] is not None
    assert [(v["key"], v["weight"]) for v in stored["rollout"]["variants"]] == [("control", 50), ("savings", 0)]
    assert await pool.fetchval("SELECT version FROM config_version") > version  # the normal change path
    [history] = await rollbacks(pool)
    assert history["actor"] == "guardrail"
    reason = history["reason"]
    assert "'savings' converts 200/2000 (10.00 %)" in reason
    assert "control 'control' 400/2000 (20.00 %)" in reason
    assert "lift -50.00 %" in reason
    assert "sequential test (mSPRT) p = " in reason
    [signal] = await signals(pool)
    assert signal["severity"] == "critical"
    assert signal["details"]["experiment_id"] == KEY
    assert signal["details"]["variant"] == "savings"
    assert signal["details"]["sequential_p_value"] < 0.05
    # Checked again: nothing more (the experiment is no longer running).
    assert await checker(pool, redis).check() == []
    assert len(await rollbacks(pool)) == 1


@pytest.mark.parametrize(
    ("guardrail", "figures", "why"),
    [
        ({"max_drop_percent": 20, "min_exposures": 2001}, LOSING, "below min_exposures"),
        ({"max_drop_percent": 60, "min_exposures": 1000}, LOSING, "drop (50 %) within max_drop_percent"),
        # 10 % against 7 %: lift -30 %, fixed-horizon p = 0.016, but sequential p = 0.27.
        (
            {"max_drop_percent": 20, "min_exposures": 500},
            {"control": (1000, 100), "savings": (1000, 70)},
            "not significant by the sequential test",
        ),
        # The variant is better: never a rollback however significant.
        (
            {"max_drop_percent": 20, "min_exposures": 1000},
            {"control": (2000, 200), "savings": (2000, 400)},
            "the variant converts better",
        ),
        # Degenerate samples (zero variance, a tiny control): no evidence, no rollback.
        (
            {"max_drop_percent": 5, "min_exposures": 1000},
            {"control": (1000, 1000), "savings": (1000, 1000)},
            "both arms convert 100 %",
        ),
        (
            {"max_drop_percent": 5, "min_exposures": 1000},
            {"control": (3, 3), "savings": (1000, 900)},
            "a control of three quotes at 100 %",
        ),
    ],
)
async def test_no_rollback_unless_every_condition_holds(
    pool: asyncpg.Pool, redis: Redis, guardrail: dict[str, Any], figures: dict[str, tuple[int, int]], why: str
) -> None:
    flag_id = await create_flag(pool, flag(**guardrail))
    await experiment(pool, **figures)
    assert await checker(pool, redis).check() == [], why
    if why.startswith("not significant"):  # the displayed fixed-horizon test would have said yes
        shown = await Experiments(Analytics(ReadPools(pool))).get(KEY, now=utcnow())
        assert shown.variants[1].p_value is not None
        assert shown.variants[1].p_value < 0.05
    assert await pool.fetchval("SELECT rolled_back_at FROM feature_flags WHERE id = $1", flag_id) is None
    assert await rollbacks(pool) == []
    assert await signals(pool) == []


async def test_a_variant_below_a_control_converting_100_percent_is_rolled_back(
    pool: asyncpg.Pool, redis: Redis
) -> None:
    """Both arms at a boundary (100 % against 0 %) have no sample variance: the sequential test
    used to give no answer, and the guardrail never rolled back (issue 22 item 14)."""
    flag_id = await create_flag(pool, flag(max_drop_percent=20, min_exposures=1000))
    await experiment(pool, control=(1000, 1000), savings=(1000, 0))
    assert await checker(pool, redis).check() == [KEY]
    assert await pool.fetchval("SELECT rolled_back_at FROM feature_flags WHERE id = $1", flag_id) is not None
    [history] = await rollbacks(pool)
    assert "'savings' converts 0/1000 (0.00 %)" in history["reason"]
    assert "control 'control' 1000/1000 (100.00 %)" in history["reason"]
    [signal] = await signals(pool)
    assert signal["details"]["sequential_p_value"] < 0.05


async def test_two_checkers_racing_roll_back_exactly_once(pool: asyncpg.Pool, settings: Settings) -> None:
    """Two processes (own Redis clients): the slot lock lets one through; and even with no lock
    (both passes run at once), the conditional UPDATE lets only one rollback happen."""
    assert settings.redis_url is not None
    clients = [Redis.from_url(settings.redis_url) for _ in range(2)]
    try:
        await create_flag(pool, flag())
        await create_flag(pool, flag(key="second"))
        await experiment(pool, **LOSING)
        await experiment(pool, **LOSING, key="second")
        first, second = (checker(pool, client) for client in clients)
        # The slot: exactly one of the two passes runs.
        ticks = await asyncio.gather(first.tick(), second.tick())
        assert sorted(ticks, key=lambda t: t is None) == [[KEY, "second"], None]
        assert await pool.fetchval("SELECT count(*) FROM loop_slots WHERE loop = $1", LOOP) == 1
        # No lock at all (both hold a slot they think is theirs): still one rollback each.
        await pool.execute("UPDATE feature_flags SET rolled_back_at = NULL")  # run them again from scratch
        await pool.execute("DELETE FROM feature_flag_history WHERE action = 'rolled_back'")
        await pool.execute("DELETE FROM signals")
        results = await asyncio.gather(first.check(), second.check(), first.check())
        assert sorted(key for result in results for key in result) == [KEY, "second"]
    finally:
        for client in clients:
            await client.aclose()
    assert len(await rollbacks(pool)) == 1
    assert len(await rollbacks(pool, "second")) == 1
    assert sorted(s["details"]["experiment_id"] for s in await signals(pool)) == [KEY, "second"]


async def test_after_a_rollback_every_quote_gets_the_control(
    client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool, redis: Redis
) -> None:
    created = await client.post("/api/v1/feature-flags", json=flag(), headers=admin.headers)
    assert created.status_code == 201, created.text
    flag_id = created.json()["data"]["id"]
    customers = [f"shopper-{i}" for i in range(120)]

    async def arms() -> list[str]:
        got = []
        for customer in customers:
            response = await client.post(QUOTE, json=quote_body(customer_id=customer), headers=admin.headers)
            assert response.status_code == 200, response.text
            got.append(response.json()["data"]["experiments"][KEY])
        return got

    before = await arms()
    assert set(before) == {"control", "savings"}  # both arms serve customers while it runs
    await experiment(pool, **LOSING)
    assert await checker(pool, redis).check() == [KEY]  # announces the new version on Redis

    async def back_on_control() -> bool:  # propagated like any flag change: the app reloads on the announcement
        probe = await client.post(QUOTE, json=quote_body(customer_id=customers[before.index("savings")]),
                                  headers=admin.headers)  # fmt: skip
        return bool(probe.json()["data"]["experiments"][KEY] == "control")

    await until(back_on_control, "the savings arm's customer is quoted control", within=5)
    assert set(await arms()) == {"control"}
    shown = (await client.get(f"/api/v1/experiments/{KEY}", headers=admin.headers)).json()["data"]
    assert shown["status"] == "rolled_back"
    assert shown["rolled_back_at"] is not None
    assert [v["key"] for v in shown["variants"]] == ["control", "savings"]
    history = (await client.get(f"/api/v1/feature-flags/{flag_id}/history", headers=admin.headers)).json()["data"]
    assert [change["action"] for change in history["items"]] == ["rolled_back", "created"]
    assert history["items"][0]["actor"] == "guardrail"
    assert "sequential test (mSPRT)" in history["items"][0]["reason"]
    assert history["items"][0]["after"]["rollout"]["variants"][1]["weight"] == 0
    assert history["items"][0]["before"]["rollout"]["variants"][1]["weight"] == 50
    paged = await client.get(f"/api/v1/feature-flags/{flag_id}/history?limit=1", headers=admin.headers)
    cursor = paged.json()["data"]["next_cursor"]
    rest = await client.get(f"/api/v1/feature-flags/{flag_id}/history?cursor={cursor}", headers=admin.headers)
    assert [change["action"] for change in rest.json()["data"]["items"]] == ["created"]
    bad = await client.get(f"/api/v1/feature-flags/{flag_id}/history?cursor=nonsense", headers=admin.headers)
    assert list(field_errors(expect_error(bad, 422, "VALIDATION_FAILED"))) == ["cursor"]


async def test_the_app_runs_the_checker_in_the_background(
    settings: Settings, admin: Caller, pool: asyncpg.Pool
) -> None:
    """Started by the app: with a 1 s interval a losing experiment is rolled back within seconds."""
    from quote_service.app import create_app

    app = create_app(msgspec.structs.replace(settings, guardrail_interval_seconds=1))
    await create_flag(pool, flag())
    await experiment(pool, **LOSING)
    async with AsyncTestClient(app=app) as client:

        async def status() -> str | None:
            response = await client.get(f"/api/v1/experiments/{KEY}", headers=admin.headers)
            found: str = response.json()["data"]["status"]
            return found if found == "rolled_back" else None

        assert await until(status, "the background checker rolls the experiment back", within=10) == "rolled_back"
    assert len(await rollbacks(pool)) == 1
