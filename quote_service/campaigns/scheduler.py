"""The campaign clock: every process runs one scheduler; guarded hours make that safe.

Like the flash-sale scheduler: each pass asks PostgreSQL which campaigns have an elapsed hour
not applied yet and applies them (`Campaigns.tick`). An hour is applied under the campaign's
row lock, so whichever process gets there first moves the price and the others find nothing
to do; after downtime, the missed hours are applied in order on the first pass.
"""

from __future__ import annotations

import structlog

from quote_service.background import BackgroundLoop
from quote_service.campaigns.service import Campaigns
from quote_service.pricing.campaigns import HourMove

log = structlog.get_logger("quote_service.campaigns")


class CampaignScheduler(BackgroundLoop):
    """Applies due campaign-hours every `interval` seconds; `tick` is one pass (tests call it)."""

    task_name = "campaign-scheduler"
    failure_event = "campaign_scheduler_tick_failed"

    def __init__(self, campaigns: Campaigns, *, interval: float = 1.0) -> None:
        self.campaigns = campaigns
        self.interval = interval

    async def tick(self) -> list[tuple[str, HourMove]]:
        """One pass: the (campaign name, hour) moves this scheduler made."""
        return await self.campaigns.tick()

    async def run_pass(self) -> None:
        await self.tick()
