"""Flag-evaluation timings: counted into integers, published into the histogram in one flush."""

from __future__ import annotations

from prometheus_client import REGISTRY

from quote_service.observability import flag_timing


def series(source: str) -> dict[str, float]:
    """This process's qs_flag_evaluation_seconds samples for `source`, by `le` (and sum, count)."""
    found: dict[str, float] = {}
    for metric in REGISTRY.collect():
        if metric.name != "qs_flag_evaluation_seconds":
            continue
        for s in metric.samples:
            if s.labels.get("source") != source:
                continue
            key = s.labels.get("le") or s.name.rsplit("_", 1)[1]
            found[key] = s.value
    return found


def test_recorded_evaluations_reach_the_buckets_at_the_flush() -> None:
    before = series("api")
    flag_timing.record("api", 500)  # 0.5 µs: le=1e-06
    flag_timing.record("api", 1_000)  # exactly 1 µs: le=1e-06 (an upper bound is inclusive)
    flag_timing.record("api", 3_000)  # le=5e-06
    flag_timing.record("api", 2_000_000_000)  # 2 s: only +Inf
    assert series("api") == before  # nothing published before the flush
    flag_timing.flush()
    after = series("api")
    delta = {key: after[key] - before.get(key, 0.0) for key in after}
    assert delta["1e-06"] == 2
    assert delta["2.5e-06"] == 2
    assert delta["5e-06"] == 3
    assert delta["0.025"] == 3
    assert delta["+Inf"] == delta["count"] == 4
    assert abs(delta["sum"] - 2.0000045) < 1e-9
    flag_timing.flush()  # nothing new: nothing added
    assert series("api") == after
