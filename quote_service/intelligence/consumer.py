"""The stream consumer: finishes accepted competitor observations at least once, in batches.

Every process runs one `StreamConsumer` in the consumer group (its name: host, pid, a random
suffix). A pass reads up to `batch_size` new entries (XREADGROUP, blocking up to `block_ms`),
hands them to the `Persister` (re-validate, store, evaluate signals, dead-letter, clear their
inbox rows) and XACKs them only once that returned: an entry whose work failed — PostgreSQL
away, the signal evaluation failing — stays pending and comes back.

Every `claim_interval` seconds a pass first recovers what others left behind:
1. inbox rows past their `replay_after` (accepted, never finished: Redis lost the entry, or it
   is stuck) are leased and finished from PostgreSQL;
2. entries pending for more than `claim_idle_ms` in ANY consumer (a process that died
   mid-batch, or a batch whose work failed) are XAUTOCLAIMed and finished here;
3. consumers idle for `forget_idle_ms` with nothing pending — dead processes, whose entries
   step 2 already took — are deleted from the group (one script: checked and deleted atomically);
4. the entries read and acknowledged are trimmed off the stream (`trim_acknowledged`).
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import cast

import structlog
from redis.exceptions import ResponseError

from quote_service.background import BackgroundLoop
from quote_service.cache.redis import RedisClient
from quote_service.clock import utcnow
from quote_service.db.pool import Pool
from quote_service.intelligence import repository, stream
from quote_service.intelligence.persister import Accepted, Persister
from quote_service.intelligence.signal_rules import SignalEvaluator

log = structlog.get_logger("quote_service.intelligence")

Entry = tuple[bytes, dict[bytes, bytes]]

# KEYS[1] the stream; ARGV: group, least idle milliseconds, the caller's own name. A consumer
# with pending entries is never deleted (they would become unclaimable); checking and deleting
# in one script means no entry can be delivered to it in between.
_FORGET_DEAD = """
local forgotten = {}
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
    local info = {}
    for i = 1, #consumer, 2 do info[consumer[i]] = consumer[i + 1] end
    if info['name'] ~= ARGV[3] and info['pending'] == 0 and info['idle'] >= tonumber(ARGV[2]) then
        redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
        forgotten[#forgotten + 1] = info['name']
    end
end
return forgotten
"""


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


async def ensure_group(redis: RedisClient) -> None:
    """Create the stream and its group once (every process tries; BUSYGROUP means done)."""
    try:
        await redis.xgroup_create(stream.STREAM, stream.GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def accepted_of(entry_id: bytes, fields: dict[bytes, bytes]) -> Accepted:
    """A stream entry as work to finish (an entry without `o` is undecodable: dead-lettered)."""
    inbox = fields.get(stream.INBOX_FIELD)
    inbox_id = int(inbox) if inbox is not None and inbox.isdigit() else None
    return Accepted(data=fields.get(stream.FIELD, b""), inbox_id=inbox_id, source=entry_id)


BLOCK_MS = 250
"""How long one XREADGROUP waits for new entries. Short because stopping the consumer must not
wait for it: redis-py can let the cancellation of a blocked read go unnoticed until the read
returns (redis/redis-py#2028), which held every shutdown for the whole block (1 s before)."""


class StreamConsumer(BackgroundLoop):
    """One member of the `persisters` group; `run_once` is one pass (tests drive it directly)."""

    task_name = "competitor-price-consumer"
    failure_event = "stream_consumer_failed"
    start_at_once = True
    _group_ready = False

    def __init__(
        self,
        redis: RedisClient,
        pool: Pool,
        *,
        signals: SignalEvaluator | None,
        name: str | None = None,
        batch_size: int = 500,
        block_ms: int = BLOCK_MS,
        claim_idle_ms: int = 30_000,
        claim_interval: float = 5.0,
        forget_idle_ms: int = 600_000,
        replay_lease_seconds: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.redis = redis
        self.pool = pool
        self.name = name or consumer_name()
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.claim_interval = claim_interval
        self.forget_idle_ms = forget_idle_ms
        self.replay_lease_seconds = replay_lease_seconds
        self.persister = Persister(redis, pool, signals=signals, clock=clock)
        self._forget_dead = redis.register_script(_FORGET_DEAD)
        self._last_recovery = 0.0
        self.persisted = 0

    async def run_once(self, *, claim: bool = False) -> int:
        """One pass: recovery (when due or `claim`), then new entries. Returns entries handled."""
        handled = 0
        if claim or self._recovery_due():
            handled += await self.replay_inbox()
            handled += await self._claim_stale()
            await self.forget_dead_consumers()
            await self.trim_acknowledged()
        response = cast(
            "list[tuple[bytes, list[Entry]]] | None",
            await self.redis.xreadgroup(
                stream.GROUP, self.name, {stream.STREAM: ">"}, count=self.batch_size, block=self.block_ms
            ),
        )
        for _key, entries in response or []:
            await self.handle(entries)
            handled += len(entries)
        return handled

    async def handle(self, entries: Sequence[Entry]) -> None:
        """Finish a batch of entries, then acknowledge them all (the dead-lettered ones too)."""
        if not entries:
            return
        self.persisted += await self.persister.finish([accepted_of(*entry) for entry in entries], path="stream")
        await self.redis.xack(stream.STREAM, stream.GROUP, *[entry_id for entry_id, _ in entries])

    def _recovery_due(self) -> bool:
        """True (and the next one scheduled) every `claim_interval` seconds."""
        now = asyncio.get_running_loop().time()
        if now - self._last_recovery < self.claim_interval:
            return False
        self._last_recovery = now
        return True

    async def replay_inbox(self) -> int:
        """Finish, from PostgreSQL, accepted observations past their `replay_after`."""
        handled = 0
        while True:
            async with self.pool.acquire() as conn:
                rows = await repository.claim_inbox(
                    conn, lease_seconds=self.replay_lease_seconds, limit=self.batch_size
                )
            if not rows:
                return handled
            log.warning("competitor_observations_replayed", consumer=self.name, count=len(rows))
            batch = [
                Accepted(data=row["observation"], inbox_id=row["id"], source=b"inbox:%d" % row["id"]) for row in rows
            ]
            self.persisted += await self.persister.finish(batch, path="replay")
            handled += len(rows)
            if len(rows) < self.batch_size:
                return handled

    async def _claim_stale(self) -> int:
        handled = 0
        start = "0-0"
        while True:
            result = await self.redis.xautoclaim(
                stream.STREAM, stream.GROUP, self.name, self.claim_idle_ms, start_id=start, count=self.batch_size
            )
            next_start, entries = result[0], result[1]
            entries = [entry for entry in entries if entry[1]]  # trimmed entries come back empty
            if entries:
                log.info("stream_entries_claimed", consumer=self.name, count=len(entries))
                await self.handle(entries)
                handled += len(entries)
            if next_start in (b"0-0", "0-0"):
                return handled
            start = next_start

    async def forget_dead_consumers(self) -> list[str]:
        """Delete the group's consumers idle past `forget_idle_ms` with nothing pending."""
        forgotten = cast(
            "list[bytes]",
            await self._forget_dead(keys=[stream.STREAM], args=[stream.GROUP, self.forget_idle_ms, self.name]),
        )
        names = [name.decode() for name in forgotten]
        if names:
            log.info("stream_consumers_forgotten", consumer=self.name, forgotten=names)
        return names

    async def trim_acknowledged(self) -> None:
        """Delete the entries every member has read and acknowledged. XACK leaves an entry on the
        stream, which would otherwise hold MAX_LENGTH of them (~200 B each) for good: memory a
        `volatile-lru` Redis never evicts (docs/operations.md#redis-sizing). The group's
        last-delivered id is read before the pending summary: an entry delivered in between has a
        higher id than both, so nothing unacknowledged is ever below the cut."""
        groups = cast("list[dict[str, object]]", await self.redis.xinfo_groups(stream.STREAM))
        delivered = next(
            (g["last-delivered-id"] for g in groups if g["name"] in (stream.GROUP, stream.GROUP.encode())), None
        )
        summary = await self.redis.xpending(stream.STREAM, stream.GROUP)
        keep_from = summary["min"] if summary["pending"] else delivered
        if keep_from is not None:
            await self.redis.xtrim(stream.STREAM, minid=cast("bytes | str", keep_from), approximate=False)

    def next_delay(self) -> float | None:
        # Back to back: each pass blocks on the stream for up to `block_ms` itself.
        return self.interval if self.failures else 0.0

    async def run_pass(self) -> None:
        # After a failure Redis may have come back empty: make sure of the group first. Redis or
        # PostgreSQL away, or a batch's signals failed: unacked entries stay pending and are
        # claimed again; unfinished inbox rows are replayed.
        if self.failures or not self._group_ready:
            try:
                await ensure_group(self.redis)
            except Exception:
                # A Redis that refuses writes (a read-only replica) fails every group command;
                # the inbox is PostgreSQL's, so what was accepted meanwhile is finished anyway.
                if self._recovery_due():
                    await self.replay_inbox()
                raise
            self._group_ready = True
        await self.run_once()
