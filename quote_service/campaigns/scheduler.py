"""The campaign clock: every process runs one scheduler; guarded hours make that safe.

Like the flash-sale scheduler: each pass asks PostgreSQL which campaigns have an elapsed hour
not applied yet and applies them (`Campaigns.tick`). An hour is applied under the campaign's
row lock, so whichever process gets there first moves the price and the others find nothing
to do; after downtime, the missed hours are applied in order on the first pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

import structlog

from quote_service.campaigns.service import Campaigns
from quote_service.pricing.campaigns import HourMove

log = structlog.get_logger("quote_service.campaigns")


class CampaignScheduler:
    """Applies due campaign-hours every `interval` seconds; `tick` is one pass (tests call it)."""

    def __init__(self, campaigns: Campaigns, *, interval: float = 1.0) -> None:
        self.campaigns = campaigns
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> list[tuple[str, HourMove]]:
        """One pass: the (campaign name, hour) moves this scheduler made."""
        return await self.campaigns.tick()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="campaign-scheduler")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            # Jitter spreads the processes' passes; correctness never depends on who goes first.
            await asyncio.sleep(self.interval * random.uniform(0.8, 1.2))  # noqa: S311 - not security
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("campaign_scheduler_tick_failed", exc_info=True)
