"""Quotes across sellers over HTTP (docs/shipping.md): shipments with their options from the sellers'
profiles, the request's choice, 422 naming `shipping.<seller_id>`, per-seller totals, a profile change
priced at once, FREE_DELIVERY promotions waiving the shipments they apply to."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.promotions.test_promotions_api import create_promotion
from tests.integration.shipping.test_shipping_profiles_api import PROFILES, create_profile, option

Client = AsyncTestClient[Litestar]
QUOTE = "/api/v1/quote"


async def basket(client: Client, admin: Caller) -> tuple[dict[str, Any], dict[str, Any]]:
    """Seller A's 40.00 item weighing 1.5 kg (it has a profile for Turkey), seller B's 30.00 (no profile)."""
    mine = await create_product(
        client, admin, seller_id="seller-a", base_price="40.00", min_price="0", cost_price="0", weight="1.5"
    )
    theirs = await create_product(
        client, admin, seller_id="seller-b", base_price="30.00", min_price="0", cost_price="0"
    )
    await create_profile(client, admin)
    return mine, theirs


async def quote_of(client: Client, headers: dict[str, str], *lines: tuple[dict[str, Any], int], **fields: Any) -> Any:
    body = {
        "customer_id": "c-1",
        "items": [{"product_id": p["id"], "quantity": n} for p, n in lines],
        "delivery_address": {"city": "Ankara", "country": "TR"},
        "currency": "TRY",
        **fields,
    }
    return await client.post(QUOTE, json=body, headers=headers)


async def test_a_quote_carries_a_shipment_per_seller_and_per_seller_totals(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    mine, theirs = await basket(client, admin)

    data = expect_ok(await quote_of(client, service_key, (theirs, 1), (mine, 2)))

    assert data["shipments"] == [
        {
            "seller_id": "seller-b",
            "product_ids": [theirs["id"]],
            "goods": "30.00",
            "options": [],
            "selected": None,
            "delivery_fee": "10.00",
            "free_delivery_remaining": None,
            "logistics_commission": "0.00",
        },
        {
            "seller_id": "seller-a",
            "product_ids": [mine["id"]],
            "goods": "80.00",
            "options": [
                {
                    "code": "standard",
                    "name": "Standard",
                    "fee": "6.40",
                    "eta_days_min": 2,
                    "eta_days_max": 4,
                    "free": False,
                },
                {
                    "code": "express",
                    "name": "Express",
                    "fee": "9.90",
                    "eta_days_min": 1,
                    "eta_days_max": 1,
                    "free": False,
                },
            ],
            "selected": "standard",
            "delivery_fee": "6.40",
            "free_delivery_remaining": "70.00",
            "logistics_commission": "0.00",
        },
    ]
    assert (data["delivery_fee"], data["subtotal"], data["tax_amount"], data["total_amount"]) == (
        "16.40",
        "110.00",
        "19.80",
        "146.20",
    )
    b, a = data["sellers"]
    assert a == {
        "seller_id": "seller-a",
        "goods": "80.00",
        "discount": "0.00",
        "tax": "14.40",
        "tax_included": "0.00",
        "delivery_fee": "6.40",
        "commission": "12.00",
        "commission_tax": "0.00",
        "payout": "88.80",
    }
    assert b["payout"] == "40.90"  # 30.00 + 5.40 tax - 4.50 commission + its 10.00 delivery
    stored = expect_ok(await client.get(f"/api/v1/quotes/{data['quote_id']}", headers=service_key))
    assert stored["shipments"] == data["shipments"]
    assert stored["sellers"] == data["sellers"]


async def test_the_request_chooses_an_option_and_an_unknown_one_is_422_naming_it(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    mine, theirs = await basket(client, admin)

    chosen = expect_ok(await quote_of(client, service_key, (mine, 1), shipping={"seller-a": "express"}))
    assert (chosen["shipments"][0]["selected"], chosen["delivery_fee"]) == ("express", "9.90")
    for choice, field in (
        ({"seller-a": "next_day"}, "shipping.seller-a"),
        ({"seller-b": "standard"}, "shipping.seller-b"),  # its shipment has no profile: no options
        ({"seller-z": "standard"}, "shipping.seller-z"),
    ):
        refused = await quote_of(client, service_key, (mine, 1), (theirs, 1), shipping=choice)
        assert set(field_errors(expect_error(refused, 422, "VALIDATION_FAILED"))) == {field}


async def test_a_profile_change_prices_the_next_quote_at_once(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    mine, _ = await basket(client, admin)
    profile = expect_ok(await client.get(PROFILES, headers=admin.headers))["items"][0]
    before = expect_ok(await quote_of(client, service_key, (mine, 1)))

    cheaper = [option("standard", base_fee="1.00")]
    expect_ok(await client.patch(f"{PROFILES}/{profile['id']}", json={"options": cheaper}, headers=admin.headers))
    after = expect_ok(await quote_of(client, service_key, (mine, 1)))
    expect_ok(await client.delete(f"{PROFILES}/{profile['id']}", headers=admin.headers))
    gone = expect_ok(await quote_of(client, service_key, (mine, 1)))

    assert (before["delivery_fee"], after["delivery_fee"], gone["delivery_fee"]) == ("5.65", "1.00", "10.00")
    assert "shipments" not in gone
    assert "sellers" not in gone


async def test_a_free_delivery_promotion_waives_the_shipments_it_applies_to(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    mine, theirs = await basket(client, admin)
    await create_profile(client, admin, seller_id="seller-b")
    free = await create_promotion(
        client, admin, name="Free delivery on electronics", kind="FREE_DELIVERY", config={},
        conditions={"product_ids": [theirs["id"]]},
    )  # fmt: skip

    data = expect_ok(await quote_of(client, service_key, (mine, 1), (theirs, 1)))

    assert [s["delivery_fee"] for s in data["shipments"]] == ["5.65", "0.00"]
    assert data["applied_promotions"] == [
        {
            "promotion_id": free["id"],
            "name": free["name"],
            "kind": "FREE_DELIVERY",
            "amount": "5.03",
        }  # 4.90 + 0.50 x 0.25 kg
    ]
    assert data["delivery_fee"] == "5.65"


async def test_a_catalog_weight_change_reaches_the_next_quote(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    mine, _ = await basket(client, admin)
    before = expect_ok(await quote_of(client, service_key, (mine, 1)))

    expect_ok(await client.patch(f"/api/v1/products/{mine['id']}", json={"weight": "9"}, headers=admin.headers))
    after = expect_ok(await quote_of(client, service_key, (mine, 1)))

    assert (before["delivery_fee"], after["delivery_fee"]) == ("5.65", "9.40")  # 4.90 + 0.50/kg
