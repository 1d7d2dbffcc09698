"""A principal lookup shared by concurrent requests outlives one waiter's cancellation (issue 72:
while PostgreSQL hung, a quote's deadline cancelled the lookup an order shared, and the order got a
bare 500 from the server). PostgreSQL is made to hang for real: `api_keys` locked exclusively."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest

from quote_service.auth import credentials
from quote_service.auth import repository as auth_repository
from quote_service.auth.service import AuthService
from quote_service.config import Settings
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.locks import lock_waiters
from tests.integration.quotes.test_quote_api import QUOTE, quote_body
from tests.integration.servers import race_server
from tests.waiting import until

KEY_LOOKUP = "SELECT id, name, role, prefix"
"""How the key lookup's statement begins (auth/repository.py `get_active_api_key`)."""


@contextlib.asynccontextmanager
async def api_keys_locked(settings: Settings) -> AsyncIterator[None]:
    """Every key lookup waits until the block ends: PostgreSQL that does not answer."""
    conn = await asyncpg.connect(settings.database_url or "")
    try:
        async with conn.transaction():
            await conn.execute("LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await conn.close()


async def new_key(pool: asyncpg.Pool) -> str:
    key, key_hash, prefix = credentials.new_api_key()
    async with pool.acquire() as conn:
        await auth_repository.insert_api_key(
            conn, name="checkout", role="service", key_hash=key_hash, prefix=prefix, created_by=None
        )
    return key


async def test_the_others_get_the_principal_when_the_waiter_that_started_the_lookup_is_cancelled(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    key = await new_key(pool)
    auth = AuthService(settings, pool)
    async with api_keys_locked(settings):
        first = asyncio.create_task(auth.principal_from_api_key(key))
        await until(lambda: lock_waiters(pool, 1, KEY_LOOKUP), "the first lookup waits on the locked table")
        others = [asyncio.create_task(auth.principal_from_api_key(key)) for _ in range(3)]
        # One pass of the loop: each runs up to the shared lookup (nothing before it suspends).
        await asyncio.sleep(0)
        first.cancel()  # as its request's deadline does
        with pytest.raises(asyncio.CancelledError):
            await first
        assert not any(other.done() for other in others)
        assert await lock_waiters(pool, 1, KEY_LOOKUP)  # the lookup itself goes on
    principals = await asyncio.gather(*others)
    assert {p.name for p in principals} == {"checkout"}


@pytest.mark.slow  # starts a server
async def test_a_request_sharing_a_lookup_with_a_quote_past_its_deadline_is_answered(
    settings: Settings, pool: asyncpg.Pool, admin: Caller
) -> None:
    """Through the real server: the quote answers its 504, the other request (it was a bare 500
    without the envelope) its 200 once PostgreSQL answers."""
    with race_server(settings, QUOTE_TIMEOUT="1") as server:
        async with server.client("shared-lookup") as http:
            made = expect_ok(await http.post("/api/v1/api-keys", json={"name": "checkout"}, headers=admin.headers), 201)
            key = {"X-API-Key": made["key"]}
            async with api_keys_locked(settings):
                quote = asyncio.create_task(http.post(QUOTE, json=quote_body(), headers=key))
                await until(lambda: lock_waiters(pool, 1, KEY_LOOKUP), "the quote's key lookup waits on the lock")
                me = asyncio.create_task(http.get("/api/v1/users/me", headers=key))
                answer = await quote
                expect_error(answer, 504, "QUOTE_TIMEOUT")
                assert answer.headers["x-request-id"]
                assert not me.done()
            assert expect_ok(await me)["name"] == "checkout"
