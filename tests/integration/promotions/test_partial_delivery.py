"""Partial delivery discounts over HTTP (docs/pricing.md#quantity-rules, docs/promotions.md#partial-free-delivery):
FREE_DELIVERY with `percent` or `amount` and `max`, on each shipment it covers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.promotions.test_promotion_quotes import Client
from tests.integration.promotions.test_promotions_api import PROMOTIONS, create_promotion, promotion_body
from tests.integration.shipping.test_shipping_profiles_api import create_profile, option
from tests.integration.shipping.test_shipping_quotes import quote_of


async def test_the_config_reads_back_in_the_currencys_digits(client: Client, admin: Caller) -> None:
    half = await create_promotion(client, admin, kind="FREE_DELIVERY", config={"percent": "50.0", "max": 3})
    four = await create_promotion(client, admin, kind="FREE_DELIVERY", config={"amount": 4, "currency": "try"})

    assert half["config"] == {"percent": "50", "max": "3"}  # no currency named: as sent
    assert four["config"] == {"amount": "4.00", "currency": "TRY"}


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"percent": 50, "amount": 2}, "config.amount"),
        ({"percent": 0}, "config.percent"),
        ({"percent": 101}, "config.percent"),
        ({"amount": "-1"}, "config.amount"),
        ({"amount": "1.001", "currency": "TRY"}, "config.amount"),
        ({"max": 0}, "config.max"),
        ({"amount": 1, "currency": "XYZ"}, "config.currency"),
    ],
)
async def test_a_config_that_cannot_be_is_refused_naming_the_field(
    client: Client, admin: Caller, config: dict[str, Any], field: str
) -> None:
    body = promotion_body(kind="FREE_DELIVERY", config=config)

    refused = expect_error(await client.post(PROMOTIONS, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")

    assert [d["field"] for d in refused["error"]["details"]] == [field]


async def test_each_shipment_gets_its_part_and_the_quote_adds_them_up(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    a = await create_product(client, admin, seller_id="seller-a", base_price="40.00", min_price="0", cost_price="0")
    b = await create_product(client, admin, seller_id="seller-b", base_price="30.00", min_price="0", cost_price="0")
    for seller, fee in (("seller-a", "4.90"), ("seller-b", "12.00")):
        await create_profile(client, admin, seller_id=seller, options=[option("standard", base_fee=fee)])
    await create_promotion(
        client,
        admin,
        name="Half delivery",
        kind="FREE_DELIVERY",
        config={"percent": 50, "max": "5.00", "currency": "TRY"},
    )

    data = expect_ok(await quote_of(client, service_key, (a, 1), (b, 1)))

    # 4.90 -> 2.45 off (2.45 left); 12.00 -> 6.00, at most 5.00 off (7.00 left)
    assert [(s["seller_id"], s["delivery_fee"]) for s in data["shipments"]] == [
        ("seller-a", "2.45"),
        ("seller-b", "7.00"),
    ]
    assert data["delivery_fee"] == "9.45"
    assert [(p["name"], p["amount"]) for p in data["applied_promotions"]] == [("Half delivery", "7.45")]
