"""A code batch beside the coupon's orders, and sent twice (docs/promotions.md#code-batches): a
large batch being generated holds back no order of its coupon, and a batch request retried with
its Idempotency-Key makes no second batch."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from quote_service.coupons import batches
from tests.integration.conftest import Caller
from tests.integration.coupons.test_coupon_codes import CODES
from tests.integration.expect import expect_error, expect_ok
from tests.integration.orders.test_orders_api import coupon, key
from tests.integration.promotions.test_promotion_quotes import Client, books, quote_of
from tests.waiting import until

BATCH_SQL = "%INSERT INTO coupon_codes%"


async def batch_writing(pool: asyncpg.Pool) -> bool:
    """Whether a batch's transaction is open, writing its codes."""
    return bool(
        await pool.fetchval(
            """SELECT count(*) FROM pg_stat_activity
               WHERE datname = current_database() AND query LIKE $1 AND xact_start IS NOT NULL
                 AND pid <> pg_backend_pid()""",
            BATCH_SQL,
        )
    )


async def test_orders_of_the_coupon_are_placed_while_a_large_batch_is_generated(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    """The batch is generated on the service layer, on a connection of this test's own, so that
    its transaction is open (writing codes, or paused between two statements while the app answers
    an order) for as long as the orders take: each order waits at most DB_LOCK_TIMEOUT (1 s) for a
    lock, then answers 503."""
    await coupon(client, admin, "SPRING")
    basket = await books(client, admin, "40.00")
    quotes = [await quote_of(client, service_key, basket, coupon_codes=["SPRING"]) for _ in range(3)]
    assert {q["applied_coupons"][0]["code"] for q in quotes} == {"SPRING"}

    async def generate() -> batches.Batch:
        async with pool.acquire() as conn:
            data = batches.BatchInput(count=100_000)
            made, _ = await batches.generate(
                conn, coupon_code="SPRING", data=data, actor="test", principal_id=uuid.uuid4()
            )
            return made

    generating = asyncio.create_task(generate())
    await until(lambda: batch_writing(pool), "the batch writing its codes")
    placed = []
    for quote in quotes:
        headers = {**service_key, **key()}
        order = await client.post("/api/v1/orders", json={"quote_id": quote["quote_id"]}, headers=headers)
        placed.append((order.status_code, order.json().get("error")))
    still_generating = not generating.done()

    made = await generating
    assert still_generating, "the batch ended before the orders were placed: nothing raced it"
    assert placed == [(201, None)] * 3
    assert await pool.fetchval("SELECT times_used FROM coupons WHERE code = 'SPRING'") == 3
    written = await pool.fetchval("SELECT count(*) FROM coupon_codes WHERE batch_id = $1", made.batch_id)
    assert written == 100_000


async def test_a_batch_request_sent_again_with_its_idempotency_key_makes_no_second_batch(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    await coupon(client, admin, "SPRING")
    headers = {**admin.headers, "Idempotency-Key": "spring-newsletter-1"}

    first = expect_ok(await client.post(CODES.format("spring"), json={"count": 20}, headers=headers), 201)
    again = await client.post(CODES.format("SPRING"), json={"count": 20}, headers=headers)

    assert expect_ok(again, 201) == first
    assert again.headers["Idempotent-Replayed"] == "true"  # the first answer, sent again
    assert await pool.fetchval("SELECT count(*) FROM coupon_code_batches") == 1
    assert await pool.fetchval("SELECT count(*) FROM coupon_codes") == 20

    other = await client.post(CODES.format("SPRING"), json={"count": 21}, headers=headers)
    expect_error(other, 409, "IDEMPOTENCY_CONFLICT")
    assert await pool.fetchval("SELECT count(*) FROM coupon_codes") == 20
    unkeyed = expect_ok(await client.post(CODES.format("SPRING"), json={"count": 20}, headers=admin.headers), 201)
    assert unkeyed["batch_id"] != first["batch_id"], "without a key, every request is a batch of its own"


async def test_racing_requests_with_one_key_make_one_batch(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    """A retry sent while the first is still generating waits for it (or, past DB_LOCK_TIMEOUT,
    answers 409 IDEMPOTENCY_IN_PROGRESS): never a second batch."""
    await coupon(client, admin, "SPRING")
    headers = {**admin.headers, "Idempotency-Key": "spring-race"}

    answers = await asyncio.gather(
        *(client.post(CODES.format("SPRING"), json={"count": 2_000}, headers=headers) for _ in range(3))
    )

    made = {a.json()["data"]["batch_id"] for a in answers if a.status_code == 201}
    assert len(made) == 1
    assert {a.status_code for a in answers} <= {201, 409}
    assert all(a.json()["error"]["code"] == "IDEMPOTENCY_IN_PROGRESS" for a in answers if a.status_code == 409)
    assert await pool.fetchval("SELECT count(*) FROM coupon_code_batches") == 1
