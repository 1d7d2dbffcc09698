"""Market intelligence's registration: the service and its background work — the stream consumer
(one per process, one consumer group), the incremental demand job, the optional decision schedule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quote_service.cache.products import ProductCache
from quote_service.intelligence.consumer import StreamConsumer
from quote_service.intelligence.controller import MarketIntelligenceController
from quote_service.intelligence.demand import DemandJob
from quote_service.intelligence.scheduler import DecisionScheduler
from quote_service.intelligence.service import Intelligence
from quote_service.intelligence.signal_rules import SignalEvaluator
from quote_service.web.domain import Domain, Startup


async def start(ctx: Startup) -> Mapping[str, Any]:
    settings, pool, redis = ctx.settings, ctx.pool, ctx.redis
    products = ctx.state.product_cache
    intelligence = Intelligence(
        settings, pool, redis, clock=ctx.clock, prices_moved=products.invalidate, reads=ctx.reads
    )
    evaluator = SignalEvaluator(pool, window_hours=settings.market_window_hours)
    consumer = StreamConsumer(redis, pool, signals=evaluator, replay_lease_seconds=settings.ingest_replay_after_seconds)
    ctx.run("competitor-price consumer", consumer)
    demand_job = DemandJob(pool, evaluator)
    ctx.run("demand job", demand_job)
    if settings.decision_interval_minutes:
        decisions = DecisionScheduler(intelligence, minutes=settings.decision_interval_minutes)
        ctx.run("decision scheduler", decisions)
    return {"intelligence": intelligence}


INTELLIGENCE = Domain(
    name="intelligence",
    routes=[MarketIntelligenceController],
    provides={"intelligence": Intelligence},
    requires={"product_cache": ProductCache},
    start=start,
)
