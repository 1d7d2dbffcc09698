"""Reads that may be a little stale go to a streaming replica (docs/deployment.md).

`ReadPools.for_read()` is the one place that decides: the replica's pool while the replica is
up and its lag is within the bound, otherwise the primary's (counted as a fallback). Whatever
must read its own writes (orders, purchases, configuration loads, idempotency, auth, reads
inside a write) never asks it and takes the primary's pool directly.

The lag comes from `ReplicaSampler`, once a second: the primary's WAL position
(`pg_current_wal_lsn()`) is recorded with the time it was read, and the replica's replayed
position (`pg_last_wal_replay_lsn()`) is compared with that history. The lag is how long ago
the primary first had WAL the replica has not replayed yet; 0 when it has replayed everything
the primary had. Unlike `now() - pg_last_xact_replay_timestamp()` this does not grow while the
primary is idle, and it needs no heartbeat writes. Resolution: one sampling interval.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field

import structlog

from quote_service.background import BackgroundLoop
from quote_service.db.pool import Pool
from quote_service.observability import metrics

log = structlog.get_logger("quote_service.db.replica")

HISTORY_SECONDS = 600.0
"""How far back primary positions are kept: a replica further behind reports this much lag."""
PROBE_TIMEOUT = 1.0


@dataclass(frozen=True)
class ReplicaStatus:
    """The latest sample: `up` False when the replica (or the primary's position) could not be read."""

    up: bool
    lag_seconds: float | None
    sampled_at: float
    """time.monotonic() of the sample; 0.0 before the first one."""
    error: str | None = None


class PrimaryUnreadable(Exception):
    """The primary's position could not be read, so the replica's lag is unknown."""


_NOT_SAMPLED = ReplicaStatus(up=False, lag_seconds=None, sampled_at=0.0, error="not sampled yet")


@dataclass(eq=False)
class ReadPools:
    """The primary's pool and, when configured, the replica's; `for_read()` chooses per read."""

    primary: Pool
    replica: Pool | None = None
    _: KW_ONLY
    max_lag: float = 5.0
    stale_after: float = 3.0
    """A sample older than this (the sampler stuck or stopped) counts as the replica being down."""
    clock: Callable[[], float] = time.monotonic
    status: ReplicaStatus = field(default=_NOT_SAMPLED, init=False)

    def for_read(self, max_lag: float | None = None) -> Pool:
        """The pool for a read that tolerates `max_lag` seconds of staleness (default: the setting)."""
        if self.replica is None:
            return self.primary
        reason = self.fallback_reason(max_lag)
        if reason is not None:
            metrics.REPLICA_FALLBACKS.labels(reason).inc()
            return self.primary
        metrics.REPLICA_READS.inc()
        return self.replica

    def fallback_reason(self, max_lag: float | None = None) -> str | None:
        """Why a read bounded by `max_lag` would not go to the replica now (`replica_down`, `lag`), or None."""
        status = self.status
        if not status.up or self.clock() - status.sampled_at > self.stale_after:
            return "replica_down"
        bound = self.max_lag if max_lag is None else max_lag
        if status.lag_seconds is None or status.lag_seconds > bound:
            return "lag"
        return None


class ReplicaSampler(BackgroundLoop):
    """Measures the replica's lag every `interval` seconds into `reads.status` and the gauges."""

    task_name = "replica-sampler"
    failure_event = "replica_sample_failed"
    jitter = 0.0

    def __init__(self, reads: ReadPools, *, interval: float = 1.0) -> None:
        if reads.replica is None:
            raise ValueError("ReplicaSampler needs a replica pool")
        self.reads = reads
        self.replica: Pool = reads.replica
        self.interval = interval
        self._history: deque[tuple[float, int]] = deque()

    async def sample(self) -> ReplicaStatus:
        """One measurement, recorded and returned."""
        try:
            status = await asyncio.wait_for(self._measure(), PROBE_TIMEOUT * 2)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # down, paused, refusing: the reason is reported
            error = str(exc) if isinstance(exc, PrimaryUnreadable) else f"{type(exc).__name__}: {exc}"
            status = ReplicaStatus(up=False, lag_seconds=None, sampled_at=self.reads.clock(), error=error[:200])
        self._record(status)
        return status

    async def _measure(self) -> ReplicaStatus:
        now = self.reads.clock()
        try:
            primary_lsn: int = await self.reads.primary.fetchval(
                "SELECT (pg_current_wal_lsn() - '0/0')::bigint", timeout=PROBE_TIMEOUT
            )
        except Exception as exc:  # no reference point: the lag cannot be told, so no replica reads
            raise PrimaryUnreadable(f"the primary's WAL position: {type(exc).__name__}: {exc}") from exc
        self._history.append((now, primary_lsn))
        while self._history and self._history[0][0] < now - HISTORY_SECONDS:
            self._history.popleft()
        replayed: int | None = await self.replica.fetchval(
            "SELECT (pg_last_wal_replay_lsn() - '0/0')::bigint", timeout=PROBE_TIMEOUT
        )
        if replayed is None:  # not in recovery: a primary named as the replica, or a promoted one
            return ReplicaStatus(up=True, lag_seconds=0.0, sampled_at=now)
        return ReplicaStatus(up=True, lag_seconds=self.lag_behind(replayed, now), sampled_at=now)

    def lag_behind(self, replayed: int, now: float) -> float:
        """Seconds since the primary first held WAL beyond `replayed` (0 when nothing is missing)."""
        for seen_at, position in self._history:
            if position > replayed:
                return round(max(now - seen_at, 0.0), 3)
        return 0.0

    def _record(self, status: ReplicaStatus) -> None:
        was_up = self.reads.status.up
        self.reads.status = status
        metrics.record_replica(status.up, status.lag_seconds)
        if was_up and not status.up:
            log.warning("replica_down", error=status.error)
        elif status.up and not was_up:
            log.info("replica_up", lag_seconds=status.lag_seconds)

    async def run_pass(self) -> None:
        await self.sample()
