"""Four-eyes that one admin cannot get around alone (docs/governance.md): with
CHANGE_APPROVAL=required, making an admin key, an admin user or giving the admin role waits for
another admin too, and the approver is another person: not the author, not a key the author made,
not a user the author made at any time (nor anything that user made)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import msgspec

from quote_service.config import Settings
from tests.integration.audit.requests import RATE, RATES, Client, approve, requested
from tests.integration.audit.test_change_requests import four_eyes  # noqa: F401 (fixture)
from tests.integration.conftest import PASSWORD, Caller
from tests.integration.expect import expect_error, expect_ok

USERS = "/api/v1/users"
KEYS = "/api/v1/api-keys"


async def applied(client: Client, change_id: str, approver: dict[str, str]) -> dict[str, Any]:
    """Approve as `approver` and return the applied write's own answer."""
    done = expect_ok(await approve(client, change_id, approver))
    assert done["status"] == "applied", done
    result: dict[str, Any] = done["result"]["data"]
    return result


async def admin_key(client: Client, author: dict[str, str], approver: dict[str, str], name: str) -> dict[str, str]:
    """An admin key `author` asked for (its key is in the 202 answer) and `approver` approved."""
    asked = expect_ok(await client.post(KEYS, json={"name": name, "role": "admin"}, headers=author), 202)
    key = {"X-API-Key": asked["key"]}
    expect_error(await client.get(KEYS, headers=key), 401, "UNAUTHORIZED")  # nothing before approval
    made = await applied(client, asked["change_request_id"], approver)
    assert "key" not in made
    return key


async def admin_user(client: Client, settings: Settings, author: dict[str, str], approver: Caller, name: str) -> Caller:
    """An admin user `author` asked for and `approver` approved, with a token."""
    body = {"username": name, "password": PASSWORD, "role": "admin"}
    change_id = await requested(await client.post(USERS, json=body, headers=author))
    made = await applied(client, change_id, approver.headers)
    return Caller({**made, "id": uuid.UUID(made["id"])}, settings)  # type: ignore[arg-type]


async def test_an_admin_key_waits_for_another_admin_and_acts_for_its_author(
    four_eyes: Client,  # noqa: F811
    admin: Caller,
    reviewer: Caller,
    pool: asyncpg.Pool,
) -> None:
    pending = await requested(await four_eyes.post(RATES, json=RATE, headers=admin.headers))
    asked = expect_ok(await four_eyes.post(KEYS, json={"name": "a-bot", "role": "admin"}, headers=admin.headers), 202)
    assert await pool.fetchval("SELECT count(*) FROM api_keys") == 0
    expect_error(await approve(four_eyes, asked["change_request_id"], admin.headers), 403, "SELF_APPROVAL")
    shown = expect_ok(
        await four_eyes.get(f"/api/v1/change-requests/{asked['change_request_id']}", headers=admin.headers)
    )
    assert asked["key"] not in msgspec.json.encode(shown).decode()  # the key is the author's alone

    made = await applied(four_eyes, asked["change_request_id"], reviewer.headers)
    key = {"X-API-Key": asked["key"]}
    assert expect_ok(await four_eyes.get("/api/v1/users/me", headers=key))["id"] == made["id"]
    # The author's key is the author: it approves nothing of theirs.
    expect_error(await approve(four_eyes, pending, key), 403, "SELF_APPROVAL")
    # Nor does a key that key asked for (and another admin approved): it acts for the author too.
    second = await admin_key(four_eyes, key, reviewer.headers, "a-bot-2")
    expect_error(await approve(four_eyes, pending, second), 403, "SELF_APPROVAL")
    service = expect_ok(await four_eyes.post(KEYS, json={"name": "checkout"}, headers=key), 201)

    listed = {k["name"]: k["created_by"] for k in expect_ok(await four_eyes.get(KEYS, headers=key))["items"]}
    assert listed == {"a-bot": str(admin.id), "a-bot-2": str(admin.id), "checkout": str(admin.id)}
    assert service["created_by"] == str(admin.id)
    assert await pool.fetchval("SELECT count(*) FROM commission_rates") == 0
    await applied(four_eyes, pending, reviewer.headers)


async def test_users_the_author_made_at_any_time_count_as_the_author(
    four_eyes: Client,  # noqa: F811
    settings: Settings,
    admin: Caller,
    reviewer: Caller,
    pool: asyncpg.Pool,
) -> None:
    earlier = await admin_user(four_eyes, settings, admin.headers, reviewer, "earlier")
    pending = await requested(await four_eyes.post(RATES, json=RATE, headers=admin.headers))
    # Made before the request, and approved by another admin: still the author's making.
    expect_error(await approve(four_eyes, pending, earlier.headers), 403, "SELF_APPROVAL")

    deputy = await admin_user(four_eyes, settings, admin.headers, reviewer, "deputy")
    expect_error(await approve(four_eyes, pending, deputy.headers), 403, "SELF_APPROVAL")
    # A chain: a key the deputy asked for (its maker may not approve that: one person) ...
    asked = expect_ok(
        await four_eyes.post(KEYS, json={"name": "deputy-bot", "role": "admin"}, headers=deputy.headers), 202
    )
    expect_error(await approve(four_eyes, asked["change_request_id"], admin.headers), 403, "SELF_APPROVAL")
    await applied(four_eyes, asked["change_request_id"], reviewer.headers)
    expect_error(await approve(four_eyes, pending, {"X-API-Key": asked["key"]}), 403, "SELF_APPROVAL")
    # ... and a user the deputy made, whom another admin then gave the admin role.
    clerk = expect_ok(
        await four_eyes.post(
            USERS, json={"username": "clerk", "password": PASSWORD, "role": "user"}, headers=deputy.headers
        ),
        201,
    )
    assert clerk["created_by"] == str(deputy.id)
    grant = await requested(
        await four_eyes.patch(f"{USERS}/{clerk['id']}", json={"role": "admin"}, headers=deputy.headers)
    )
    assert await pool.fetchval("SELECT role FROM users WHERE id = $1::uuid", clerk["id"]) == "user"
    expect_error(await approve(four_eyes, grant, deputy.headers), 403, "SELF_APPROVAL")
    expect_error(await approve(four_eyes, grant, earlier.headers), 403, "SELF_APPROVAL")  # a sibling: one person
    assert (await applied(four_eyes, grant, reviewer.headers))["role"] == "admin"
    promoted = Caller({**clerk, "id": uuid.UUID(clerk["id"]), "role": "admin"}, settings)  # type: ignore[arg-type]
    expect_error(await approve(four_eyes, pending, promoted.headers), 403, "SELF_APPROVAL")

    # Another person (an admin made on the command line) approves it.
    await applied(four_eyes, pending, reviewer.headers)
    assert await pool.fetchval("SELECT count(*) FROM commission_rates") == 1


async def test_a_password_in_a_change_request_is_stored_only_hashed(
    four_eyes: Client,  # noqa: F811
    admin: Caller,
    reviewer: Caller,
    pool: asyncpg.Pool,
) -> None:
    body = {"username": "second-admin", "password": PASSWORD, "role": "admin"}
    change_id = await requested(await four_eyes.post(USERS, json=body, headers=admin.headers))
    everything = await pool.fetchval("SELECT array_agg(c::text) FROM change_requests c")
    assert PASSWORD not in str(everything)
    shown = expect_ok(await four_eyes.get(f"/api/v1/change-requests/{change_id}", headers=reviewer.headers))
    assert shown["after"]["password"] == "********"
    await applied(four_eyes, change_id, reviewer.headers)
    token = expect_ok(
        await four_eyes.post("/api/v1/auth/token", json={"username": "second-admin", "password": PASSWORD})
    )
    assert token["role"] == "admin"
