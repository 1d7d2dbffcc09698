"""The experiment guardrail checker: roll a losing variant back (docs/experiments.md#the-guardrail-checker).

Every process runs the loop; each pass of a slot (an interval-aligned time window) goes to the
one process that first takes it in PostgreSQL (`db.slots`: a conditional upsert of the loop's
row, durable whatever Redis does). The pass judges every running experiment with a guardrail by
`stats.should_roll_back` (a sequential test, valid however often it looks). A rollback is the
normal flag change (flags.service.roll_back_experiment: the configuration version is bumped,
the flag's history records why) plus an `experiment_rollback` signal, in one transaction whose
UPDATE only matches an experiment that is not rolled back yet — so even two checkers racing
(a clock skew, a slot taken twice by hand) roll an experiment back exactly once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog
from redis.exceptions import RedisError

from quote_service.analytics import stats
from quote_service.analytics.experiments import Experiments, VariantFigures
from quote_service.analytics.service import Analytics
from quote_service.background import BackgroundLoop
from quote_service.cache.redis import RedisClient
from quote_service.clock import utcnow
from quote_service.db.pool import Pool
from quote_service.db.replica import ReadPools
from quote_service.db.slots import slot_start, take_slot
from quote_service.errors import NotFound
from quote_service.flags import service as flags
from quote_service.intelligence.signals import raise_signal
from quote_service.observability import metrics
from quote_service.snapshot.bus import announce_change, read_version

log = structlog.get_logger("quote_service.analytics")

LOOP = "guardrail"
ACTOR = "guardrail"
SIGNAL = "experiment_rollback"
DOMAIN = "feature_flags"

_CANDIDATES = """
SELECT id, key FROM feature_flags
WHERE rolled_back_at IS NULL AND is_enabled
  AND jsonb_typeof(rollout->'guardrail') = 'object'
  AND jsonb_array_length(COALESCE(rollout->'variants', '[]')) >= 2
ORDER BY key
"""


@dataclass(frozen=True)
class Verdict:
    """Why a variant is rolled back: its figures against the control's and the sequential test."""

    variant: VariantFigures
    control: VariantFigures
    lift: float
    sequential_p: float
    likelihood_ratio: float

    def reason(self, max_drop_percent: float, min_exposures: int) -> str:
        v, c = self.variant, self.control
        return (
            f"guardrail: variant {v.key!r} converts {v.orders}/{v.exposures} ({v.conversion_rate} %) against "
            f"control {c.key!r} {c.orders}/{c.exposures} ({c.conversion_rate} %): lift {self.lift:.2f} % "
            f"(limit -{max_drop_percent:g} %), {v.exposures} exposures (minimum {min_exposures}), "
            f"sequential test (mSPRT) p = {self.sequential_p:.3g} < 0.05 "
            f"(likelihood ratio {self.likelihood_ratio:.3g}); every user gets the control from now on"
        )


def judge(variants: list[VariantFigures], *, max_drop_percent: float, min_exposures: int) -> Verdict | None:
    """The first variant the guardrail rolls back, with the figures that say why; None to keep going."""
    control = variants[0]
    for arm in variants[1:]:
        if not stats.should_roll_back(
            control.orders,
            control.exposures,
            arm.orders,
            arm.exposures,
            max_drop_percent=max_drop_percent,
            min_exposures=min_exposures,
        ):
            continue
        test = stats.msprt(control.orders, control.exposures, arm.orders, arm.exposures)
        lift = stats.lift_percent(control.orders / control.exposures, arm.orders / arm.exposures)
        assert test is not None  # should_roll_back held: both exist
        assert lift is not None
        return Verdict(
            variant=arm, control=control, lift=lift, sequential_p=test.p_value, likelihood_ratio=test.likelihood_ratio
        )
    return None


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
        experiment = await self.experiments.get(key, now=self.clock())
        guardrail = experiment.guardrail
        if guardrail is None or experiment.status != "running":
            return False
        verdict = judge(
            experiment.variants, max_drop_percent=guardrail.max_drop_percent, min_exposures=guardrail.min_exposures
        )
        if verdict is None:
            return False
        reason = verdict.reason(guardrail.max_drop_percent, guardrail.min_exposures)
        async with self.pool.acquire() as conn, conn.transaction():
            flag = await flags.roll_back_experiment(conn, flag_id, reason=reason, actor=ACTOR)
            if flag is None:
                return False  # rolled back (or deleted) by someone else meanwhile
            v, c = verdict.variant, verdict.control
            await raise_signal(
                conn,
                type=SIGNAL,
                product_id=None,
                severity="critical",
                details={
                    "experiment_id": key,
                    "variant": v.key,
                    "control": c.key,
                    "variant_exposures": v.exposures,
                    "variant_orders": v.orders,
                    "control_exposures": c.exposures,
                    "control_orders": c.orders,
                    "lift": round(verdict.lift, 2),
                    "sequential_p_value": verdict.sequential_p,
                    "max_drop_percent": guardrail.max_drop_percent,
                    "min_exposures": guardrail.min_exposures,
                    "reason": reason,
                },
            )
        metrics.GUARDRAIL_ROLLBACKS.inc()
        log.warning("experiment_rolled_back", experiment=key, variant=verdict.variant.key, reason=reason)
        try:
            await self.changed(DOMAIN)
        except (RedisError, OSError, TimeoutError):  # committed: the others see the version in PostgreSQL
            log.warning("guardrail_announce_failed", experiment=key)
        return True

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
