"""The experiment guardrail checker: roll a losing variant back (docs/experiments.md#the-guardrail-checker).

Every process runs the loop; each pass of a slot (an interval-aligned time window) goes to the
one process that first takes it in PostgreSQL (`db.slots`: a conditional upsert of the loop's
row, durable whatever Redis does). The pass tests every running experiment's split first: while
it mismatches the weights (`health.sample_ratio`, p < 0.001) a `sample_ratio_mismatch` signal
is live and nothing is judged; otherwise an experiment with a guardrail is judged on its metric,
conversion or revenue per quote (`verdicts`: sequential tests, valid however often they look). A rollback is the
normal flag change (flags.service.roll_back_experiment: the configuration version is bumped,
the flag's history records why) plus an `experiment_rollback` signal, in one transaction whose
UPDATE only matches an experiment that is not rolled back yet — so even two checkers racing
(a clock skew, a slot taken twice by hand) roll an experiment back exactly once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg
import structlog
from redis.exceptions import RedisError

from quote_service.analytics.experiments import Experiments
from quote_service.analytics.health import SampleRatio
from quote_service.analytics.service import Analytics
from quote_service.analytics.verdicts import conversion_rollback, revenue_rollback
from quote_service.background import BackgroundLoop
from quote_service.cache.config_bus import announce_change, read_version
from quote_service.cache.redis import RedisClient
from quote_service.clock import utcnow
from quote_service.db.pool import Pool
from quote_service.db.replica import ReadPools
from quote_service.db.slots import slot_start, take_slot
from quote_service.errors import NotFound
from quote_service.flags import service as flags
from quote_service.intelligence.signals import raise_signal, resolve_signal
from quote_service.observability import metrics

log = structlog.get_logger("quote_service.analytics")

LOOP = "guardrail"
ACTOR = "guardrail"
SIGNAL = "experiment_rollback"
DOMAIN = "feature_flags"

SRM_SIGNAL = "sample_ratio_mismatch"

# Every running experiment: its split is tested (SRM) whether or not it has a guardrail.
_CANDIDATES = """
SELECT id, key FROM feature_flags
WHERE rolled_back_at IS NULL AND is_enabled
  AND jsonb_array_length(COALESCE(rollout->'variants', '[]')) >= 2
ORDER BY key
"""


class GuardrailChecker(BackgroundLoop):
    """`changed(domain)` is called after a rollback commits (the app passes its configuration
    store's, as an admin write does); by default the new version is announced on `redis`."""

    task_name = "guardrail-checker"
    failure_event = "guardrail_check_failed"

    def __init__(
        self,
        pool: Pool,
        redis: RedisClient,
        *,
        interval: float,
        changed: Callable[[str], Awaitable[None]] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.pool = pool
        self.redis = redis
        self.interval = interval
        self.changed = changed or self._announce
        self.clock = clock
        # The primary only: its figures decide a rollback (a write), docs/deployment.md.
        self.experiments = Experiments(Analytics(ReadPools(pool)))

    async def take_slot(self) -> bool:
        """True when this process holds the current slot's pass (no other process had it)."""
        return await take_slot(self.pool, LOOP, slot_start(self.clock(), self.interval))

    async def tick(self) -> list[str] | None:
        """This slot's pass if no process had it: the keys rolled back; None when another had it."""
        if not await self.take_slot():
            return None
        return await self.check()

    async def check(self) -> list[str]:
        """Judge every running experiment with a guardrail; roll back the losing ones."""
        started = time.perf_counter()
        rolled_back: list[str] = []
        try:
            for row in await self.pool.fetch(_CANDIDATES):
                metrics.GUARDRAIL_CHECKS.inc()
                try:
                    if await self._check_one(row["id"], row["key"]):
                        rolled_back.append(row["key"])
                except NotFound:
                    continue  # deleted since the list was read
                except (asyncpg.PostgresError, OSError, TimeoutError):
                    # One experiment's failure (a lock timeout, a lost connection) must not keep
                    # the others unchecked; it is judged again next pass.
                    log.warning("guardrail_check_failed", experiment=row["key"], exc_info=True)
        finally:
            metrics.GUARDRAIL_DURATION.observe(time.perf_counter() - started)
        return rolled_back

    async def _check_one(self, flag_id: Any, key: str) -> bool:
        measured = await self.experiments.measure(key, now=self.clock())
        experiment = measured.experiment
        if experiment.status != "running" or not await self._split_holds(key, experiment.srm):
            return False  # a broken split: no verdict on its figures until the mismatch clears
        guardrail = experiment.guardrail
        if guardrail is None:
            return False
        judge = revenue_rollback if guardrail.metric == "revenue_per_quote" else conversion_rollback
        found = judge(measured, guardrail)
        if found is None:
            return False
        async with self.pool.acquire() as conn, conn.transaction():
            flag = await flags.roll_back_experiment(conn, flag_id, reason=found.reason, actor=ACTOR)
            if flag is None:
                return False  # rolled back (or deleted) by someone else meanwhile
            details = {"experiment_id": key, "metric": guardrail.metric, **found.details, "reason": found.reason}
            await raise_signal(conn, type=SIGNAL, product_id=None, severity="critical", details=details)
        metrics.GUARDRAIL_ROLLBACKS.inc()
        log.warning("experiment_rolled_back", experiment=key, variant=found.details["variant"], reason=found.reason)
        try:
            await self.changed(DOMAIN)
        except (RedisError, OSError, TimeoutError):  # committed: the others see the version in PostgreSQL
            log.warning("guardrail_announce_failed", experiment=key)
        return True

    async def _split_holds(self, key: str, srm: SampleRatio | None) -> bool:
        """False while the experiment's split mismatches its weights: the sample_ratio_mismatch
        signal is raised (one live signal per experiment, refreshed); resolved once it clears."""
        async with self.pool.acquire() as conn:
            if srm is None or not srm.mismatch:
                await resolve_signal(conn, type=SRM_SIGNAL, product_id=None, experiment_id=key)
                return True
            details = {"experiment_id": key, "p_value": srm.p_value, "observed": srm.observed, "expected": srm.expected}
            raised = await raise_signal(conn, type=SRM_SIGNAL, product_id=None, severity="warning", details=details)
        if raised.created:
            log.warning("sample_ratio_mismatch", experiment=key, p_value=srm.p_value, observed=srm.observed)
        return False

    async def _announce(self, domain: str) -> None:
        async with self.pool.acquire() as conn:
            version = await read_version(conn)
        await announce_change(self.redis, version, domain=domain)

    def next_delay(self) -> float:
        # Wake just after the next slot starts (a little jitter spreads the processes).
        now = self.clock().timestamp()
        return self.interval - now % self.interval + random.uniform(0, min(2.0, self.interval / 10))  # noqa: S311

    async def run_pass(self) -> None:
        await self.tick()
