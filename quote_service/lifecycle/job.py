"""The lifecycle job: every RETENTION_INTERVAL (an hour), in every process, one pass at a time
across processes (an advisory lock; a process that finds it held skips its turn)."""

from __future__ import annotations

import time

import structlog

from quote_service.background import BackgroundLoop
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.db.pool import Pool
from quote_service.lifecycle import partitions
from quote_service.observability.metrics import LIFECYCLE_LAST_PASS

log = structlog.get_logger("quote_service.lifecycle")


FIRST_PASS_AFTER = 30.0
"""Seconds from start-up to the first pass: soon, so that a service restarted more often than every
RETENTION_INTERVAL still makes its partitions ahead, yet not in the start-up rush."""


class LifecycleJob(BackgroundLoop):
    """Partitions ahead and retention: a first pass FIRST_PASS_AFTER start-up, then every interval."""

    task_name = "data-lifecycle"
    failure_event = "lifecycle_pass_failed"
    jitter = 0.1
    max_backoff = 3600.0

    def __init__(self, pool: Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings
        self.interval = settings.retention_interval
        self._first = True

    def next_delay(self) -> float | None:
        if self._first:
            self._first = False
            return min(FIRST_PASS_AFTER, self.interval)
        return super().next_delay()

    async def run_pass(self) -> None:
        async with self.pool.acquire() as conn:
            done = await partitions.apply(conn, self.settings, utcnow(), wait=False)
        if done is None:
            return
        LIFECYCLE_LAST_PASS.set(time.time())
        if done.created or done.dropped or done.held or done.failed or done.busy:
            log.info(
                "lifecycle_pass",
                created=done.created,
                dropped=[p.name for p in done.dropped],
                held={d.partition.name: d.held for d in done.held},
                failed={p.name: why for p, why in done.failed},
                busy=done.busy,
            )
