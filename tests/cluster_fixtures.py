"""Redis backends for the tests: the session's single Redis database, or a private Redis Cluster.

A test marked `pytest.mark.redis_backends` (or every test of a module so marked) runs twice,
`[single]` and `[cluster]` (this plugin's pytest_generate_tests parametrizes `redis_backend`);
`redis_url` (and so `settings`, `clean_stores` and every server process a test starts with
REDIS_URL) then names either this session's Redis logical database or a 3-master Redis Cluster
started once per session (tests/redis_cluster.py, a `redis+cluster://` URL). The cluster is private to the session:
between tests it is emptied with FLUSHALL on every master.

Only the tests whose subject is how the service uses Redis — its key layout, its Lua scripts,
keys that must share a slot, streams — are marked: the quote store's puts and takes, coupon and
flash-sale counters, the product cache's versions, the login throttle, the competitor-price
stream. Validation, permissions and PostgreSQL-only rules run on the single Redis alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from quote_service.cache.redis import RedisClient, create_redis, is_cluster
from tests.redis_cluster import LocalCluster, cluster_available

BACKENDS = ("single", "cluster")
MARKER = "redis_backends"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`[single]` and `[cluster]` for every marked test (or test of a marked module) that reaches Redis."""
    if metafunc.definition.get_closest_marker(MARKER) is not None and "redis_backend" in metafunc.fixturenames:
        metafunc.parametrize("redis_backend", BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalCluster]:
    """A 3-master Redis Cluster on free ports of 127.0.0.1, for this session alone."""
    problem = cluster_available()
    if problem:
        pytest.skip(f"cannot start a Redis Cluster: {problem}")
    cluster = LocalCluster(masters=3).start()
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def redis_backend(request: pytest.FixtureRequest) -> str:
    """ "single" (the default) or "cluster" (parametrized in marked modules)."""
    backend: str = getattr(request, "param", "single")
    return backend


@pytest.fixture
def redis_url(redis_backend: str, request: pytest.FixtureRequest) -> str:
    """The Redis of this test: the session's logical database, or the session's cluster."""
    if redis_backend == "cluster":
        cluster: LocalCluster = request.getfixturevalue("redis_cluster")
        return cluster.url
    url: str = request.getfixturevalue("single_redis_url")
    return url


def redis_client(url: str) -> RedisClient:
    """A client for a test's `redis_url`, as the service builds it (a cluster URL: RedisCluster)."""
    return create_redis(url)


async def flush(url: str) -> None:
    """Empty this test's Redis: its logical database, or every master of the cluster."""
    client = redis_client(url)
    try:
        if is_cluster(client):
            await client.flushall()  # RedisCluster sends it to every master
        else:
            await client.flushdb()
    finally:
        await client.aclose()
