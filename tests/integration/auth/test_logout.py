"""Logout ends the session on the server: a copied token or session cookie is refused afterwards,
by every process, and after a restart (the revocation list lives in PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.auth import credentials
from quote_service.auth import repository as auth_repository
from quote_service.config import Settings
from tests.integration.conftest import PASSWORD, Caller
from tests.integration.expect import expect_error, expect_ok

Client = AsyncTestClient[Litestar]
TOKEN, LOGOUT, ME = "/api/v1/auth/token", "/api/v1/auth/logout", "/api/v1/users/me"
PROPAGATION_LIMIT = 5.0
"""Seconds another process may take to refuse a logged-out token (documented: about one)."""


async def log_in(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    data = expect_ok(await client.post(TOKEN, json={"username": username, "password": PASSWORD}))
    return {"Authorization": f"Bearer {data['access_token']}"}


@contextlib.asynccontextmanager
async def process(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh app (as a new process would be: its own memory) on the same stores, running in this loop."""
    app = create_app(settings)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://quote.test") as client,
    ):
        yield client


async def refused_within(client: httpx.AsyncClient, headers: dict[str, str], limit: float) -> float:
    """Seconds until `client` answers 401 with `headers` (asked again and again; fails after `limit`)."""
    started = time.perf_counter()
    while (status := (await client.get(ME, headers=headers)).status_code) != 401:
        assert status == 200
        assert time.perf_counter() - started < limit, f"still accepted after {limit} s"
        await asyncio.sleep(0.01)
    return time.perf_counter() - started


async def test_a_logged_out_bearer_token_is_refused(client: Client, shopper: Caller) -> None:
    token = await log_in(client, shopper.username)
    expect_ok(await client.get(ME, headers=token))

    logged_out = expect_ok(await client.post(LOGOUT, headers=token))

    assert logged_out["token_expires_at"].endswith("Z")
    expect_error(await client.get(ME, headers=token), 401, "UNAUTHORIZED")
    expect_error(await client.post(LOGOUT, headers=token), 401, "UNAUTHORIZED")
    # Only that session ended: the same user logs in again, and other tokens keep working.
    fresh = await log_in(client, shopper.username)
    assert expect_ok(await client.get(ME, headers=fresh))["name"] == shopper.username
    expect_ok(await client.get(ME, headers=shopper.headers))


async def test_an_api_key_has_no_session_to_end(client: Client, service_key: dict[str, str]) -> None:
    expect_error(await client.post(LOGOUT, headers=service_key), 403, "FORBIDDEN")
    expect_ok(await client.get(ME, headers=service_key))


async def test_logout_needs_credentials(client: Client) -> None:
    expect_error(await client.post(LOGOUT), 401, "UNAUTHORIZED")


async def test_a_copied_session_cookie_is_refused_after_the_pages_logout(client: Client, admin: Caller) -> None:
    form = await client.get("/dashboard")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    login = {"username": admin.username, "password": PASSWORD, "csrf": csrf.group(1), "page": "dashboard"}
    assert (await client.post("/pages/login", data=login, follow_redirects=False)).status_code == 303
    session, csrf_cookie = client.cookies["qs_session"], client.cookies["qs_csrf"]
    copied = {"Cookie": f"qs_session={session}; qs_csrf={csrf_cookie}", "X-CSRF-Token": csrf_cookie}
    assert (await client.get("/api/v1/dashboard/summary", headers={"X-CSRF-Token": csrf_cookie})).status_code == 200

    logout = await client.post("/pages/logout", data={"page": "dashboard", "csrf": csrf_cookie}, follow_redirects=False)

    assert logout.status_code == 303
    client.cookies.clear()
    expect_error(await client.get("/api/v1/dashboard/summary", headers=copied), 401, "UNAUTHORIZED")
    page = await client.get("/dashboard", headers={"Cookie": copied["Cookie"]})
    assert 'name="csrf"' in page.text  # the login form, not the dashboard
    assert 'id="kpis"' not in page.text


async def test_the_api_logout_ends_a_cookie_session_and_clears_the_cookie(client: Client, shopper: Caller) -> None:
    token = (await log_in(client, shopper.username))["Authorization"].removeprefix("Bearer ")
    cookie = {"Cookie": f"qs_session={token}; qs_csrf=c", "X-CSRF-Token": "c"}

    response = await client.post(LOGOUT, headers=cookie)

    expect_ok(response)
    assert any(h.startswith("qs_session=") and "Max-Age=0" in h for h in response.headers.get_list("set-cookie"))
    expect_error(await client.get(ME, headers=cookie), 401, "UNAUTHORIZED")
    expect_error(await client.get(ME, headers={"Authorization": f"Bearer {token}"}), 401, "UNAUTHORIZED")


async def test_a_logout_survives_a_restart(settings: Settings, shopper: Caller) -> None:
    async with process(settings) as before:
        token = await log_in(before, shopper.username)
        expect_ok(await before.post(LOGOUT, headers=token))

    async with process(settings) as after:
        expect_error(await after.get(ME, headers=token), 401, "UNAUTHORIZED")
        expect_ok(await after.get(ME, headers=await log_in(after, shopper.username)))


async def test_every_process_refuses_a_token_another_one_logged_out(settings: Settings, shopper: Caller) -> None:
    async with process(settings) as one, process(settings) as other:
        token = await log_in(one, shopper.username)
        expect_ok(await other.get(ME, headers=token))  # the other process knows (and caches) the user

        expect_ok(await one.post(LOGOUT, headers=token))

        expect_error(await one.get(ME, headers=token), 401, "UNAUTHORIZED")  # at once where it happened
        assert await refused_within(other, token, PROPAGATION_LIMIT) < PROPAGATION_LIMIT


async def test_a_revocation_reaches_a_process_without_any_message(
    settings: Settings, shopper: Caller, pool: asyncpg.Pool
) -> None:
    """Redis may lose the message (down, a reconnect): each process also reads PostgreSQL every second."""
    async with process(settings) as running:
        token = await log_in(running, shopper.username)
        expect_ok(await running.get(ME, headers=token))
        claims = credentials.decode_claims(settings, token["Authorization"].removeprefix("Bearer "))

        async with pool.acquire() as conn:  # a logout whose message never arrived
            await auth_repository.revoke_token(
                conn, jti=claims.jti, user_id=claims.user_id, expires_at=claims.expires_at
            )

        assert await refused_within(running, token, PROPAGATION_LIMIT) < PROPAGATION_LIMIT
