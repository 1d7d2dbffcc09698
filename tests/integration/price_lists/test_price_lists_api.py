"""Price lists over HTTP (docs/price-lists.md): CRUD, list, bulk upsert of prices, validation, roles."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import product_body
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.versions import durable_config_version

Client = AsyncTestClient[Litestar]
LISTS = "/api/v1/price-lists"


async def make_product(client: Client, admin: Caller, **overrides: Any) -> str:
    data = expect_ok(await client.post("/api/v1/products", json=product_body(**overrides), headers=admin.headers), 201)
    product_id: str = data["id"]
    return product_id


def list_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "B2B", "currency": "TRY", "customer_groups": ["B2B"], "priority": 10}
    body.update(overrides)
    return body


async def count_rows(pool: asyncpg.Pool) -> tuple[int, int]:
    lists: int = await pool.fetchval("SELECT count(*) FROM price_lists")
    prices: int = await pool.fetchval("SELECT count(*) FROM price_list_prices")
    return lists, prices


async def test_create_get_update_list_and_delete(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    product = await make_product(client, admin)
    created = expect_ok(
        await client.post(
            LISTS,
            json=list_body(
                channels=["Web", "web"],
                starts_at="2025-01-01T00:00:00+03:00",
                prices=[
                    {"product_id": product, "amount": "20", "min_quantity": 10},
                    {"product_id": product, "amount": 22.5},
                ],
            ),
            headers=admin.headers,
        ),
        201,
    )
    assert created["currency"] == "TRY"
    assert created["customer_groups"] == ["b2b"]
    assert created["channels"] == ["web"]
    assert created["starts_at"] == "2024-12-31T21:00:00Z"
    assert created["ends_at"] is None
    assert created["price_count"] == 2
    assert created["prices"] == [
        {"product_id": product, "amount": "22.50", "min_quantity": 1},
        {"product_id": product, "amount": "20.00", "min_quantity": 10},
    ]
    list_id = created["id"]

    fetched = expect_ok(await client.get(f"{LISTS}/{list_id}", headers=admin.headers))
    assert fetched == created

    updated = expect_ok(
        await client.put(
            f"{LISTS}/{list_id}",
            json=list_body(name="Wholesale", priority=5, customer_groups=[]),
            headers=admin.headers,
        )
    )
    assert (updated["name"], updated["priority"], updated["customer_groups"], updated["price_count"]) == (
        "Wholesale",
        5,
        [],
        2,
    )

    second = expect_ok(await client.post(LISTS, json=list_body(name="Second"), headers=admin.headers), 201)
    page = expect_ok(await client.get(LISTS, params={"limit": 1}, headers=admin.headers))
    assert [item["id"] for item in page["items"]] == [list_id]
    assert "prices" not in page["items"][0]
    rest = expect_ok(await client.get(LISTS, params={"cursor": page["next_cursor"]}, headers=admin.headers))
    assert [item["id"] for item in rest["items"]] == [second["id"]]
    assert rest["next_cursor"] is None

    deleted = expect_ok(await client.delete(f"{LISTS}/{list_id}", headers=admin.headers))
    assert deleted["id"] == list_id
    expect_error(await client.get(f"{LISTS}/{list_id}", headers=admin.headers), 404, "NOT_FOUND")
    assert await count_rows(pool) == (1, 0)


async def test_bulk_upsert_adds_and_replaces_ten_thousand_prices_in_one_request(
    client: Client, admin: Caller, pool: asyncpg.Pool, settings: Settings
) -> None:
    products = [await make_product(client, admin) for _ in range(10)]
    created = expect_ok(
        await client.post(
            LISTS, json=list_body(prices=[{"product_id": products[0], "amount": "9.99"}]), headers=admin.headers
        ),
        201,
    )
    version = await durable_config_version(settings)
    prices = [
        {"product_id": products[n % 10], "amount": f"{10 + n % 7}.{n % 100:02d}", "min_quantity": n // 10 + 1}
        for n in range(10_000)
    ]
    saved = expect_ok(
        await client.put(f"{LISTS}/{created['id']}/prices", json={"prices": prices}, headers=admin.headers)
    )
    assert saved == {"price_list_id": created["id"], "upserted": 10_000, "price_count": 10_000}
    assert await durable_config_version(settings) == version + 1  # one change, however many rows
    stored = await pool.fetchval(
        "SELECT amount FROM price_list_prices WHERE product_id = $1 AND min_quantity = 1", uuid.UUID(products[0])
    )
    assert str(stored) == "10.0000"  # the first price (9.99) was replaced


async def test_bad_prices_are_named_and_nothing_is_stored(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    product = await make_product(client, admin)
    created = expect_ok(await client.post(LISTS, json=list_body(), headers=admin.headers), 201)
    before = await count_rows(pool)
    bad = [
        {"product_id": product, "amount": "5.00"},
        {"product_id": str(uuid.uuid4()), "amount": "5.00"},
        {"product_id": product, "amount": "-1", "min_quantity": 2},
        {"product_id": product, "amount": "1.005", "min_quantity": 3},
        {"product_id": product, "amount": "7.00"},
        {"product_id": "not-a-uuid", "amount": "1.00"},
        {"product_id": product, "amount": "1.00", "min_quantity": 0},
    ]
    for response in (
        await client.put(f"{LISTS}/{created['id']}/prices", json={"prices": bad}, headers=admin.headers),
        await client.post(LISTS, json=list_body(prices=bad), headers=admin.headers),
    ):
        errors = field_errors(expect_error(response, 422, "VALIDATION_FAILED"))
        assert set(errors) == {
            "prices[1].product_id",
            "prices[2].amount",
            "prices[3].amount",
            "prices[4].min_quantity",
            "prices[5].product_id",
            "prices[6].min_quantity",
        }, errors
        assert "prices[0]" in errors["prices[4].min_quantity"]
    assert await count_rows(pool) == before


async def test_an_unknown_currency_or_a_backwards_window_is_refused(client: Client, admin: Caller) -> None:
    product = await make_product(client, admin)
    errors = field_errors(
        expect_error(
            await client.post(
                LISTS,
                json=list_body(
                    currency="XYZ",
                    starts_at="2026-02-01T00:00:00Z",
                    ends_at="2026-01-01T00:00:00Z",
                    prices=[{"product_id": product, "amount": "5.00"}],
                ),
                headers=admin.headers,
            ),
            422,
            "VALIDATION_FAILED",
        )
    )
    assert set(errors) == {"currency", "ends_at"}


async def test_sub_minor_amounts_follow_the_list_currency(client: Client, admin: Caller) -> None:
    product = await make_product(client, admin)
    response = await client.post(
        LISTS,
        json=list_body(currency="JPY", prices=[{"product_id": product, "amount": "100.5"}]),
        headers=admin.headers,
    )
    assert set(field_errors(expect_error(response, 422, "VALIDATION_FAILED"))) == {"prices[0].amount"}
    created = expect_ok(
        await client.post(
            LISTS,
            json=list_body(currency="JPY", prices=[{"product_id": product, "amount": "100"}]),
            headers=admin.headers,
        ),
        201,
    )
    assert created["prices"][0]["amount"] == "100"


async def test_only_admins_write_or_read_price_lists(
    client: Client, shopper: Caller, service_key: dict[str, str]
) -> None:
    for headers in (shopper.headers, service_key):
        expect_error(await client.post(LISTS, json=list_body(), headers=headers), 403, "FORBIDDEN")
        expect_error(await client.get(LISTS, headers=headers), 403, "FORBIDDEN")
    expect_error(await client.get(LISTS), 401, "UNAUTHORIZED")
