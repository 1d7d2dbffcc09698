"""The read replica (docs/deployment.md): which reads reach it, which never do, and the fallbacks.

The service runs over a private primary + streaming replica (tests/replica.py). The replica
logs every statement with its application name, so "this request read the replica" is a line
of its log from the replica pool (`app=quote-service-reads`) naming the table the request
reads; the lag sampler's own statements are left out.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from quote_service.analytics.rollups import hour_of, recompute
from quote_service.app import create_app
from quote_service.clock import utcnow
from quote_service.config import Settings
from tests.conftest import free_port
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller, make_caller
from tests.integration.expect import expect_ok
from tests.integration.flash import buy, new_sale
from tests.integration.rules.test_pricing_rules_api import rule_body
from tests.replica import ReplicaPair
from tests.waiting import until

# Real server processes: a primary and a replica; each test stops, lags or fails over one of
# them under an app started for it.
pytestmark = [pytest.mark.long, pytest.mark.slow, pytest.mark.fresh_app]

Client = AsyncTestClient[Litestar]
APP = "app=quote-service-reads"
SAMPLER_SQL = "pg_last_wal_replay_lsn"
RESET_SQL = "pg_advisory_unlock_all()"
"""asyncpg's reset of a connection going back to its pool (after the sampler's statement, too): no read."""


@pytest.fixture
def settings(replica_settings: Settings) -> Settings:
    """Every fixture of tests/integration (app, client, callers) over the primary + replica pair."""
    return replica_settings


def replica_reads(pair: ReplicaPair, offset: int) -> list[str]:
    """Statements the service's replica pool sent since `offset`, but the lag sampler's and the
    pool's resets (a reset follows every statement: the one before it is what counts)."""
    return [
        line
        for line in pair.replica.statements_since(offset)
        if APP in line and SAMPLER_SQL not in line and RESET_SQL not in line
    ]


async def replica_report(client: Client) -> dict[str, Any]:
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text  # the replica never makes the service unready
    body = response.json()
    assert body["status"] == "ready"
    report: dict[str, Any] = body["replica"]
    return report


def fallbacks(reason: str) -> float:
    return REGISTRY.get_sample_value("qs_db_replica_fallbacks_total", {"reason": reason}) or 0.0


async def quote_and_order(client: Client, shopper: Caller, product: dict[str, Any]) -> dict[str, Any]:
    """A quote from the quote endpoint, ordered at once."""
    body = {
        "customer_id": str(shopper.id),
        "items": [{"product_id": product["id"], "quantity": 1}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "currency": "TRY",
    }
    quote = expect_ok(await client.post("/api/v1/quote", json=body, headers=shopper.headers))
    headers = {**shopper.headers, "Idempotency-Key": uuid.uuid4().hex}
    order: dict[str, Any] = expect_ok(
        await client.post("/api/v1/orders", json={"quote_id": quote["quote_id"]}, headers=headers), 201
    )
    return order


async def test_stale_tolerant_reads_are_served_by_the_replica(
    client: Client, admin: Caller, shopper: Caller, replica_pair: ReplicaPair
) -> None:
    product = await create_product(client, admin, stock=10)
    await quote_and_order(client, shopper, product)
    sale, _ = await new_sale(client, admin)
    variants = [{"key": "control", "weight": 1, "value": "a"}, {"key": "savings", "weight": 1, "value": "b"}]
    flag = {"key": "banner", "name": "Banner", "type": "STRING", "value": "a", "rollout": {"variants": variants}}
    flag_id = expect_ok(await client.post("/api/v1/feature-flags", json=flag, headers=admin.headers), 201)["id"]
    rule = expect_ok(await client.post("/api/v1/pricing-rules", json=rule_body(), headers=admin.headers), 201)
    await replica_pair.wait_caught_up()
    assert (await replica_report(client))["serving_reads"] is True
    pid, sid = product["id"], sale["id"]
    reads = {
        "/api/v1/analytics/pricing?group_by=product": "rollup_dirty",
        "/api/v1/analytics/commission": "rollup_dirty",
        f"/api/v1/analytics/flash-sales/{sid}": "flash_purchases",
        "/api/v1/dashboard/summary": "orders",
        "/api/v1/experiments": "feature_flags",
        "/api/v1/experiments/banner": "rollup_variant_customers",
        f"/api/v1/analytics/elasticity/{pid}": "order_lines",
        f"/api/v1/products/{pid}/market": "competitor_prices",
        "/api/v1/competitor-prices": "competitor_prices",
        "/api/v1/signals": "signals",
        "/api/v1/decisions": "decisions",
        "/api/v1/products": "products",
        f"/api/v1/products/{pid}/price-history": "price_history",
        "/api/v1/pricing-rules": "pricing_rules",
        f"/api/v1/pricing-rules/versions?name={rule['name']}": "pricing_rules",
        "/api/v1/feature-flags": "feature_flags",
        f"/api/v1/feature-flags/{flag_id}/history": "feature_flag_history",
        "/api/v1/coupons": "coupons",
        "/api/v1/commission-rates": "commission_rates",
        "/api/v1/orders": "orders",
        "/api/v1/campaigns": "campaigns",
        "/api/v1/flash-sales": "flash_sales",
        f"/api/v1/flash-sales/{sid}/purchases": "flash_purchases",
        "/api/v1/repricing/events": "repricing_events",
    }
    missed = []
    for path, table in reads.items():
        offset = replica_pair.replica.log_size()
        response = await client.get(path, headers=admin.headers)
        assert response.status_code == 200, (path, response.text)
        if not any(table in line for line in replica_reads(replica_pair, offset)):
            missed.append(path)
    assert missed == [], f"these reads did not reach the replica: {missed}"
    # The admins' list read the replica and still shows the order placed before it caught up.
    assert len(expect_ok(await client.get("/api/v1/orders", headers=admin.headers))["items"]) == 1


@pytest.mark.parametrize("lag_bound", [60.0])
async def test_orders_and_purchases_never_read_the_replica(
    client: Client, admin: Caller, shopper: Caller, replica_pair: ReplicaPair
) -> None:
    """With replay paused the replica is stale yet within the (60 s) bound, so it still serves the
    stale-tolerant reads: an order or purchase reading it would not find the product, quote or
    order just written. They all succeed at once, and the replica sees none of their statements."""
    product = await create_product(client, admin, stock=10)
    sale, _ = await new_sale(client, admin)
    await replica_pair.wait_caught_up()
    await replica_pair.replica_sql("SELECT pg_wal_replay_pause()")
    offset = replica_pair.replica.log_size()

    fresh = await create_product(client, admin, stock=10)  # on the primary only
    placed = [await quote_and_order(client, shopper, p) for p in (product, fresh, fresh)]
    for order in placed:
        assert expect_ok(await client.get(f"/api/v1/orders/{order['id']}", headers=shopper.headers)) == order
    mine = expect_ok(await client.get("/api/v1/orders", headers=shopper.headers))["items"]
    assert [o["id"] for o in mine] == [o["id"] for o in reversed(placed)]
    purchase = await buy(client, shopper.headers, sale)
    assert purchase.status_code == 201, purchase.text
    mine = expect_ok(await client.get(f"/api/v1/flash-sales/{sale['id']}/purchases/me", headers=shopper.headers))
    assert mine["items"][0]["purchased"] == 1

    assert replica_reads(replica_pair, offset) == []
    # Meanwhile the replica was serving: the admins' list of orders comes from it, without them.
    report = await replica_report(client)
    assert report["up"] is True
    assert report["serving_reads"] is True
    assert expect_ok(await client.get("/api/v1/orders", headers=admin.headers))["items"] == []
    assert any("orders" in line for line in replica_reads(replica_pair, offset))


async def test_with_the_replica_down_reads_fall_back_to_the_primary(
    client: Client, admin: Caller, shopper: Caller, replica_pair: ReplicaPair
) -> None:
    product = await create_product(client, admin, stock=10)
    await quote_and_order(client, shopper, product)
    replica_pair.replica.stop("fast")

    async def reported_down() -> bool:
        return (await replica_report(client))["up"] is False

    await until(reported_down, "/health/ready reports the replica down")
    report = await replica_report(client)
    assert report["serving_reads"] is False
    assert report["error"]
    before = fallbacks("replica_down")

    pricing = expect_ok(await client.get("/api/v1/analytics/pricing?group_by=product", headers=admin.headers))
    assert [(row["key"], row["orders"]) for row in pricing["rows"]] == [(product["id"], 1)]
    experiments = await client.get("/api/v1/experiments", headers=admin.headers)
    assert experiments.status_code == 200, experiments.text
    listed = expect_ok(await client.get("/api/v1/products", headers=admin.headers))["items"]
    assert [p["id"] for p in listed] == [product["id"]]
    assert fallbacks("replica_down") == before + 3

    replica_pair.replica.start()

    async def serving_again() -> bool:
        return bool((await replica_report(client))["serving_reads"])

    await until(serving_again, "the replica serves reads again once it is back")
    offset = replica_pair.replica.log_size()
    assert expect_ok(await client.get("/api/v1/products", headers=admin.headers))["items"] == listed
    assert any("products" in line for line in replica_reads(replica_pair, offset))


async def test_reads_fall_back_while_the_replica_lags_beyond_the_bound(
    client: Client, admin: Caller, replica_pair: ReplicaPair
) -> None:
    first = await create_product(client, admin, stock=10)
    await replica_pair.wait_caught_up()
    await replica_pair.replica_sql("SELECT pg_wal_replay_pause()")
    second = await create_product(client, admin, stock=10)  # WAL the replica will not replay

    async def lagging() -> bool:
        report = await replica_report(client)
        return bool(report["up"] and report["lag_seconds"] > report["max_lag_seconds"])

    await until(lagging, "the lag grows beyond REPLICA_MAX_LAG_SECONDS (1 s)")
    report = await replica_report(client)
    assert report["serving_reads"] is False
    before = fallbacks("lag")
    offset = replica_pair.replica.log_size()

    listed = expect_ok(await client.get("/api/v1/products", headers=admin.headers))["items"]

    assert {p["id"] for p in listed} == {first["id"], second["id"]}  # the primary's view
    assert replica_reads(replica_pair, offset) == []
    assert fallbacks("lag") == before + 1

    await replica_pair.replica_sql("SELECT pg_wal_replay_resume()")

    async def caught_up() -> bool:
        report = await replica_report(client)
        return bool(report["serving_reads"] and report["lag_seconds"] == 0)

    await until(caught_up, "the lag drops to 0 once replay resumes")
    offset = replica_pair.replica.log_size()
    listed = expect_ok(await client.get("/api/v1/products", headers=admin.headers))["items"]
    assert {p["id"] for p in listed} == {first["id"], second["id"]}
    assert any("products" in line for line in replica_reads(replica_pair, offset))


async def test_every_rollup_rewrite_moves_the_generation_the_replica_reads(
    replica_settings: Settings, replica_pair: ReplicaPair
) -> None:
    """Reports cache settled days by rollup generation; read on the replica, the generation must
    move with each rewrite, or a report would keep serving the sums from before it."""
    primary = await asyncpg.connect(replica_pair.primary.url)
    replica = await asyncpg.connect(replica_pair.replica.url)
    try:
        seen = []
        for _ in range(3):
            await recompute(primary, "pricing", [hour_of(utcnow())])
            await replica_pair.wait_caught_up()
            generation = await primary.fetchval("SELECT last_value FROM rollup_generation")
            assert await replica.fetchval("SELECT last_value FROM rollup_generation") == generation
            seen.append(generation)
        assert len(set(seen)) == 3
    finally:
        await primary.close()
        await replica.close()


async def test_the_service_starts_and_serves_with_its_replica_unreachable(
    replica_settings: Settings, password_hash: str
) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/quote_service"
    settings = msgspec.structs.replace(replica_settings, database_replica_url=nowhere)
    admin = await make_caller(settings, password_hash, "admin", "admin")
    async with AsyncTestClient(app=create_app(settings)) as client:
        report = await replica_report(client)
        assert (report["up"], report["serving_reads"]) == (False, False)
        assert "Connect" in report["error"]
        listed = await client.get("/api/v1/products", headers=admin.headers)
        assert listed.status_code == 200, listed.text
        assert (await client.get("/api/v1/analytics/pricing", headers=admin.headers)).status_code == 200
