"""Each garbage collection's pause is counted by generation and reaches `qs_gc_pause_seconds` at the flush."""

from __future__ import annotations

import gc

from quote_service.observability import deferred, gc_pauses
from quote_service.observability.metrics import GC_PAUSE


def counted(generation: int) -> tuple[float, float]:
    """(collections, seconds) the series holds for `generation`."""
    found = {s.name: s.value for s in GC_PAUSE.labels(str(generation)).collect()[0].samples}
    return found["qs_gc_pause_seconds_count"], found["qs_gc_pause_seconds_sum"]


def test_every_collection_is_counted_in_its_generation_at_the_flush() -> None:
    gc_pauses.watch()
    gc_pauses.watch()  # idempotent: one hook, one count a collection
    assert gc.callbacks.count(gc_pauses._timed) == 1
    deferred.flush()
    before = [counted(generation) for generation in range(3)]
    # A collection large enough to take a measurable time: 200,000 tracked objects in cycles.
    cycles = [[] for _ in range(200_000)]
    for item in cycles:
        item.append(item)
    del cycles, item
    gc.collect(2)
    gc.collect(0)
    gc.collect(0)

    deferred.flush()

    after = [counted(generation) for generation in range(3)]
    assert after[2][0] - before[2][0] >= 1
    assert after[0][0] - before[0][0] >= 2
    assert after[2][1] > before[2][1]  # the full collection over the cycles took some time
