"""Analytics' registration: its reports, the rollup job and the experiment guardrail."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar.datastructures import State

from quote_service.analytics.controller import AnalyticsController, ExperimentController
from quote_service.analytics.guardrail import GuardrailChecker
from quote_service.analytics.rollups import RollupJob
from quote_service.analytics.service import Analytics
from quote_service.cache.config_store import ConfigStore
from quote_service.web.domain import Domain, Startup


async def start(ctx: Startup) -> Mapping[str, Any]:
    settings = ctx.settings
    if settings.rollup_interval > 0:
        rollups = RollupJob(ctx.pool, interval=settings.rollup_interval)
        ctx.run("analytics rollups", rollups)
    if settings.guardrail_interval_seconds > 0:
        changed = ctx.state.config_store.changed
        guardrail = GuardrailChecker(ctx.pool, ctx.redis, interval=settings.guardrail_interval_seconds, changed=changed)
        ctx.run("guardrail checker", guardrail)
    return {"analytics": Analytics(ctx.reads)}


async def reset(state: State) -> None:
    state.analytics.reset()


ANALYTICS = Domain(
    name="analytics",
    routes=[AnalyticsController, ExperimentController],
    provides={"analytics": Analytics},
    requires={"config_store": ConfigStore},
    start=start,
    reset=reset,
)
