"""Seller logins that one admin cannot use to get around four-eyes (docs/governance.md#admins-are-made-by-two),
as issue 87's probe tried it: one admin alone made a seller user for any seller (201), turned a user into a
seller or moved a seller's login to another seller (200), logged in as it and put a 90 % promotion live on
that seller's goods (201, where the admin's own was a 202) — under an approval policy and under
CHANGE_APPROVAL=required. Now those account writes are change requests like minting a seller key, and a
seller login an admin made writes as that admin, the audit naming both."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.integration.audit.requests import Client, approve, requested
from tests.integration.audit.test_approval_policies import policy_set
from tests.integration.audit.test_change_requests import four_eyes  # noqa: F401 (fixture)
from tests.integration.audit.test_four_eyes import USERS, applied
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import PASSWORD, Caller, make_caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.sellers.test_seller_promotions import ten_off

PROMOTIONS = "/api/v1/promotions"
SELLER = {"username": "sock-puppet", "password": PASSWORD, "role": "seller", "seller_id": "seller-1"}


async def login(client: Client, username: str) -> dict[str, str]:
    token = expect_ok(await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}))
    return {"Authorization": f"Bearer {token['access_token']}"}


async def newest_entry(client: Client, admin: Caller, entity_type: str) -> dict[str, Any]:
    items = expect_ok(await client.get("/api/v1/audit", params={"entity_type": entity_type}, headers=admin.headers))
    entry: dict[str, Any] = items["items"][0]
    return entry


async def test_under_a_policy_a_seller_user_waits_and_then_writes_as_the_admin_who_made_it(
    client: Client, admin: Caller, reviewer: Caller, pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, seller_id="seller-1")
    await policy_set(client, admin, reviewer, "promotion", 1)

    asked = expect_ok(await client.post(USERS, json=SELLER, headers=admin.headers), 202)  # 201 before
    shown = expect_ok(await client.get(f"/api/v1/change-requests/{asked['change_request_id']}", headers=admin.headers))
    assert (shown["entity_type"], shown["body"]["password"]) == ("user", "********")
    assert await pool.fetchval("SELECT count(*) FROM users WHERE username = 'sock-puppet'") == 0
    expect_error(await approve(client, asked["change_request_id"], admin.headers), 403, "SELF_APPROVAL")
    made = await applied(client, asked["change_request_id"], reviewer.headers)
    assert (made["role"], made["seller_id"], made["created_by"]) == ("seller", "seller-1", str(admin.id))

    # The probe's 90 % promotion through it: a change request, as the admin's own would be (201 before).
    puppet = await login(client, "sock-puppet")
    ninety = ten_off(product["id"], config={"percent": "90"})
    promotion = await requested(await client.post(PROMOTIONS, json=ninety, headers=puppet))
    assert await pool.fetchval("SELECT count(*) FROM promotions") == 0
    expect_error(await approve(client, promotion, admin.headers), 403, "SELF_APPROVAL")
    asked_by = expect_ok(await client.get(f"/api/v1/change-requests/{promotion}", headers=admin.headers))["author"]
    assert (asked_by["kind"], asked_by["id"], asked_by["admin"]) == (
        "seller",
        made["id"],
        {"id": str(admin.id), "name": "admin"},
    )
    live = await applied(client, promotion, reviewer.headers)
    assert (live["seller_id"], live["funded_by"]) == ("seller-1", "seller")  # applied as the seller's own
    entry = await newest_entry(client, admin, "promotion")
    assert (entry["action"], entry["actor"]["kind"], entry["actor"]["seller_id"]) == ("create", "seller", "seller-1")
    assert entry["actor"]["admin"] == {"id": str(admin.id), "name": "admin"}


async def test_with_approval_required_making_a_user_a_seller_or_moving_its_seller_waits(
    four_eyes: Client,  # noqa: F811
    settings: Any,
    password_hash: str,
    admin: Caller,
    reviewer: Caller,
    pool: asyncpg.Pool,
) -> None:
    shopper = await make_caller(settings, password_hash, "shopper-9", "user")
    real = await make_caller(settings, password_hash, "bosphorus", "seller", seller_id="seller-1")
    made_seller = {"role": "seller", "seller_id": "seller-2"}
    turn = await requested(await four_eyes.patch(f"{USERS}/{shopper.id}", json=made_seller, headers=admin.headers))
    move = await requested(
        await four_eyes.patch(f"{USERS}/{real.id}", json={"seller_id": "seller-2"}, headers=admin.headers)
    )
    create = await requested(await four_eyes.post(USERS, json=SELLER, headers=admin.headers))
    rows = await pool.fetch(
        "SELECT username, role, seller_id FROM users WHERE username <> ALL($1) ORDER BY 1", ["admin", "reviewer"]
    )
    assert [tuple(r) for r in rows] == [("bosphorus", "seller", "seller-1"), ("shopper-9", "user", None)]
    for change_id in (turn, move, create):
        expect_error(await approve(four_eyes, change_id, admin.headers), 403, "SELF_APPROVAL")
    assert (await applied(four_eyes, move, reviewer.headers))["seller_id"] == "seller-2"
    assert (await applied(four_eyes, turn, reviewer.headers))["role"] == "seller"

    # What binds no seller stays at once: a seller's tier, taking a user out of the seller role.
    assert expect_ok(await four_eyes.patch(f"{USERS}/{real.id}", json={"tier": "gold"}, headers=admin.headers))["tier"]
    out = {"role": "user", "seller_id": None}
    assert expect_ok(await four_eyes.patch(f"{USERS}/{shopper.id}", json=out, headers=admin.headers))["role"] == "user"


async def test_without_approvals_a_seller_user_is_made_at_once_and_its_writes_name_the_admin(
    client: Client, admin: Caller
) -> None:
    product = await create_product(client, admin, seller_id="seller-1")
    made = expect_ok(await client.post(USERS, json=SELLER, headers=admin.headers), 201)
    puppet = await login(client, "sock-puppet")
    expect_ok(await client.post(PROMOTIONS, json=ten_off(product["id"]), headers=puppet), 201)
    entry = await newest_entry(client, admin, "promotion")
    assert (entry["actor"]["id"], entry["actor"]["admin"]) == (made["id"], {"id": str(admin.id), "name": "admin"})
    assert "admin" not in (await newest_entry(client, admin, "product"))["actor"]  # the admin's own write
    # Its price move past the threshold waits for an admin, and not for the one it writes as.
    move = await client.patch(f"/api/v1/products/{product['id']}", json={"current_price": "40.00"}, headers=puppet)
    expect_error(await approve(client, await requested(move), admin.headers), 403, "SELF_APPROVAL")
