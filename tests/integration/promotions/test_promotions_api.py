"""Promotions over HTTP (docs/promotions.md): CRUD, validation per kind, roles, and what quotes then do."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors

Client = AsyncTestClient[Litestar]
PROMOTIONS = "/api/v1/promotions"
OMIT = object()


def promotion_body(**overrides: Any) -> dict[str, Any]:
    """A valid buy-2-get-1-free promotion on books, changed by `overrides` (OMIT drops a field)."""
    body: dict[str, Any] = {
        "name": "Books: buy 2, get 1 free",
        "kind": "BUY_X_GET_Y",
        "config": {
            "buy": {"quantity": 2, "category_ids": ["books"]},
            "get": {"quantity": 1, "category_ids": ["books"], "percent_off": 100},
        },
        "starts_at": "2025-01-01T00:00:00+03:00",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not OMIT}


async def create_promotion(client: Client, admin: Caller, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = expect_ok(
        await client.post(PROMOTIONS, json=promotion_body(**overrides), headers=admin.headers), 201
    )
    return data


async def count_promotions(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM promotions")
    return count


async def test_create_answers_201_with_the_stored_promotion(client: Client, admin: Caller) -> None:
    created = await create_promotion(
        client,
        admin,
        name="Big basket",
        kind="PERCENT_OFF",
        config={"percent": "12.50", "max_discount": 30},
        conditions={"min_subtotal": "200", "currency": "try", "category_ids": ["books", "toys", "books"]},
        priority=5,
        combinable=False,
        combines_with_coupons=False,
        ends_at="2026-01-01T00:00:00Z",
        usage_limit=100,
    )

    assert {k: v for k, v in created.items() if k not in ("id", "created_at", "updated_at")} == {
        "name": "Big basket",
        "kind": "PERCENT_OFF",
        "config": {"percent": "12.5", "max_discount": "30.00"},
        "conditions": {
            "min_subtotal": "200.00",
            "currency": "TRY",
            "category_ids": ["books", "toys"],
            "product_ids": [],
            "customer_groups": [],
            "customer_segments": [],
            "channels": [],
        },
        "priority": 5,
        "combinable": False,
        "combines_with_coupons": False,
        "starts_at": "2024-12-31T21:00:00Z",
        "ends_at": "2026-01-01T00:00:00Z",
        "usage_limit": 100,
        "times_used": 0,
        "is_active": True,
        "funded_by": "seller",
        "group": None,
        "budget": None,
        "budget_used": None,
        "budget_remaining": None,
        "per_customer_limit": None,
        "on_reduced_lines": "stack",
        "created_by": "admin",
        "updated_by": "admin",
    }
    assert expect_ok(await client.get(f"{PROMOTIONS}/{created['id']}", headers=admin.headers)) == created


async def test_buy_x_get_y_reads_back_as_sent(client: Client, admin: Caller) -> None:
    created = await create_promotion(client, admin)

    assert created["config"] == {
        "buy": {"quantity": 2, "category_ids": ["books"]},
        "get": {"quantity": 1, "category_ids": ["books"], "percent_off": "100"},
    }


async def test_put_replaces_delete_deactivates_and_the_list_pages(client: Client, admin: Caller) -> None:
    first = await create_promotion(client, admin)
    second = await create_promotion(client, admin, name="Ship free", kind="FREE_DELIVERY", config={})

    replaced = expect_ok(
        await client.put(
            f"{PROMOTIONS}/{first['id']}",
            json=promotion_body(name="Ten off", kind="AMOUNT_OFF", config={"amount": 10, "currency": "EUR"}),
            headers=admin.headers,
        )
    )
    gone = expect_ok(await client.delete(f"{PROMOTIONS}/{second['id']}", headers=admin.headers))
    page = expect_ok(await client.get(PROMOTIONS, params={"limit": 1}, headers=admin.headers))
    rest = expect_ok(await client.get(PROMOTIONS, params={"cursor": page["next_cursor"]}, headers=admin.headers))
    inactive = expect_ok(await client.get(PROMOTIONS, params={"is_active": "false"}, headers=admin.headers))

    assert (replaced["kind"], replaced["config"]) == ("AMOUNT_OFF", {"amount": "10.00", "currency": "EUR"})
    assert gone["is_active"] is False
    assert [p["id"] for p in page["items"] + rest["items"]] == [first["id"], second["id"]]
    assert rest["next_cursor"] is None
    assert [p["id"] for p in inactive["items"]] == [second["id"]]


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"kind": "BOGO"}, {"kind"}),
        ({"kind": "PERCENT_OFF"}, {"config.buy"}),  # a BUY_X_GET_Y config under another kind
        ({"kind": "PERCENT_OFF", "config": {"amount": 5}}, {"config.amount"}),
        ({"kind": "PERCENT_OFF", "config": {"percent": 0}}, {"config.percent"}),
        ({"kind": "PERCENT_OFF", "config": {"percent": "100.01"}}, {"config.percent"}),
        ({"kind": "PERCENT_OFF", "config": {"percent": -5}}, {"config.percent"}),
        ({"kind": "PERCENT_OFF", "config": {"percent": "NaN"}}, {"config.percent"}),
        ({"kind": "PERCENT_OFF", "config": {"percent": 10, "max_discount": 5}}, {"conditions.currency"}),
        ({"kind": "PERCENT_OFF", "config": {}}, {"config.percent"}),
        ({"kind": "AMOUNT_OFF", "config": {"amount": 5}}, {"config.currency"}),
        ({"kind": "AMOUNT_OFF", "config": {"amount": "5.001", "currency": "EUR"}}, {"config.amount"}),
        ({"kind": "AMOUNT_OFF", "config": {"amount": 5, "currency": "XYZ"}}, {"config.currency"}),
        ({"kind": "FREE_DELIVERY", "config": {"waive": 5}}, {"config.waive"}),
        ({"config": {"get": {"quantity": 1, "category_ids": ["books"]}}}, {"config.buy"}),
        ({"config": {"buy": {"quantity": 2, "category_ids": ["books"]}}}, {"config.get"}),
        (
            {"config": {"buy": {"quantity": 0, "category_ids": ["b"]}, "get": {"quantity": 1, "category_ids": ["b"]}}},
            {"config.buy.quantity"},
        ),
        (
            {"config": {"buy": {"quantity": 2}, "get": {"quantity": 1, "category_ids": ["b"]}}},
            {"config.buy.product_ids"},
        ),
        (
            {
                "config": {
                    "buy": {"quantity": 2, "category_ids": ["b"]},
                    "get": {"quantity": 1, "category_ids": ["b"], "percent_off": 0},
                }
            },
            {"config.get.percent_off"},
        ),
        ({"config": {"buy": {"quantity": "2", "category_ids": ["b"]}}}, {"config.buy.quantity"}),
        ({"conditions": {"min_subtotal": 50}}, {"conditions.currency"}),
        ({"conditions": {"currency": "XYZ"}}, {"conditions.currency"}),
        ({"conditions": {"colour": "red"}}, {"conditions.colour"}),
        ({"ends_at": "2024-01-01T00:00:00Z"}, {"ends_at"}),
        ({"starts_at": "2025-01-01T00:00:00"}, {"starts_at"}),
        ({"starts_at": OMIT}, {"starts_at"}),
        ({"usage_limit": 0}, {"usage_limit"}),
        ({"name": " "}, {"name"}),
        ({"times_used": 3}, {"times_used"}),
    ],
)
async def test_bad_values_are_422_on_their_field_and_change_nothing(
    client: Client, admin: Caller, pool: asyncpg.Pool, overrides: dict[str, Any], fields: set[str]
) -> None:
    await expect_refused(client, admin, pool, overrides, fields)


async def expect_refused(
    client: Client, admin: Caller, pool: asyncpg.Pool, overrides: dict[str, Any], fields: set[str]
) -> None:
    """POST with `overrides` is a 422 naming exactly `fields`, and no promotion is written."""
    body = expect_error(
        await client.post(PROMOTIONS, json=promotion_body(**overrides), headers=admin.headers),
        422,
        "VALIDATION_FAILED",
    )

    assert set(field_errors(body)) == fields
    assert await count_promotions(pool) == 0


async def test_unknown_ids_are_404(client: Client, admin: Caller) -> None:
    missing = f"{PROMOTIONS}/00000000-0000-4000-8000-000000000000"
    expect_error(await client.get(missing, headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.put(missing, json=promotion_body(), headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.delete(missing, headers=admin.headers), 404, "NOT_FOUND")


async def test_only_admins_read_and_write_promotions(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    created = await create_promotion(client, admin)

    for headers in (shopper.headers, service_key):
        expect_error(await client.post(PROMOTIONS, json=promotion_body(), headers=headers), 403, "FORBIDDEN")
        expect_error(await client.get(PROMOTIONS, headers=headers), 403, "FORBIDDEN")
        expect_error(await client.get(f"{PROMOTIONS}/{created['id']}", headers=headers), 403, "FORBIDDEN")
        expect_error(await client.delete(f"{PROMOTIONS}/{created['id']}", headers=headers), 403, "FORBIDDEN")

    assert await count_promotions(pool) == 1
