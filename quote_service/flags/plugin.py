"""Feature flags' registration: routes, and the look for flags that became potentially stale
(STALE_FLAG_INTERVAL > 0; docs/flags.md#stale-flags)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quote_service.background import Every
from quote_service.clock import utcnow
from quote_service.flags.controller import FeatureFlagController
from quote_service.flags.service import mark_stale_flags
from quote_service.web.domain import Domain, Startup


async def start(ctx: Startup) -> Mapping[str, Any]:
    settings, pool = ctx.settings, ctx.pool
    if settings.stale_flag_interval <= 0:
        return {}

    async def look() -> None:
        await mark_stale_flags(pool, now=utcnow(), days=settings.stale_flag_days)

    loop = Every("stale-flags", settings.stale_flag_interval, look)
    loop.start_at_once = True  # a flag that went stale while no process ran is told of at start
    ctx.run("stale flags", loop)
    return {}


FLAGS = Domain(name="flags", routes=[FeatureFlagController], start=start)
