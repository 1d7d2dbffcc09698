"""Offers over HTTP (docs/offers.md): admin and seller CRUD with its refusals, price history per offer,
the audit log and `offer.updated`, the ranking by landed price, quotes that name or pick an offer and the
line's seller downstream, and orders that take the offer's stock and give it back on a cancel (order edits of
offer lines: test_offer_edits.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import PRODUCTS, create_product
from tests.integration.conftest import Caller, make_caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.shipping.test_shipping_profiles_api import create_profile, option

Client = AsyncTestClient[Litestar]
OFFERS = "/api/v1/offers"
QUOTE = "/api/v1/quote"


async def make_offer(client: Client, caller: Caller, product: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {"product_id": product["id"], "seller_id": "seller-b", "current_price": "35.00", "stock": 5, **fields}
    data: dict[str, Any] = expect_ok(await client.post(OFFERS, json=body, headers=caller.headers), 201)
    return data


async def quote(client: Client, headers: dict[str, str], *items: dict[str, Any], **fields: Any) -> Any:
    body = {
        "customer_id": "c-1",
        "items": list(items),
        "delivery_address": {"city": "Ankara", "country": "TR"},
        "currency": "TRY",
        **fields,
    }
    return await client.post(QUOTE, json=body, headers=headers)


@pytest.fixture
async def product(client: Client, admin: Caller) -> dict[str, Any]:
    """seller-a's product at 40.00, 10 in stock (its default offer)."""
    return await create_product(
        client, admin, seller_id="seller-a", base_price="40.00", min_price="0", cost_price="0", stock=10
    )


@pytest.fixture
async def seller_b(settings: Settings, password_hash: str) -> Caller:
    return await make_caller(settings, password_hash, "offer-b", "seller", seller_id="seller-b")


async def test_an_admin_creates_lists_and_deactivates_an_offer(
    client: Client, admin: Caller, product: dict[str, Any]
) -> None:
    offer = await make_offer(client, admin, product, condition="refurbished")
    assert offer["seller_id"] == "seller-b"
    assert offer["currency"] == "TRY"
    assert (offer["current_price"], offer["base_price"], offer["min_price"]) == ("35.00", "35.00", "0.00")
    assert offer["condition"] == "refurbished"
    assert offer["is_active"] is True

    listed = expect_ok(await client.get(OFFERS, params={"product_id": product["id"]}, headers=admin.headers))
    assert [o["id"] for o in listed["items"]] == [offer["id"]]

    again = await client.post(
        OFFERS,
        json={"product_id": product["id"], "seller_id": "seller-b", "current_price": "30"},
        headers=admin.headers,
    )
    expect_error(again, 409, "OFFER_EXISTS")
    own = await client.post(
        OFFERS,
        json={"product_id": product["id"], "seller_id": "seller-a", "current_price": "30"},
        headers=admin.headers,
    )
    expect_error(own, 409, "OFFER_EXISTS")

    off = expect_ok(await client.patch(f"{OFFERS}/{offer['id']}", json={"is_active": False}, headers=admin.headers))
    assert off["is_active"] is False
    await make_offer(client, admin, product, current_price="33.00")  # the pair is free again


async def test_bad_offers_are_refused_naming_their_fields(
    client: Client, admin: Caller, product: dict[str, Any]
) -> None:
    body = {"product_id": product["id"], "seller_id": "seller-b", "current_price": "35.001", "min_price": "36"}
    fields = field_errors(
        expect_error(await client.post(OFFERS, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")
    )
    assert "current_price" in fields
    missing = {"product_id": product["id"], "current_price": "35"}
    fields = field_errors(
        expect_error(await client.post(OFFERS, json=missing, headers=admin.headers), 422, "VALIDATION_FAILED")
    )
    assert set(fields) == {"seller_id"}
    listed = expect_ok(await client.get(OFFERS, headers=admin.headers))
    assert listed["items"] == []


async def test_price_moves_keep_history_per_offer_are_audited_and_emit_offer_updated(
    client: Client, admin: Caller, product: dict[str, Any], pool: Any
) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO webhooks (url, events, secret, created_by, updated_by) "
            "VALUES ('https://h.example/x', '{offer.updated}', 's', 't', 't')"
        )
    offer = await make_offer(client, admin, product)
    moved = await client.patch(
        f"{OFFERS}/{offer['id']}",
        json={"current_price": "31.00", "price_change_reason": "match"},
        headers=admin.headers,
    )
    assert expect_ok(moved)["current_price"] == "31.00"

    history = expect_ok(await client.get(f"{OFFERS}/{offer['id']}/price-history", headers=admin.headers))["items"]
    assert [(h["old_price"], h["new_price"], h["source"]) for h in history] == [
        ("35.00", "31.00", "manual"),
        (None, "35.00", "manual"),
    ]
    async with pool.acquire() as conn:
        audited = await conn.fetch(
            "SELECT action FROM audit_log WHERE entity_type = 'offer' AND entity_id = $1 ORDER BY id", offer["id"]
        )
        sent = await conn.fetch(
            "SELECT body::jsonb -> 'data' -> 'offer' ->> 'current_price' AS p"
            " FROM webhook_events WHERE type = 'offer.updated' ORDER BY id"
        )
    assert [r["action"] for r in audited][:1] == ["create"]
    assert len(audited) >= 2
    assert [r["p"] for r in sent] == ["35.00", "31.00"]


async def test_a_seller_manages_its_own_offers_only(
    client: Client, admin: Caller, product: dict[str, Any], seller_b: Caller
) -> None:
    body = {"product_id": product["id"], "current_price": "35.00", "stock": 3}
    mine = expect_ok(await client.post(OFFERS, json=body, headers=seller_b.headers), 201)
    assert mine["seller_id"] == "seller-b"
    other = {**body, "seller_id": "seller-c"}
    expect_error(await client.post(OFFERS, json=other, headers=seller_b.headers), 403, "FORBIDDEN")
    theirs = await make_offer(client, admin, product, seller_id="seller-c")
    expect_error(await client.get(f"{OFFERS}/{theirs['id']}", headers=seller_b.headers), 404, "NOT_FOUND")
    expect_error(
        await client.patch(f"{OFFERS}/{theirs['id']}", json={"stock": 1}, headers=seller_b.headers), 404, "NOT_FOUND"
    )
    listed = expect_ok(await client.get(OFFERS, headers=seller_b.headers))
    assert [o["id"] for o in listed["items"]] == [mine["id"]]

    small = await client.patch(f"{OFFERS}/{mine['id']}", json={"current_price": "33.00"}, headers=seller_b.headers)
    assert expect_ok(small)["current_price"] == "33.00"
    history = expect_ok(await client.get(f"{OFFERS}/{mine['id']}/price-history", headers=seller_b.headers))["items"]
    assert history[0]["source"] == "seller"

    big = await client.patch(f"{OFFERS}/{mine['id']}", json={"current_price": "15.00"}, headers=seller_b.headers)
    assert big.status_code == 202, big.text
    still = expect_ok(await client.get(f"{OFFERS}/{mine['id']}", headers=seller_b.headers))
    assert still["current_price"] == "33.00"


async def test_the_product_list_counts_other_sellers_offers_and_adds_no_key_without_them(
    client: Client, admin: Caller, shopper: Caller
) -> None:
    category = f"offers-list-{uuid.uuid4().hex[:8]}"
    offered = await create_product(client, admin, seller_id="seller-a", category_id=category, name="Offered")
    alone = await create_product(client, admin, seller_id="seller-a", category_id=category, name="Alone")
    listing = {"category_id": category, "sort": "catalog"}
    before = await client.get(PRODUCTS, params=listing, headers=shopper.headers)
    assert before.status_code == 200, before.text
    assert b"offer_count" not in before.content

    first = await make_offer(client, admin, offered)
    second = await make_offer(client, admin, offered, seller_id="seller-c", stock=0)  # sold out: still an offer
    for caller in (shopper, admin):
        items = expect_ok(await client.get(PRODUCTS, params=listing, headers=caller.headers))["items"]
        counts = {item["id"]: item.get("offer_count") for item in items}
        assert counts == {offered["id"]: 2, alone["id"]: None}
        assert "offer_count" not in next(item for item in items if item["id"] == alone["id"])

    expect_ok(await client.delete(f"{OFFERS}/{first['id']}", headers=admin.headers))
    items = expect_ok(await client.get(PRODUCTS, params=listing, headers=shopper.headers))["items"]
    assert {item["id"]: item.get("offer_count") for item in items} == {offered["id"]: 1, alone["id"]: None}

    expect_ok(await client.delete(f"{OFFERS}/{second['id']}", headers=admin.headers))
    after = await client.get(PRODUCTS, params=listing, headers=shopper.headers)
    assert after.content == before.content  # no offers left: the very bytes of before


async def test_offers_rank_by_landed_price_and_quotes_take_the_best(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any]
) -> None:
    # seller-b is cheaper (35.00) but its own profile delivers for 12.00; seller-a (no profile) pays the
    # delivery rules' 10.00: 40 + 10 = 50 < 35 + 12 = 47? no: b lands at 47, a at 50; seller-c at 36 + 10.
    await create_profile(client, admin, seller_id="seller-b", options=[option("standard", base_fee="12.00")])
    b = await make_offer(client, admin, product)
    c = await make_offer(client, admin, product, seller_id="seller-c", current_price="36.00", stock=1)

    ranked = expect_ok(
        await client.get(
            f"/api/v1/products/{product['id']}/offers", params={"city": "Ankara", "country": "TR"}, headers=service_key
        )
    )
    assert [(o["seller_id"], o["landed_price"], o["is_default"]) for o in ranked] == [
        ("seller-c", "46.00", False),
        ("seller-b", "47.00", False),
        ("seller-a", "50.00", True),
    ]
    two = expect_ok(
        await client.get(
            f"/api/v1/products/{product['id']}/offers",
            params={"city": "Ankara", "country": "TR", "quantity": 2},
            headers=service_key,
        )
    )
    assert [o["seller_id"] for o in two] == ["seller-b", "seller-a"]  # seller-c has 1

    data = expect_ok(await quote(client, service_key, {"product_id": product["id"], "quantity": 2}))
    line = data["items"][0]
    assert (line["seller_id"], line["offer_id"], line["offer_selection"]) == ("seller-b", b["id"], "best_landed")
    assert line["unit_price"] == "35.00"

    named = expect_ok(
        await quote(client, service_key, {"product_id": product["id"], "quantity": 1, "offer_id": c["id"]})
    )
    assert (named["items"][0]["seller_id"], named["items"][0]["offer_selection"]) == ("seller-c", "named")
    default = expect_ok(
        await quote(client, service_key, {"product_id": product["id"], "quantity": 1, "seller_id": "seller-a"})
    )
    assert (default["items"][0]["offer_id"], default["items"][0]["unit_price"]) == (None, "40.00")

    bad = await quote(client, service_key, {"product_id": product["id"], "quantity": 1, "offer_id": product["id"]})
    assert set(field_errors(expect_error(bad, 422, "VALIDATION_FAILED"))) == {"items[0].offer_id"}
    nobody = await quote(client, service_key, {"product_id": product["id"], "quantity": 1, "seller_id": "seller-z"})
    assert set(field_errors(expect_error(nobody, 422, "VALIDATION_FAILED"))) == {"items[0].seller_id"}


async def test_an_order_takes_the_offers_stock_and_a_cancel_gives_it_back(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any]
) -> None:
    offer = await make_offer(client, admin, product, current_price="30.00", stock=3)
    data = expect_ok(
        await quote(client, service_key, {"product_id": product["id"], "quantity": 2, "offer_id": offer["id"]})
    )
    order = await client.post(
        "/api/v1/orders", json={"quote_id": data["quote_id"]}, headers={**service_key, "Idempotency-Key": "o-1"}
    )
    placed = expect_ok(order, 201)
    after = expect_ok(await client.get(f"{OFFERS}/{offer['id']}", headers=admin.headers))
    assert after["stock"] == 1
    own = expect_ok(await client.get(f"/api/v1/products/{product['id']}", headers=admin.headers))
    assert own["stock"] == 10
    assert [line["seller_id"] for line in placed["items"]] == ["seller-b"]

    again = expect_ok(
        await quote(client, service_key, {"product_id": product["id"], "quantity": 2, "offer_id": offer["id"]})
    )
    short = await client.post(
        "/api/v1/orders", json={"quote_id": again["quote_id"]}, headers={**service_key, "Idempotency-Key": "o-2"}
    )
    expect_error(short, 409, "INSUFFICIENT_STOCK")

    cancel = await client.post(
        f"/api/v1/orders/{placed['id']}/cancel", json={}, headers={**service_key, "Idempotency-Key": "c-1"}
    )
    assert cancel.status_code in (200, 201), cancel.text
    back = expect_ok(await client.get(f"{OFFERS}/{offer['id']}", headers=admin.headers))
    assert back["stock"] == 3


async def test_a_sellers_promotion_and_coupon_discount_its_offers_lines_only(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any], seller_b: Caller
) -> None:
    """seller-b sells seller-a's product through its offer: its own promotion and coupon may name the product,
    and discount the lines it sells, never seller-a's own lines of it."""
    await make_offer(client, admin, product, current_price="30.00")
    promotion = {"name": "b 10 % off", "kind": "PERCENT_OFF", "config": {"percent": "10"},
                 "conditions": {"product_ids": [product["id"]]}, "starts_at": "2025-01-01T00:00:00Z"}  # fmt: skip
    expect_ok(await client.post("/api/v1/promotions", json=promotion, headers=seller_b.headers), 201)
    coupon = {"code": "BFIVE", "type": "FIXED", "value": "5.00", "currency": "TRY", "product_ids": [product["id"]],
              "valid_from": "2025-01-01T00:00:00Z"}  # fmt: skip
    expect_ok(await client.post("/api/v1/coupons", json=coupon, headers=seller_b.headers), 201)

    from_b = {"product_id": product["id"], "quantity": 1, "seller_id": "seller-b"}
    from_a = {"product_id": product["id"], "quantity": 1, "seller_id": "seller-a"}
    data = expect_ok(await quote(client, service_key, from_b, from_a, coupon_codes=["BFIVE"]))
    by_seller = {line["seller_id"]: line for line in data["items"]}
    assert by_seller["seller-b"]["discount"] == "8.00"  # 3.00 off 30.00, then the coupon's 5.00
    assert by_seller["seller-a"]["discount"] == "0.00"


async def test_a_reduced_offer_line_shows_the_offers_own_prior_price(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any]
) -> None:
    """The prior price of a reduction (docs/markets.md) is the lowest of the offer's own price history in the
    30 days before the reduction began, not the product's (40.00)."""
    offer = await make_offer(client, admin, product, current_price="35.00")
    moved = await client.patch(f"{OFFERS}/{offer['id']}", json={"current_price": "31.00"}, headers=admin.headers)
    expect_ok(moved)
    moved = await client.patch(f"{OFFERS}/{offer['id']}", json={"current_price": "33.00"}, headers=admin.headers)
    expect_ok(moved)
    starts = datetime.now(UTC).isoformat()
    promotion = {"name": "10 % off", "kind": "PERCENT_OFF", "config": {"percent": "10"},
                 "conditions": {"product_ids": [product["id"]]}, "starts_at": starts}  # fmt: skip
    expect_ok(await client.post("/api/v1/promotions", json=promotion, headers=admin.headers), 201)

    item = {"product_id": product["id"], "quantity": 1, "offer_id": offer["id"]}
    line = expect_ok(await quote(client, service_key, item))["items"][0]
    assert (line["unit_price"], line["discount"], line["prior_price"]) == ("33.00", "3.30", "31.00")
    own = {"product_id": product["id"], "quantity": 1, "seller_id": "seller-a"}
    line = expect_ok(await quote(client, service_key, own))["items"][0]
    assert line["prior_price"] == "40.00"


async def test_refusals_name_their_fields_and_change_nothing(
    client: Client, admin: Caller, service_key: dict[str, str], product: dict[str, Any], seller_b: Caller
) -> None:
    unknown = {"product_id": "00000000-0000-4000-8000-000000000000", "seller_id": "seller-b", "current_price": "9"}
    refused = expect_error(await client.post(OFFERS, json=unknown, headers=admin.headers), 422, "VALIDATION_FAILED")
    assert set(field_errors(refused)) == {"product_id"}
    missing = await client.get(
        "/api/v1/products/00000000-0000-4000-8000-000000000000/offers",
        params={"city": "Ankara", "country": "TR"},
        headers=service_key,
    )
    expect_error(missing, 404, "NOT_FOUND")

    body = {"product_id": product["id"], "current_price": "35.00", "cost_price": "20.00", "min_price": "25.00"}
    mine = expect_ok(await client.post(OFFERS, json=body, headers=seller_b.headers), 201)
    url = f"{OFFERS}/{mine['id']}"
    cost = await client.patch(url, json={"cost_price": "1.00"}, headers=seller_b.headers)
    assert set(field_errors(expect_error(cost, 422, "VALIDATION_FAILED"))) == {"cost_price"}
    order = await client.patch(url, json={"current_price": "24.00"}, headers=seller_b.headers)  # below its floor
    assert "min_price" in field_errors(expect_error(order, 422, "VALIDATION_FAILED"))
    after = expect_ok(await client.get(url, headers=admin.headers))
    assert (after["current_price"], after["min_price"], after["cost_price"]) == ("35.00", "25.00", "20.00")

    # A quote made from the offer, then the offer deactivated: the order is refused, nothing taken.
    item = {"product_id": product["id"], "quantity": 1, "offer_id": mine["id"]}
    made = expect_ok(await quote(client, service_key, item))
    expect_ok(await client.delete(url, headers=admin.headers))
    gone = await client.post(
        "/api/v1/orders", json={"quote_id": made["quote_id"]}, headers={**service_key, "Idempotency-Key": "gone-1"}
    )
    assert set(field_errors(expect_error(gone, 409, "PRODUCT_UNAVAILABLE"))) == {"items[0].offer_id"}
    inactive = await quote(client, service_key, item)
    assert set(field_errors(expect_error(inactive, 422, "VALIDATION_FAILED"))) == {"items[0].offer_id"}
    assert expect_ok(await client.get(url, headers=admin.headers))["stock"] == 0
