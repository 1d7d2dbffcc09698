"""seed-demo's shipping profiles (docs/shipping.md): two sellers ship to Ankara at their own rates, none to
Istanbul (the README's first quote stays as it is); seeded once, in the audit log."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.cli.demo_shipping import seed_shipping_profiles
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.waiting import until

Client = AsyncTestClient[Litestar]


async def test_the_demo_profiles_price_ankara_not_istanbul_and_are_seeded_once(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    assert await seed_shipping_profiles(pool) == 2
    assert await seed_shipping_profiles(pool) == 0
    assert await pool.fetchval("SELECT count(*) FROM audit_log WHERE entity_type = 'shipping_profile'") == 2
    hats = await create_product(client, admin, seller_id="seller-cappadocia", base_price="199.00", min_price="0",
                                cost_price="0", weight="1.0")  # fmt: skip

    async def quote(city: str) -> Any:
        body = {"customer_id": "c-1", "currency": "TRY", "items": [{"product_id": hats["id"], "quantity": 1}],
                "delivery_address": {"city": city, "country": "TR"}}  # fmt: skip
        return expect_ok(await client.post("/api/v1/quote", json=body, headers=service_key))

    async def seeded() -> bool:  # written straight into PostgreSQL: the app sees the new version within ~1 s
        return "shipments" in await quote("Ankara")

    await until(seeded, "the app prices with the seeded profiles")
    ankara, istanbul = await quote("Ankara"), await quote("Istanbul")
    assert [(o["code"], o["fee"]) for o in ankara["shipments"][0]["options"]] == [
        ("standard", "25.90"),  # 24.90 + 1.00/kg x 1 kg
        ("pickup_point", "9.90"),
    ]
    assert ankara["shipments"][0]["selected"] == "pickup_point"  # the lowest fee; it has no free_above
    assert ankara["shipments"][0]["free_delivery_remaining"] is None
    assert "shipments" not in istanbul
