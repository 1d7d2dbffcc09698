"""The data lifecycle's registration: its job (partitions ahead, retention); no routes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quote_service.lifecycle.job import LifecycleJob
from quote_service.web.domain import Domain, Startup


async def start(ctx: Startup) -> Mapping[str, Any]:
    if ctx.settings.retention_interval > 0:
        lifecycle = LifecycleJob(ctx.pool, ctx.settings)
        ctx.run("data lifecycle", lifecycle)
    return {}


LIFECYCLE = Domain(name="lifecycle", start=start)
