"""structlog setup: JSON lines in production, a console renderer on a terminal."""

from __future__ import annotations

import logging
import sys

import structlog

from quote_service.config import Settings


def configure_logging(settings: Settings) -> None:
    """Configure structlog and the stdlib root logger once per process."""
    level = getattr(logging, settings.log_level.upper())
    fmt = settings.log_format or ("console" if sys.stderr.isatty() else "json")
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor
    if fmt == "json":
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries log through the stdlib; keep their noise at WARNING unless asked for DEBUG.
    logging.basicConfig(
        level=max(level, logging.WARNING), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
