"""A seller's own promotions (docs/sellers.md): on its own products only, funded by itself; another
seller's promotion, or the platform's, is 404."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.promotions.test_promotions_api import PROMOTIONS, create_promotion
from tests.integration.sellers.conftest import Client

UNKNOWN = "00000000-0000-0000-0000-00000000abcd"


def ten_off(*product_ids: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "10 % off my cases",
        "kind": "PERCENT_OFF",
        "config": {"percent": "10"},
        "conditions": {"product_ids": list(product_ids)},
        "starts_at": "2025-01-01T00:00:00Z",
    }
    body.update(overrides)
    return body


async def test_a_seller_runs_its_own_promotion_funded_by_itself(
    client: Client, admin: Caller, seller: Caller, own: dict[str, Any], service_key: dict[str, str]
) -> None:
    body = ten_off(own["id"], funded_by="platform")
    made = expect_ok(await client.post(PROMOTIONS, json=body, headers=seller.headers), 201)
    assert (made["funded_by"], made["seller_id"]) == ("seller", "seller-1")
    url = f"{PROMOTIONS}/{made['id']}"
    expect_ok(
        await client.put(
            url, json=ten_off(own["id"], name="12 % off", config={"percent": "12"}), headers=seller.headers
        )
    )
    assert expect_ok(await client.get(url, headers=seller.headers))["name"] == "12 % off"
    assert [p["id"] for p in expect_ok(await client.get(PROMOTIONS, headers=seller.headers))["items"]] == [made["id"]]

    quote = {
        "customer_id": "c-1",
        "currency": "TRY",
        "items": [{"product_id": own["id"], "quantity": 1}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
    }
    priced = expect_ok(await client.post("/api/v1/quote", json=quote, headers=service_key))
    assert [p["promotion_id"] for p in priced["applied_promotions"]] == [made["id"]]
    assert priced["discount_amount"] == "3.06"  # 12 % of 25.50

    assert expect_ok(await client.delete(url, headers=seller.headers))["is_active"] is False
    audit = expect_ok(await client.get("/api/v1/audit", params={"entity_id": made["id"]}, headers=admin.headers))
    assert {row["actor"]["kind"] for row in audit["items"]} == {"seller"}


async def test_a_promotion_reaching_beyond_the_sellers_products_is_refused(
    client: Client, seller: Caller, own: dict[str, Any], theirs: dict[str, Any], pool: asyncpg.Pool
) -> None:
    cases = [
        (ten_off(own["id"], theirs["id"]), {"conditions.product_ids[1]"}),
        (ten_off(conditions={"category_ids": ["electronics"]}), {"conditions.category_ids", "conditions.product_ids"}),
        (
            ten_off(own["id"], conditions={"product_ids": [own["id"]], "category_ids": ["electronics"]}),
            {"conditions.category_ids"},
        ),
        (ten_off(), {"conditions.product_ids"}),
        (ten_off("not-a-product"), {"conditions.product_ids[0]"}),
        (
            ten_off(
                own["id"],
                kind="BUY_X_GET_Y",
                config={
                    "buy": {"quantity": 1, "product_ids": [own["id"]]},
                    "get": {"quantity": 1, "category_ids": ["electronics"], "percent_off": 100},
                },
            ),
            {"config.get.category_ids"},
        ),
        (
            ten_off(
                own["id"],
                kind="BUY_X_GET_Y",
                config={
                    "buy": {"quantity": 1, "product_ids": [own["id"]]},
                    "get": {"quantity": 1, "product_ids": [theirs["id"]], "percent_off": 100},
                },
            ),
            {"config.get.product_ids[0]"},
        ),
    ]
    for body, fields in cases:
        refused = expect_error(
            await client.post(PROMOTIONS, json=body, headers=seller.headers), 422, "VALIDATION_FAILED"
        )
        assert set(field_errors(refused)) == fields, body
    assert await pool.fetchval("SELECT count(*) FROM promotions") == 0


async def test_another_sellers_or_the_platforms_promotion_is_not_found(
    client: Client,
    admin: Caller,
    seller: Caller,
    rival: Caller,
    own: dict[str, Any],
    theirs: dict[str, Any],
    pool: asyncpg.Pool,
) -> None:
    platform = await create_promotion(client, admin)
    rivals = expect_ok(await client.post(PROMOTIONS, json=ten_off(theirs["id"]), headers=rival.headers), 201)
    before = [dict(r) for r in await pool.fetch("SELECT * FROM promotions ORDER BY id")]
    for promotion_id in (platform["id"], rivals["id"], UNKNOWN):
        url = f"{PROMOTIONS}/{promotion_id}"
        for method, body in [("GET", None), ("PUT", ten_off(own["id"])), ("DELETE", None)]:
            found = expect_error(await client.request(method, url, json=body, headers=seller.headers), 404, "NOT_FOUND")
            assert found["message"] == f"promotion {promotion_id} not found"
    assert expect_ok(await client.get(PROMOTIONS, headers=seller.headers))["items"] == []
    assert [dict(r) for r in await pool.fetch("SELECT * FROM promotions ORDER BY id")] == before
    # The admin sees and keeps every promotion; its PUT keeps a seller's promotion the seller's.
    listed = expect_ok(await client.get(PROMOTIONS, headers=admin.headers))["items"]
    assert {p["id"] for p in listed} == {platform["id"], rivals["id"]}
    assert "seller_id" not in platform
    kept = expect_ok(
        await client.put(f"{PROMOTIONS}/{rivals['id']}", json=ten_off(theirs["id"]), headers=admin.headers)
    )
    assert kept["seller_id"] == "seller-2"
