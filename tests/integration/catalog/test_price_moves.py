"""The one price-move path: every change of current_price, with its history row, in the caller's transaction."""

from __future__ import annotations

import uuid
from decimal import Decimal

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.catalog import repository
from tests.integration.catalog.test_catalog import PRODUCTS, create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok

Client = AsyncTestClient[Litestar]


async def history(client: Client, admin: Caller, product_id: str) -> list[tuple[str | None, str, str, str | None]]:
    items = expect_ok(await client.get(f"{PRODUCTS}/{product_id}/price-history", headers=admin.headers))["items"]
    return [(h["old_price"], h["new_price"], h["source"], h["ref_id"]) for h in reversed(items)]


async def test_raising_the_price_and_the_floor_together_is_one_manual_move(client: Client, admin: Caller) -> None:
    product = await create_product(client, admin)  # 25.50, min 20.00, cost 10.00
    response = await client.patch(
        f"{PRODUCTS}/{product['id']}",
        json={"current_price": "40.00", "min_price": "30.00", "cost_price": "25.00"},
        headers=admin.headers,
    )
    updated = expect_ok(response)
    assert (updated["current_price"], updated["min_price"], updated["cost_price"]) == ("40.00", "30.00", "25.00")
    put = {**{k: updated[k] for k in ("sku", "name", "category_id", "seller_id", "currency", "base_price")},
           "current_price": "12.00", "min_price": "11.00", "cost_price": "5.00"}  # fmt: skip
    expect_ok(await client.put(f"{PRODUCTS}/{product['id']}", json=put, headers=admin.headers))
    assert await history(client, admin, product["id"]) == [
        (None, "25.50", "manual", None),
        ("25.50", "40.00", "manual", None),
        ("40.00", "12.00", "manual", None),
    ]


async def test_a_move_is_part_of_the_callers_transaction(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    product = await create_product(client, admin)
    pid, ref = uuid.UUID(product["id"]), uuid.uuid4()
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        old = await repository.move_price(
            conn, product_id=pid, new_price=Decimal("30.00"), source="decision", reason="test", actor="t", ref_id=ref
        )
        assert old == Decimal("25.50")
        await transaction.rollback()
        async with conn.transaction():
            await repository.move_price(
                conn,
                product_id=pid,
                new_price=Decimal("31.00"),
                source="decision",
                reason="test",
                actor="t",
                ref_id=ref,
            )
            # The same price again is no move, and leaves no row.
            await repository.move_price(
                conn, product_id=pid, new_price=Decimal("31.00"), source="decision", reason="again", actor="t"
            )
        assert await repository.move_price(
            conn, product_id=uuid.uuid4(), new_price=Decimal(1), source="manual", reason="none", actor="t"
        ) is None  # fmt: skip
    assert await history(client, admin, product["id"]) == [
        (None, "25.50", "manual", None),
        ("25.50", "31.00", "decision", str(ref)),
    ]
