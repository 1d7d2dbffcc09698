"""Amounts priced in another currency than the quote's, converted with FX_CONVERSION on (docs/currencies.md):
FLAT and TIERED commission amounts, fixed-amount promotions and a fee rule priced in a third currency (neither
the quote's nor DEFAULT_CURRENCY) convert once at the quote's rate, which the quote locks; an amount priced in
the quote's currency wins."""

from __future__ import annotations

from decimal import Decimal

from tests.integration.commissions.test_commission_rates_api import create_rate
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.fx.test_fx_quotes import PAST, QUOTE, basket, product_in, settings  # noqa: F401
from tests.integration.fx.test_fx_rates_api import Client, post_rate
from tests.integration.promotions.test_promotions_api import create_promotion


def locked_pairs(quote: dict) -> set[tuple[str, str]]:
    return {(r["base"], r["quote"]) for r in quote.get("fx", {}).get("rates", [])}


async def test_flat_and_tiered_commission_priced_in_another_currency_convert_and_the_quote_s_own_wins(
    client: Client, admin: Caller
) -> None:
    product = await product_in(client, admin, "EUR", "40.00")  # EUR 40.00: no conversion of the line
    await post_rate(client, admin, base="TRY", quote="EUR", rate="0.025", valid_from=PAST)
    await create_rate(
        client, admin, category_id="electronics", commission_type="FLAT", rate="100.00", currency="TRY",
        priority=1,
    )  # fmt: skip
    body = {**basket("EUR", (product["id"], 3)), "customer_id": "commission-flat"}
    quote = expect_ok(await client.post(QUOTE, json=body, headers=admin.headers))
    # 100.00 TRY a unit x 0.025 = 2.50 EUR, x 3 units (not the default percentage of the net)
    assert Decimal(quote["commission_breakdown"]["category_commission"]) == Decimal("7.50"), quote[
        "commission_breakdown"
    ]
    assert ("TRY", "EUR") in locked_pairs(quote)

    await create_rate(
        client, admin, seller_id="seller-1", category_id=None, commission_type="TIERED", currency="TRY", rate=None,
        tiers=[{"up_to": "2000.00", "rate": "10"}, {"up_to": None, "rate": "1"}],
    )  # fmt: skip
    tiered = expect_ok(await client.post(QUOTE, json={**body, "customer_id": "c-t"}, headers=admin.headers))
    # the bound 2000.00 TRY is 50.00 EUR: 10 % of 50.00 + 1 % of the 70.00 above it (net 120.00)
    assert Decimal(tiered["commission_breakdown"]["seller_commission"]) == Decimal("5.70"), tiered[
        "commission_breakdown"
    ]

    await create_rate(client, admin, category_id="electronics", commission_type="FLAT", rate="1.00", currency="EUR")
    own = expect_ok(await client.post(QUOTE, json={**body, "customer_id": "c-own"}, headers=admin.headers))
    assert Decimal(own["commission_breakdown"]["category_commission"]) == Decimal("3.00")  # the EUR rate wins


async def test_a_fixed_amount_promotion_priced_in_another_currency_converts_at_the_quote_s_rate(
    client: Client, admin: Caller
) -> None:
    product = await product_in(client, admin, "EUR", "40.00")
    await post_rate(client, admin, base="TRY", quote="EUR", rate="0.025", valid_from=PAST)
    await create_promotion(
        client, admin, name="lira off", kind="AMOUNT_OFF", config={"amount": "200.00", "currency": "TRY"},
        conditions={"min_subtotal": "2000.00", "currency": "TRY"},
    )  # fmt: skip
    small = expect_ok(await client.post(QUOTE, json=basket("EUR", (product["id"], 1)), headers=admin.headers))
    assert small["applied_promotions"] == []  # 40.00 EUR is below 2000.00 TRY = 50.00 EUR
    big = expect_ok(
        await client.post(QUOTE, json={**basket("EUR", (product["id"], 2)), "customer_id": "p2"}, headers=admin.headers)
    )
    assert [(p["name"], p["amount"]) for p in big["applied_promotions"]] == [("lira off", "5.00")]  # 200 x 0.025
    assert big["discount_amount"] == "5.00"
    assert ("TRY", "EUR") in locked_pairs(big)


async def test_a_fee_rule_priced_in_a_third_currency_converts(client: Client, admin: Caller) -> None:
    """DEFAULT_CURRENCY is TRY; a EUR quote with a DELIVERY_FEE rule priced only in USD pays it converted."""
    product = await product_in(client, admin, "EUR", "40.00")
    await post_rate(client, admin, base="USD", quote="EUR", rate="0.9", valid_from=PAST)
    rules = "/api/v1/pricing-rules"
    dollar = {"name": "usd-delivery", "type": "DELIVERY_FEE", "configuration": {"base_fee": "5.00", "currency": "USD"}}
    expect_ok(await client.post(rules, json={**dollar, "effective_from": PAST}, headers=admin.headers), 201)
    quote = expect_ok(await client.post(QUOTE, json=basket("EUR", (product["id"], 1)), headers=admin.headers))
    assert quote["delivery_fee"] == "4.50"  # 5.00 USD x 0.9
    assert ("USD", "EUR") in locked_pairs(quote)


async def test_offers_priced_in_another_currency_are_ranked_after_conversion(client: Client, admin: Caller) -> None:
    """A EUR product's offers in a TRY quote: the cheaper offer, converted, is the best landed one (with
    conversion off, or without a rate, the default offer prices the item, as before)."""
    from tests.integration.offers.test_offers_api import make_offer

    product = await create_product_in_eur(client, admin)
    cheaper = await make_offer(client, admin, product, seller_id="seller-b", current_price="8.00", stock=5)
    await post_rate(client, admin, base="EUR", quote="TRY", rate="40", valid_from=PAST)
    body = {**basket("TRY", (product["id"], 1)), "delivery_address": {"city": "Ankara", "country": "TR"}}
    quote = expect_ok(await client.post(QUOTE, json=body, headers=admin.headers))
    line = quote["items"][0]
    assert (line["offer_id"], line["seller_id"], line["offer_selection"]) == (cheaper["id"], "seller-b", "best_landed")
    assert line["unit_price"] == "320.00"  # 8.00 EUR x 40, not the default offer's 10.00 EUR (400.00)


async def create_product_in_eur(client: Client, admin: Caller) -> dict:
    return await product_in(client, admin, "EUR", "10.00")


async def test_a_flat_logistics_rate_priced_in_another_currency_converts(client: Client, admin: Caller) -> None:
    product = await product_in(client, admin, "EUR", "40.00")
    await post_rate(client, admin, base="TRY", quote="EUR", rate="0.025", valid_from=PAST)
    await create_rate(
        client, admin, category_id=None, logistics_provider="go-logistics", commission_type="FLAT", rate="60.00",
        currency="TRY",
    )  # fmt: skip
    body = {**basket("EUR", (product["id"], 1)), "logistics_provider": "go-logistics"}
    quote = expect_ok(await client.post(QUOTE, json=body, headers=admin.headers))
    assert quote["commission_breakdown"]["logistics_commission"] == "1.50"  # 60.00 TRY x 0.025, once an order
    assert ("TRY", "EUR") in locked_pairs(quote)


async def test_a_percentage_commission_rate_priced_in_another_currency_keeps_its_percentage_and_converts_its_bounds(
    client: Client, admin: Caller
) -> None:
    """No rate in the quote's currency matches: the TRY one takes part, 10 % as it is, its 400.00 TRY floor
    converted to 10.00 EUR (10 % of 40.00 would be 4.00)."""
    product = await product_in(client, admin, "EUR", "40.00")
    await post_rate(client, admin, base="TRY", quote="EUR", rate="0.025", valid_from=PAST)
    await create_rate(
        client, admin, category_id="electronics", commission_type="PERCENTAGE", rate="10", currency="TRY",
        min_amount="400.00",
    )  # fmt: skip
    body = {**basket("EUR", (product["id"], 1)), "customer_id": "commission-percent"}
    quote = expect_ok(await client.post(QUOTE, json=body, headers=admin.headers))
    detail = quote["commission_breakdown"]["details"][0]
    assert (detail["commission_type"], detail["rate"]) == ("PERCENTAGE", "10"), detail
    assert Decimal(quote["commission_breakdown"]["category_commission"]) == Decimal("10.00"), quote[
        "commission_breakdown"
    ]
    assert ("TRY", "EUR") in locked_pairs(quote)
