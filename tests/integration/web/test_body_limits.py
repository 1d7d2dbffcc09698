"""The bulk routes' body limits (docs/http.md#server-limits): each route's documented maximum,
written with every field at its longest and pretty-printed (indent 2, as `json.dumps` and most
tools write it), is taken; a body over a route's own limit is a 413 before anything is read."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.commissions.controller import BULK_BODY_LIMIT
from quote_service.commissions.schemas import MAX_BULK_ITEMS, MAX_TIERS
from quote_service.intelligence.controller import OBSERVATIONS_BODY_LIMIT
from quote_service.intelligence.schemas import MAX_OBSERVATIONS, MAX_URL_LENGTH
from quote_service.price_lists.controller import PRICES_BODY_LIMIT
from quote_service.price_lists.schemas import MAX_PRICES
from quote_service.web.request import MAX_BODY_BYTES
from tests.integration.catalog.test_catalog import create_product
from tests.integration.commissions.test_commission_rates_api import BULK
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.price_lists.test_price_lists_api import LISTS

Client = AsyncTestClient[Litestar]
LONGEST_AMOUNT = "999999999999.99"  # the largest TRY amount below the 1e12 ceiling
LONGEST_TIME = "2025-01-01T00:00:00.000000+03:00"


def longest(character: str, length: int, n: int) -> str:
    """A distinct text of exactly `length` characters."""
    return f"{character}{n:0{length - 1}d}"


async def send_pretty(client: Client, method: str, path: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    """`body` pretty-printed: asserts it is beyond the default limit, so that only the route's own lets it in."""
    text = json.dumps(body, indent=2).encode()
    assert len(text) > MAX_BODY_BYTES
    return await client.request(method, path, content=text, headers={**headers, "Content-Type": "application/json"})


async def test_a_price_list_of_ten_thousand_prices_is_taken_pretty_printed(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    products = [(await create_product(client, admin))["id"] for _ in range(10)]
    prices = [
        {"product_id": products[n % 10], "amount": LONGEST_AMOUNT, "min_quantity": 10_000 - n // 10}
        for n in range(MAX_PRICES)
    ]
    body = {
        "name": longest("N", 200, 0),
        "currency": "TRY",
        "customer_groups": [longest("g", 64, n) for n in range(100)],
        "channels": [longest("c", 64, n) for n in range(100)],
        "priority": -1_000_000,
        "starts_at": LONGEST_TIME,
        "ends_at": LONGEST_TIME.replace("2025", "2026"),
        "prices": prices,
    }
    created = expect_ok(await send_pretty(client, "POST", LISTS, body, admin.headers), 201)
    assert len(created["prices"]) == MAX_PRICES

    path = f"{LISTS}/{created['id']}/prices"
    saved = expect_ok(await send_pretty(client, "PUT", path, {"prices": prices}, admin.headers))
    assert (saved["upserted"], saved["price_count"]) == (MAX_PRICES, MAX_PRICES)
    assert await pool.fetchval("SELECT count(*) FROM price_list_prices") == MAX_PRICES


async def test_a_thousand_tiered_commission_rates_are_taken_pretty_printed(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    tiers = [{"up_to": f"{999999999900 + n}.99", "rate": "12.3456"} for n in range(MAX_TIERS - 1)]
    rate = {
        "component": "logistics",
        "category_id": longest("c", 64, 0),
        "seller_id": longest("s", 64, 0),
        "logistics_provider": longest("l", 64, 0),
        "region": longest("r", 100, 0),
        "commission_type": "TIERED",
        "rate": None,
        "tiers": [*tiers, {"up_to": None, "rate": "12.3456"}],
        "min_amount": "0.01",
        "max_amount": LONGEST_AMOUNT,
        "currency": "TRY",
        "effective_from": LONGEST_TIME,
        "effective_to": LONGEST_TIME.replace("2025", "2026"),
        "is_active": True,
        "priority": -1_000_000,
    }
    saved = expect_ok(await send_pretty(client, "PUT", BULK, {"items": [rate] * MAX_BULK_ITEMS}, admin.headers))
    assert saved["created"] == MAX_BULK_ITEMS
    assert await pool.fetchval("SELECT count(*) FROM commission_rates") == MAX_BULK_ITEMS


async def test_a_thousand_competitor_prices_with_the_longest_urls_are_taken_pretty_printed(
    client: Client, admin: Caller
) -> None:
    product = await create_product(client, admin)
    now = datetime.now(UTC).replace(microsecond=0)
    observations = [
        {
            "product_id": product["id"],
            "competitor": longest("c", 64, n),
            "price": LONGEST_AMOUNT,
            "currency": "TRY",
            "observed_at": (now - timedelta(seconds=n + 1)).isoformat(timespec="microseconds"),
            "in_stock": True,
            "url": "https://shop.example/" + longest("p", MAX_URL_LENGTH - 21, n),
        }
        for n in range(MAX_OBSERVATIONS)
    ]
    body = {"observations": observations}
    result = expect_ok(await send_pretty(client, "POST", "/api/v1/competitor-prices", body, admin.headers), 202)
    assert (result["accepted"], result["rejected"]) == (MAX_OBSERVATIONS, [])


@pytest.mark.parametrize(
    ("method", "path", "limit"),
    [
        ("POST", LISTS, PRICES_BODY_LIMIT),
        ("PUT", f"{LISTS}/{uuid.UUID(int=1)}/prices", PRICES_BODY_LIMIT),
        ("PUT", BULK, BULK_BODY_LIMIT),
        ("POST", "/api/v1/competitor-prices", OBSERVATIONS_BODY_LIMIT),
        ("POST", "/api/v1/coupons", MAX_BODY_BYTES),  # every other route keeps the default
    ],
)
async def test_a_body_over_the_routes_own_limit_is_a_413(
    client: Client, admin: Caller, method: str, path: str, limit: int
) -> None:
    oversized = b"[" + b" " * limit + b"]"
    response = await client.request(
        method, path, content=oversized, headers={**admin.headers, "Content-Type": "application/json"}
    )
    expect_error(response, 413, "PAYLOAD_TOO_LARGE")
