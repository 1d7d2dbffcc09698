"""The principal cache through a PostgreSQL outage, in one process: a known API key keeps
working while PostgreSQL is down (without waiting on it), an unknown one does not, and a
revocation committed before the outage is honoured as soon as PostgreSQL answers again."""

from __future__ import annotations

import time

import asyncpg
import pytest

from quote_service.auth import credentials
from quote_service.auth import repository as auth_repository
from quote_service.auth.service import PRINCIPAL_RETRY_SECONDS, AuthService, _key_cache_key
from quote_service.config import Settings
from quote_service.db.pool import create_pool
from quote_service.errors import Unauthorized
from tests.faults.private import PrivatePostgres
from tests.waiting import until

pytestmark = pytest.mark.slow


async def _new_key(url: str) -> tuple[str, bytes]:
    key, key_hash, prefix = credentials.new_api_key()
    conn = await asyncpg.connect(url)
    try:
        await auth_repository.insert_api_key(
            conn, name="checkout", role="service", key_hash=key_hash, prefix=prefix, created_by=None
        )
    finally:
        await conn.close()
    return key, key_hash


async def test_known_keys_outlive_a_postgres_outage_and_revocations_apply_once_it_is_back(
    private_pg: PrivatePostgres,
) -> None:
    known, known_hash = await _new_key(private_pg.url)
    never_seen, _ = await _new_key(private_pg.url)
    pool = await create_pool(private_pg.url, min_size=1, max_size=2)
    auth = AuthService(Settings(database_url=private_pg.url, redis_url="redis://unused"), pool)
    try:
        principal = await auth.principal_from_api_key(known)
        # Revoked in the database (by another process), then PostgreSQL goes away.
        conn = await asyncpg.connect(private_pg.url)
        await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE key_hash = $1", known_hash)
        await conn.close()
        private_pg.stop("fast")
        await auth._principals.delete(_key_cache_key(known_hash))  # the 10 s TTL has run out

        started = time.monotonic()
        assert await auth.principal_from_api_key(known) == principal  # last good value
        first = time.monotonic() - started
        started = time.monotonic()
        for _ in range(100):
            assert await auth.principal_from_api_key(known) == principal
        hundred = time.monotonic() - started
        with pytest.raises(Exception) as refused:  # noqa: PT011 - whatever the pool raises
            await auth.principal_from_api_key(never_seen)
        assert not isinstance(refused.value, Unauthorized)

        private_pg.start()
        back = time.monotonic()

        async def revocation_applied() -> bool:
            try:
                await auth.principal_from_api_key(known)
            except Unauthorized:
                return True
            return False

        await until(revocation_applied, "the revocation applies", within=PRINCIPAL_RETRY_SECONDS + 5.0)
        revoked_after = time.monotonic() - back
    finally:
        await pool.close()
    print(
        f"\nPostgreSQL down: first lookup of a known key {first * 1000:.1f} ms, 100 more {hundred * 1000:.1f} ms; "
        f"revocation applied {revoked_after:.3f} s after PostgreSQL was back"
    )
    assert hundred < 0.5  # no lookup waits on the dead database
    assert revoked_after <= PRINCIPAL_RETRY_SECONDS + 2.0
