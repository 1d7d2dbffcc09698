"""The hold reconciler: units a failed undo left taken in Redis go back (docs/flash-sales.md#holds).

A purchase (or an order's flash line) takes units in Redis under a hold (`counters.py`) and
settles the hold once its ledger row has committed, or gives the units back (undo) when the
row is not written. When the undo itself fails (Redis unreachable at that moment, the process
killed between the two steps) the hold stays, and without this loop its units would stay taken
for good. Every process runs it; each pass reads the holds of the open sales and judges every
hold older than the grace (FLASH_HOLD_GRACE_SECONDS):

- in one transaction, under the item row's lock (which every ledger write of that product takes
  first and keeps until it commits, an order's until the order commits), the ledger is asked
  for the purchase that settled the hold, and when there is none the hold is voided there;
- a purchase: the hold is settled (forgotten, its idempotency marker restored): sold;
- none: its units are given back with the undo script, which acts only while the hold is still
  there, so a hold's units come back at most once whoever else tries. A ledger write of the
  hold that comes after the void (a request stuck past the grace) takes the same lock, sees
  the void and fails (503, nothing sold): a unit is never both given back and sold.

Any number of processes may judge the same hold: the void is idempotent and the undo happens
once. Metrics: `qs_flash_holds_reconciled_total{outcome}`, `qs_flash_stranded_units_returned_total`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
import structlog

from quote_service.background import BackgroundLoop
from quote_service.clock import utcnow
from quote_service.flash_sales import repository
from quote_service.flash_sales.counters import Hold, millis
from quote_service.flash_sales.service import (
    FlashSales,
    bought_by_a_quote_order,
    done_marker,
    marker_ttl,
    purchase_from_row,
)
from quote_service.observability.metrics import FLASH_HOLDS_RECONCILED, FLASH_UNITS_RETURNED
from quote_service.pricing.flash import parse_slot

log = structlog.get_logger("quote_service.flash_sales")

ENDED_SALES_SINCE = timedelta(days=1)
"""Sales ended longer ago than this are not looked at (their counters expire anyway)."""


class HoldReconciler(BackgroundLoop):
    """Judges the holds older than `grace` seconds; `tick` is one pass (tests call it with their clock)."""

    task_name = "flash-hold-reconciler"
    failure_event = "flash_hold_reconcile_failed"

    def __init__(
        self,
        sales: FlashSales,
        *,
        interval: float = 30.0,
        grace: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sales = sales
        self.interval = interval
        self.grace = grace
        self.clock = clock

    async def tick(self) -> dict[str, int]:
        """One pass over the open sales' holds: how many holds had each outcome."""
        now = self.clock()
        async with self.sales.pool.acquire() as conn:
            open_sales = await repository.load_open(conn, ended_since=now - ENDED_SALES_SINCE)
        cutoff = millis(now) - round(self.grace * 1000)
        outcomes = {"returned": 0, "settled": 0, "gone": 0}
        for sale in open_sales:
            holds = await self.sales.counters.holds(sale["id"])
            for token, hold in sorted(holds.items(), key=lambda pair: pair[1].t):
                if hold.t <= cutoff:
                    outcomes[await self.judge(sale, token, hold, now=now)] += 1
        return outcomes

    async def judge(self, sale: asyncpg.Record, token: str, hold: Hold, *, now: datetime) -> str:
        """Settle or give back one expired hold: "settled", "returned", or "gone" (someone else
        already did, or a rebuild from the ledger no longer counts its units)."""
        sale_id: UUID = sale["id"]
        product_id, offer_id = parse_slot(hold.p)  # an offer's item: its own row (docs/offers.md)
        async with self.sales.pool.acquire() as conn, conn.transaction():
            row = await repository.hold_outcome(
                conn, sale_id=sale_id, product_id=product_id, offer_id=offer_id, customer_id=hold.c, hold=token
            )
        counters = self.sales.counters
        if row is not None:
            marker = None if bought_by_a_quote_order(row) else done_marker(
                bytes(row["request_hash"]).hex(), purchase_from_row(row)
            )  # fmt: skip
            await counters.settle(sale_id, token, hold.m, marker, marker_ttl(sale["ends_at"], now))
            outcome = "settled"
        elif await counters.undo(
            sale_id=sale_id, hold=token, gen=hold.g, slot=hold.p, customer_id=hold.c, quantity=hold.q,
            marker=hold.m,
        ):  # fmt: skip
            FLASH_UNITS_RETURNED.inc(hold.q)
            outcome = "returned"
        else:
            outcome = "gone"
        FLASH_HOLDS_RECONCILED.labels(outcome).inc()
        log.warning("flash_hold_reconciled", flash_sale_id=str(sale_id), hold=token, outcome=outcome, units=hold.q)
        return outcome

    async def run_pass(self) -> None:
        await self.tick()
