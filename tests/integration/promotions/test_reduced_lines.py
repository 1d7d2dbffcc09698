"""No double-dipping (docs/pricing.md#quantity-rules, docs/promotions.md#reduced-lines): coupons and promotions say what
they do with lines a price list, a price rule or an earlier promotion already took below their own price."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Caller
from tests.integration.coupons.test_coupons_api import COUPONS, coupon_body, create_coupon, put_body
from tests.integration.expect import expect_error, expect_ok
from tests.integration.promotions.test_promotion_quotes import Client, books, quote_of
from tests.integration.promotions.test_promotions_api import PROMOTIONS, create_promotion, promotion_body


async def sale_list(client: Client, admin: Caller, product: dict[str, Any], amount: str) -> None:
    body = {"name": "Sale", "currency": "TRY", "prices": [{"product_id": product["id"], "amount": amount}]}
    expect_ok(await client.post("/api/v1/price-lists", json=body, headers=admin.headers), 201)


async def test_coupons_and_promotions_read_back_their_policy_and_refuse_another(client: Client, admin: Caller) -> None:
    skipping = await create_coupon(client, admin, on_reduced_lines="skip")
    best = await create_promotion(client, admin, on_reduced_lines="best_of")
    plain = await create_promotion(client, admin, name="plain")

    assert (skipping["on_reduced_lines"], best["on_reduced_lines"], plain["on_reduced_lines"]) == (
        "skip",
        "best_of",
        "stack",
    )
    for path, body in (
        (COUPONS, coupon_body(code="x1", on_reduced_lines="never")),
        (PROMOTIONS, promotion_body(on_reduced_lines=1)),
    ):
        refused = expect_error(await client.post(path, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")
        assert [d["field"] for d in refused["error"]["details"]] == ["on_reduced_lines"]


@pytest.mark.parametrize(("policy", "discount"), [("stack", "18.00"), ("skip", "10.00"), ("best_of", "10.00")])
async def test_a_coupon_on_a_basket_with_a_line_on_sale(
    client: Client, admin: Caller, service_key: dict[str, str], policy: str, discount: str
) -> None:
    full, on_sale = await books(client, admin, "100.00", "100.00")
    await sale_list(client, admin, on_sale, "80.00")  # 20.00 below its own price
    await create_coupon(client, admin, on_reduced_lines=policy)

    quote = await quote_of(client, service_key, [full, on_sale], coupon_codes=["SAVE10"])

    # 10 % of 100 and of 80; of 100 alone; best_of: 80 beats 100 - 10 % = 90 on the line on sale
    assert (quote["discount_amount"], quote["applied_coupons"][0]["amount"]) == (discount, discount)


async def test_best_of_gives_a_reduced_line_what_its_own_price_less_the_discount_is_below_it(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    full, on_sale = await books(client, admin, "100.00", "100.00")
    await sale_list(client, admin, on_sale, "80.00")
    await create_promotion(
        client, admin, name="30 % off", kind="PERCENT_OFF", config={"percent": 30}, on_reduced_lines="best_of"
    )

    quote = await quote_of(client, service_key, [full, on_sale])

    assert [p["amount"] for p in quote["applied_promotions"]] == ["40.00"]  # 30.00 + (80 - 70)
    assert [line["discount"] for line in quote["items"]] == ["30.00", "10.00"]


async def test_a_changed_policy_prices_the_next_quote(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    full, on_sale = await books(client, admin, "100.00", "100.00")
    await sale_list(client, admin, on_sale, "80.00")
    await create_coupon(client, admin)
    before = await quote_of(client, service_key, [full, on_sale], coupon_codes=["SAVE10"])

    expect_ok(await client.put(f"{COUPONS}/save10", json=put_body(on_reduced_lines="skip"), headers=admin.headers))
    after = await quote_of(client, service_key, [full, on_sale], coupon_codes=["SAVE10"])

    assert (before["discount_amount"], after["discount_amount"]) == ("18.00", "10.00")
