"""The webhook sender: every process runs one; together they send each delivery (docs/webhooks.md#delivery).

A pass claims due deliveries (repository.claim: `FOR UPDATE SKIP LOCKED`, so processes never
take the same one, and a lease, so one a dead process had taken is due again after
WEBHOOK_LEASE_SECONDS) and starts one task per delivery; the pass does not wait for them.
A process sends at most WEBHOOK_CONCURRENCY deliveries at once and at most
WEBHOOK_ENDPOINT_CONCURRENCY to one subscription, and each attempt ends within WEBHOOK_TIMEOUT:
a slow or dead receiver holds a few of its own slots, never the other subscriptions' deliveries,
and never a request (the sender shares nothing with the request path but the pool).

An attempt answered 2xx is `delivered`; anything else (another status, a redirect, a timeout,
a refused connection, an address not allowed) is retried on WEBHOOK_RETRY_SCHEDULE (Standard
Webhooks' 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), each pause ±10 % jitter, then `failed`.
Every attempt is signed anew with its own timestamp. A subscription whose attempts have all failed
for WEBHOOK_DISABLE_AFTER_HOURS is disabled (`sweep`, with the backlog sample every few seconds).

Time is read from `clock` (injectable: a test walks a day-long outage through in a second), and
every instant the sender writes or compares (due, leased, delivered, failing since) is that clock's.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
import structlog

from quote_service.background import BackgroundLoop
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.db.pool import Pool
from quote_service.observability import metrics
from quote_service.webhooks import repository, signing
from quote_service.webhooks.transport import Attempt, Sender

log = structlog.get_logger("quote_service.webhooks")

BACKLOG_EVERY = 5.0
"""Seconds between two samples of the backlog gauges."""


JITTER = 0.1
"""Each pause of the schedule is stretched or shortened by up to this fraction."""


def retry_delay(attempts: int, schedule: Sequence[float], *, jitter: float) -> float | None:
    """Seconds before the next attempt after `attempts` failed ones (counted since the delivery was
    made or last sent again by hand): `schedule[attempts]` times `1 + jitter` (a fraction in
    [-JITTER, JITTER]); None after the schedule's last attempt: the delivery has failed."""
    if attempts >= len(schedule):
        return None
    return schedule[max(attempts, 0)] * (1 + jitter)


class WebhookDispatcher(BackgroundLoop):
    task_name = "webhook-dispatcher"
    failure_event = "webhook_dispatch_failed"
    max_backoff = 10.0
    start_at_once = True

    def __init__(
        self,
        pool: Pool,
        settings: Settings,
        *,
        sender: Sender | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._schedule = settings.retry_schedule
        self.clock = clock
        self.interval = settings.webhook_poll_interval
        self._sender = sender or Sender(
            timeout=settings.webhook_timeout,
            allow_private=settings.webhook_allow_private,
            max_connections=settings.webhook_concurrency,
        )
        self._tasks: dict[asyncio.Task[None], tuple[UUID, UUID, int]] = {}
        """In-flight deliveries: task → (delivery, subscription, attempt)."""
        self._per_endpoint: Counter[UUID] = Counter()
        self._next_backlog = 0.0

    async def run_pass(self) -> None:
        now = time.monotonic()
        if now >= self._next_backlog:
            await self.sweep()
            self._next_backlog = now + BACKLOG_EVERY
        free = self._settings.webhook_concurrency - len(self._tasks)
        if free <= 0:
            return
        async with self._pool.acquire() as conn:
            claimed = await repository.claim(
                conn,
                limit=free,
                per_endpoint=self._settings.webhook_endpoint_concurrency,
                busy={k: v for k, v in self._per_endpoint.items() if v},
                lease_seconds=self._settings.webhook_lease_seconds,
                now=self.clock(),
            )
        for row in claimed:
            task = asyncio.create_task(self._deliver(row), name="webhook-delivery")
            self._tasks[task] = (row["id"], row["webhook_id"], row["attempts"])
            self._per_endpoint[row["webhook_id"]] += 1
            task.add_done_callback(self._finished)
        metrics.WEBHOOK_IN_FLIGHT.set(len(self._tasks))

    def _finished(self, task: asyncio.Task[None]) -> None:
        _, webhook_id, _ = self._tasks.pop(task)
        self._per_endpoint[webhook_id] -= 1
        if not self._per_endpoint[webhook_id]:
            del self._per_endpoint[webhook_id]
        metrics.WEBHOOK_IN_FLIGHT.set(len(self._tasks))
        if not task.cancelled() and task.exception() is not None:
            log.warning("webhook_delivery_crashed", exc_info=task.exception())
        if not self.stopping:
            self.wake()  # a slot is free: more may be due (of this subscription or another)

    @property
    def sender(self) -> Sender:
        """This process's HTTP client for deliveries (the test ping sends through it too)."""
        return self._sender

    async def settle(self) -> None:
        """Wait until every delivery this process is sending has been sent and recorded."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def _deliver(self, row: asyncpg.Record) -> None:
        delivery_id: UUID = row["id"]
        body: bytes = row["body"].encode()
        if row["signing"] == "acp":  # an agent's order event (docs/agents.md#order-events)
            headers = signing.merchant_headers(row["secret"], str(delivery_id), int(time.time()), body)
        else:
            secrets = [s for s in (row["secret"], row["previous_secret"]) if s]
            headers = signing.headers(secrets, str(delivery_id), int(time.time()), body)
        attempt = await self._sender.post(row["url"], headers, body)
        metrics.WEBHOOK_ATTEMPTS.labels(attempt.result).inc()
        try:
            await self._record(row, attempt)
        except Exception as exc:  # PostgreSQL away: the lease runs out and the delivery is sent again, same id
            log.warning("webhook_record_failed", delivery_id=str(delivery_id), result=attempt.result, error=repr(exc))

    async def _record(self, row: asyncpg.Record, attempt: Attempt) -> None:
        """Store the attempt's outcome (a claim lost meanwhile, to a lease that ran out, is left alone)."""
        delivery_id: UUID = row["id"]
        attempts = row["attempts"] - row["attempts_base"]
        now = self.clock()
        async with self._pool.acquire() as conn:
            if attempt.result == "delivered":
                assert attempt.status_code is not None
                if await repository.record_delivered(
                    conn,
                    delivery_id=delivery_id,
                    webhook_id=row["webhook_id"],
                    attempt=row["attempts"],
                    status_code=attempt.status_code,
                    now=now,
                ):
                    metrics.WEBHOOK_DELIVERIES.labels("delivered").inc()
                return
            jitter = random.uniform(-JITTER, JITTER)  # noqa: S311 - jitter, not security
            retry_in = retry_delay(attempts, self._schedule, jitter=jitter)
            recorded = await repository.record_failure(
                conn,
                delivery_id=delivery_id,
                webhook_id=row["webhook_id"],
                attempt=row["attempts"],
                status_code=attempt.status_code,
                error=attempt.error,
                retry_in=retry_in,
                now=now,
            )
        if recorded and retry_in is None:
            metrics.WEBHOOK_DELIVERIES.labels("failed").inc()
            log.warning("webhook_delivery_failed", delivery_id=str(delivery_id), attempts=attempts, error=attempt.error)

    async def sweep(self) -> None:
        """Disable the subscriptions failing for WEBHOOK_DISABLE_AFTER_HOURS, then sample the backlog."""
        disabled = []
        if self._settings.webhook_disable_after_hours > 0:
            async with self._pool.acquire() as conn, conn.transaction():
                disabled = await repository.disable_failing(
                    conn, now=self.clock(), after_hours=self._settings.webhook_disable_after_hours
                )
        for row in disabled:
            metrics.WEBHOOKS_DISABLED.inc()
            log.warning("webhook_disabled", webhook_id=str(row["id"]), reason=row["disabled_reason"])
        await self._sample_backlog()

    async def _sample_backlog(self) -> None:
        async with self._pool.acquire() as conn:
            pending, oldest = await repository.backlog(conn)
        metrics.WEBHOOK_PENDING.set(pending)
        metrics.WEBHOOK_OLDEST_PENDING.set(oldest)

    async def drain(self) -> None:
        """At shutdown: deliveries still being sent are cut short and given back (due again now,
        for another process or this one's successor), so none waits out its lease."""
        if not self._tasks:
            await self._sender.close()
            return
        claims = [(delivery, attempt) for delivery, _, attempt in self._tasks.values()]
        for task in list(self._tasks):
            task.cancel()
        await asyncio.wait(list(self._tasks), timeout=1.0)
        try:
            async with asyncio.timeout(2.0), self._pool.acquire() as conn:
                await repository.release(conn, claims=claims, now=self.clock())
        except Exception as exc:  # PostgreSQL away: the leases run out instead
            log.warning("webhook_release_failed", deliveries=len(claims), error=repr(exc))
        await self._sender.close()
