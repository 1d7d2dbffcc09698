"""An admin ends a user's sessions or deactivates the user over HTTP (docs/authentication.md):
every token of that user issued until then is refused, by every process and after a restart, and
the audit log says who did it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from quote_service.config import Settings
from tests.integration.audit.requests import Client
from tests.integration.auth.test_logout import ME, PROPAGATION_LIMIT, TOKEN, log_in, process, refused_within
from tests.integration.conftest import PASSWORD, Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.waiting import until

USERS = "/api/v1/users"


def ended(user: Caller) -> str:
    return f"{USERS}/{user.id}/sessions/revoke"


async def a_fresh_login(client: Client, username: str) -> dict[str, str]:
    """A login after the end works: a token issued in the same second as the end is refused too
    (tokens carry whole seconds), so this asks until one issued after it."""

    async def works() -> dict[str, str] | None:
        token = await log_in(client, username)
        return token if (await client.get(ME, headers=token)).status_code == 200 else None

    return await until(works, "a token issued after the sessions ended works", within=5.0)


async def test_an_admin_ends_every_session_of_a_user(client: Client, admin: Caller, shopper: Caller) -> None:
    second = await log_in(client, shopper.username)
    for token in (shopper.headers, second):
        expect_ok(await client.get(ME, headers=token))

    done = expect_ok(await client.post(ended(shopper), headers=admin.headers))
    assert done["user_id"] == str(shopper.id)
    assert datetime.fromisoformat(done["sessions_ended_at"]) <= datetime.now(UTC)

    for token in (shopper.headers, second):
        expect_error(await client.get(ME, headers=token), 401, "UNAUTHORIZED")
    expect_ok(await client.get(ME, headers=await a_fresh_login(client, shopper.username)))
    # Audited as the admin's update of the user.
    [row] = expect_ok(
        await client.get(
            "/api/v1/audit", params={"entity_type": "user", "entity_id": str(shopper.id)}, headers=admin.headers
        )
    )["items"]
    assert (row["action"], row["actor"]["id"]) == ("update", str(admin.id))
    assert (row["before"]["sessions_ended_at"], row["after"]["sessions_ended_at"] is not None) == (None, True)
    assert "password_hash" not in row["after"]


async def test_ending_sessions_is_an_admins_and_names_a_user(client: Client, admin: Caller, shopper: Caller) -> None:
    expect_error(await client.post(ended(admin), headers=shopper.headers), 403, "FORBIDDEN")
    expect_error(await client.post(f"{USERS}/{uuid.uuid4()}/sessions/revoke", headers=admin.headers), 404, "NOT_FOUND")
    expect_ok(await client.get(ME, headers=admin.headers))


async def test_every_process_refuses_the_ended_sessions_and_after_a_restart(
    settings: Settings, admin: Caller, shopper: Caller
) -> None:
    async with process(settings) as one, process(settings) as other:
        expect_ok(await other.get(ME, headers=shopper.headers))  # the other process knows (and caches) the user
        expect_ok(await one.post(ended(shopper), headers=admin.headers))
        expect_error(await one.get(ME, headers=shopper.headers), 401, "UNAUTHORIZED")  # at once where it happened
        assert await refused_within(other, shopper.headers, PROPAGATION_LIMIT) < PROPAGATION_LIMIT
    async with process(settings) as restarted:
        expect_error(await restarted.get(ME, headers=shopper.headers), 401, "UNAUTHORIZED")


async def test_an_end_reaches_a_process_without_any_message(
    settings: Settings, shopper: Caller, pool: asyncpg.Pool
) -> None:
    """Redis may lose the message: each process also reads the users whose sessions ended."""
    async with process(settings) as running:
        expect_ok(await running.get(ME, headers=shopper.headers))
        await pool.execute(
            "UPDATE users SET sessions_ended_at = clock_timestamp(), updated_at = now() WHERE id = $1", shopper.id
        )
        assert await refused_within(running, shopper.headers, PROPAGATION_LIMIT) < PROPAGATION_LIMIT


async def test_a_deactivated_user_is_refused_until_reactivated(
    client: Client, admin: Caller, shopper: Caller, pool: asyncpg.Pool
) -> None:
    off = expect_ok(await client.patch(f"{USERS}/{shopper.id}", json={"is_active": False}, headers=admin.headers))
    assert (off["is_active"], off["sessions_ended_at"] is not None) == (False, True)
    expect_error(await client.get(ME, headers=shopper.headers), 401, "UNAUTHORIZED")
    login = {"username": shopper.username, "password": PASSWORD}
    expect_error(await client.post(TOKEN, json=login), 401, "UNAUTHORIZED")

    on = expect_ok(await client.patch(f"{USERS}/{shopper.id}", json={"is_active": True}, headers=admin.headers))
    assert on["is_active"] is True
    expect_error(await client.get(ME, headers=shopper.headers), 401, "UNAUTHORIZED")  # its old token stays refused
    expect_ok(await client.get(ME, headers=await a_fresh_login(client, shopper.username)))
    actions = await pool.fetch(
        "SELECT action, after->>'is_active' AS active FROM audit_log WHERE entity_id = $1 ORDER BY id", str(shopper.id)
    )
    assert [(r["action"], r["active"]) for r in actions] == [("update", "false"), ("update", "true")]


@pytest.mark.parametrize("value", [None, "no", 0])
async def test_is_active_takes_a_boolean(client: Client, admin: Caller, shopper: Caller, value: object) -> None:
    refused = expect_error(
        await client.patch(f"{USERS}/{shopper.id}", json={"is_active": value}, headers=admin.headers),
        422,
        "VALIDATION_FAILED",
    )
    assert "is_active" in field_errors(refused)
    expect_ok(await client.get(ME, headers=shopper.headers))
