"""HTTP fixtures: the real app over real stores, and callers of each role.

One started app per test worker per distinct `Settings` (`client`), reset between tests: the
stores emptied (tests/conftest.py `clean_stores`), then every domain's `reset` (the snapshot
reloaded, the caches and memos forgotten, queued writes written; web/domain.py). A test marked
`fresh_app` gets an app started for it alone and stopped after it (start-up, shutdown, failover,
what a reset cannot give back) — docs/development.md#one-started-app-per-worker.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections import OrderedDict
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
from quote_service.background import hold_loops, release_loops
from quote_service.cache.redis import RedisClient
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.intelligence.consumer import ensure_group
from quote_service.web.domain import Domains
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
    """The app for these settings, built once a session for each distinct Settings (building one
    registers ~650 handlers and costs 0.3-0.9 s). `client` starts it once and resets it between
    tests; what a test may change lives in `app.state`, which a reset puts back."""
    built = _APPS.get(settings)
    if built is None:
        built = _APPS[settings] = create_app(settings)
    return built


KEEP_STARTED = 2
"""Started apps a worker keeps (the least recently used beyond it is stopped): each holds a pool
of PostgreSQL connections and its loops; modules that change the settings follow one another."""

FRESH_APPS = os.environ.get("QS_TEST_FRESH_APPS") == "1"
"""QS_TEST_FRESH_APPS=1: every test starts an app of its own, as before the shared apps (to compare)."""

_STARTED: OrderedDict[Litestar, AsyncTestClient[Litestar]] = OrderedDict()


async def _stop(app: Litestar) -> None:
    started = _STARTED.pop(app, None)
    if started is not None:
        started.blocking_portal.call(release_loops)  # a held loop would wait out its stop's bound
        await started.__aexit__(None, None, None)


def _broken(app: Litestar) -> bool:
    """Whether the started `app` lost its PostgreSQL pool (closed by another lifespan of the app)."""
    pool = getattr(app.state, "pool", None)
    return pool is None or pool.is_closing()


def reset_started(started: AsyncTestClient[Litestar]) -> None:
    """Every domain's reset, run on the app's own event loop (the client's portal thread)."""
    app = started.app
    started.blocking_portal.call(app.plugins.get(Domains).reset, app.state)


@pytest.fixture(scope="session", autouse=True)
async def _shared_chromium_closed() -> AsyncIterator[None]:
    """The browser tests share one Chromium a process (tests/integration/browser.py): closed at the end."""
    yield
    browser = sys.modules.get("tests.integration.browser")
    if browser is not None:
        await browser.close_shared()


@pytest.fixture(scope="session")
async def started_apps(database_url: str) -> AsyncIterator[None]:
    """Stops this worker's started apps at the end (before its database is dropped)."""
    yield
    for app in list(_STARTED):
        await _stop(app)


@pytest.fixture
async def client(
    request: pytest.FixtureRequest, app: Litestar, started_apps: None
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A client of the started app for these settings, reset for this test (its own cookies and
    headers); marked `fresh_app`, of an app started for this test alone."""
    if FRESH_APPS or request.node.get_closest_marker("fresh_app") is not None:
        await _stop(app)  # two lifespans of one app would share its state
        async with AsyncTestClient(app=app) as test_client:
            yield test_client
        return
    started = _STARTED.get(app)
    if started is not None and _broken(app):
        # A test ran a lifespan of its own on this app (closing the pool the started one holds):
        # start it again rather than fail every test after it on "pool is closed".
        with contextlib.suppress(Exception):  # its shutdown meets the closed pool too
            await _stop(app)
        _STARTED.pop(app, None)
        started = None
    if started is None:
        while len(_STARTED) >= KEEP_STARTED:
            await _stop(next(iter(_STARTED)))
        started = await AsyncTestClient(app=app).__aenter__()
        _STARTED[app] = started
    else:
        _STARTED.move_to_end(app)
        reset_started(started)  # after this test's clean_stores
        started.blocking_portal.call(release_loops)
    test_client = AsyncTestClient(app=app)
    test_client.blocking_portal = started.blocking_portal  # requests go to the started app
    yield test_client  # (no aclose: the test transport has none, and holds nothing)
    if _STARTED.get(app) is started:
        reset_started(started)  # queued writes land before the next test empties the stores
        # Its schedulers and jobs wait until a test uses it again: they must not act on what the
        # next test writes (another app of its own, a served process, the service layer).
        started.blocking_portal.call(hold_loops)


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
            seller_id=extra.get("seller_id"),
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
