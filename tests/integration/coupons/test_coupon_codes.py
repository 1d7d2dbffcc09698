"""Coupon code batches (docs/promotions.md, docs/promotions.md#code-batches): generated fast and unique,
listed as CSV with their use, priced as their coupon, each redeemed once under any concurrency."""

from __future__ import annotations

import csv
import io
import time
import uuid
from typing import Any

import asyncpg
import pytest

from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.orders.test_orders_api import coupon, key
from tests.integration.promotions.test_promotion_quotes import Client, books, outcomes, quote_of
from tests.integration.servers import RaceServer

CODES = "/api/v1/coupons/{}/codes"


async def batch(client: Client, admin: Caller, code: str, **body: Any) -> dict[str, Any]:
    made: dict[str, Any] = expect_ok(await client.post(CODES.format(code), json=body, headers=admin.headers), 201)
    return made


async def listed(client: Client, admin: Caller, code: str, **params: str) -> list[dict[str, str]]:
    response = await client.get(CODES.format(code), params={"format": "csv", **params}, headers=admin.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_ten_thousand_codes_are_generated_in_under_five_seconds_unique_and_listed_as_csv(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    await coupon(client, admin, "SPRING")
    await coupon(client, admin, "OTHER")
    other = await batch(client, admin, "other", count=50, length=8)

    started = time.perf_counter()
    made = await batch(client, admin, "spring", count=10_000, prefix="sp-")
    took = time.perf_counter() - started

    assert took < 5, f"10,000 codes took {took:.2f} s"
    assert made["count"] == 10_000
    rows = await listed(client, admin, "SPRING", batch_id=made["batch_id"])
    assert len(rows) == 10_000
    assert list(rows[0]) == ["code", "used_at", "order_id"]
    assert len({row["code"] for row in rows}) == 10_000
    assert all(row["code"].startswith("SP-") and len(row["code"]) == 13 for row in rows)
    assert all(row["used_at"] == row["order_id"] == "" for row in rows)
    others = await listed(client, admin, "other")
    assert len(others) == 50
    assert not {row["code"] for row in others} & {row["code"] for row in rows}
    assert (
        await pool.fetchval("SELECT count(*) FROM coupon_codes WHERE batch_id = $1", uuid.UUID(other["batch_id"])) == 50
    )
    page = expect_ok(await client.get(CODES.format("spring"), params={"limit": 2}, headers=admin.headers))
    assert [item["code"] for item in page["items"]] == sorted(row["code"] for row in rows)[:2]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"count": 0}, {"count"}),
        ({"count": 100_001}, {"count"}),
        ({"count": 5, "prefix": "a b"}, {"prefix"}),
        ({"count": 5, "length": 5}, {"length"}),
        ({"count": 5, "colour": "red"}, {"colour"}),
        ({}, {"count"}),
    ],
)
async def test_bad_batches_are_422_on_their_field_and_write_nothing(
    client: Client, admin: Caller, pool: asyncpg.Pool, body: dict[str, Any], fields: set[str]
) -> None:
    await coupon(client, admin, "SPRING")

    refused = expect_error(
        await client.post(CODES.format("SPRING"), json=body, headers=admin.headers), 422, "VALIDATION_FAILED"
    )

    assert set(field_errors(refused)) == fields
    assert await pool.fetchval("SELECT count(*) FROM coupon_code_batches") == 0


async def test_unknown_coupons_are_404_and_only_admins_generate(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    await coupon(client, admin, "SPRING")

    expect_error(await client.post(CODES.format("NOPE"), json={"count": 1}, headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.get(CODES.format("NOPE"), headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.post(CODES.format("SPRING"), json={"count": 1}, headers=service_key), 403, "FORBIDDEN")


async def test_a_code_prices_as_its_coupon_and_the_first_of_racing_orders_wins_it(
    client: Client, server: RaceServer, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    await coupon(client, admin, "SPRING")  # 10 %
    made = await batch(client, admin, "SPRING", count=3)
    code = (await listed(client, admin, "SPRING"))[0]["code"]
    baskets = [await books(client, admin, "40.00") for _ in range(8)]
    quotes = [await quote_of(client, service_key, basket, coupon_codes=[code.lower()]) for basket in baskets]
    assert {(q["applied_coupons"][0]["code"], q["applied_coupons"][0]["amount"]) for q in quotes} == {(code, "4.00")}

    responses = await server.race(
        len(quotes),
        lambda http, n: http.post(
            "/api/v1/orders", json={"quote_id": quotes[n]["quote_id"]}, headers={**service_key, **key()}
        ),
    )

    assert outcomes(responses) == {(201, "ok"): 1, (409, "COUPON_EXHAUSTED"): 7}
    refused = expect_error(next(r for r in responses if r.status_code == 409), 409, "COUPON_EXHAUSTED")
    assert set(field_errors(refused)) == {"applied_coupons[0]"}
    winner = next(r for r in responses if r.status_code == 201).json()["data"]
    assert winner["applied_coupons"] == [{"code": code, "type": "PERCENTAGE", "amount": "4.00"}]
    used = [row for row in await listed(client, admin, "SPRING", batch_id=made["batch_id"]) if row["used_at"]]
    assert [(row["code"], row["order_id"]) for row in used] == [(code, winner["id"])]
    assert await pool.fetchval("SELECT count(*) FROM orders") == 1
    assert (
        await pool.fetchval("SELECT times_used FROM coupons WHERE code = 'SPRING'") == 0
    )  # the code's use, not the coupon's

    again = await quote_of(client, service_key, baskets[0], coupon_codes=[code])
    assert again["rejected_coupons"] == [{"code": code, "reason": "USAGE_LIMIT"}]
    expect_ok(await client.post(f"/api/v1/orders/{winner['id']}/cancel", json={}, headers={**service_key, **key()}))
    freed = await quote_of(client, service_key, baskets[1], coupon_codes=[code])
    assert [c["code"] for c in freed["applied_coupons"]] == [code]
