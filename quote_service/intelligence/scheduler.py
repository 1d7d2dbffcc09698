"""DECISION_INTERVAL_MINUTES: a pricing-decision run for every active product, once per slot.

Every process runs the loop; the run of a slot (the interval-aligned time window) goes to the
process that first sets its Redis key (SET NX, expiring after the slot), so N processes make
one run per interval. Scheduled runs only propose: applying stays a person's (or an
`auto_apply` caller's) choice.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime

import structlog

from quote_service.background import BackgroundLoop
from quote_service.cache.redis import RedisClient
from quote_service.clock import utcnow
from quote_service.intelligence.service import Intelligence

log = structlog.get_logger("quote_service.intelligence")
SLOT_KEY = "{decisions}:slot:"


class DecisionScheduler(BackgroundLoop):
    task_name = "decision-scheduler"
    failure_event = "decision_run_failed"

    def __init__(
        self, intelligence: Intelligence, redis: RedisClient, *, minutes: int, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.intelligence = intelligence
        self.redis = redis
        self.seconds = minutes * 60
        self.clock = clock

    async def tick(self) -> bool:
        """Run this slot's decisions if no process has; True when this one did."""
        slot = int(self.clock().timestamp()) // self.seconds
        if not await self.redis.set(f"{SLOT_KEY}{slot}", b"1", nx=True, ex=self.seconds * 2):
            return False
        decisions = await self.intelligence.run_decisions(None, dry_run=False, auto_apply=False, actor="scheduler")
        log.info("decisions_run", slot=slot, decisions=len(decisions))
        return True

    def next_delay(self) -> float:
        return min(60.0, self.seconds) * random.uniform(0.8, 1.2)  # noqa: S311 - not security

    async def run_pass(self) -> None:
        await self.tick()
