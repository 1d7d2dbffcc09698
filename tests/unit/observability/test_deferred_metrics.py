"""Metrics counted in integers and published at the flush (observability/deferred.py): the series
end up exactly as prometheus_client's own inc() and observe() would have left them."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Counter, Histogram

from quote_service.observability import deferred
from quote_service.observability.deferred import DeferredCounter, DeferredHistogram

BUCKETS = (1e-6, 2.5e-6, 1e-3, 0.005, 0.025, 0.1, 1.0)


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the registry but the creation times, keyed by name and labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for metric in registry.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }


def twin_histograms() -> tuple[CollectorRegistry, Histogram, CollectorRegistry, Histogram]:
    direct_registry, counted_registry = CollectorRegistry(), CollectorRegistry()
    direct = Histogram("qs_test_seconds", "t", ["route"], buckets=BUCKETS, registry=direct_registry)
    counted = Histogram("qs_test_seconds", "t", ["route"], buckets=BUCKETS, registry=counted_registry)
    return direct_registry, direct, counted_registry, counted


def test_a_histogram_counted_in_seconds_matches_observe() -> None:
    direct_registry, direct, counted_registry, counted = twin_histograms()
    histogram = DeferredHistogram(counted.labels("/q"))
    rng = random.Random(7)
    # Bounds themselves (an upper bound is inclusive), values between and beyond the last bound.
    values = [*BUCKETS, 0.0, 2.0, 50.0] + [rng.uniform(0, 0.2) for _ in range(500)]
    for value in values:
        direct.labels("/q").observe(value)
        histogram.observe(value)
    assert samples(counted_registry)[("qs_test_seconds_count", (("route", "/q"),))] == 0  # not before the flush
    histogram.flush()
    direct_samples, counted_samples = samples(direct_registry), samples(counted_registry)
    sums = [key for key in direct_samples if key[0] == "qs_test_seconds_sum"]
    assert {k: v for k, v in counted_samples.items() if k not in sums} == {
        k: v for k, v in direct_samples.items() if k not in sums
    }
    assert abs(counted_samples[sums[0]] - direct_samples[sums[0]]) < 1e-9
    assert counted_samples[("qs_test_seconds_bucket", (("le", "1e-06"), ("route", "/q")))] == 2  # 0.0 and 1e-6
    assert counted_samples[("qs_test_seconds_bucket", (("le", "+Inf"), ("route", "/q")))] == len(values)


def test_a_histogram_counted_in_nanoseconds_matches_observe_in_seconds() -> None:
    direct_registry, direct, counted_registry, counted = twin_histograms()
    histogram = DeferredHistogram(counted.labels("/q"), nanoseconds=True)
    for nanoseconds in (500, 1_000, 1_001, 2_500, 999_999, 1_000_000, 5_000_000, 2_000_000_000):
        direct.labels("/q").observe(nanoseconds / 1e9)
        histogram.observe(nanoseconds)
    deferred.flush()
    direct_samples, counted_samples = samples(direct_registry), samples(counted_registry)
    for key, value in direct_samples.items():
        assert abs(counted_samples[key] - value) < 1e-9, key


def test_a_counter_is_published_at_the_flush_and_only_once() -> None:
    registry = CollectorRegistry()
    counter = DeferredCounter(Counter("qs_test_events", "e", ["kind"], registry=registry).labels("lean"))
    counter.inc()
    counter.inc(4)
    key = ("qs_test_events_total", (("kind", "lean"),))
    assert samples(registry)[key] == 0
    deferred.flush()
    assert samples(registry)[key] == 5
    deferred.flush()  # nothing new: nothing added
    assert samples(registry)[key] == 5
