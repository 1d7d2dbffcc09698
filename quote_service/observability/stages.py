"""A quote's stage timings, gathered cheaply: one histogram observation per quote.

The quote path reads `time.perf_counter_ns()` at each stage boundary (validate, catalog,
flash, engine, store) and calls `record(...)` once at the end: that counts the whole quote for
`qs_quote_duration_seconds` (one deferred observation: observability/deferred.py) and adds each
stage's nanoseconds to plain per-process integers. `flush()` turns those integers into the
`qs_quote_stage_seconds_total` counters and publishes every deferred metric; it runs every second
(the app's metrics ticker) and before every scrape, so a stage's mean is
`rate(qs_quote_stage_seconds_total[..]) / rate(qs_quote_duration_seconds_count[..])`.
The concurrency gates' in-flight counts are read into `qs_quotes_in_flight` at the same time
(admission itself only counts in integers), and the process's resident memory into
`qs_worker_resident_memory_bytes` (one read of /proc/self/statm). With tracing on, each stage is
also a span (`quote.<stage>`; tracing.stage is a shared no-op when it is off).
"""

from __future__ import annotations

import os
import weakref
from bisect import bisect_left
from typing import Protocol

from quote_service.observability import deferred
from quote_service.observability.deferred import DeferredHistogram
from quote_service.observability.metrics import (
    QUOTE_DURATION,
    QUOTE_STAGE_SECONDS,
    QUOTES_IN_FLIGHT,
    worker_resident_memory,
)

STAGES = ("validate", "catalog", "flash", "engine", "store")
_COUNTERS = tuple(QUOTE_STAGE_SECONDS.labels(name) for name in STAGES)
_DURATION = DeferredHistogram(QUOTE_DURATION, nanoseconds=True)
# Nanoseconds per stage not yet added to the counters (this process).
_pending = [0, 0, 0, 0, 0]


class _Gate(Protocol):
    in_flight: int


_gates: weakref.WeakSet[_Gate] = weakref.WeakSet()
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int | None:
    """This process's resident memory, from /proc/self/statm (None where there is no /proc)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return None


def record(t0: int, t1: int, t2: int, t3: int, t4: int, t5: int) -> None:
    """A priced quote's stage boundaries (perf_counter_ns): validate t0-t1, catalog t1-t2,
    flash t2-t3, engine t3-t4, store t4-t5."""
    elapsed, duration = t5 - t0, _DURATION
    duration.counts[bisect_left(duration.bounds, elapsed)] += 1  # duration.observe(elapsed), without the call
    duration.total += elapsed
    pending = _pending
    pending[0] += t1 - t0
    pending[1] += t2 - t1
    pending[2] += t3 - t2
    pending[3] += t4 - t3
    pending[4] += t5 - t4


def watch_gate(gate: _Gate) -> None:
    """Report `gate.in_flight` in qs_quotes_in_flight (summed over this process's gates) at each flush."""
    _gates.add(gate)


def flush() -> None:
    """Add the pending stage time to the counters and every deferred metric (the quote and request
    durations, the edge's and the caches' counters, the flag-evaluation timings: deferred.py) to
    its series, and refresh the in-flight and resident-memory gauges."""
    deferred.flush()
    for index, counter in enumerate(_COUNTERS):
        nanoseconds = _pending[index]
        if nanoseconds:
            _pending[index] = 0
            counter.inc(nanoseconds / 1e9)
    QUOTES_IN_FLIGHT.set(sum(gate.in_flight for gate in list(_gates)))
    resident = resident_bytes()
    if resident is not None:
        worker_resident_memory().set(resident)
