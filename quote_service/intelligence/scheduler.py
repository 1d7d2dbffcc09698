"""DECISION_INTERVAL_MINUTES: a pricing-decision run for every active product, once per slot.

Every process runs the loop; the run of a slot (the interval-aligned time window) goes to the
process that first takes it in PostgreSQL (`db.slots`: a conditional upsert of the loop's row),
so N processes make one run per interval — even when Redis restarts empty between two passes.
A run that fails is not repeated in its slot (the next slot runs). Scheduled runs only propose:
applying stays a person's (or an `auto_apply` caller's) choice.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime

import structlog

from quote_service.background import BackgroundLoop
from quote_service.clock import utcnow
from quote_service.db.slots import slot_start, take_slot
from quote_service.intelligence.service import Intelligence

log = structlog.get_logger("quote_service.intelligence")
LOOP = "decisions"


class DecisionScheduler(BackgroundLoop):
    task_name = "decision-scheduler"
    failure_event = "decision_run_failed"

    def __init__(self, intelligence: Intelligence, *, minutes: int, clock: Callable[[], datetime] = utcnow) -> None:
        self.intelligence = intelligence
        self.seconds = minutes * 60
        self.clock = clock

    async def tick(self) -> bool:
        """Run this slot's decisions if no process has; True when this one did."""
        slot = slot_start(self.clock(), self.seconds)
        if not await take_slot(self.intelligence.pool, LOOP, slot):
            return False
        decisions = await self.intelligence.run_decisions(None, dry_run=False, auto_apply=False, actor="scheduler")
        log.info("decisions_run", slot=slot.isoformat(), decisions=len(decisions))
        return True

    def next_delay(self) -> float:
        return min(60.0, self.seconds) * random.uniform(0.8, 1.2)  # noqa: S311 - not security

    async def run_pass(self) -> None:
        await self.tick()
