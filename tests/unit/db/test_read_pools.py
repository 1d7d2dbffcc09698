"""ReadPools' choice and the sampler's lag arithmetic (no I/O: the pools are only compared by identity)."""

from __future__ import annotations

from typing import cast

from quote_service.db.pool import Pool
from quote_service.db.replica import ReadPools, ReplicaSampler, ReplicaStatus

PRIMARY = cast("Pool", object())
REPLICA = cast("Pool", object())


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pools(clock: Clock) -> ReadPools:
    return ReadPools(PRIMARY, REPLICA, max_lag=5.0, stale_after=3.0, clock=clock)


def test_without_a_replica_every_read_is_the_primarys() -> None:
    assert ReadPools(PRIMARY).for_read() is PRIMARY


def test_the_replica_serves_only_when_sampled_up_recently_and_within_the_bound() -> None:
    clock = Clock()
    reads = pools(clock)
    assert reads.for_read() is PRIMARY  # not sampled yet
    assert reads.fallback_reason() == "replica_down"

    reads.status = ReplicaStatus(up=True, lag_seconds=4.0, sampled_at=clock.now)
    assert reads.for_read() is REPLICA
    assert reads.for_read(max_lag=3.0) is PRIMARY  # a caller may ask for a tighter bound
    assert reads.fallback_reason(3.0) == "lag"

    reads.status = ReplicaStatus(up=True, lag_seconds=6.0, sampled_at=clock.now)
    assert reads.for_read() is PRIMARY

    reads.status = ReplicaStatus(up=True, lag_seconds=0.0, sampled_at=clock.now)
    clock.now += 3.5  # the sampler has stopped reporting
    assert reads.fallback_reason() == "replica_down"

    reads.status = ReplicaStatus(up=False, lag_seconds=None, sampled_at=clock.now, error="refused")
    assert reads.for_read() is PRIMARY


def test_lag_is_the_age_of_the_oldest_primary_position_not_yet_replayed() -> None:
    sampler = ReplicaSampler(pools(Clock()))
    for second, position in enumerate((100, 100, 250, 400, 900)):
        sampler._history.append((float(second), position))

    assert sampler.lag_behind(900, now=4.0) == 0.0  # everything replayed
    assert sampler.lag_behind(1000, now=4.0) == 0.0
    assert sampler.lag_behind(400, now=4.0) == 0.0  # 900 > 400 first seen now: behind by less than a sample
    assert sampler.lag_behind(250, now=4.0) == 1.0  # 400 first seen at t=3
    assert sampler.lag_behind(100, now=4.0) == 2.0  # 250 first seen at t=2: an idle primary (t=0..1) adds nothing
    assert sampler.lag_behind(50, now=4.0) == 4.0
