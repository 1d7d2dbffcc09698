"""Helpers shared by the flash-sale tests: sale bodies, creation, purchases, ledger reads."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.clock import utcnow
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok

Client = AsyncTestClient[Litestar]
SALES = "/api/v1/flash-sales"


def at(minutes: float) -> str:
    """An RFC 3339 instant `minutes` from now."""
    return (utcnow() + timedelta(minutes=minutes)).isoformat()


def sale_body(product_id: str, **overrides: Any) -> dict[str, Any]:
    """A sale active from a minute ago for an hour: one item at 15.00, 10 units, 2 per customer."""
    item = {"product_id": product_id, "flash_price": "15.00", "allocated_stock": 10, "per_user_limit": 2}
    item.update(overrides.pop("item", {}))
    body: dict[str, Any] = {"name": "Midnight sale", "starts_at": at(-1), "ends_at": at(60), "items": [item]}
    body.update(overrides)
    return body


async def flash_product(client: Client, admin: Caller, *, stock: int = 100) -> dict[str, Any]:
    """A TRY product at 25.50 with min_price 10.00 (so the default 15.00 flash price is allowed)."""
    return await create_product(client, admin, stock=stock, min_price="10.00", cost_price="5.00")


async def new_sale(
    client: Client, admin: Caller, *, stock: int = 100, product: dict[str, Any] | None = None, **overrides: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A product (stock `stock`) and a sale of it; returns (sale, product)."""
    product = product or await flash_product(client, admin, stock=stock)
    response = await client.post(SALES, json=sale_body(product["id"], **overrides), headers=admin.headers)
    return expect_ok(response, 201), product


async def buy(
    client: Client | httpx.AsyncClient,
    headers: dict[str, str],
    sale: dict[str, Any],
    *,
    quantity: int = 1,
    key: str | None = None,
    **body: Any,
) -> httpx.Response:
    payload = {"product_id": sale["items"][0]["product_id"], "quantity": quantity, **body}
    return await client.post(
        f"{SALES}/{sale['id']}/purchases",
        json=payload,
        headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


async def ledger(database_url: str, sale_id: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(
            "SELECT customer_id, quantity, product_id FROM flash_purchases WHERE flash_sale_id = $1", uuid.UUID(sale_id)
        )
    finally:
        await conn.close()


async def stock_of(database_url: str, product_id: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        stock: int = await conn.fetchval("SELECT stock FROM products WHERE id = $1", uuid.UUID(product_id))
        return stock
    finally:
        await conn.close()


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)
