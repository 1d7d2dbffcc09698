"""A seller manages its own shipping profiles (docs/sellers.md), and no other seller's nor the platform's."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.config import Settings
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.sellers.conftest import Client
from tests.integration.shipping.test_shipping_profiles_api import PROFILES, create_profile, profile_body

UNKNOWN = "00000000-0000-0000-0000-00000000abcd"


async def rows(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch("SELECT * FROM shipping_profiles ORDER BY created_at, id")]


async def test_a_seller_makes_and_changes_its_own_profiles(
    client: Client, admin: Caller, seller: Caller, pool: asyncpg.Pool
) -> None:
    made = expect_ok(await client.post(PROFILES, json=profile_body(seller_id=None), headers=seller.headers), 201)
    assert made["seller_id"] == "seller-1"  # null or absent: its own, never the platform's default
    url = f"{PROFILES}/{made['id']}"
    patched = expect_ok(await client.patch(url, json={"regions": ["Ankara"]}, headers=seller.headers))
    assert (patched["regions"], patched["seller_id"]) == (["Ankara"], "seller-1")
    expect_ok(await client.put(url, json=profile_body(seller_id="seller-1"), headers=seller.headers))
    assert expect_ok(await client.get(url, headers=seller.headers))["id"] == made["id"]
    assert expect_ok(await client.delete(url, headers=seller.headers))["is_active"] is False
    listed = expect_ok(await client.get(PROFILES, headers=seller.headers))["items"]
    assert [p["id"] for p in listed] == [made["id"]]

    audit = expect_ok(await client.get("/api/v1/audit", params={"entity_id": made["id"]}, headers=admin.headers))[
        "items"
    ]
    assert {row["actor"]["kind"] for row in audit} == {"seller"}
    assert len(audit) == 4


async def test_another_sellers_or_the_platforms_profile_is_not_found(
    client: Client, admin: Caller, seller: Caller, pool: asyncpg.Pool
) -> None:
    theirs = await create_profile(client, admin, seller_id="seller-2")
    platform = await create_profile(client, admin, seller_id=None)
    before = await rows(pool)
    for profile_id in (theirs["id"], platform["id"], UNKNOWN):
        url = f"{PROFILES}/{profile_id}"
        for method, body in [
            ("GET", None),
            ("PATCH", {"regions": ["Izmir"]}),
            ("PUT", profile_body(seller_id="seller-1")),
            ("DELETE", None),
        ]:
            found = expect_error(await client.request(method, url, json=body, headers=seller.headers), 404, "NOT_FOUND")
            assert found["message"] == f"shipping profile {profile_id} not found"
    for widening in ({"seller_id": "seller-2"}, {"platform": "true"}):
        expect_error(await client.get(PROFILES, params=widening, headers=seller.headers), 404, "NOT_FOUND")
    assert expect_ok(await client.get(PROFILES, headers=seller.headers))["items"] == []
    # Naming another seller in a body is refused, and nothing is stored.
    refused = await client.post(PROFILES, json=profile_body(seller_id="seller-2"), headers=seller.headers)
    assert set(field_errors(expect_error(refused, 422, "VALIDATION_FAILED"))) == {"seller_id"}
    own = expect_ok(await client.post(PROFILES, json=profile_body(seller_id="seller-1"), headers=seller.headers), 201)
    moved = await client.patch(f"{PROFILES}/{own['id']}", json={"seller_id": "seller-2"}, headers=seller.headers)
    assert set(field_errors(expect_error(moved, 422, "VALIDATION_FAILED"))) == {"seller_id"}
    assert [r for r in await rows(pool) if str(r["id"]) != own["id"]] == before


@pytest.fixture
async def four_eyes(settings: Settings) -> Any:
    app = create_app(msgspec.structs.replace(settings, change_approval="required"))
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def test_a_sellers_profile_write_needs_no_second_admin(four_eyes: Client, seller: Caller) -> None:
    made = expect_ok(await four_eyes.post(PROFILES, json=profile_body(seller_id=None), headers=seller.headers), 201)
    assert made["seller_id"] == "seller-1"
