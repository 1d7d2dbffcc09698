"""Governance that holds against its own admins (docs/governance.md#admins-are-made-by-two), as
the probes of issue 72 tried it: wherever any approval applies (an approval policy with
CHANGE_APPROVAL off, here), one admin cannot make the approvers a policy asks for, mint a seller
key that writes past approval, take the admin power from the others, or leave the service
without an admin."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from quote_service.auth import credentials
from quote_service.auth import repository as auth_repository
from quote_service.config import Settings
from tests.integration.audit.requests import RATE, RATES, Client, approve, requested
from tests.integration.audit.test_approval_policies import POLICIES, policy_set
from tests.integration.audit.test_change_requests import four_eyes  # noqa: F401 (fixture)
from tests.integration.audit.test_four_eyes import KEYS, USERS, applied
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import PASSWORD, Caller, make_caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.sellers.test_seller_promotions import ten_off

PROMOTIONS = "/api/v1/promotions"


def caller(settings: Settings, user: dict[str, Any]) -> Caller:
    return Caller({**user, "id": uuid.UUID(user["id"])}, settings)  # type: ignore[arg-type]


async def test_one_admin_cannot_make_the_two_approvers_a_policy_asks_for(
    client: Client, settings: Settings, admin: Caller, reviewer: Caller, pool: asyncpg.Pool
) -> None:
    rate = expect_ok(await client.post(RATES, json={**RATE, "rate": "12"}, headers=admin.headers), 201)
    await policy_set(client, admin, reviewer, "commission_rate", 2)

    # The probe: the admin makes two admins at once (201 each before) ...
    asked = [
        await requested(
            await client.post(
                USERS, json={"username": f"crony-{n}", "password": PASSWORD, "role": "admin"}, headers=admin.headers
            )
        )
        for n in (1, 2)
    ]
    assert await pool.fetchval("SELECT count(*) FROM users WHERE username LIKE 'crony-%'") == 0
    expect_error(await approve(client, asked[0], admin.headers), 403, "SELF_APPROVAL")
    # ... who exist once another person approves, and then count as the admin who made them.
    cronies = [caller(settings, await applied(client, change_id, reviewer.headers)) for change_id in asked]

    raise_rate = await requested(
        await client.patch(f"{RATES}/{rate['id']}", json={"rate": "99"}, headers=admin.headers)
    )
    drop_policy = await requested(await client.delete(f"{POLICIES}/commission_rate", headers=admin.headers))
    for change_id in (raise_rate, drop_policy):
        for crony in cronies:
            expect_error(await approve(client, change_id, crony.headers), 403, "SELF_APPROVAL")
    # Nor may one crony ask and the other (or their maker) approve: one person, three logins.
    by_crony = await requested(
        await client.patch(f"{RATES}/{rate['id']}", json={"rate": "98"}, headers=cronies[0].headers)
    )
    expect_error(await approve(client, by_crony, cronies[1].headers), 403, "SELF_APPROVAL")
    expect_error(await approve(client, by_crony, admin.headers), 403, "SELF_APPROVAL")

    assert await pool.fetchval("SELECT rate FROM commission_rates WHERE id = $1::uuid", rate["id"]) == 12
    assert await pool.fetchval("SELECT approvals FROM approval_policies WHERE entity_type = 'commission_rate'") == 2


async def test_an_admin_key_and_taking_another_admins_key_wait_for_another_person(
    client: Client, admin: Caller, reviewer: Caller, pool: asyncpg.Pool
) -> None:
    await policy_set(client, admin, reviewer, "coupon", 1)  # any policy: approval applies
    mine = await requested(await client.post(KEYS, json={"name": "a-bot", "role": "admin"}, headers=admin.headers))
    assert await pool.fetchval("SELECT count(*) FROM api_keys") == 0
    own_key = await applied(client, mine, reviewer.headers)
    theirs = await requested(await client.post(KEYS, json={"name": "r-bot", "role": "admin"}, headers=reviewer.headers))
    their_key = await applied(client, theirs, admin.headers)

    # Revoking one's own key is at once; another person's admin key waits for a third person's approval.
    assert expect_ok(await client.delete(f"{KEYS}/{own_key['id']}", headers=admin.headers))["revoked_at"]
    taking = await requested(await client.delete(f"{KEYS}/{their_key['id']}", headers=admin.headers))
    assert await pool.fetchval("SELECT revoked_at FROM api_keys WHERE id = $1::uuid", their_key["id"]) is None
    expect_error(await approve(client, taking, admin.headers), 403, "SELF_APPROVAL")
    assert (await applied(client, taking, reviewer.headers))["revoked_at"]
    # A service key is still made at once: it cannot approve nor write as an admin.
    expect_ok(await client.post(KEYS, json={"name": "checkout"}, headers=admin.headers), 201)


async def test_the_last_admin_cannot_demote_or_deactivate_itself(
    client: Client, admin: Caller, reviewer: Caller, pool: asyncpg.Pool
) -> None:
    await pool.execute("UPDATE users SET is_active = false WHERE id = $1", reviewer.id)  # admin is the last one
    for body in ({"role": "user"}, {"is_active": False}, {"role": "service", "tier": "gold"}):
        refused = expect_error(
            await client.patch(f"{USERS}/{admin.id}", json=body, headers=admin.headers), 409, "LAST_ADMIN"
        )
        assert "last active admin" in refused["message"]
    assert await pool.fetchval("SELECT (role, is_active)::text FROM users WHERE id = $1", admin.id) == "(admin,t)"
    assert await pool.fetchval("SELECT count(*) FROM change_requests") == 0

    # With another admin, it may (approval off and no policy: at once).
    await pool.execute("UPDATE users SET is_active = true WHERE id = $1", reviewer.id)
    assert (
        expect_ok(await client.patch(f"{USERS}/{admin.id}", json={"role": "user"}, headers=admin.headers))["role"]
        == "user"
    )


async def test_demoting_or_deactivating_an_admin_waits_for_another_person(
    client: Client, settings: Settings, password_hash: str, admin: Caller, reviewer: Caller, auditor: Caller
) -> None:
    fourth = await make_caller(settings, password_hash, "fourth", "admin")
    await policy_set(client, admin, reviewer, "promotion", 1)
    demote = await requested(await client.patch(f"{USERS}/{reviewer.id}", json={"role": "user"}, headers=admin.headers))
    deactivate = await requested(
        await client.patch(f"{USERS}/{auditor.id}", json={"is_active": False}, headers=admin.headers)
    )
    expect_ok(await client.get(KEYS, headers=reviewer.headers))  # both still admins meanwhile
    expect_ok(await client.get(KEYS, headers=auditor.headers))
    expect_error(await approve(client, demote, admin.headers), 403, "SELF_APPROVAL")
    assert (await applied(client, demote, fourth.headers))["role"] == "user"
    assert (await applied(client, deactivate, fourth.headers))["is_active"] is False
    expect_error(await client.get(KEYS, headers=reviewer.headers), 403, "FORBIDDEN")
    expect_error(await client.get(KEYS, headers=auditor.headers), 401, "UNAUTHORIZED")  # its sessions ended


async def test_a_seller_key_an_admin_mints_waits_and_then_writes_as_that_admin(
    four_eyes: Client,  # noqa: F811
    admin: Caller,
    reviewer: Caller,
    pool: asyncpg.Pool,
) -> None:
    product = await create_product(four_eyes, admin, seller_id="seller-1")
    body = {"name": "seller-1 feed", "role": "seller", "seller_id": "seller-1"}
    asked = expect_ok(await four_eyes.post(KEYS, json=body, headers=admin.headers), 202)
    key = {"X-API-Key": asked["key"]}
    # Nothing before another person approves: the probe's stock to 0 is refused.
    zero = {"delta": -product["stock"], "reason": "probe"}
    stock = f"/api/v1/products/{product['id']}/stock"
    expect_error(await four_eyes.post(stock, json=zero, headers=key), 401, "UNAUTHORIZED")
    expect_error(await approve(four_eyes, asked["change_request_id"], admin.headers), 403, "SELF_APPROVAL")
    await applied(four_eyes, asked["change_request_id"], reviewer.headers)

    # The probe's 90 % promotion: a change request, as the admin's own would be; the admin cannot approve it.
    ninety = ten_off(product["id"], config={"percent": "90"}, funded_by="platform")
    promotion = await requested(await four_eyes.post(PROMOTIONS, json=ninety, headers=key))
    assert await pool.fetchval("SELECT count(*) FROM promotions") == 0
    expect_error(await approve(four_eyes, promotion, admin.headers), 403, "SELF_APPROVAL")
    made = await applied(four_eyes, promotion, reviewer.headers)
    # Applied as the seller's own: funded by the seller, bound to it.
    assert (made["seller_id"], made["funded_by"]) == ("seller-1", "seller")


async def test_a_sellers_own_login_and_a_command_line_key_write_their_promotions_at_once(
    four_eyes: Client,  # noqa: F811
    settings: Settings,
    password_hash: str,
    admin: Caller,
    pool: asyncpg.Pool,
) -> None:
    product = await create_product(four_eyes, admin, seller_id="seller-1")
    seller = await make_caller(settings, password_hash, "bosphorus", "seller", seller_id="seller-1")
    made = expect_ok(await four_eyes.post(PROMOTIONS, json=ten_off(product["id"]), headers=seller.headers), 201)
    assert made["seller_id"] == "seller-1"
    key, key_hash, prefix = credentials.new_api_key()
    async with pool.acquire() as conn:  # as `create-api-key --role seller --seller-id seller-1` makes it
        await auth_repository.insert_api_key(
            conn, name="feed", role="seller", key_hash=key_hash, prefix=prefix, created_by=None, seller_id="seller-1"
        )
    expect_ok(await four_eyes.post(PROMOTIONS, json=ten_off(product["id"]), headers={"X-API-Key": key}), 201)
