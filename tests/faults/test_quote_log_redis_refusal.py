"""A quote that Redis refused to store was not answered, so it is not in the quote log.

A private Redis with `maxmemory` tiny and `noeviction` refuses every write (as a full Redis
does); the quote's group commit fails, and its quote-log row must not be queued. Redis then
takes writes again: the next quote is answered and logged, and it is the only row (the log is
written in order, so once it is there a row queued before it would be there too).
"""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from quote_service.auth import credentials
from quote_service.config import Settings
from tests.faults.private import PrivateRedis
from tests.integration.conftest import make_caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.quotes.test_quote_api import QUOTE, client_with, quote_body
from tests.waiting import until

pytestmark = pytest.mark.slow


async def test_a_quote_redis_refused_to_store_is_not_logged(
    settings: Settings, pool: asyncpg.Pool, private_redis: PrivateRedis
) -> None:
    admin = await make_caller(settings, credentials.hash_password("correct-horse-battery"), "admin", "admin")
    async with client_with(settings, redis_url=private_redis.url) as client:
        expect_ok(await client.post(QUOTE, json=quote_body(), headers=admin.headers))  # warm: principal, snapshot

        async def logged() -> int:
            return int(await pool.fetchval("SELECT count(*) FROM quote_log"))

        async def first_logged() -> bool:
            return await logged() == 1

        await until(first_logged, "the first quote is logged")

        private_redis.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
        private_redis.command("CONFIG", "SET", "maxmemory", "1")  # every write now refused: OOM
        refused = await client.post(QUOTE, json=quote_body(), headers=admin.headers)
        expect_error(refused, 503, "DEPENDENCY_UNAVAILABLE")
        assert refused.headers["retry-after"]

        private_redis.command("CONFIG", "SET", "maxmemory", "0")
        answered = expect_ok(await client.post(QUOTE, json=quote_body(), headers=admin.headers))
        answered_id = uuid.UUID(answered["quote_id"])

        async def answered_logged() -> bool:
            return await pool.fetchval("SELECT 1 FROM quote_log WHERE quote_id = $1", answered_id) is not None

        await until(answered_logged, "the answered quote is logged")
        assert await logged() == 2  # the first and the last; the refused one never
