"""Fault-injection fixtures: private PostgreSQL and Redis servers a test may kill.

Each fixture starts its own server on a free port of 127.0.0.1 (never the shared 5432/6379)
and removes it, data and all, when the test ends. `private_pg` comes with the service's
database created and migrated (`private_pg.url`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.faults.private import PrivatePostgres, PrivateRedis, postgres_available, redis_available


@pytest.fixture
async def private_pg() -> AsyncIterator[PrivatePostgres]:
    if not postgres_available():
        pytest.skip("PostgreSQL server binaries not found (set PG_BIN)")
    server = PrivatePostgres()
    try:
        server.start()
        await server.create_database()
        yield server
    finally:
        server.close()


def _redis(appendonly: bool) -> Iterator[PrivateRedis]:
    if not redis_available():
        pytest.skip("redis-server not found (set REDIS_SERVER)")
    server = PrivateRedis(appendonly=appendonly)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """No persistence at all: a restart comes back empty."""
    yield from _redis(appendonly=False)


@pytest.fixture
def private_redis_aof() -> Iterator[PrivateRedis]:
    """With an append-only file (fsync every second): `restart()` reloads it."""
    yield from _redis(appendonly=True)
