"""One stage of a quote, timed (Prometheus) and traced (OpenTelemetry, when on) together."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

from quote_service.observability.metrics import QUOTE_STAGE_DURATION
from quote_service.observability.tracing import stage as span

STAGES = ("validate", "catalog", "flash", "engine", "store")
_HISTOGRAMS = {name: QUOTE_STAGE_DURATION.labels(name) for name in STAGES}
_SPAN_NAMES = {name: f"quote.{name}" for name in STAGES}


class timed:
    """`with timed("engine"): ...` observes the stage's duration and, with tracing on, spans it."""

    __slots__ = ("_name", "_span", "_started")

    def __init__(self, name: str) -> None:
        self._name = name
        self._span: AbstractContextManager[Any] = span(_SPAN_NAMES[name])
        self._started = 0.0

    def __enter__(self) -> timed:
        self._span.__enter__()
        self._started = time.perf_counter()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> bool | None:
        _HISTOGRAMS[self._name].observe(time.perf_counter() - self._started)
        return self._span.__exit__(kind, error, trace)
