"""The next cheapest step over HTTP (docs/promotions.md#hints): `hints: true` adds at most
three, cheapest first, from promotions and shipping profiles; without it there is no `hints` key, and
the totals are the same either way."""

from __future__ import annotations

from typing import Any

from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.promotions.test_promotion_quotes import QUOTE, Client
from tests.integration.promotions.test_promotions_api import create_promotion
from tests.integration.shipping.test_shipping_profiles_api import create_profile, option

TOTALS = ("subtotal", "discount_amount", "tax_amount", "delivery_fee", "small_basket_fee", "total_amount")


def body(*lines: tuple[dict[str, Any], int], **fields: Any) -> dict[str, Any]:
    return {
        "customer_id": "c-hints",
        "items": [{"product_id": p["id"], "quantity": n} for p, n in lines],
        "delivery_address": {"city": "Ankara", "country": "TR"},
        "currency": "TRY",
        **fields,
    }


async def test_hints_name_the_next_tier_a_sellers_free_delivery_and_a_gift_cheapest_first(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    book = await create_product(
        client, admin, seller_id="seller-x", category_id="books", base_price="70.00", min_price="0", cost_price="0"
    )
    mug = await create_product(client, admin, category_id="kitchen", base_price="15.00", min_price="0", cost_price="0")
    await create_profile(
        client, admin, seller_id="seller-x", options=[option("standard", base_fee="7.50", free_above="82.50")]
    )
    tiers = {
        "tiers": [{"min_subtotal": "100", "percent": 10}, {"min_subtotal": "300", "amount": 50}],
        "currency": "TRY",
    }
    spend = await create_promotion(client, admin, name="Spend more", kind="SPEND_TIERS", config=tiers)
    gift = await create_promotion(
        client,
        admin,
        name="A mug",
        kind="GIFT",
        config={"product_id": mug["id"], "min_subtotal": "150", "currency": "TRY"},
    )

    asked = expect_ok(await client.post(QUOTE, json=body((book, 1), hints=True), headers=service_key))
    plain = expect_ok(await client.post(QUOTE, json=body((book, 1)), headers=service_key))

    assert asked["hints"] == [
        {
            "kind": "free_delivery",
            "promotion_id": None,
            "seller_id": "seller-x",
            "add_amount": "12.50",
            "saves": "7.50",
            "message": "add 12.50 from seller seller-x for free delivery",
        },
        {
            "kind": "spend_tier",
            "promotion_id": spend["id"],
            "seller_id": None,
            "add_amount": "30.00",
            "saves": "10.00",
            "message": "add 30.00 for 10 % off",
        },
        {
            "kind": "gift",
            "promotion_id": gift["id"],
            "seller_id": None,
            "add_amount": "80.00",
            "saves": "15.00",
            "message": "add 80.00 for a free gift (A mug)",
        },
    ]
    assert "hints" not in plain
    assert {k: asked[k] for k in TOTALS} == {k: plain[k] for k in TOTALS}
