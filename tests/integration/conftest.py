"""HTTP fixtures: the real app over real stores, and callers of each role."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.auth import credentials
from quote_service.auth import repository as auth_repository
from quote_service.auth.policy import Maker
from quote_service.cache.redis import RedisClient
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.intelligence.consumer import ensure_group
from tests.cluster_fixtures import redis_client
from tests.integration.servers import RaceServer, race_server

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One argon2 hash for every test user (hashing is deliberately slow)."""
    return credentials.hash_password(PASSWORD)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[RedisClient]:
    """A client for this test's Redis, built as the service builds it (a `redis+cluster://` URL gives
    a RedisCluster). It pings before the test runs, so a cluster client already knows every node
    when a test stops one."""
    assert settings.redis_url is not None
    client = redis_client(settings.redis_url)
    await client.ping()
    yield client
    await client.aclose()


@pytest.fixture
async def competitor_group(redis: RedisClient) -> None:
    """The competitor-price stream and its consumer group exist, as a service's consumer makes them."""
    await ensure_group(redis)


@pytest.fixture
def server(settings: Settings) -> Iterator[RaceServer]:
    """A real server on this test's stores, for requests that must race. One per test: a module's
    server kept its background loops running while the next test emptied every table, and
    deadlocked with that TRUNCATE; and its one-second pool and lock waits answered some racing
    orders 503 on a loaded machine."""
    with race_server(settings) as running:
        yield running


_APPS: dict[Settings, Litestar] = {}


@pytest.fixture
async def app(settings: Settings) -> Litestar:
    """The app for these settings. Built once a session for each distinct Settings and started
    afresh by every test's client (its lifespan opens new pools, caches, loops and snapshot):
    building one registers ~650 handlers and costs 0.3-0.9 s, which most tests paid for nothing.
    Routes, middleware and schemas hold no state of their own; what a test may change lives in
    `app.state`, which each start replaces."""
    built = _APPS.get(settings)
    if built is None:
        built = _APPS[settings] = create_app(settings)
    return built


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


class Caller:
    """A user of a given role with ready-made auth headers."""

    def __init__(self, row: asyncpg.Record, settings: Settings) -> None:
        self.id = row["id"]
        self.username = row["username"]
        self.role = row["role"]
        self.maker: Maker = ("user", row["id"])
        """What a quote this user made records as its maker (QuoteStore.put's `caller`)."""
        token = credentials.issue_token(
            settings,
            user_id=row["id"],
            role=row["role"],
            tier=row["tier"],
            segment=row["segment"],
            now=utcnow(),
        )
        self.headers = {"Authorization": f"Bearer {token}"}


async def make_caller(settings: Settings, password_hash: str, username: str, role: str, **extra: Any) -> Caller:
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url)
    try:
        row = await auth_repository.insert_user(
            conn,
            username=username,
            password_hash=password_hash,
            role=role,
            tier=extra.get("tier"),
            segment=extra.get("segment"),
        )
    finally:
        await conn.close()
    return Caller(row, settings)


@pytest.fixture
async def admin(settings: Settings, password_hash: str) -> Caller:
    return await make_caller(settings, password_hash, "admin", "admin")


@pytest.fixture
async def shopper(settings: Settings, password_hash: str) -> Caller:
    return await make_caller(settings, password_hash, "shopper", "user", tier="gold", segment="vip")


async def maker_of(client: AsyncTestClient[Litestar], headers: dict[str, str]) -> Maker:
    """The (kind, id) a quote made with these credentials records as its maker."""
    response = await client.get("/api/v1/users/me", headers=headers)
    assert response.status_code == 200, response.text
    me = response.json()["data"]
    return me["kind"], uuid.UUID(me["id"])


@pytest.fixture
async def service_key(client: AsyncTestClient[Litestar], admin: Caller) -> dict[str, str]:
    """Headers of a machine client holding a fresh `service` API key."""
    response = await client.post("/api/v1/api-keys", json={"name": "checkout"}, headers=admin.headers)
    assert response.status_code == 201, response.text
    return {"X-API-Key": response.json()["data"]["key"]}


@pytest.fixture
async def key_maker(client: AsyncTestClient[Litestar], service_key: dict[str, str]) -> Maker:
    """The maker that quotes made with `service_key` record."""
    return await maker_of(client, service_key)
