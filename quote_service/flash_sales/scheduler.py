"""The lifecycle by the clock, and the background summaries.

Every process runs one scheduler. Each tick asks PostgreSQL which sales' stored status lags
the clock and moves them (`FlashSales.activate` / `end`). Those transitions are guarded
updates (`WHERE status = 'scheduled'`, `WHERE status <> 'ended'`, `returned_stock IS NULL`),
so when several schedulers (processes, instances) see the same sale, exactly one moves it and
unsold stock returns once; the others find nothing to do. Readers never wait for a tick: the
status shown and enforced follows the clock (pricing.flash).

The same tick refreshes the summaries of sales that had purchases since the last one — off the
request path, recomputed from the ledger, so a refresh can be repeated at any time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import structlog

from quote_service.background import BackgroundLoop
from quote_service.clock import utcnow
from quote_service.flash_sales.service import FlashSales

log = structlog.get_logger("quote_service.flash_sales")


class SaleScheduler(BackgroundLoop):
    """Moves sales along by the clock; `tick` is one pass (tests call it with their own clock)."""

    task_name = "flash-sale-scheduler"
    failure_event = "flash_scheduler_tick_failed"

    def __init__(self, sales: FlashSales, *, interval: float = 1.0, clock: Callable[[], datetime] = utcnow) -> None:
        self.sales = sales
        self.interval = interval
        self.clock = clock

    async def tick(self) -> list[tuple[UUID, str]]:
        """One pass: the transitions this scheduler made, as (sale id, "activated" | "ended")."""
        now = self.clock()
        made: list[tuple[UUID, str]] = []
        for row in await self.sales.due(now):
            sale_id: UUID = row["id"]
            if row["to_end"]:
                if await self.sales.end(sale_id, actor="scheduler", now=now):
                    made.append((sale_id, "ended"))
            elif await self.sales.activate(sale_id, actor="scheduler", now=now):
                made.append((sale_id, "activated"))
        for sale_id in list(self.sales.dirty):
            await self.sales.refresh_summaries(sale_id)
        return made

    async def run_pass(self) -> None:
        await self.tick()
