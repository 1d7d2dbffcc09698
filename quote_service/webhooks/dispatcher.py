"""The webhook sender: every process runs one; together they send each delivery (docs/webhooks.md#delivery).

A pass claims due deliveries (repository.claim: `FOR UPDATE SKIP LOCKED`, so processes never
take the same one, and a lease, so one a dead process had taken is due again after
WEBHOOK_LEASE_SECONDS) and starts one task per delivery; the pass does not wait for them.
A process sends at most WEBHOOK_CONCURRENCY deliveries at once and at most
WEBHOOK_ENDPOINT_CONCURRENCY to one subscription, and each attempt ends within WEBHOOK_TIMEOUT:
a slow or dead receiver holds a few of its own slots, never the other subscriptions' deliveries,
and never a request (the sender shares nothing with the request path but the pool).

An attempt answered 2xx is `delivered`; anything else (another status, a redirect, a timeout,
a refused connection, an address not allowed) is retried after WEBHOOK_RETRY_MIN_SECONDS,
doubling each time up to WEBHOOK_RETRY_MAX_SECONDS, with up to 20 % jitter, until
WEBHOOK_MAX_ATTEMPTS: then `failed`. Every attempt is signed anew with its own timestamp.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from uuid import UUID

import asyncpg
import structlog

from quote_service.background import BackgroundLoop
from quote_service.config import Settings
from quote_service.db.pool import Pool
from quote_service.observability import metrics
from quote_service.webhooks import repository, signing
from quote_service.webhooks.transport import Attempt, Sender

log = structlog.get_logger("quote_service.webhooks")

BACKLOG_EVERY = 5.0
"""Seconds between two samples of the backlog gauges."""


def retry_delay(attempts: int, *, first: float, longest: float, jitter: float) -> float:
    """Seconds before the next attempt after `attempts` failed ones: `first` doubled per further
    failure, at most `longest`, stretched by `jitter` (a fraction in [0, 0.2]) but never past `longest`."""
    return min(longest, first * (1 << max(0, min(attempts - 1, 62))) * (1 + jitter))


class WebhookDispatcher(BackgroundLoop):
    task_name = "webhook-dispatcher"
    failure_event = "webhook_dispatch_failed"
    max_backoff = 10.0
    start_at_once = True

    def __init__(self, pool: Pool, settings: Settings, *, sender: Sender | None = None) -> None:
        self._pool = pool
        self._settings = settings
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
            await self._sample_backlog()
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

    async def _deliver(self, row: asyncpg.Record) -> None:
        delivery_id: UUID = row["id"]
        body: bytes = row["body"].encode()
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
        async with self._pool.acquire() as conn:
            if attempt.result == "delivered":
                assert attempt.status_code is not None
                if await repository.record_delivered(
                    conn, delivery_id=delivery_id, attempt=row["attempts"], status_code=attempt.status_code
                ):
                    metrics.WEBHOOK_DELIVERIES.labels("delivered").inc()
                return
            retry_in = None
            if attempts < self._settings.webhook_max_attempts:
                retry_in = retry_delay(
                    attempts,
                    first=self._settings.webhook_retry_min_seconds,
                    longest=self._settings.webhook_retry_max_seconds,
                    jitter=random.uniform(0, 0.2),  # noqa: S311 - jitter, not security
                )
            recorded = await repository.record_failure(
                conn,
                delivery_id=delivery_id,
                attempt=row["attempts"],
                status_code=attempt.status_code,
                error=attempt.error,
                retry_in=retry_in,
            )
        if recorded and retry_in is None:
            metrics.WEBHOOK_DELIVERIES.labels("failed").inc()
            log.warning("webhook_delivery_failed", delivery_id=str(delivery_id), attempts=attempts, error=attempt.error)

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
                await repository.release(conn, claims=claims)
        except Exception as exc:  # PostgreSQL away: the leases run out instead
            log.warning("webhook_release_failed", deliveries=len(claims), error=repr(exc))
        await self._sender.close()
