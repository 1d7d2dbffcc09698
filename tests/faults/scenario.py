"""Data and callers for fault tests against a `ServiceProcess` on private servers.

`seed()` creates an admin and a shopper (rows written straight into the private database, tokens
signed with the service's development key), a `service` API key and a few products through
the running service's own API.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from quote_service.auth import credentials
from quote_service.auth import repository as auth_repository
from quote_service.clock import utcnow
from quote_service.config import Settings

PRODUCTS = "/api/v1/products"
QUOTE = "/api/v1/quote"
ORDERS = "/api/v1/orders"
API_KEYS = "/api/v1/api-keys"


@dataclass
class Seed:
    admin: dict[str, str]
    shopper: dict[str, str]
    shopper_id: str
    service_key: dict[str, str]
    products: list[str] = field(default_factory=list)


async def insert_user(database_url: str, username: str, role: str) -> tuple[uuid.UUID, dict[str, str]]:
    """A user row and the headers of a bearer token for it."""
    conn = await asyncpg.connect(database_url)
    try:
        row = await auth_repository.insert_user(
            conn,
            username=username,
            password_hash=credentials.hash_password("correct-horse-battery"),
            role=role,
            tier="gold",
            segment="vip",
        )
    finally:
        await conn.close()
    token = credentials.issue_token(
        Settings(), user_id=row["id"], role=role, tier=row["tier"], segment=row["segment"], now=utcnow()
    )
    return row["id"], {"Authorization": f"Bearer {token}"}


async def new_api_key(http: httpx.AsyncClient, admin: dict[str, str], name: str) -> dict[str, str]:
    response = await http.post(API_KEYS, json={"name": name}, headers=admin)
    assert response.status_code == 201, response.text
    return {"X-API-Key": response.json()["data"]["key"]}


async def seed(http: httpx.AsyncClient, database_url: str, *, products: int = 4, stock: int = 100_000) -> Seed:
    _, admin = await insert_user(database_url, "admin", "admin")
    shopper_id, shopper = await insert_user(database_url, "shopper", "user")
    seeded = Seed(admin, shopper, str(shopper_id), await new_api_key(http, admin, "checkout"))
    for n in range(products):
        body = {
            "sku": f"FAULT-{n}",
            "name": f"Fault product {n}",
            "category_id": "electronics",
            "seller_id": "seller-1",
            "currency": "TRY",
            "base_price": "25.50",
            "min_price": "20.00",
            "cost_price": "10.00",
            "stock": stock,
            "weight": "0.25",
        }
        response = await http.post(PRODUCTS, json=body, headers=admin)
        assert response.status_code == 201, response.text
        seeded.products.append(response.json()["data"]["id"])
    return seeded


def basket(n: int, products: list[str], customer_id: str | None = None) -> dict[str, Any]:
    """A quote request: one of `products`, 1-3 units; every `n` a different customer."""
    return {
        "customer_id": customer_id or f"c-{n}",
        "currency": "TRY",
        "items": [{"product_id": products[n % len(products)], "quantity": 1 + n % 3}],
        "delivery_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0 + n / 1e5, "longitude": 28.97},
    }


@dataclass
class Outcome:
    """One request: when it started (monotonic), how long it took, its status (0: transport error)."""

    started: float
    seconds: float
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


async def timed_request(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> Outcome:
    started = time.monotonic()
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.TransportError:
        return Outcome(started, time.monotonic() - started, 0)
    try:
        body = response.json()
    except ValueError:
        body = None
    return Outcome(started, time.monotonic() - started, response.status_code, body, dict(response.headers))
