"""Flag-evaluation latency, `qs_flag_evaluation_seconds{source}`, kept cheap on the quote path.

`source="quote"` is a quote's flag step (every flag answered for the quote's customer and place,
mostly from the region plan's per-customer memo); `source="api"` is one flag evaluated by
`POST /feature-flags/{key}/evaluate`; `source="ofrep"` one OFREP request's evaluation (one flag,
or every flag of a bulk request). The caller reads `perf_counter_ns()` around the evaluation
and calls `record`, which only counts the duration into plain per-process integers (its bucket and
the sum: observability/deferred.py): no lock, no Prometheus call per evaluation. `flush` adds what
was counted to the histogram's buckets in one go; it runs with the other deferred metrics, every
second and before every scrape.
"""

from __future__ import annotations

from typing import Literal

from quote_service.observability.deferred import DeferredHistogram
from quote_service.observability.metrics import FLAG_EVALUATION

Source = Literal["quote", "api", "ofrep"]
SOURCES: tuple[Source, ...] = ("quote", "api", "ofrep")
_HISTOGRAMS = {source: DeferredHistogram(FLAG_EVALUATION.labels(source), nanoseconds=True) for source in SOURCES}


QUOTE = _HISTOGRAMS["quote"]
"""The quote path's evaluations: `QUOTE.observe(nanoseconds)` is `record("quote", nanoseconds)` without its frame."""


def record(source: Source, nanoseconds: int) -> None:
    """Count one evaluation that took `nanoseconds` (a difference of perf_counter_ns readings)."""
    _HISTOGRAMS[source].observe(nanoseconds)


def flush() -> None:
    """Add the evaluations counted since the last flush to the histogram (deferred.flush() does
    this too, with every other deferred metric)."""
    for histogram in _HISTOGRAMS.values():
        histogram.flush()
