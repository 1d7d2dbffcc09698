"""The item routes the list routes imply, and the manual price move.

GET /signals/{id}, GET /decisions/{id}, PUT /signals/{id}/acknowledge (POST stays), and
PUT /products/{id}/price {price, reason?}: checked like a decision (the floor, the largest step
MAX_PRICE_CHANGE_PERCENT allows), through the one price-move path (history source `manual`).
"""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.app import create_app
from quote_service.config import Settings
from quote_service.intelligence import signals
from tests.integration.catalog.test_catalog import PRODUCTS, create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors

Client = AsyncTestClient[Litestar]
UNKNOWN = "00000000-0000-4000-8000-000000000000"


async def a_signal(pool: asyncpg.Pool, product_id: str) -> str:
    async with pool.acquire() as conn:
        raised = await signals.raise_signal(
            conn, type="low_inventory", product_id=UUID(product_id), severity="warning", details={"stock": 3}
        )
    return str(raised.row["id"])


async def test_a_signal_is_readable_by_id(client: Client, admin: Caller, shopper: Caller, pool: asyncpg.Pool) -> None:
    product = await create_product(client, admin)
    signal_id = await a_signal(pool, product["id"])

    one = expect_ok(await client.get(f"/api/v1/signals/{signal_id}", headers=admin.headers))

    listed = expect_ok(await client.get("/api/v1/signals", headers=admin.headers))["items"]
    assert one == listed[0]
    assert (one["id"], one["type"], one["status"], one["details"]) == (signal_id, "low_inventory", "open", {"stock": 3})
    expect_error(await client.get(f"/api/v1/signals/{UNKNOWN}", headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.get(f"/api/v1/signals/{signal_id}", headers=shopper.headers), 403, "FORBIDDEN")


@pytest.mark.parametrize("method", ["PUT", "POST"])
async def test_a_signal_is_acknowledged_by_put_or_post(
    client: Client, admin: Caller, pool: asyncpg.Pool, method: str
) -> None:
    product = await create_product(client, admin)
    signal_id = await a_signal(pool, product["id"])
    path = f"/api/v1/signals/{signal_id}/acknowledge"

    first = expect_ok(await client.request(method, path, headers=admin.headers))
    again = expect_ok(await client.request(method, path, headers=admin.headers))

    assert (first["status"], first["acknowledged_by"]) == ("acknowledged", admin.username)
    assert again == first  # acknowledging twice changes nothing
    assert expect_ok(await client.get(f"/api/v1/signals/{signal_id}", headers=admin.headers)) == first
    missing = await client.request(method, f"/api/v1/signals/{UNKNOWN}/acknowledge", headers=admin.headers)
    expect_error(missing, 404, "NOT_FOUND")


async def test_a_decision_is_readable_by_id(client: Client, admin: Caller, shopper: Caller) -> None:
    product = await create_product(client, admin, stock=500)
    run = expect_ok(
        await client.post("/api/v1/decisions/run", json={"product_ids": [product["id"]]}, headers=admin.headers)
    )

    one = expect_ok(await client.get(f"/api/v1/decisions/{run[0]['id']}", headers=admin.headers))

    assert one == run[0]
    assert one["product_id"] == product["id"]
    expect_error(await client.get(f"/api/v1/decisions/{UNKNOWN}", headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.get(f"/api/v1/decisions/{run[0]['id']}", headers=shopper.headers), 403, "FORBIDDEN")


# --- PUT /products/{id}/price -------------------------------------------------------------------


async def history(client: Client, admin: Caller, product_id: str) -> list[dict[str, Any]]:
    page = expect_ok(await client.get(f"{PRODUCTS}/{product_id}/price-history", headers=admin.headers))
    items: list[dict[str, Any]] = page["items"]
    return items


async def a_product(client: Client, admin: Caller) -> dict[str, Any]:
    """TRY 100.00, floor 92.00: with the default 10 % limit a move may go to 92.00..110.00; as
    GET /products/{id} reads it (with its reserved and available units)."""
    created = await create_product(client, admin, base_price="100.00", min_price="92.00", cost_price="50.00")
    return {**created, "reserved": 0, "available": created["stock"]}


async def test_a_manual_price_moves_through_the_price_path(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    product = await a_product(client, admin)
    path = f"{PRODUCTS}/{product['id']}/price"

    moved = expect_ok(
        await client.put(path, json={"price": "110.00", "reason": "match competitor"}, headers=admin.headers)
    )

    assert moved["current_price"] == "110.00"
    unchanged = {"current_price", "updated_at", "reserved", "available"}  # the last two: GET only
    assert {k: v for k, v in moved.items() if k not in unchanged} == {
        k: v for k, v in product.items() if k not in unchanged
    }
    newest = (await history(client, admin, product["id"]))[0]
    assert (newest["old_price"], newest["new_price"], newest["source"], newest["reason"], newest["actor"]) == (
        "100.00", "110.00", "manual", "match competitor", admin.username,
    )  # fmt: skip
    # The next quote (through the product cache) prices at the new price.
    priced = expect_ok(await client.get(f"{PRODUCTS}/{product['id']}/price", headers=service_key))
    assert priced["unit_price"] == "110.00"
    # Without a reason, the history says it was a manual price; down to the floor is allowed.
    expect_ok(await client.put(path, json={"price": 99}, headers=admin.headers))
    assert (await history(client, admin, product["id"]))[0]["reason"] == "manual price"


@pytest.mark.parametrize(
    ("price", "why"),
    [
        ("91.99", "min_price 92.00"),  # below the floor
        ("110.01", "at most 10 %"),  # a bigger step than MAX_PRICE_CHANGE_PERCENT
        ("89.00", "min_price"),
    ],
)
async def test_a_manual_price_is_held_to_the_floor_and_the_step(
    client: Client, admin: Caller, price: str, why: str
) -> None:
    product = await a_product(client, admin)

    response = await client.put(f"{PRODUCTS}/{product['id']}/price", json={"price": price}, headers=admin.headers)

    errors = field_errors(expect_error(response, 422, "VALIDATION_FAILED"))
    assert list(errors) == ["price"]
    assert why in errors["price"]
    assert expect_ok(await client.get(f"{PRODUCTS}/{product['id']}", headers=admin.headers)) == product
    assert len(await history(client, admin, product["id"])) == 1  # only the creation


async def test_the_step_follows_max_price_change_percent(settings: Settings, admin: Caller) -> None:
    async with AsyncTestClient(
        app=create_app(msgspec.structs.replace(settings, max_price_change_percent=30.0))
    ) as client:
        product = await a_product(client, admin)
        path = f"{PRODUCTS}/{product['id']}/price"
        assert (
            expect_ok(await client.put(path, json={"price": "130"}, headers=admin.headers))["current_price"] == "130.00"
        )
        response = await client.put(path, json={"price": "170"}, headers=admin.headers)
        assert "from 92.00 to 169.00" in field_errors(expect_error(response, 422, "VALIDATION_FAILED"))["price"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "price"),
        ({"price": "abc"}, "price"),
        ({"price": "NaN"}, "price"),
        ({"price": "-1"}, "price"),
        ({"price": 0}, "price"),
        ({"price": "100.001"}, "price"),
        ({"price": "1e12"}, "price"),
        ({"price": True}, "price"),
        ({"price": "100", "reason": ""}, "reason"),
        ({"price": "100", "reason": "x" * 201}, "reason"),
        ({"price": "100", "source": "decision"}, "source"),
    ],
)
async def test_bad_input_is_422_naming_the_field_and_changes_nothing(
    client: Client, admin: Caller, body: dict[str, Any], field: str
) -> None:
    product = await a_product(client, admin)

    response = await client.put(f"{PRODUCTS}/{product['id']}/price", json=body, headers=admin.headers)

    assert field in field_errors(expect_error(response, 422, "VALIDATION_FAILED"))
    assert expect_ok(await client.get(f"{PRODUCTS}/{product['id']}", headers=admin.headers)) == product


async def test_only_admins_move_prices_and_only_known_products(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str]
) -> None:
    product = await a_product(client, admin)
    path = f"{PRODUCTS}/{product['id']}/price"

    expect_error(await client.put(path, json={"price": "101"}, headers=shopper.headers), 403, "FORBIDDEN")
    expect_error(await client.put(path, json={"price": "101"}, headers=service_key), 403, "FORBIDDEN")
    expect_error(await client.put(path, json={"price": "101"}), 401, "UNAUTHORIZED")
    unknown = await client.put(f"{PRODUCTS}/{uuid.uuid4()}/price", json={"price": "101"}, headers=admin.headers)
    expect_error(unknown, 404, "NOT_FOUND")
    bad_json = await client.put(path, content=b"{", headers={**admin.headers, "Content-Type": "application/json"})
    expect_error(bad_json, 400, "MALFORMED_REQUEST")
    assert expect_ok(await client.get(f"{PRODUCTS}/{product['id']}", headers=admin.headers)) == product
