"""Which Redis Cluster client errors are "the store is away for now" (503 + Retry-After, which a
client retries) and which are bugs (500).

A failover storm on a slow machine (tests/integration/cache/test_redis_cluster_failover.py) saw
500s: while a replica is promoted the client follows MOVED/TRYAGAIN replies until its request TTL
runs out and raises `ClusterError("TTL exhausted.")`, the base class of CLUSTERDOWN, which the
handlers knew only by its subclasses.
"""

from __future__ import annotations

import pytest
from litestar import Litestar, get
from litestar.testing import TestClient
from redis import exceptions as redis_exceptions

from quote_service.web.errors import EXCEPTION_HANDLERS


def _answer(exc: Exception) -> tuple[int, str, str | None]:
    @get("/", sync_to_thread=False)
    def fail() -> None:
        raise exc

    with TestClient(Litestar([fail], exception_handlers=EXCEPTION_HANDLERS)) as client:
        response = client.get("/")
        return response.status_code, response.json()["error"]["code"], response.headers.get("retry-after")


@pytest.mark.parametrize(
    "exc",
    [
        redis_exceptions.ClusterError("TTL exhausted."),
        redis_exceptions.ClusterDownError("CLUSTERDOWN The cluster is down"),
        redis_exceptions.MasterDownError("MASTERDOWN Link with MASTER is down"),
        redis_exceptions.TryAgainError("TRYAGAIN Multiple keys request during rehashing of slot"),
        redis_exceptions.SlotNotCoveredError("Command # 1 (EVALSHA) of pipeline caused error: slot 1 not covered"),
        redis_exceptions.RedisClusterException(
            "Redis Cluster cannot be connected. Please provide at least one reachable node"
        ),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_a_cluster_between_masters_is_503_with_retry_after(exc: Exception) -> None:
    status, code, retry_after = _answer(exc)
    assert (status, code) == (503, "DEPENDENCY_UNAVAILABLE")
    assert retry_after is not None


def test_a_cluster_client_bug_is_still_a_500() -> None:
    bug = redis_exceptions.RedisClusterException("No way to dispatch this command to Redis Cluster")
    status, code, _ = _answer(bug)
    assert (status, code) == (500, "INTERNAL_ERROR")
