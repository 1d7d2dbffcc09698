"""The audit log for products, flash sales, campaigns, users, API keys and webhooks
(docs/governance.md, migration 0530): admin writes are recorded with their actor and request
id, no secret reaches a row, and the service's own writes (an order taking stock) record nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from tests.integration.audit.test_audit_log import audit
from tests.integration.campaigns.test_campaigns import buy, start
from tests.integration.catalog.test_catalog import PRODUCTS, create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.flash import SALES, at, new_sale

Client = AsyncTestClient[Litestar]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Webhook receivers on 127.0.0.1 are allowed (nothing is delivered to them here)."""
    return msgspec.structs.replace(settings, webhook_allow_private=True)


def actions(rows: list[dict[str, Any]]) -> list[str]:
    return [r["action"] for r in rows]


async def every_row_as_text(pool: asyncpg.Pool) -> str:
    return "\n".join(await pool.fetchval("SELECT array_agg(a::text) FROM audit_log a") or [])


async def test_product_writes_are_audited_with_actor_and_request_id(client: Client, admin: Caller) -> None:
    headers = {**admin.headers, "X-Request-ID": "req-product"}
    product = await create_product(client, admin, stock=10)
    url = f"{PRODUCTS}/{product['id']}"
    expect_ok(await client.patch(url, json={"name": "Renamed"}, headers=headers))
    expect_ok(await client.put(f"{url}/price", json={"price": "24.00"}, headers=admin.headers))
    expect_ok(await client.post(f"{url}/stock", json={"delta": 5, "reason": "restock"}, headers=admin.headers))
    expect_ok(await client.delete(url, headers=admin.headers))

    rows = await audit(client, admin, entity_type="product", entity_id=product["id"])

    assert actions(rows) == ["delete", "update", "update", "update", "create"]
    deleted, stocked, priced, renamed, made = rows
    assert made["before"] is None
    assert made["after"]["sku"] == product["sku"]
    assert made["actor"] == {"kind": "user", "id": str(admin.id), "name": "admin"}
    assert (renamed["before"]["name"], renamed["after"]["name"]) == ("Phone Case", "Renamed")
    assert renamed["request_id"] == "req-product"
    assert float(priced["after"]["current_price"]) == 24
    assert (stocked["before"]["stock"], stocked["after"]["stock"]) == (10, 15)
    assert deleted["after"]["is_active"] is False


async def test_an_order_taking_stock_is_not_audited(client: Client, admin: Caller, shopper: Caller) -> None:
    product = await create_product(client, admin, stock=10, min_price="10.00", cost_price="5.00")
    await buy(client, shopper, product["id"], 2)

    rows = await audit(client, admin, entity_type="product", entity_id=product["id"])

    assert actions(rows) == ["create"]
    stock = expect_ok(await client.get(f"{PRODUCTS}/{product['id']}", headers=admin.headers))["stock"]
    assert stock == 8


async def test_flash_sale_writes_are_audited(client: Client, admin: Caller) -> None:
    sale, product = await new_sale(client, admin, starts_at=at(30), ends_at=at(90))
    url = f"{SALES}/{sale['id']}"
    expect_ok(await client.put(url, json={"name": "Renamed sale"}, headers=admin.headers))
    expect_ok(await client.post(f"{url}/activate", headers=admin.headers))
    expect_ok(await client.post(f"{url}/end", headers=admin.headers))
    doomed, _ = await new_sale(client, admin, starts_at=at(30), ends_at=at(90))
    expect_ok(await client.delete(f"{SALES}/{doomed['id']}", headers=admin.headers))

    rows = await audit(client, admin, entity_type="flash_sale", entity_id=sale["id"])
    gone = await audit(client, admin, entity_type="flash_sale", entity_id=doomed["id"])

    assert actions(rows) == ["update", "update", "update", "create"]
    ended, activated, renamed, made = rows
    assert made["after"]["status"] == "scheduled"
    assert renamed["after"]["name"] == "Renamed sale"
    assert activated["after"]["status"] == "active"
    assert ended["after"]["status"] == "ended"
    assert all(r["actor"]["id"] == str(admin.id) for r in rows)
    assert actions(gone) == ["delete", "create"]
    assert gone[0]["after"] is None
    assert gone[0]["before"]["id"] == doomed["id"]
    # The allocation taken from the product's stock is part of the admin's write.
    taken = (await audit(client, admin, entity_type="product", entity_id=product["id"]))[-2]
    assert (taken["action"], taken["before"]["stock"], taken["after"]["stock"]) == ("update", 100, 90)


async def test_campaign_writes_are_audited(client: Client, admin: Caller) -> None:
    product = await create_product(client, admin, stock=100, min_price="10.00", cost_price="5.00")
    campaign = await start(client, admin, product["id"])
    expect_ok(await client.post(f"/api/v1/campaigns/{campaign['name']}/end", headers=admin.headers))

    rows = await audit(client, admin, entity_type="campaign")

    assert actions(rows) == ["update", "create"]
    ended, made = rows
    assert made["after"]["name"] == campaign["name"]
    assert made["actor"]["id"] == str(admin.id)
    assert (ended["before"]["status"], ended["after"]["status"]) == ("active", "ended")
    assert actions(await audit(client, admin, entity_type="product", entity_id=product["id"])) == ["create"]


async def test_user_creation_is_audited_without_the_password_hash(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    password = "correct horse battery staple 42"
    body = {"username": "newcomer", "password": password, "role": "user"}
    user = expect_ok(await client.post("/api/v1/users", json=body, headers=admin.headers), 201)

    rows = await audit(client, admin, entity_type="user", entity_id=user["id"])

    assert actions(rows) == ["create"]
    assert rows[0]["after"]["username"] == "newcomer"
    assert "password_hash" not in rows[0]["after"]
    password_hash = await pool.fetchval("SELECT password_hash FROM users WHERE id = $1", uuid.UUID(user["id"]))
    logged = await every_row_as_text(pool)
    assert password not in logged
    assert password_hash not in logged


async def test_api_key_writes_are_audited_without_the_key_or_its_hash(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    created = expect_ok(await client.post("/api/v1/api-keys", json={"name": "ci"}, headers=admin.headers), 201)
    expect_ok(await client.delete(f"/api/v1/api-keys/{created['id']}", headers=admin.headers))

    rows = await audit(client, admin, entity_type="api_key", entity_id=created["id"])

    assert actions(rows) == ["update", "create"]
    revoked, made = rows
    assert made["after"]["name"] == "ci"
    assert "key_hash" not in made["after"]
    assert revoked["before"]["revoked_at"] is None
    assert revoked["after"]["revoked_at"] is not None
    key_hash = await pool.fetchval("SELECT key_hash FROM api_keys WHERE id = $1", uuid.UUID(created["id"]))
    logged = await every_row_as_text(pool)
    assert created["key"] not in logged
    assert bytes(key_hash).hex() not in logged


async def test_webhook_writes_and_rotations_leave_no_secret(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    body = {"url": "http://127.0.0.1:9/hook", "events": ["order.created"]}
    hook = expect_ok(await client.post("/api/v1/webhooks", json=body, headers=admin.headers), 201)
    url = f"/api/v1/webhooks/{hook['id']}"
    expect_ok(await client.patch(url, json={"description": "orders"}, headers=admin.headers))
    rotated = expect_ok(await client.post(f"{url}/rotate-secret", headers=admin.headers))
    expect_ok(await client.delete(url, headers=admin.headers))

    rows = await audit(client, admin, entity_type="webhook", entity_id=hook["id"])

    assert actions(rows) == ["delete", "update", "update", "create"]
    deleted, rotation, described, made = rows
    assert made["after"]["url"] == body["url"]
    assert made["actor"]["id"] == str(admin.id)
    assert described["after"]["description"] == "orders"
    assert rotation["after"]["previous_secret_expires_at"] is not None
    assert deleted["after"] is None
    for row in rows:
        for doc in (row["before"], row["after"]):
            assert doc is None or not {"secret", "previous_secret"} & doc.keys()
    logged = await every_row_as_text(pool)
    assert hook["secret"] not in logged
    assert rotated["secret"] not in logged
