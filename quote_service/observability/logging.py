"""structlog setup: JSON lines in production, a console renderer on a terminal."""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Callable
from typing import Any

import msgspec
import structlog

from quote_service.config import Settings
from quote_service.observability.tracing import add_trace_ids


def _fallback(value: Any) -> Any:
    """What structlog's JSONRenderer does with a value JSON cannot hold: `__structlog__()` or repr."""
    to_log = getattr(value, "__structlog__", None)
    return to_log() if callable(to_log) else repr(value)


_JSON = msgspec.json.Encoder(enc_hook=_fallback)


def _json_line(event: dict[str, Any], **_: Any) -> bytes:
    # msgspec and bytes straight to the stream: a third cheaper than json.dumps + print (one
    # canonical line per request adds up); the lines are the same JSON, non-ASCII unescaped.
    return _JSON.encode(event)


class _Levels:
    info = True
    """Whether INFO lines are written (LOG_LEVEL at INFO or DEBUG): the access log's line is not even
    assembled otherwise (web/middleware.py: ~2 µs a request for a line a WARNING logger drops)."""


LEVELS = _Levels()


def configure_logging(settings: Settings) -> None:
    """Configure structlog and the stdlib root logger once per process."""
    level = getattr(logging, settings.log_level.upper())
    LEVELS.info = level <= logging.INFO
    fmt = settings.log_format or ("console" if sys.stderr.isatty() else "json")
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_trace_ids,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor
    factory: Callable[..., Any]
    if fmt == "json":
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer(serializer=_json_line)
        factory = structlog.BytesLoggerFactory(file=sys.stderr.buffer)
    else:
        renderer = structlog.dev.ConsoleRenderer()
        factory = structlog.PrintLoggerFactory(file=sys.stderr)
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    # Libraries log through the stdlib; keep their noise at WARNING unless asked for DEBUG.
    logging.basicConfig(
        level=max(level, logging.WARNING), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )


def context_var(key: str) -> contextvars.ContextVar[Any]:
    """structlog's own context variable for `key`, the one `bind_contextvars(key=...)` sets and every
    log line merges: set and reset directly, it costs a request two C calls where
    `bind_contextvars` and `reset_contextvars` cost ~2 µs (the lean edge's request id)."""
    structlog.contextvars.reset_contextvars(**structlog.contextvars.bind_contextvars(**{key: None}))
    return structlog.contextvars._CONTEXT_VARS[structlog.contextvars.STRUCTLOG_KEY_PREFIX + key]
