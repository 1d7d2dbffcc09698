"""A seller's payout before the sale, and the price for a payout (docs/commission.md#payout-preview): the
preview is what the seller's statement shows once the same basket is ordered at that price; the price found
for a target is the smallest that pays it; who may ask; refusals that name their field."""

from __future__ import annotations

import random
import uuid
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.commissions.test_commission_fees import MERCUR, ordered, quoted, rates, statement
from tests.integration.conftest import Caller, make_caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.shipping.test_shipping_profiles_api import create_profile, option

Client = AsyncTestClient[Litestar]
D = Decimal
CENT = D("0.01")
TAXED = pytest.mark.parametrize("settings", [D(0), D(20)], indirect=True, ids=["untaxed", "commission-tax-20"])
"""Run under COMMISSION_TAX_RATE 0 and 20 %: a preview that dropped the tax on a fee charged once (or all of it)
agrees with an order at 0."""


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The suite's settings, at the COMMISSION_TAX_RATE a test is parametrized with (`TAXED`; 0 without)."""
    return msgspec.structs.replace(settings, commission_tax_rate=getattr(request, "param", D(0)))


def preview_url(seller: str) -> str:
    return f"/api/v1/sellers/{seller}/payout-preview"


async def preview(client: Client, headers: dict[str, str], seller: str, **body: Any) -> dict[str, Any]:
    data: dict[str, Any] = expect_ok(await client.post(preview_url(seller), json=body, headers=headers))
    return data


async def product_of(
    client: Client, admin: Caller, seller: str, price: str = "100.00", **fields: Any
) -> dict[str, Any]:
    return await create_product(
        client, admin, seller_id=seller, base_price=price, min_price="1.00", cost_price="0.50", stock=50, **fields
    )


async def sold_at(client: Client, admin: Caller, product: dict[str, Any], price: str, units: int) -> dict[str, Any]:
    """The seller's statement once `units` of `product` are ordered at `price` (its only order)."""
    url = f"/api/v1/products/{product['id']}"
    expect_ok(await client.patch(url, json={"current_price": price}, headers=admin.headers))
    await ordered(client, admin, await quoted(client, admin, (product, units)))
    return await statement(client, admin, product["seller_id"])


async def test_the_preview_at_a_price_is_what_the_order_pays(client: Client, admin: Caller) -> None:
    await rates(client, admin, *MERCUR)
    seller = f"s-{uuid.uuid4().hex[:8]}"
    goods = await product_of(client, admin, seller)

    shown = await preview(client, admin.headers, seller, product_id=goods["id"], quantity=2, unit_price="120.00",
                          city="Istanbul", country="TR")  # fmt: skip

    # 240.00 + 18 % = 283.20: sales 5 % = 12.00, payment 4 % of 283.20 = 11.33, platform 1.00.
    assert shown == {
        "product_id": goods["id"],
        "seller_id": seller,
        "currency": "TRY",
        "quantity": 2,
        "unit_price": "120.00",
        "goods": "240.00",
        "tax": "43.20",
        "commission": {
            "total": "24.33",
            "category": "12.00",
            "seller": "0.00",
            "logistics": "0.00",
            "fees": [{"name": "payment_fee", "amount": "11.33"}, {"name": "platform_fee", "amount": "1.00"}],
        },
        "commission_tax": "0.00",
        "installment_commission": "0.00",
        "delivery_fee": "0.00",  # no shipping profile: the delivery fee is the platform's
        "payout": "258.87",
    }
    assert (await sold_at(client, admin, goods, "120.00", 2))["payout"] == shown["payout"]


@pytest.mark.parametrize("settings", [D(20)], indirect=True, ids=["commission-tax-20"])
async def test_under_a_commission_tax_the_preview_taxes_the_fees_charged_once_as_the_order_does(
    client: Client, admin: Caller
) -> None:
    """20 % on every commission part, the 1.00 order fee and the 0.50 shipment fee charged once included."""
    await rates(client, admin, *MERCUR, {"component": "pick_fee", "commission_type": "FLAT", "rate": "0.50",
                                         "per": "shipment"})  # fmt: skip
    seller = f"s-{uuid.uuid4().hex[:8]}"
    goods = await product_of(client, admin, seller)
    await create_profile(client, admin, seller_id=seller, options=[option("standard", base_fee="4.90")])

    shown = await preview(client, admin.headers, seller, product_id=goods["id"], quantity=2, unit_price="120.00",
                          city="Istanbul", country="TR")  # fmt: skip

    fees = {fee["name"]: D(fee["amount"]) for fee in shown["commission"]["fees"]}
    assert (fees["platform_fee"], fees["pick_fee"]) == (D("1.00"), D("0.50"))
    # 12.00 sales + 11.33 payment fee taxed on the line, 1.00 + 0.50 charged once taxed each: 20 % of each.
    line = ((D("12.00") + fees["payment_fee"]) * D("0.2")).quantize(CENT)
    assert D(shown["commission_tax"]) == line + D("0.20") + D("0.10"), shown
    sold = await sold_at(client, admin, goods, "120.00", 2)
    assert (sold["commission_tax"], sold["payout"]) == (shown["commission_tax"], shown["payout"])


async def test_an_offers_preview_is_what_its_sellers_statement_shows_once_ordered(
    client: Client, admin: Caller
) -> None:
    """An offer (docs/offers.md) previews as its own line: its seller's rates, its price and min_price."""
    await rates(client, admin, *MERCUR)
    owner, other = f"s-{uuid.uuid4().hex[:8]}", f"s-{uuid.uuid4().hex[:8]}"
    goods = await product_of(client, admin, owner)
    body = {"product_id": goods["id"], "seller_id": other, "current_price": "80.00", "min_price": "60.00", "stock": 9}
    offer = expect_ok(await client.post("/api/v1/offers", json=body, headers=admin.headers), 201)

    shown = await preview(client, admin.headers, other, offer_id=offer["id"], quantity=2, city="Istanbul",
                          country="TR")  # fmt: skip
    assert (shown["offer_id"], shown["seller_id"], shown["product_id"]) == (offer["id"], other, goods["id"])
    assert (shown["unit_price"], shown["goods"]) == ("80.00", "160.00")
    low = await client.post(preview_url(other), json={"offer_id": offer["id"], "unit_price": "59.99"},
                            headers=admin.headers)  # fmt: skip
    assert "unit_price" in field_errors(expect_error(low, 422, "VALIDATION_FAILED"))
    for seller, fields in [(owner, {"offer_id": offer["id"]}), (other, {}),
                           (other, {"offer_id": offer["id"], "product_id": goods["id"]})]:  # fmt: skip
        refused = await client.post(preview_url(seller), json=fields, headers=admin.headers)
        assert field_errors(expect_error(refused, 422, "VALIDATION_FAILED"))

    basket = {"customer_id": "c-offer", "items": [{"product_id": goods["id"], "quantity": 2, "offer_id": offer["id"]}],
              "delivery_address": {"city": "Istanbul", "country": "TR"}, "currency": "TRY"}  # fmt: skip
    quote = expect_ok(await client.post("/api/v1/quote", json=basket, headers=admin.headers))
    await ordered(client, admin, quote)
    assert (await statement(client, admin, other))["payout"] == shown["payout"]


async def test_a_target_payout_finds_the_smallest_price_that_pays_it(client: Client, admin: Caller) -> None:
    await rates(client, admin, *MERCUR)
    seller = f"s-{uuid.uuid4().hex[:8]}"
    goods = await product_of(client, admin, seller)
    await create_profile(client, admin, seller_id=seller, options=[option("standard", base_fee="4.90")])

    found = await preview(client, admin.headers, seller, product_id=goods["id"], target_payout="150.00",
                          country="TR")  # fmt: skip

    assert found["target_payout"] == "150.00"
    assert D(found["payout"]) >= D("150.00")
    assert found["delivery_fee"] == "4.90"  # the seller's shipment: its fee is the seller's
    cheaper = D(found["unit_price"]) - CENT
    below = await preview(client, admin.headers, seller, product_id=goods["id"], unit_price=str(cheaper), country="TR")
    assert D(below["payout"]) < D("150.00")
    # Ordered at that price, the basket pays exactly what the preview said.
    body = {"customer_id": "c-fees", "items": [{"product_id": goods["id"], "quantity": 1}],
            "delivery_address": {"city": "Izmir", "country": "TR"}, "currency": "TRY"}  # fmt: skip
    url = f"/api/v1/products/{goods['id']}"
    expect_ok(await client.patch(url, json={"current_price": found["unit_price"]}, headers=admin.headers))
    quote = expect_ok(await client.post("/api/v1/quote", json=body, headers=admin.headers))
    await ordered(client, admin, quote)
    assert (await statement(client, admin, seller))["payout"] == found["payout"]


async def test_a_payout_no_price_reaches_is_refused(client: Client, admin: Caller) -> None:
    """Sales 60 % and payment 60 % of the gross: each cent more of price pays the seller less."""
    await rates(
        client, admin, {"rate": "60", "base": "gross"}, {"component": "payment_fee", "rate": "60", "base": "gross"}
    )
    seller = f"s-{uuid.uuid4().hex[:8]}"
    goods = await product_of(client, admin, seller)

    refused = expect_error(
        await client.post(
            preview_url(seller), json={"product_id": goods["id"], "target_payout": "10.00"}, headers=admin.headers
        ),
        422,
        "PAYOUT_UNREACHABLE",
    )
    assert list(field_errors(refused)) == ["target_payout"]


async def test_who_may_preview(client: Client, admin: Caller, shopper: Caller, settings: Settings,
                               password_hash: str, service_key: dict[str, str]) -> None:  # fmt: skip
    mine = await product_of(client, admin, "seller-1")
    theirs = await product_of(client, admin, "seller-2")
    seller = await make_caller(settings, password_hash, "bosphorus", "seller", seller_id="seller-1")
    body = {"product_id": mine["id"]}

    assert (await preview(client, seller.headers, "seller-1", **body))["unit_price"] == "100.00"  # its current price
    assert (await preview(client, service_key, "seller-1", **body))["seller_id"] == "seller-1"
    expect_error(await client.post(preview_url("seller-2"), json=body, headers=seller.headers), 404, "NOT_FOUND")
    expect_error(await client.post(preview_url("seller-1"), json=body, headers=shopper.headers), 403, "FORBIDDEN")
    refused = expect_error(
        await client.post(preview_url("seller-1"), json={"product_id": theirs["id"]}, headers=admin.headers),
        422,
        "VALIDATION_FAILED",
    )
    assert list(field_errors(refused)) == ["product_id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"unit_price": "120.00", "target_payout": "100.00"}, "target_payout"),
        ({"unit_price": "0.50"}, "unit_price"),  # below the product's min_price
        ({"unit_price": "1.001"}, "unit_price"),
        ({"target_payout": "-1"}, "target_payout"),
        ({"currency": "EUR"}, "currency"),
        ({"quantity": 0}, "quantity"),
        ({"offer": "x"}, "offer"),
    ],
)
async def test_refusals_name_their_field(client: Client, admin: Caller, body: dict[str, Any], field: str) -> None:
    goods = await product_of(client, admin, "seller-1")

    refused = expect_error(
        await client.post(preview_url("seller-1"), json={"product_id": goods["id"], **body}, headers=admin.headers),
        422,
        "VALIDATION_FAILED",
    )
    assert field in " ".join(field_errors(refused)), refused


@pytest.mark.slow
@TAXED
async def test_previews_pay_what_orders_pay_under_random_rates_taxes_and_shipping(
    client: Client, admin: Caller
) -> None:
    """Random commission rates (bases, FLAT per unit/line/shipment/order, named fees), tax rates and shipping
    profiles: a target's price is the smallest that pays it, and ordering at it pays what the preview said."""
    rng = random.Random(29)
    for case in range(6):
        seller, category = f"r{case}-{uuid.uuid4().hex[:6]}", f"c{case}-{uuid.uuid4().hex[:6]}"
        tax = rng.choice(["0", "8", "18", "20"])
        rule = {"name": f"tax-{category}", "type": "TAX_RATE", "category_id": category,
                "configuration": {"rate": tax}, "effective_from": "2020-01-01T00:00:00Z"}  # fmt: skip
        expect_ok(await client.post("/api/v1/pricing-rules", json=rule, headers=admin.headers), 201)
        await rates(client, admin, *random_rates(rng, seller))
        if rng.random() < 0.7:
            free_above = rng.choice([None, "80.00", "300.00"])
            standard = option("standard", base_fee=rng.choice(["4.90", "12.50"]), **({"free_above": free_above}
                              if free_above else {}))  # fmt: skip
            await create_profile(client, admin, seller_id=seller, options=[standard])
        goods = await product_of(client, admin, seller, category_id=category)
        units = rng.randint(1, 3)
        target = D(rng.randint(2_000, 40_000)).scaleb(-2)

        found = await preview(client, admin.headers, seller, product_id=goods["id"], quantity=units,
                              target_payout=str(target), city="Istanbul", country="TR")  # fmt: skip

        assert D(found["payout"]) >= target, found
        cheaper = D(found["unit_price"]) - CENT
        if cheaper >= D("1.00"):
            below = await preview(client, admin.headers, seller, product_id=goods["id"], quantity=units,
                                  unit_price=str(cheaper), city="Istanbul", country="TR")  # fmt: skip
            assert D(below["payout"]) < target, (found, below)
        shown = await sold_at(client, admin, goods, found["unit_price"], units)
        assert shown["payout"] == found["payout"], (case, found, shown)
        assert shown["commission_charged"] == found["commission"]["total"], (case, found, shown)
        assert shown["commission_tax"] == found["commission_tax"], (case, found, shown)


def random_rates(rng: random.Random, seller: str) -> list[dict[str, Any]]:
    """A few of the seller's rates: a category part on some base, maybe a seller part, named fees."""
    chosen: list[dict[str, Any]] = [
        {
            "seller_id": seller,
            "component": "category",
            "rate": rng.choice(["5", "12.5", "15"]),
            "base": rng.choice(["net", "gross", "gross_with_delivery"]),
        },
    ]
    if rng.random() < 0.5:
        chosen.append({"seller_id": seller, "component": "seller", "commission_type": "FLAT",
                       "rate": rng.choice(["0.35", "1.00"]), "per": rng.choice(["unit", "line"])})  # fmt: skip
    if rng.random() < 0.7:
        chosen.append({"seller_id": seller, "component": "payment_fee", "rate": rng.choice(["2.9", "4"]),
                       "base": rng.choice(["gross", "gross_with_delivery"]), "min_amount": "0.25"})  # fmt: skip
    if rng.random() < 0.6:
        chosen.append({"seller_id": seller, "component": "platform_fee", "commission_type": "FLAT",
                       "rate": rng.choice(["0.99", "2.00"]), "per": rng.choice(["shipment", "order"])})  # fmt: skip
    return chosen
