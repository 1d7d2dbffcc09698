"""Reading a metric in-process as a scrape of this process would show it."""

from __future__ import annotations

from prometheus_client import REGISTRY

from quote_service.observability import stages


def published(name: str, labels: dict[str, str] | None = None) -> float:
    """The sample `name{labels}` (0.0 when absent) after what this process counted in integers
    reached the series (observability/deferred.py), as /metrics flushes before answering."""
    stages.flush()
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0
