"""Campaigns' registration: the service and its hourly scheduler."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quote_service.cache.products import ProductCache
from quote_service.campaigns.controller import CampaignController
from quote_service.campaigns.scheduler import CampaignScheduler
from quote_service.campaigns.service import Campaigns
from quote_service.web.domain import Domain, Startup


async def start(ctx: Startup) -> Mapping[str, Any]:
    products = ctx.state.product_cache
    campaigns = Campaigns(ctx.pool, clock=ctx.clock, prices_moved=products.invalidate, reads=ctx.reads)
    scheduler = CampaignScheduler(campaigns, interval=ctx.settings.campaign_scheduler_interval)
    ctx.run("campaign scheduler", scheduler)
    return {"campaigns": campaigns, "campaign_scheduler": scheduler}


CAMPAIGNS = Domain(
    name="campaigns",
    routes=[CampaignController],
    provides={"campaigns": Campaigns},
    requires={"product_cache": ProductCache},
    start=start,
)
