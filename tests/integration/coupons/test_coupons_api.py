"""Coupons over HTTP (docs/pricing.md): CRUD by case-insensitive code, validation, roles, config version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from quote_service.coupons import repository
from quote_service.pricing.coupons import Coupon
from tests.cluster_fixtures import redis_client
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.versions import durable_config_version

Client = AsyncTestClient[Litestar]
COUPONS = "/api/v1/coupons"
OMIT = object()


def coupon_body(**overrides: Any) -> dict[str, Any]:
    """A valid 10 % coupon `save10`, changed by `overrides` (OMIT drops a field)."""
    body: dict[str, Any] = {
        "code": "save10",
        "type": "PERCENTAGE",
        "value": 10,
        "valid_from": "2025-01-01T00:00:00+03:00",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not OMIT}


def put_body(**overrides: Any) -> dict[str, Any]:
    return {k: v for k, v in coupon_body(**overrides).items() if k != "code"}


async def create_coupon(client: Client, admin: Caller, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = expect_ok(
        await client.post(COUPONS, json=coupon_body(**overrides), headers=admin.headers), 201
    )
    return data


async def count_coupons(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM coupons")
    return count


# --- CRUD ------------------------------------------------------------------------------------------


async def test_create_answers_201_with_the_stored_coupon(client: Client, admin: Caller) -> None:
    created = await create_coupon(
        client,
        admin,
        value="12.5",
        currency="eur",
        min_subtotal=50,
        max_discount="20",
        category_ids=["books", "toys", "books"],
        valid_to="2026-01-01T00:00:00Z",
        usage_limit=100,
        per_customer_limit=1,
    )

    assert created == {
        "code": "SAVE10",
        "type": "PERCENTAGE",
        "value": "12.5",
        "currency": "EUR",
        "min_subtotal": "50.00",
        "max_discount": "20.00",
        "category_ids": ["books", "toys"],
        "valid_from": "2024-12-31T21:00:00Z",
        "valid_to": "2026-01-01T00:00:00Z",
        "usage_limit": 100,
        "per_customer_limit": 1,
        "is_active": True,
        "times_used": 0,
        "funded_by": "seller",
        "on_reduced_lines": "stack",
        "created_by": "admin",
        "updated_by": "admin",
        "created_at": created["created_at"],
        "updated_at": created["updated_at"],
    }


@pytest.mark.parametrize(
    ("overrides", "value", "currency"),
    [
        ({"type": "FIXED", "value": "5", "currency": "EUR"}, "5.00", "EUR"),
        ({"type": "FIXED", "value": 500, "currency": "JPY"}, "500", "JPY"),
        ({"type": "FREE_DELIVERY", "value": OMIT}, "0", None),
        ({"type": "FREE_DELIVERY", "value": 0}, "0", None),
        ({"type": "PERCENTAGE", "value": 100}, "100", None),
        ({"type": "PERCENTAGE", "value": "0.0001"}, "0.0001", None),
    ],
)
async def test_values_by_type(
    client: Client, admin: Caller, overrides: dict[str, Any], value: str, currency: str | None
) -> None:
    created = await create_coupon(client, admin, **overrides)

    assert (created["value"], created["currency"]) == (value, currency)


async def test_codes_are_case_insensitive(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    created = await create_coupon(client, admin, code="Summer-Sale_1")

    assert created["code"] == "SUMMER-SALE_1"
    assert expect_ok(await client.get(f"{COUPONS}/summer-sale_1", headers=admin.headers)) == created
    expect_error(
        await client.post(COUPONS, json=coupon_body(code="SUMMER-sale_1"), headers=admin.headers),
        409,
        "DUPLICATE_KEY",
    )
    assert await count_coupons(pool) == 1


async def test_put_replaces_every_mutable_field(client: Client, admin: Caller) -> None:
    created = await create_coupon(client, admin, category_ids=["books"], usage_limit=5)

    updated = expect_ok(
        await client.put(
            f"{COUPONS}/Save10",
            json=put_body(type="FIXED", value="7.50", currency="USD", is_active=False),
            headers=admin.headers,
        )
    )

    assert (updated["code"], updated["type"], updated["value"], updated["currency"], updated["is_active"]) == (
        "SAVE10",
        "FIXED",
        "7.50",
        "USD",
        False,
    )
    assert updated["category_ids"] == []  # PUT replaces: omitted means none
    assert updated["usage_limit"] is None
    assert updated["created_at"] == created["created_at"]
    body = expect_error(
        await client.put(f"{COUPONS}/SAVE10", json=coupon_body(), headers=admin.headers), 422, "VALIDATION_FAILED"
    )
    assert field_errors(body) == {"code": "unknown field"}


async def test_delete_deactivates_and_keeps_the_coupon(client: Client, admin: Caller) -> None:
    await create_coupon(client, admin)

    deleted = expect_ok(await client.delete(f"{COUPONS}/save10", headers=admin.headers))
    again = expect_ok(await client.delete(f"{COUPONS}/SAVE10", headers=admin.headers))

    assert deleted["is_active"] is False
    assert again["is_active"] is False
    assert expect_ok(await client.get(f"{COUPONS}/SAVE10", headers=admin.headers))["is_active"] is False
    # The code stays taken; reactivating is a PUT.
    expect_error(await client.post(COUPONS, json=coupon_body(), headers=admin.headers), 409, "DUPLICATE_KEY")
    assert expect_ok(await client.put(f"{COUPONS}/SAVE10", json=put_body(), headers=admin.headers))["is_active"]


async def test_list_pages_by_code_and_filters_on_is_active(client: Client, admin: Caller) -> None:
    for code in ("CCC", "aaa", "DDD", "bbb"):
        await create_coupon(client, admin, code=code, is_active=code != "DDD")

    first = expect_ok(await client.get(COUPONS, params={"limit": 3}, headers=admin.headers))
    rest = expect_ok(
        await client.get(COUPONS, params={"limit": 3, "cursor": first["next_cursor"]}, headers=admin.headers)
    )
    inactive = expect_ok(await client.get(COUPONS, params={"is_active": "false"}, headers=admin.headers))

    assert [c["code"] for c in first["items"]] == ["AAA", "BBB", "CCC"]
    assert [c["code"] for c in rest["items"]] == ["DDD"]
    assert rest["next_cursor"] is None
    assert [c["code"] for c in inactive["items"]] == ["DDD"]


async def test_unknown_codes_are_404(client: Client, admin: Caller) -> None:
    expect_error(await client.get(f"{COUPONS}/NOPE", headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.put(f"{COUPONS}/NOPE", json=put_body(), headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.delete(f"{COUPONS}/NOPE", headers=admin.headers), 404, "NOT_FOUND")


# --- Validation ------------------------------------------------------------------------------------


async def test_every_bad_field_is_reported_and_nothing_is_written(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    body = coupon_body(
        code="bad code!",
        type="FIXED",
        value="5.005",
        currency="EUR",
        min_subtotal="-1",
        max_discount="0",
        valid_to="2024-12-31T00:00:00Z",
    )

    errors = field_errors(
        expect_error(await client.post(COUPONS, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")
    )

    assert set(errors) == {"code", "value", "min_subtotal", "max_discount", "valid_to"}
    assert await count_coupons(pool) == 0


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"value": 0}, {"value"}),
        ({"value": "100.01"}, {"value"}),
        ({"value": "12.34567"}, {"value"}),
        ({"value": "NaN"}, {"value"}),
        ({"value": "sNaN"}, {"value"}),
        ({"value": None}, {"value"}),
        ({"type": "FIXED", "value": 5}, {"currency"}),
        ({"type": "FIXED", "value": -5, "currency": "EUR"}, {"value"}),
        ({"type": "FIXED", "value": "Infinity", "currency": "EUR"}, {"value"}),
        ({"type": "FIXED", "value": 5, "currency": "XYZ"}, {"currency"}),
        ({"type": "FREE_DELIVERY", "value": 5}, {"value"}),
        ({"min_subtotal": 20}, {"currency"}),
        ({"max_discount": 20}, {"currency"}),
        ({"code": "X" * 33}, {"code"}),
        ({"code": ""}, {"code"}),
        ({"code": "ÄPFEL"}, {"code"}),
        ({"usage_limit": 0}, {"usage_limit"}),
        ({"per_customer_limit": 0}, {"per_customer_limit"}),
        ({"valid_from": "2025-01-01T00:00:00"}, {"valid_from"}),
        ({"valid_to": "2025-01-01T00:00:00+03:00"}, {"valid_to"}),
        ({"type": "BOGO"}, {"type"}),
        ({"times_used": 3}, {"times_used"}),
    ],
)
async def test_bad_values_are_422_on_their_field(
    client: Client, admin: Caller, overrides: dict[str, Any], fields: set[str]
) -> None:
    body = expect_error(
        await client.post(COUPONS, json=coupon_body(**overrides), headers=admin.headers), 422, "VALIDATION_FAILED"
    )

    assert set(field_errors(body)) == fields


async def test_valid_from_is_required(client: Client, admin: Caller) -> None:
    body = coupon_body(valid_from=OMIT)

    errors = field_errors(
        expect_error(await client.post(COUPONS, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")
    )

    assert set(errors) == {"valid_from"}


async def test_lookups_and_values_postgresql_cannot_take_are_404_or_422(client: Client, admin: Caller) -> None:
    expect_error(await client.get(f"{COUPONS}/%00", headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.put(f"{COUPONS}/%00", json=put_body(), headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.delete(f"{COUPONS}/bad%20code", headers=admin.headers), 404, "NOT_FOUND")
    expect_error(
        await client.get(COUPONS, params={"cursor": "ImFcdTAwMDAi"}, headers=admin.headers), 422, "VALIDATION_FAILED"
    )
    body = expect_error(
        await client.post(COUPONS, json=coupon_body(category_ids=["bo\u0000oks"]), headers=admin.headers),
        422,
        "VALIDATION_FAILED",
    )
    assert set(field_errors(body)) == {"category_ids[0]"}


# --- Roles and configuration version ---------------------------------------------------------------


async def test_only_admins_read_and_write_coupons(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    await create_coupon(client, admin)

    for headers in (shopper.headers, service_key):
        expect_error(await client.post(COUPONS, json=coupon_body(code="OTHER"), headers=headers), 403, "FORBIDDEN")
        expect_error(await client.get(COUPONS, headers=headers), 403, "FORBIDDEN")
        expect_error(await client.get(f"{COUPONS}/SAVE10", headers=headers), 403, "FORBIDDEN")
        expect_error(await client.put(f"{COUPONS}/SAVE10", json=put_body(), headers=headers), 403, "FORBIDDEN")
        expect_error(await client.delete(f"{COUPONS}/SAVE10", headers=headers), 403, "FORBIDDEN")

    assert await count_coupons(pool) == 1
    stored = expect_ok(await client.get(f"{COUPONS}/SAVE10", headers=admin.headers))
    assert stored["is_active"] is True


@pytest.mark.redis_backends  # Redis key layout, Lua or slots: on a Redis Cluster too
async def test_every_write_bumps_the_config_version_and_refusals_do_not(
    client: Client, admin: Caller, settings: Settings
) -> None:
    assert settings.redis_url is not None
    redis = redis_client(settings.redis_url)

    async def version() -> int:
        return await durable_config_version(settings)

    try:
        start = await version()
        await create_coupon(client, admin)
        assert await version() == start + 1
        expect_ok(await client.put(f"{COUPONS}/SAVE10", json=put_body(value=15), headers=admin.headers))
        assert await version() == start + 2
        expect_ok(await client.delete(f"{COUPONS}/SAVE10", headers=admin.headers))
        assert await version() == start + 3

        expect_error(
            await client.post(COUPONS, json=coupon_body(value=0, code="X"), headers=admin.headers),
            422,
            "VALIDATION_FAILED",
        )
        expect_error(await client.post(COUPONS, json=coupon_body(), headers=admin.headers), 409, "DUPLICATE_KEY")
        expect_error(await client.put(f"{COUPONS}/NOPE", json=put_body(), headers=admin.headers), 404, "NOT_FOUND")
        expect_ok(await client.get(COUPONS, headers=admin.headers))
        assert await version() == start + 3
    finally:
        await redis.aclose()


# --- What the configuration snapshot loads ---------------------------------------------------------


async def test_load_active_keeps_all_but_long_expired_coupons(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    await create_coupon(client, admin, code="live", type="FIXED", value="5", currency="EUR", category_ids=["books"])
    await create_coupon(client, admin, code="future", valid_from="2999-01-01T00:00:00Z")
    await create_coupon(client, admin, code="off", is_active=False)
    await create_coupon(client, admin, code="over", valid_to="2025-01-02T00:00:00Z")
    recently = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    await create_coupon(client, admin, code="recent", valid_to=recently)

    async with pool.acquire() as conn:
        coupons = await repository.load_active(conn)

    # Future, inactive and recently expired coupons stay so a quote can say NOT_STARTED, INACTIVE
    # or EXPIRED; one that expired more than 90 days ago is left out (NOT_FOUND).
    assert [c.code for c in coupons] == ["FUTURE", "LIVE", "OFF", "RECENT"]
    assert coupons[1] == Coupon(
        code="LIVE",
        type="FIXED",
        value=Decimal("5"),
        currency="EUR",
        category_ids=frozenset({"books"}),
        valid_from=datetime(2024, 12, 31, 21, 0, tzinfo=UTC),
    )
