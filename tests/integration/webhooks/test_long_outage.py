"""A receiver down for a day, and one down for good (docs/webhooks.md#a-receiver-that-was-down): the
fault tests of the retry schedule, disabling, re-enabling and replay.

The receiver is a real HTTP server on 127.0.0.1 whose port is closed (connections refused) and
then opened. The sender is the service's own (`WebhookDispatcher`) with an injected clock: the
test moves that clock to the moment the next attempt is due, so the default Standard Webhooks
schedule (0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) and WEBHOOK_DISABLE_AFTER_HOURS (120) are
walked through in real attempts without waiting hours. Every delivery is verified by the
`standardwebhooks` library with the subscription's secret.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from quote_service.webhooks.dispatcher import WebhookDispatcher
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.webhooks.test_webhooks_api import WEBHOOKS, deliveries, subscribe
from tests.webhook_receiver import Receiver, receiving

Client = AsyncTestClient[Litestar]
SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
"""The default WEBHOOK_RETRY_SCHEDULE, written out: what the test expects, not read from the code."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The default schedule and disabling; no sender in the app (the test runs its own, on its clock)."""
    return msgspec.structs.replace(settings, webhook_allow_private=True, webhook_poll_interval=0, webhook_timeout=1.0)


@dataclass
class Walk:
    """The service's sender on a clock the test moves."""

    pool: asyncpg.Pool
    settings: Settings
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    offset: timedelta = timedelta(0)
    sender: WebhookDispatcher = field(init=False)

    def __post_init__(self) -> None:
        self.sender = WebhookDispatcher(self.pool, self.settings, clock=self.now)

    def now(self) -> datetime:
        return self.start + self.offset

    @property
    def hours(self) -> float:
        return self.offset.total_seconds() / 3600

    async def send_due(self) -> None:
        """Every pass the sender needs to send what is due now (a pass takes a few per subscription)."""
        while await self.pool.fetchval(
            "SELECT count(*) FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
            "WHERE w.is_active AND d.status = 'pending' AND d.next_attempt_at <= $1",
            self.now(),
        ):
            await self.sender.run_pass()
            await self.sender.settle()

    async def next_due(self) -> datetime | None:
        due: datetime | None = await self.pool.fetchval(
            "SELECT max(next_attempt_at) FROM webhook_deliveries WHERE status = 'pending'"
        )
        return due

    async def to_next_attempt(self) -> bool:
        """Move the clock to when every pending delivery is due, and send; False when none is pending."""
        due = await self.next_due()
        if due is None:
            return False
        self.offset = max(self.offset, due - self.start)
        await self.send_due()
        return True


@pytest.fixture
async def walk(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[Walk]:
    walking = Walk(pool, settings)
    yield walking
    await walking.sender.drain()


async def coupon(client: Client, admin: Caller, code: str) -> None:
    body = {"code": code, "type": "PERCENTAGE", "value": "5", "valid_from": "2024-01-01T00:00:00Z"}
    expect_ok(await client.post("/api/v1/coupons", json=body, headers=admin.headers), 201)


async def rolled_back_coupon(pool: asyncpg.Pool, code: str) -> None:
    """A coupon written and rolled back: its config.changed event was written in the transaction."""
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute(
            "INSERT INTO coupons (code, type, value, valid_from, created_by, updated_by) "
            "VALUES ($1, 'PERCENTAGE', 5, now(), 'test', 'test')",
            code,
        )
        assert await conn.fetchval("SELECT count(*) FROM webhook_events WHERE body LIKE '%' || $1 || '%'", code) == 1
        await transaction.rollback()


def disabled_count(metrics: Any) -> float:
    [line] = [x for x in metrics.text.splitlines() if x.startswith("qs_webhooks_disabled_total ")]
    return float(line.split()[1])


def codes(receiver: Receiver, secret: str) -> list[str]:
    return [p["data"]["entity_id"] for p in receiver.verified(secret)]


async def attempts_at(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT id, status, attempts, delivered_at FROM webhook_deliveries ORDER BY created_at")
    return [dict(r) for r in rows]


async def test_a_receiver_down_for_a_day_gets_every_committed_event_once_it_is_back(
    client: Client, admin: Caller, pool: asyncpg.Pool, walk: Walk
) -> None:
    receiver = Receiver()  # not started: its port refuses connections
    try:
        hook = await subscribe(client, admin, receiver.url(), ["config.changed"])
        for code in ("DAY1", "DAY2", "DAY3", "DAY4", "DAY5"):
            await coupon(client, admin, code)
        await rolled_back_coupon(pool, "GHOST1")

        day = timedelta(hours=24)
        tried = 0
        while (due := await walk.next_due()) is not None and due - walk.start < day:
            await walk.to_next_attempt()
            tried += 1
        # The first day's attempts: at 0, ~5 s, ~5 min, ~35 min, ~2.6 h, ~7.6 h and ~17.6 h (±10 % each).
        assert tried == 7
        hook_now = expect_ok(await client.get(f"{WEBHOOKS}/{hook['id']}", headers=admin.headers))
        assert hook_now["is_active"] is True
        assert hook_now["failing_since"] is not None
        rows = await attempts_at(pool)
        assert len(rows) == 5, "one delivery per committed event; the rolled-back one has none"
        assert {(r["status"], r["attempts"]) for r in rows} == {("pending", 7)}

        walk.offset = day
        receiver.start()  # back after a day
        while await walk.to_next_attempt():
            pass
        rows = await attempts_at(pool)
        assert {r["status"] for r in rows} == {"delivered"}
        assert {r["attempts"] for r in rows} == {8}, "the 8th attempt of the schedule, ~27.6 h after the event"
        cumulative = [sum(SCHEDULE[: n + 1]) / 3600 for n in range(len(SCHEDULE))]
        assert cumulative[-1] == pytest.approx(27.6, abs=0.05)
        assert cumulative[-1] * 0.9 <= walk.hours <= cumulative[-1] * 1.1, "each pause within its ±10 % jitter"
    finally:
        receiver.stop()

    assert sorted(codes(receiver, hook["secret"])) == ["DAY1", "DAY2", "DAY3", "DAY4", "DAY5"]
    assert sorted(r.webhook_id for r in receiver.snapshot()) == sorted(str(r["id"]) for r in rows)
    hook_now = expect_ok(await client.get(f"{WEBHOOKS}/{hook['id']}", headers=admin.headers))
    assert (hook_now["is_active"], hook_now["failing_since"], hook_now["disabled_reason"]) == (True, None, None)


async def test_a_receiver_down_for_five_days_is_disabled_then_replays_what_it_missed(
    client: Client, admin: Caller, pool: asyncpg.Pool, walk: Walk
) -> None:
    dead = Receiver()
    with receiving() as watcher:
        hook = await subscribe(client, admin, dead.url(), ["config.changed"])
        watch = await subscribe(client, admin, watcher.url(), ["webhook.disabled"])
        await coupon(client, admin, "LOST1")
        while await walk.to_next_attempt():
            pass
        [failed] = (await deliveries(client, admin, hook["id"]))["items"]
        assert (failed["status"], failed["attempts"]) == ("failed", 8)
        assert walk.hours < 31, "given up after the schedule's ~27.6 h"
        disabled_before = disabled_count(await client.get("/metrics", headers=admin.headers))

        walk.offset = timedelta(hours=119.9)
        await walk.sender.sweep()
        assert expect_ok(await client.get(f"{WEBHOOKS}/{hook['id']}", headers=admin.headers))["is_active"] is True
        walk.offset = timedelta(hours=120, seconds=1)
        await walk.sender.sweep()
        disabled = expect_ok(await client.get(f"{WEBHOOKS}/{hook['id']}", headers=admin.headers))
        assert disabled["is_active"] is False
        assert "every delivery attempt failed since" in disabled["disabled_reason"]
        assert "WEBHOOK_DISABLE_AFTER_HOURS" in disabled["disabled_reason"]
        await walk.send_due()
        [notice] = watcher.verified(watch["secret"])
        assert notice["type"] == "webhook.disabled"
        assert notice["data"]["webhook_id"] == hook["id"]
        assert notice["data"]["disabled_reason"] == disabled["disabled_reason"]
        assert disabled_count(await client.get("/metrics", headers=admin.headers)) == disabled_before + 1

        # While disabled: events are still written (replay needs them), no delivery is made.
        await coupon(client, admin, "LOST2")
        assert len((await deliveries(client, admin, hook["id"]))["items"]) == 1
        early = expect_ok(
            await client.post(
                f"{WEBHOOKS}/{hook['id']}/replay",
                json={"since": (datetime.now(UTC) - timedelta(minutes=10)).isoformat(), "types": ["config.changed"]},
                headers=admin.headers,
            )
        )
        assert (early["is_active"], early["replayed"]) == (False, 2)
        await walk.send_due()
        assert dead.snapshot() == [], "an inactive subscription's replay waits until it is active"

    dead.start()  # the receiver is back; its owner re-enables the subscription and asks for what it missed
    try:
        enabled = expect_ok(
            await client.patch(f"{WEBHOOKS}/{hook['id']}", json={"is_active": True}, headers=admin.headers)
        )
        assert (enabled["is_active"], enabled["disabled_reason"], enabled["disabled_at"]) == (True, None, None)
        assert enabled["failing_since"] is None
        since = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
        replayed = expect_ok(
            await client.post(f"{WEBHOOKS}/{hook['id']}/replay", json={"since": since}, headers=admin.headers)
        )
        assert (replayed["replayed"], replayed["already_pending"]) == (0, 2), "the early replay's two are pending"
        assert (replayed["types"], replayed["is_active"]) == (["config.changed"], True)
        await walk.send_due()
        first = {
            p["data"]["entity_id"]: r.webhook_id
            for r, p in zip(dead.snapshot(), dead.verified(hook["secret"]), strict=True)
        }
        assert sorted(first) == ["LOST1", "LOST2"]
        assert first["LOST1"] == failed["id"], "the original webhook-id: the receiver deduplicates by it"

        again = expect_ok(
            await client.post(f"{WEBHOOKS}/{hook['id']}/replay", json={"since": since}, headers=admin.headers)
        )
        assert again["replayed"] == 2
        await walk.send_due()
        ids = [r.webhook_id for r in dead.snapshot()]
        assert len(ids) == 4
        assert set(ids) == set(first.values()), "a second replay: the same two ids again"
    finally:
        dead.stop()
    listed = (await deliveries(client, admin, hook["id"], status="delivered", since=since))["items"]
    assert len(listed) == 4
    assert {d["id"] for d in listed} == set(first.values())
    assert (await deliveries(client, admin, hook["id"], until=since))["items"] == []
