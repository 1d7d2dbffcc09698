"""Garbage-collection pauses, `qs_gc_pause_seconds{generation}`: how long each collection held the process.

A collection stops every request the worker is serving, so a full one (generation 2) over a large heap is a
latency spike that no request's own timing explains. `watch()` registers a `gc.callbacks` hook once per
process; it reads `perf_counter_ns()` at a collection's start and counts the pause into plain integers
at its stop (observability/deferred.py: no lock and no Prometheus call inside the collector, which may run
in the middle of any allocation, a Prometheus call's own included). The deferred metrics' flush publishes
them every second and before every scrape. Nothing runs per request: a collection runs every ~10,000 net
container allocations (app.py's threshold).
"""

from __future__ import annotations

import gc
from bisect import bisect_left
from time import perf_counter_ns
from typing import Any

from quote_service.observability.deferred import DeferredHistogram
from quote_service.observability.metrics import GC_PAUSE

_PAUSES = tuple(DeferredHistogram(GC_PAUSE.labels(str(generation)), nanoseconds=True) for generation in range(3))
_started = [0]


def _timed(phase: str, info: dict[str, Any]) -> None:
    # Inline, no call but the clock's and the bucket's search: the cost meter leaves this frame out
    # (a collection lands in whichever request's window it happens to: tests/integration/test_cost_budget.py).
    if phase == "start":
        _started[0] = perf_counter_ns()
    else:
        took = perf_counter_ns() - _started[0]
        pauses = _PAUSES[info["generation"]]
        pauses.counts[bisect_left(pauses.bounds, took)] += 1
        pauses.total += took


def watch() -> None:
    """Time every collection of this process from now on (idempotent)."""
    if _timed not in gc.callbacks:
        gc.callbacks.append(_timed)
