"""OpenTelemetry tracing: on when OTEL_EXPORTER_OTLP_ENDPOINT is set, otherwise off at no cost.

On: a TracerProvider exporting over OTLP/HTTP (batched, off the request path), a server span
per request (the ASGI instrumentation, outermost, named by route template), client spans for every asyncpg
and redis-py call (their instrumentations), and `stage(...)` spans for the quote's stages.
Every log line then carries the current `trace_id` and `span_id`.

Off: nothing is instrumented and `stage(...)` returns one shared no-op context manager, so
the quote path pays one dict look-up (in C) per stage.
"""

from __future__ import annotations

import _thread
import contextlib
from collections.abc import Callable, MutableMapping
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from quote_service.config import Settings

SERVICE_NAME = "quote-service"
_NOOP: contextlib.AbstractContextManager[Any] = _thread.RLock()
"""The stages' context manager while tracing is off: entering and leaving it must cost nothing, and
`nullcontext`'s two Python methods cost a quote 10 frames (5 stages). A re-entrant lock does nothing
in C here: every stage is entered and left on the event loop's one thread, which owns it at any depth,
however the quotes' stages interleave (it only counts). Never entered from another thread."""


class _State:
    provider: TracerProvider | None = None
    tracer: trace.Tracer | None = None


_state = _State()
TRACING = _state
"""`TRACING.tracer is not None` while tracing is on (a hot path's test without a call)."""


def configure_tracing(settings: Settings, *, exporter: SpanExporter | None = None) -> TracerProvider | None:
    """Turn tracing on for this process (OTLP endpoint set, or an exporter given — tests pass an
    in-memory one); None when it stays off."""
    if exporter is None and not settings.otel_exporter_otlp_endpoint:
        return None
    if _state.provider is not None:
        shutdown_tracing()
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # Reads OTEL_EXPORTER_OTLP_ENDPOINT (and the other standard OTEL_* variables) itself,
        # appending /v1/traces as the specification says.
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    RedisInstrumentor().instrument(tracer_provider=provider)
    _state.provider = provider
    _state.tracer = provider.get_tracer("quote_service")
    _STAGES.clear()
    return provider


def shutdown_tracing() -> None:
    """Flush pending spans and remove the instrumentation (process exit, or a test's end)."""
    provider = _state.provider
    if provider is None:
        return
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    AsyncPGInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
    RedisInstrumentor().uninstrument()
    provider.shutdown()
    _state.provider = None
    _state.tracer = None
    _STAGES.clear()


class _Stages(dict[str, contextlib.AbstractContextManager[Any]]):
    """`stage`'s answers: while tracing is off, each stage's name maps to the shared no-op, so that
    `stage(name)` is a dict look-up in C (a Python function cost a quote 5 frames); emptied whenever
    tracing is turned on or off, and while it is on a name is never kept (`__missing__` starts a span)."""

    def __missing__(self, name: str) -> contextlib.AbstractContextManager[Any]:
        tracer = _state.tracer
        if tracer is None:
            self[name] = _NOOP
            return _NOOP
        return tracer.start_as_current_span(name)


_STAGES = _Stages()
stage: Callable[[str], contextlib.AbstractContextManager[Any]] = _STAGES.__getitem__
"""A span for one stage of the current request (a shared no-op while tracing is off)."""


def name_server_span(method: str, route: str) -> None:
    """Name the request's server span by route template (known only after routing)."""
    if _state.tracer is not None:
        span = trace.get_current_span()
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)


def add_trace_ids(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the current trace and span ids on every line (when tracing is on)."""
    if _state.tracer is not None:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            event["trace_id"] = format(context.trace_id, "032x")
            event["span_id"] = format(context.span_id, "016x")
    return event
