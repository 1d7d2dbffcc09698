"""context.ab_test_group over HTTP: a service key or an admin forces a variant (marked forced, kept
out of the experiment's statistics); a shopper cannot."""

from __future__ import annotations

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.pricing.flags import Variant, pick_variant
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.quotes.test_quote_api import QUOTE, quote_body
from tests.waiting import until

Client = AsyncTestClient[Litestar]
KEY = "banner"
ARMS = [{"key": "control", "weight": 1, "value": "a"}, {"key": "savings", "weight": 1, "value": "b"}]


def assigned(customer: str) -> str:
    variant = pick_variant(KEY, customer, [Variant(key=a["key"], weight=a["weight"], value=a["value"]) for a in ARMS])
    assert variant is not None
    return variant.key


def other(arm: str) -> str:
    return "savings" if arm == "control" else "control"


async def start_experiment(client: Client, admin: Caller) -> None:
    flag = {"key": KEY, "name": "Banner", "type": "STRING", "value": "a", "rollout": {"variants": ARMS}}
    expect_ok(await client.post("/api/v1/feature-flags", json=flag, headers=admin.headers), 201)


async def logged(pool: asyncpg.Pool, quote_id: str) -> asyncpg.Record:
    query = "SELECT experiments, forced_experiments FROM quote_log WHERE quote_id = $1"
    await until(lambda: pool.fetchval("SELECT true FROM quote_log WHERE quote_id = $1", quote_id), "logged")
    row: asyncpg.Record = await pool.fetchrow(query, quote_id)
    return row


async def exposures(client: Client, admin: Caller) -> dict[str, int]:
    data = expect_ok(await client.get(f"/api/v1/experiments/{KEY}", headers=admin.headers))
    return {variant["key"]: variant["exposures"] for variant in data["variants"]}


async def test_a_service_key_forces_a_variant_left_out_of_the_statistics(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    await start_experiment(client, admin)
    created = expect_ok(await client.post("/api/v1/api-keys", json={"name": "checkout"}, headers=admin.headers), 201)
    key = {"X-API-Key": created["key"]}
    customer = "forced-customer"
    forced_arm = other(assigned(customer))
    body = quote_body(customer_id=customer, context={"ab_test_group": forced_arm, "session_id": "s-1"})

    data = expect_ok(await client.post(QUOTE, json=body, headers=key))
    normal = expect_ok(await client.post(QUOTE, json=quote_body(customer_id=customer), headers=key))

    assert (data["experiments"], data["forced_experiments"]) == ({KEY: forced_arm}, [KEY])
    assert data["feature_flags"][KEY] == ("b" if forced_arm == "savings" else "a")
    assert (normal["experiments"], normal["forced_experiments"]) == ({KEY: assigned(customer)}, [])
    row = await logged(pool, data["quote_id"])
    assert (row["experiments"], row["forced_experiments"]) == ({}, {KEY: forced_arm})
    await logged(pool, normal["quote_id"])
    counted = await exposures(client, admin)
    assert counted[assigned(customer)] == 1  # the normal quote
    assert counted[forced_arm] == 0  # the forced one is not an exposure


async def test_an_admin_may_force_a_shopper_may_not(
    client: Client, admin: Caller, shopper: Caller, pool: asyncpg.Pool
) -> None:
    await start_experiment(client, admin)
    own = str(shopper.id)
    wanted = other(assigned(own))

    by_admin = expect_ok(
        await client.post(
            QUOTE, json=quote_body(customer_id=own, context={"ab_test_group": wanted}), headers=admin.headers
        )
    )
    product = await create_product(client, admin, base_price="100.00", min_price="50.00")
    shopper_body = quote_body(
        customer_id=own, items=[{"product_id": product["id"], "quantity": 1}], context={"ab_test_group": wanted}
    )
    by_shopper = expect_ok(await client.post(QUOTE, json=shopper_body, headers=shopper.headers))

    assert (by_admin["experiments"], by_admin["forced_experiments"]) == ({KEY: wanted}, [KEY])
    assert (by_shopper["experiments"], by_shopper["forced_experiments"]) == ({KEY: assigned(own)}, [])
    row = await logged(pool, by_shopper["quote_id"])
    assert (row["experiments"], row["forced_experiments"]) == ({KEY: assigned(own)}, {})
