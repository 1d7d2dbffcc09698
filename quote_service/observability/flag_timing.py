"""Flag-evaluation latency, `qs_flag_evaluation_seconds{source}`, kept cheap on the quote path.

`source="quote"` is a quote's flag step (every flag answered for the quote's customer and place,
mostly from the region plan's per-customer memo); `source="api"` is one flag evaluated by
`POST /feature-flags/{key}/evaluate`. The caller reads `perf_counter_ns()` around the evaluation
and calls `record`, which only counts the duration into plain per-process integers (its bucket and
the sum): no lock, no Prometheus call per evaluation. `flush` adds what was counted to the
histogram's buckets in one go; it runs with the quote stage timings (observability/stages.py),
every second and before every scrape.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Literal

from quote_service.observability.metrics import FLAG_BUCKETS as BUCKETS
from quote_service.observability.metrics import FLAG_EVALUATION

Source = Literal["quote", "api"]
SOURCES: tuple[Source, ...] = ("quote", "api")
_BOUNDS_NS = tuple(round(bound * 1e9) for bound in BUCKETS)
_CHILDREN = {source: FLAG_EVALUATION.labels(source) for source in SOURCES}
_SUM = len(BUCKETS) + 1
# Per source: the count of each bucket (the last one is +Inf), then the nanoseconds summed. The
# lists are emptied in place.
_pending: dict[Source, list[int]] = {source: [0] * (_SUM + 1) for source in SOURCES}


def record(source: Source, nanoseconds: int) -> None:
    """Count one evaluation that took `nanoseconds` (a difference of perf_counter_ns readings)."""
    pending = _pending[source]
    pending[bisect_left(_BOUNDS_NS, nanoseconds)] += 1
    pending[_SUM] += nanoseconds


def flush() -> None:
    """Add the evaluations counted since the last flush to the histogram."""
    for source, pending in _pending.items():
        if not any(pending):
            continue
        counts, nanoseconds = pending[:_SUM], pending[_SUM]
        pending[:] = [0] * (_SUM + 1)
        child = _CHILDREN[source]
        # prometheus_client keeps one value per bucket (not cumulative) and the sum; observe() adds
        # to them one at a time. Adding the batch's counts is the same, without a call per value.
        for index, count in enumerate(counts):
            if count:
                child._buckets[index].inc(count)
        child._sum.inc(nanoseconds / 1e9)
