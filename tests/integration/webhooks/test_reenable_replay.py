"""Re-enabling and replaying leave no event behind (docs/webhooks.md#a-receiver-that-was-down): an
event written while a subscription was inactive, by a transaction still open when the
subscription is re-enabled and replayed, gets its delivery whichever side of the replay it commits.

Real transactions on the service layer: a test connection writes an event and keeps its
transaction open while the re-enable and the replay run, then commits. No sender runs: the
deliveries are read from the outbox.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.webhooks import service
from quote_service.webhooks.schemas import ReplayRequest, WebhookPatch
from tests.integration.conftest import Caller
from tests.integration.webhooks.test_event_order import RECEIVER, patient, settings
from tests.integration.webhooks.test_webhooks_api import subscribe
from tests.waiting import until

Client = AsyncTestClient[Litestar]
__all__ = ["patient", "settings"]  # the fixtures, shared with test_event_order


async def waiting_on_a_lock(pool: asyncpg.Pool) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    )


async def deliveries_of(pool: asyncpg.Pool, webhook_id: uuid.UUID) -> list[str]:
    """The order ids of the subscription's deliveries."""
    rows = await pool.fetch(
        "SELECT e.body FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id WHERE d.webhook_id = $1",
        webhook_id,
    )
    return sorted(json.loads(row["body"])["data"]["order"]["id"] for row in rows)


async def test_an_event_written_while_inactive_and_committed_after_the_replay_is_delivered(
    client: Client, admin: Caller, pool: asyncpg.Pool, patient: asyncpg.Pool
) -> None:
    hook = await subscribe(client, admin, RECEIVER, ["order.cancelled"], is_active=False)
    webhook_id = uuid.UUID(hook["id"])
    since = datetime.now(UTC) - timedelta(minutes=1)

    async def reenable_and_replay() -> None:
        await service.patch_webhook(
            patient, webhook_id, WebhookPatch(is_active=True), actor="admin", allow_private=False
        )
        await service.replay(patient, webhook_id, ReplayRequest(since=since))

    async with pool.acquire() as writer:
        cancel = writer.transaction()
        await cancel.start()
        await writer.execute("""SELECT webhook_emit('order.cancelled', '{"order": {"id": "o-late"}}')""")
        making_up = asyncio.create_task(reenable_and_replay())
        # Either the re-enable waits for this transaction (the fix), or it and the replay are done
        # before it commits (the window: the replay could not see the event).
        await until(lambda: making_up.done() or waiting_on_a_lock(pool), "the re-enable and replay, or their wait")
        await cancel.commit()
    await making_up
    assert (await service.get_webhook(pool, webhook_id)).is_active

    # Written after the re-enable: its delivery is made with it.
    await pool.execute("""SELECT webhook_emit('order.cancelled', '{"order": {"id": "o-after"}}')""")
    assert await deliveries_of(pool, webhook_id) == ["o-after", "o-late"]


async def test_an_event_written_while_the_reenable_commits_gets_its_delivery_at_once(
    client: Client, admin: Caller, pool: asyncpg.Pool, patient: asyncpg.Pool
) -> None:
    """The other side: the re-enable's transaction is open when the event is written; the event
    waits for it, then finds the subscription active (no replay needed)."""
    hook = await subscribe(client, admin, RECEIVER, ["order.cancelled"], is_active=False)
    webhook_id = uuid.UUID(hook["id"])

    async with pool.acquire() as enabler:
        reenable = enabler.transaction()
        await reenable.start()
        await enabler.execute("SELECT pg_advisory_xact_lock(webhook_enable_lock($1))", webhook_id)
        await enabler.execute("UPDATE webhooks SET is_active = true WHERE id = $1", webhook_id)
        writing = asyncio.create_task(
            patient.execute("""SELECT webhook_emit('order.cancelled', '{"order": {"id": "o-during"}}')""")
        )
        await until(lambda: waiting_on_a_lock(pool), "the event waiting for the re-enable")
        await reenable.commit()
    await writing
    assert await deliveries_of(pool, webhook_id) == ["o-during"]
