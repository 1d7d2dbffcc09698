"""Liveness and readiness."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency

from quote_service.db.replica import ReadPools
from quote_service.web.deps import PoolDep, RedisDep
from quote_service.web.starting import DomainStarter

_CHECK_TIMEOUT = 1.0


class Check(msgspec.Struct, kw_only=True):
    ok: bool
    latency_ms: float
    error: str | None = None


class ReplicaReport(msgspec.Struct, kw_only=True):
    """The read replica as its lag sampler last saw it; it never makes the service unready (the
    primary serves its reads meanwhile)."""

    up: bool
    lag_seconds: float | None
    max_lag_seconds: float
    serving_reads: bool
    """False while stale-tolerant reads fall back to the primary (replica down or lag above the bound)."""
    error: str | None = None


class Readiness(msgspec.Struct, kw_only=True, omit_defaults=True):
    status: str
    checks: dict[str, Check]
    """`postgres` and `redis`; while the process has not finished starting (a store was away when
    it started: web/starting.py), `startup` too, not ok."""
    replica: ReplicaReport | None = None
    """Only with DATABASE_REPLICA_URL (docs/deployment.md)."""


@get("/health", exclude_from_auth=True, tags=["operations"], summary="Liveness (no dependencies)")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/health/ready", exclude_from_auth=True, tags=["operations"], summary="Readiness: PostgreSQL and Redis")
async def ready(
    pool: PoolDep, redis: RedisDep, read_pools: NamedDependency[ReadPools], state: State
) -> Response[Readiness]:
    async def pg() -> Any:
        async with pool.acquire() as conn:
            return await conn.fetchval("SELECT 1")

    postgres, redis_check = await asyncio.gather(_check(pg), _check(redis.ping))
    checks = {"postgres": postgres, "redis": redis_check}
    startup: DomainStarter = state.startup
    if not startup.started:
        checks["startup"] = Check(ok=False, latency_ms=0.0, error=startup.reason())
    healthy = all(c.ok for c in checks.values())
    body = Readiness(status="ready" if healthy else "unavailable", checks=checks, replica=_replica(read_pools))
    if healthy:
        return Response(body)
    return Response(body, status_code=503, headers={"Retry-After": "5"})


def _replica(reads: ReadPools) -> ReplicaReport | None:
    if reads.replica is None:
        return None
    status = reads.status
    return ReplicaReport(
        up=status.up,
        lag_seconds=status.lag_seconds,
        max_lag_seconds=reads.max_lag,
        serving_reads=reads.fallback_reason() is None,
        error=status.error,
    )


async def _check(probe: Callable[[], Awaitable[Any]]) -> Check:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe(), _CHECK_TIMEOUT)
        error = None
    except Exception as exc:  # any failure means "not ready"; the reason is reported
        error = f"{type(exc).__name__}: {exc}"[:200]
    latency = round((time.perf_counter() - started) * 1000, 3)
    return Check(ok=error is None, latency_ms=latency, error=error)
