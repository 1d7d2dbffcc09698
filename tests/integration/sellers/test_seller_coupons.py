"""A seller's own coupons (docs/sellers.md): on its own products only, funded by itself; another
seller's coupon, or the platform's, is 404."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from tests.integration.conftest import Caller
from tests.integration.coupons.test_coupons_api import coupon_body, create_coupon
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.sellers.conftest import Client

COUPONS = "/api/v1/coupons"


def mine(*product_ids: str, **overrides: Any) -> dict[str, Any]:
    return coupon_body(code="CASE10", product_ids=list(product_ids), **overrides)


async def test_a_sellers_coupon_discounts_its_own_lines_only(
    client: Client,
    admin: Caller,
    seller: Caller,
    own: dict[str, Any],
    theirs: dict[str, Any],
    service_key: dict[str, str],
) -> None:
    made = expect_ok(
        await client.post(COUPONS, json=mine(own["id"], funded_by="platform"), headers=seller.headers), 201
    )
    assert (made["funded_by"], made["seller_id"], made["product_ids"]) == ("seller", "seller-1", [own["id"]])
    quote = {
        "customer_id": "c-1",
        "currency": "TRY",
        "items": [{"product_id": own["id"], "quantity": 1}, {"product_id": theirs["id"], "quantity": 1}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "coupon_codes": ["case10"],
    }
    priced = expect_ok(await client.post("/api/v1/quote", json=quote, headers=service_key))
    assert [c["code"] for c in priced["applied_coupons"]] == ["CASE10"]
    assert priced["discount_amount"] == "2.55"  # 10 % of its own 25.50, nothing of seller-2's 25.50
    url = f"{COUPONS}/case10"
    body = {k: v for k, v in mine(own["id"], value=12).items() if k != "code"}
    assert expect_ok(await client.put(url, json=body, headers=seller.headers))["value"] == "12"
    assert [c["code"] for c in expect_ok(await client.get(COUPONS, headers=seller.headers))["items"]] == ["CASE10"]
    assert expect_ok(await client.delete(url, headers=seller.headers))["is_active"] is False
    audit = expect_ok(await client.get("/api/v1/audit", params={"entity_id": "CASE10"}, headers=admin.headers))
    assert {row["actor"]["kind"] for row in audit["items"]} == {"seller"}


async def test_a_coupon_reaching_beyond_the_sellers_products_is_refused(
    client: Client, seller: Caller, own: dict[str, Any], theirs: dict[str, Any], pool: asyncpg.Pool
) -> None:
    cases = [
        (mine(own["id"], theirs["id"]), {"product_ids[1]"}),
        (mine(category_ids=["electronics"]), {"category_ids", "product_ids"}),
        (mine(own["id"], category_ids=["electronics"]), {"category_ids"}),
        (mine(), {"product_ids"}),
        (mine("SKU-1"), {"product_ids[0]"}),
        (mine(own["id"], type="FREE_DELIVERY", value=0), {"type"}),
    ]
    for body, fields in cases:
        refused = expect_error(await client.post(COUPONS, json=body, headers=seller.headers), 422, "VALIDATION_FAILED")
        assert set(field_errors(refused)) == fields, body
    assert await pool.fetchval("SELECT count(*) FROM coupons") == 0


async def test_another_sellers_or_the_platforms_coupon_is_not_found(
    client: Client,
    admin: Caller,
    seller: Caller,
    rival: Caller,
    own: dict[str, Any],
    theirs: dict[str, Any],
    pool: asyncpg.Pool,
) -> None:
    await create_coupon(client, admin, code="PLATFORM5")
    expect_ok(
        await client.post(COUPONS, json=coupon_body(code="RIVAL", product_ids=[theirs["id"]]), headers=rival.headers),
        201,
    )
    before = [dict(r) for r in await pool.fetch("SELECT * FROM coupons ORDER BY code")]
    for code in ("platform5", "RIVAL", "NOSUCH"):
        url = f"{COUPONS}/{code}"
        body = {k: v for k, v in mine(own["id"]).items() if k != "code"}
        for method, sent in [("GET", None), ("PUT", body), ("DELETE", None)]:
            found = expect_error(await client.request(method, url, json=sent, headers=seller.headers), 404, "NOT_FOUND")
            assert found["message"] == f"coupon {code!r} not found"
        for method in ("GET", "POST"):  # generated code batches stay the platform's
            expect_error(
                await client.request(method, f"{url}/codes", json={"count": 1}, headers=seller.headers),
                403,
                "FORBIDDEN",
            )
    assert expect_ok(await client.get(COUPONS, headers=seller.headers))["items"] == []
    assert [dict(r) for r in await pool.fetch("SELECT * FROM coupons ORDER BY code")] == before
    kept = expect_ok(
        await client.put(
            f"{COUPONS}/rival",
            json={k: v for k, v in coupon_body(product_ids=[theirs["id"]]).items() if k != "code"},
            headers=admin.headers,
        )
    )
    assert kept["seller_id"] == "seller-2"


async def test_creating_a_taken_code_answers_the_same_whoever_holds_it(
    client: Client, admin: Caller, seller: Caller, rival: Caller, own: dict[str, Any], theirs: dict[str, Any]
) -> None:
    """A code is the marketplace's (a shopper types it): a seller learns that one is taken, never
    by whom. Its own coupon, another seller's, the platform's and a generated code of a batch
    answer one and the same 409; reading another's answers as an unknown code does."""
    expect_ok(await client.post(COUPONS, json=mine(own["id"]), headers=seller.headers), 201)
    rivals = coupon_body(code="RIVAL", product_ids=[theirs["id"]])
    expect_ok(await client.post(COUPONS, json=rivals, headers=rival.headers), 201)
    await create_coupon(client, admin, code="PLATFORM5")
    expect_ok(await client.post(f"{COUPONS}/platform5/codes", json={"count": 1}, headers=admin.headers), 201)
    [generated] = expect_ok(await client.get(f"{COUPONS}/platform5/codes", headers=admin.headers))["items"]

    answers = {}
    for code in ("CASE10", "RIVAL", "PLATFORM5", generated["code"]):
        refused = expect_error(
            await client.post(COUPONS, json={**mine(own["id"]), "code": code}, headers=seller.headers),
            409,
            "DUPLICATE_KEY",
        )
        answers[code] = msgspec.json.encode(refused).decode().replace(code, "<code>")
    assert len(set(answers.values())) == 1, answers
    assert set(field_errors(refused)) == {"code"}
    for method in ("GET", "DELETE"):
        unknown = await client.request(method, f"{COUPONS}/NOSUCH", headers=seller.headers)
        another = await client.request(method, f"{COUPONS}/RIVAL", headers=seller.headers)
        assert (another.status_code, another.text.replace("RIVAL", "NOSUCH")) == (unknown.status_code, unknown.text)
