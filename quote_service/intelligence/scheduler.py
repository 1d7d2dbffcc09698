"""DECISION_INTERVAL_MINUTES: a pricing-decision run for every active product, once per slot.

Every process runs the loop; the run of a slot (the interval-aligned time window) goes to the
process that first sets its Redis key (SET NX, expiring after the slot), so N processes make
one run per interval. Scheduled runs only propose: applying stays a person's (or an
`auto_apply` caller's) choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from datetime import datetime

import structlog

from quote_service.cache.redis import RedisClient
from quote_service.clock import utcnow
from quote_service.intelligence.service import Intelligence

log = structlog.get_logger("quote_service.intelligence")
SLOT_KEY = "{decisions}:slot:"


class DecisionScheduler:
    def __init__(
        self, intelligence: Intelligence, redis: RedisClient, *, minutes: int, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.intelligence = intelligence
        self.redis = redis
        self.seconds = minutes * 60
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> bool:
        """Run this slot's decisions if no process has; True when this one did."""
        slot = int(self.clock().timestamp()) // self.seconds
        if not await self.redis.set(f"{SLOT_KEY}{slot}", b"1", nx=True, ex=self.seconds * 2):
            return False
        decisions = await self.intelligence.run_decisions(None, dry_run=False, auto_apply=False, actor="scheduler")
        log.info("decisions_run", slot=slot, decisions=len(decisions))
        return True

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="decision-scheduler")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(min(60.0, self.seconds) * random.uniform(0.8, 1.2))  # noqa: S311 - not security
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("decision_run_failed", exc_info=True)
