"""Events a receiver can order (docs/webhooks.md#the-order-of-events): per resource, `data.sequence`
increases in the order the changes committed, and `timestamp` is when the event was written.

Each round holds the resource's row lock from a test connection while changes queue behind it,
then lets them go at once: they commit one by one in whatever order PostgreSQL wakes them, which
is not the order they began in. The events are read as written (the body every delivery sends);
no sender runs.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.auth.schemas import Principal
from quote_service.catalog import repository as catalog
from quote_service.config import Settings
from quote_service.db.pool import create_pool
from quote_service.orders import refunds
from quote_service.orders.schemas import RefundCreate, RefundLineIn
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.webhooks.test_webhooks_api import place_order, subscribe
from tests.waiting import until

Client = AsyncTestClient[Litestar]
AT_ONCE = 4
ROUNDS = 3
RECEIVER = "https://erp.example/events"  # never resolves: the events are read from the outbox


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, webhook_poll_interval=0)


@pytest.fixture
async def patient(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """The service's pool, waiting for locks as long as a round takes to queue up on a loaded machine."""
    assert settings.database_url is not None
    racing = await create_pool(settings.database_url, min_size=1, max_size=AT_ONCE + 1, lock_timeout=60)
    yield racing
    await racing.close()


async def events(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    """Every event written, as its deliveries send it."""
    return [json.loads(row["body"]) for row in await pool.fetch("SELECT body FROM webhook_events")]


def written_at(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))


async def released_together(locker: asyncpg.Connection, pool: asyncpg.Pool, lock: str, *args: object) -> datetime:
    """Wait until AT_ONCE transactions queue behind the row lock `lock` takes in `locker`'s open
    transaction; the database's clock just before `locker` lets them go (its caller commits)."""

    async def queued() -> bool:
        waiting = await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return bool(waiting == AT_ONCE)

    await until(queued, f"{AT_ONCE} changes waiting on {lock}")
    released: datetime = await locker.fetchval("SELECT clock_timestamp()")
    return released


async def test_concurrent_refunds_are_numbered_in_commit_order_and_the_highest_is_the_order_as_committed(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool, patient: asyncpg.Pool
) -> None:
    await subscribe(client, admin, RECEIVER, ["*"])
    order = await place_order(client, admin, service_key, quantity=AT_ONCE * ROUNDS)
    order_id = uuid.UUID(order["id"])
    one_unit = RefundCreate(lines=[RefundLineIn(product_id=order["items"][0]["product_id"], quantity=1)])
    principal = Principal(id=admin.id, name=admin.username, role="admin", kind="user")
    released_at: dict[str, datetime] = {}  # refund id -> when its round was let go

    for round_ in range(ROUNDS):
        async with pool.acquire() as locker, locker.transaction():
            await locker.execute("SELECT 1 FROM orders WHERE id = $1 FOR UPDATE", order_id)
            racing = [
                asyncio.create_task(
                    refunds.refund(patient, order_id, one_unit, principal=principal, actor="admin", idempotency_key=key)
                )
                for key in (f"r{round_}-{n}" for n in range(AT_ONCE))
            ]
            released = await released_together(locker, pool, "the order's row")
        for made, _ in await asyncio.gather(*racing):
            released_at[str(made.id)] = released

    written = [e for e in await events(pool) if e["type"].startswith("order.")]
    written.sort(key=lambda e: e["data"]["sequence"])
    assert [e["type"] for e in written] == ["order.created"] + ["order.refunded"] * AT_ONCE * ROUNDS
    sequences = [e["data"]["sequence"] for e in written]
    assert len(set(sequences)) == len(sequences)
    # Every refund added to the order's refunded amount: in commit order it only grows.
    refunded = [Decimal(e["data"]["order"]["refunded_amount"]) for e in written]
    assert refunded == sorted(set(refunded)), f"sequence order is not commit order: {refunded}"
    for event in written[1:]:
        assert written_at(event) >= released_at[event["data"]["refund"]["id"]], (
            "a refund's event is stamped when it is written, after the refund waited for the order's lock"
        )

    final = expect_ok(await client.get(f"/api/v1/orders/{order['id']}", headers=admin.headers))
    for arrival in (list(reversed(written)), random.Random(61).sample(written, len(written))):
        kept: dict[str, Any] = {}  # what a receiver keeps of the order: the event of the highest sequence
        for event in arrival:
            if event["data"]["sequence"] > kept.get("sequence", 0):
                kept = event["data"]
        assert kept["order"]["refunded_amount"] == final["refunded_amount"]
        assert kept["order"]["status"] == final["status"]


async def test_concurrent_price_moves_are_numbered_in_commit_order(
    client: Client, admin: Caller, pool: asyncpg.Pool, patient: asyncpg.Pool
) -> None:
    await subscribe(client, admin, RECEIVER, ["product.price_changed"])
    product = await create_product(client, admin)
    product_id = uuid.UUID(product["id"])
    first_price = await pool.fetchval("SELECT current_price FROM products WHERE id = $1", product_id)

    async def move(price: Decimal) -> None:
        async with patient.acquire() as conn, conn.transaction():
            await catalog.move_price(
                conn, product_id=product_id, new_price=price, source="manual", reason="race", actor="test"
            )

    released_at: dict[str, datetime] = {}  # new price -> when its round was let go
    for round_ in range(ROUNDS):
        prices = [first_price + Decimal(round_ * AT_ONCE + n + 1) for n in range(AT_ONCE)]
        async with pool.acquire() as locker, locker.transaction():
            await locker.execute("SELECT 1 FROM products WHERE id = $1 FOR UPDATE", product_id)
            racing = [asyncio.create_task(move(price)) for price in prices]
            released = await released_together(locker, pool, "the product's row")
        await asyncio.gather(*racing)
        released_at.update({f"{price:.2f}": released for price in prices})

    moves = sorted((e["data"] for e in await events(pool)), key=lambda data: data["sequence"])
    assert len(moves) == AT_ONCE * ROUNDS
    # In commit order each move starts from the price the one before it set.
    assert [Decimal(m["old_price"]) for m in moves] == [first_price] + [Decimal(m["new_price"]) for m in moves[:-1]]
    current = await pool.fetchval("SELECT current_price FROM products WHERE id = $1", product_id)
    assert Decimal(moves[-1]["new_price"]) == current, "the highest sequence carries the price as committed"
    for event in await events(pool):
        assert written_at(event) >= released_at[event["data"]["new_price"]]
