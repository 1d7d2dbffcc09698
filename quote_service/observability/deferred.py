"""Metrics a request path updates on every request, counted in plain integers and handed to
prometheus_client in one go.

A prometheus_client counter's `inc()` takes a lock, and with several workers (multiprocess mode)
also writes the value into the worker's memory-mapped file; a histogram's `observe()` does that
twice (its bucket and its sum). A quote paid ~2.7 µs for its seven such updates in one process and
~7 µs with several workers (BENCHMARKS.md, "Decisions"). Here an update
is an addition to a Python integer or float: `DeferredCounter.inc` and `DeferredHistogram.observe`
take no lock and call nothing. `flush()` adds what was counted to the real series; it runs every
second in every process (the app's metrics ticker, with the quote stage timings:
observability/stages.py) and before this process answers a scrape. So a scrape of one worker sees
its own requests up to that instant and the other workers' up to their last flush (a second at
most); a worker that is killed loses at most its last second of counts.

Everything here runs on the event loop's thread (the request paths and the flushes), so plain
integers need no lock.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

_ALL: list[DeferredCounter | DeferredHistogram] = []


class DeferredCounter:
    """A counter child (`Counter.labels(...)` or an unlabelled Counter) counted in an integer."""

    __slots__ = ("_child", "pending")

    def __init__(self, child: Any) -> None:
        self._child = child
        self.pending = 0
        _ALL.append(self)

    def inc(self, amount: int = 1) -> None:
        self.pending += amount

    def flush(self) -> None:
        if self.pending:
            amount, self.pending = self.pending, 0
            self._child.inc(amount)


class DeferredHistogram:
    """A histogram child (`Histogram.labels(...)` or an unlabelled Histogram) counted per bucket.
    `observe` takes seconds, or with `nanoseconds=True` integer nanoseconds (a difference of
    `perf_counter_ns` readings: no conversion per observation)."""

    __slots__ = ("_child", "_scale", "bounds", "counts", "total")

    def __init__(self, child: Any, *, nanoseconds: bool = False) -> None:
        self._child = child
        # The child's own upper bounds (+Inf last), in the unit observed; rounded to whole
        # nanoseconds, so that exactly 1 µs is 1000 and falls in le=1e-06 as observe() would put it.
        upper: Sequence[float] = child._upper_bounds
        self._scale = 1e-9 if nanoseconds else 1.0
        self.bounds = tuple(
            bound if not nanoseconds or bound == float("inf") else round(bound * 1e9) for bound in upper
        )
        self.counts = [0] * len(self.bounds)
        self.total: float = 0
        _ALL.append(self)

    def observe(self, value: float) -> None:
        # A hot path may do these two lines itself (no call): observability/stages.py.
        # The first bucket whose upper bound is >= value: an upper bound is inclusive, as in observe().
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def flush(self) -> None:
        counts = self.counts
        if not any(counts):
            return
        self.counts = [0] * len(counts)
        total, self.total = self.total, 0
        child = self._child
        # prometheus_client keeps one value per bucket (not cumulative) and the sum, and observe()
        # adds to them one observation at a time: adding the counts is the same, without a call
        # per observation (tests/unit/observability/test_deferred_metrics.py compares the two).
        for index, count in enumerate(counts):
            if count:
                child._buckets[index].inc(count)
        child._sum.inc(total * self._scale)


def flush() -> None:
    """Add everything counted since the last flush to the real series (this process)."""
    for metric in _ALL:
        metric.flush()
