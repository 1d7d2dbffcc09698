"""Quotes that convert (docs/currencies.md), served with FX_CONVERSION on: a line with no price in the quote's
currency is priced from its catalog price converted per unit (half up to the currency's minor unit) and lifted
to FX_PRICE_ENDINGS, carrying its `fx`; the quote locks the rates it used until valid_until; no rate is a 422
FX_RATE_MISSING naming the item; a price in the quote's currency always wins; with conversion off nothing
changes."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import msgspec
import pytest

from quote_service.config import Settings
from quote_service.pricing.money import quantum
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.fx.test_fx_rates_api import Client, post_rate
from tests.integration.orders.test_orders_api import key

QUOTE = "/api/v1/quote"
PAST = "2026-01-01T00:00:00Z"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, fx_conversion=True, fx_price_endings='{"EUR": "0.99", "USD": "whole"}')


async def product_in(client: Client, admin: Caller, currency: str, price: str) -> dict[str, Any]:
    """A catalog product priced in `currency` only."""
    one = str(Decimal(1).quantize(quantum(currency)))  # min_price and cost_price with the currency's digits
    return await create_product(client, admin, currency=currency, base_price=price, min_price=one, cost_price=one)


def basket(currency: str, *lines: tuple[str, int]) -> dict[str, Any]:
    return {
        "customer_id": "fx-buyer",
        "items": [{"product_id": product_id, "quantity": quantity} for product_id, quantity in lines],
        "delivery_address": {"city": "Berlin", "country": "DE"},
        "currency": currency,
    }


def converted(amount: str, rate: str, digits: int) -> Decimal:
    return (Decimal(amount) * Decimal(rate)).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)


async def test_a_line_priced_in_another_currency_converts_per_unit_and_the_quote_locks_the_rate(
    client: Client, admin: Caller
) -> None:
    product = await product_in(client, admin, "SEK", "12.34")
    rate = await post_rate(client, admin, base="SEK", quote="JPY", rate="14.123456789012", valid_from=PAST)
    quote = expect_ok(await client.post(QUOTE, json=basket("JPY", (product["id"], 3)), headers=admin.headers))
    line = quote["items"][0]
    unit = converted("12.34", "14.123456789012", 0)  # JPY has no minor unit: 174.284... → 174
    assert (Decimal(line["unit_price"]), Decimal(line["line_subtotal"])) == (unit, unit * 3), line
    assert line["fx"] == {
        "source_currency": "SEK",
        "source_unit_price": "12.34",
        "rate": "14.123456789012",
        "rate_id": rate["id"],
    }
    assert quote["fx"] == {
        "rates": [
            {"base": "SEK", "quote": "JPY", "rate": "14.123456789012", "rate_id": rate["id"], "source": "manual"}
        ],
        "locked_until": quote["valid_until"],
    }
    assert Decimal(quote["total_amount"]) == Decimal(quote["subtotal"]) - Decimal(quote["discount_amount"]) + Decimal(
        quote["tax_amount"]
    ) + Decimal(quote["delivery_fee"]) + Decimal(quote["small_basket_fee"])
    assert all(Decimal(quote[f]) == Decimal(quote[f]).quantize(Decimal(1)) for f in ("total_amount", "tax_amount"))


async def test_a_three_digit_currency_a_cross_rate_and_the_price_endings(client: Client, admin: Caller) -> None:
    product = await product_in(client, admin, "SEK", "10.00")
    await post_rate(client, admin, base="EUR", quote="SEK", rate="11.5", valid_from=PAST)
    await post_rate(client, admin, base="EUR", quote="KWD", rate="0.33", valid_from=PAST)
    await post_rate(client, admin, base="SEK", quote="USD", rate="0.0951", valid_from=PAST)
    kwd = expect_ok(await client.post(QUOTE, json=basket("KWD", (product["id"], 1)), headers=admin.headers))
    crossed = Decimal("0.33") / Decimal("11.5")  # EUR → KWD over EUR → SEK, 12 decimals
    rate = crossed.quantize(Decimal("1e-12"))
    assert kwd["items"][0]["fx"]["rate"] == str(rate)
    assert kwd["items"][0]["fx"]["rate_id"] is None
    assert kwd["fx"]["rates"][0]["source"] == "cross"
    assert Decimal(kwd["items"][0]["unit_price"]) == converted("10.00", str(rate), 3)  # 0.287
    eur = expect_ok(await client.post(QUOTE, json=basket("EUR", (product["id"], 2)), headers=admin.headers))
    assert eur["items"][0]["fx"]["rate"] == str((1 / Decimal("11.5")).quantize(Decimal("1e-12")))  # inverse
    assert eur["items"][0]["unit_price"] == "0.99"  # 0.87 lifted to the ending 0.99
    usd = expect_ok(await client.post(QUOTE, json=basket("USD", (product["id"], 1)), headers=admin.headers))
    assert usd["items"][0]["unit_price"] == "1.00"  # 0.95 lifted to the next whole unit


async def test_no_rate_is_fx_rate_missing_naming_the_item_and_a_price_in_the_currency_wins(
    client: Client, admin: Caller
) -> None:
    own = await product_in(client, admin, "CHF", "5.00")
    foreign = await product_in(client, admin, "NOK", "5.00")
    refused = await client.post(QUOTE, json=basket("CHF", (own["id"], 1), (foreign["id"], 1)), headers=admin.headers)
    expect_error(refused, 422, "FX_RATE_MISSING")
    assert set(field_errors(refused.json())) == {"items[1].product_id"}
    native = expect_ok(await client.post(QUOTE, json=basket("CHF", (own["id"], 1)), headers=admin.headers))
    assert "fx" not in native
    assert "fx" not in native["items"][0]
    assert native["items"][0]["unit_price"] == "5.00"


async def test_with_conversion_off_a_line_in_another_currency_is_still_not_priced(
    client: Client, admin: Caller, settings: Settings
) -> None:
    from litestar.testing import AsyncTestClient

    from quote_service.app import create_app

    product = await product_in(client, admin, "SEK", "12.34")
    await post_rate(client, admin, base="SEK", quote="JPY", rate="14", valid_from=PAST)
    async with AsyncTestClient(create_app(msgspec.structs.replace(settings, fx_conversion=False))) as off:
        refused = await off.post(QUOTE, json=basket("JPY", (product["id"], 1)), headers=admin.headers)
    expect_error(refused, 422, "CURRENCY_NOT_PRICED")


async def test_the_order_keeps_its_quote_s_rates_when_a_newer_one_applies_and_refunds_give_back_what_it_charged(
    client: Client, admin: Caller
) -> None:
    product = await product_in(client, admin, "SEK", "10.00")
    first = await post_rate(client, admin, base="SEK", quote="JPY", rate="14", valid_from=PAST)
    quote = expect_ok(await client.post(QUOTE, json=basket("JPY", (product["id"], 2)), headers=admin.headers))
    await post_rate(client, admin, base="SEK", quote="JPY", rate="15")  # in force from now on
    order = expect_ok(
        await client.post("/api/v1/orders", json={"quote_id": quote["quote_id"]}, headers={**admin.headers, **key()}),
        201,
    )
    assert order["fx"] == quote["fx"]
    assert order["fx"]["rates"][0]["rate_id"] == first["id"]
    assert (order["items"][0]["unit_price"], order["total_amount"]) == ("140", quote["total_amount"])
    shown = expect_ok(await client.get(f"/api/v1/orders/{order['id']}", headers=admin.headers))
    assert shown["fx"] == quote["fx"]
    fresh = expect_ok(await client.post(QUOTE, json=basket("JPY", (product["id"], 2)), headers=admin.headers))
    assert fresh["items"][0]["unit_price"] == "150"
    assert fresh["fx"]["rates"][0]["rate"] == "15"
    body = {"lines": [{"product_id": product["id"], "quantity": 2}], "include_fees": True}
    refund = expect_ok(
        await client.post(f"/api/v1/orders/{order['id']}/refunds", json=body, headers={**admin.headers, **key()}), 201
    )
    assert refund["total_refunded"] == order["total_amount"], refund


async def test_fees_priced_in_the_default_currency_convert_and_one_in_the_quote_s_currency_wins(
    client: Client, admin: Caller
) -> None:
    """DEFAULT_CURRENCY is TRY: a EUR quote pays the TRY default fees and rules converted at the rate it locks
    (without conversion it would pay none); a rule priced in EUR wins over a converted one."""
    product = await product_in(client, admin, "TRY", "100.00")
    rate = await post_rate(client, admin, base="TRY", quote="EUR", rate="0.025", valid_from=PAST)
    body = basket("EUR", (product["id"], 1))
    defaults = expect_ok(await client.post(QUOTE, json={**body, "customer_id": "fees-1"}, headers=admin.headers))
    assert defaults["items"][0]["unit_price"] == "2.99"  # 2.50 lifted to the EUR ending 0.99
    # DEFAULT_DELIVERY_FEE 10.00 TRY → 0.25 EUR; the small-basket threshold 50.00 TRY → 1.25 EUR: 2.99 is above it
    assert (defaults["delivery_fee"], defaults["small_basket_fee"]) == ("0.25", "0.00")
    assert defaults["fx"]["rates"] == [
        {"base": "TRY", "quote": "EUR", "rate": "0.025", "rate_id": rate["id"], "source": "manual"}
    ]

    rules = "/api/v1/pricing-rules"
    lira = {"name": "try-delivery", "type": "DELIVERY_FEE", "configuration": {"base_fee": "30.00"}}
    expect_ok(await client.post(rules, json={**lira, "effective_from": PAST}, headers=admin.headers), 201)
    converted = expect_ok(await client.post(QUOTE, json={**body, "customer_id": "fees-2"}, headers=admin.headers))
    assert converted["delivery_fee"] == "0.75"  # 30.00 TRY x 0.025

    euro = {"name": "eur-delivery", "type": "DELIVERY_FEE", "configuration": {"base_fee": "3.90", "currency": "EUR"}}
    expect_ok(await client.post(rules, json={**euro, "effective_from": PAST}, headers=admin.headers), 201)
    own = expect_ok(await client.post(QUOTE, json={**body, "customer_id": "fees-3"}, headers=admin.headers))
    assert own["delivery_fee"] == "3.90"


async def test_a_fixed_coupon_priced_in_another_currency_converts_at_the_quote_s_rate(
    client: Client, admin: Caller
) -> None:
    from tests.integration.coupons.test_coupons_api import create_coupon

    product = await product_in(client, admin, "TRY", "400.00")
    await create_coupon(
        client, admin, code="lira100", type="FIXED", value="100.00", currency="TRY", min_subtotal="200.00"
    )
    no_rate = expect_ok(
        await client.post(QUOTE, json={**basket("TRY", (product["id"], 1)), "coupon_codes": ["lira100"]},
                          headers=admin.headers)
    )  # fmt: skip
    assert no_rate["applied_coupons"][0]["amount"] == "100.00"  # in its own currency, as ever

    await post_rate(client, admin, base="TRY", quote="EUR", rate="0.025", valid_from=PAST)
    body = {**basket("EUR", (product["id"], 1)), "coupon_codes": ["lira100"], "customer_id": "coupon-eur"}
    euro = expect_ok(await client.post(QUOTE, json=body, headers=admin.headers))
    assert euro["items"][0]["unit_price"] == "10.99"  # 10.00 lifted to the EUR ending
    assert [(c["code"], c["amount"]) for c in euro["applied_coupons"]] == [("LIRA100", "2.50")]  # 100.00 x 0.025
    assert euro["discount_amount"] == "2.50"
    assert euro["rejected_coupons"] == []


async def test_an_order_edit_converts_its_added_lines_at_the_order_s_locked_rates(
    client: Client, admin: Caller
) -> None:
    """A newer rate applies to new quotes only: an edit adding units to a converted order prices them at the
    rate the order locked (140 JPY a unit), not the one in force (150)."""
    product = await product_in(client, admin, "SEK", "10.00")
    await post_rate(client, admin, base="SEK", quote="JPY", rate="14", valid_from=PAST)
    two = expect_ok(await client.post(QUOTE, json=basket("JPY", (product["id"], 2)), headers=admin.headers))
    three = expect_ok(
        await client.post(QUOTE, json={**basket("JPY", (product["id"], 3)), "customer_id": "c3"}, headers=admin.headers)
    )
    order = expect_ok(
        await client.post("/api/v1/orders", json={"quote_id": two["quote_id"]}, headers={**admin.headers, **key()}),
        201,
    )
    await post_rate(client, admin, base="SEK", quote="JPY", rate="15")  # in force from now on
    body = {"add": [{"product_id": product["id"], "quantity": 1}]}
    edit = expect_ok(await client.post(f"/api/v1/orders/{order['id']}/edits", json=body, headers=admin.headers), 201)
    assert edit["totals"]["subtotal"] == "420", edit  # 3 x 140, not 280 + 150
    assert edit["difference_due"] == "165"  # the added line: 140 and its tax, 25 (18 % of 140, rounded)
    assert three["items"][0]["unit_price"] == "140"  # as a quote of three units priced it before the new rate


async def test_an_order_edit_keeps_the_fees_its_converted_order_paid(client: Client, admin: Caller) -> None:
    """A EUR order of a TRY product paid the TRY default fees converted (10.00 TRY delivery = 0.25 EUR): its
    edit, priced under the order's terms at its locked rate, still charges them, so adding a unit costs that
    unit and its tax, not the fee taken away."""
    product = await product_in(client, admin, "TRY", "400.00")
    await post_rate(client, admin, base="TRY", quote="EUR", rate="0.025", valid_from=PAST)
    quote = expect_ok(await client.post(QUOTE, json=basket("EUR", (product["id"], 1)), headers=admin.headers))
    assert quote["delivery_fee"] == "0.25"
    order = expect_ok(
        await client.post("/api/v1/orders", json={"quote_id": quote["quote_id"]}, headers={**admin.headers, **key()}),
        201,
    )
    body = {"add": [{"product_id": product["id"], "quantity": 1}]}
    edit = expect_ok(await client.post(f"/api/v1/orders/{order['id']}/edits", json=body, headers=admin.headers), 201)
    assert edit["totals"]["delivery_fee"] == "0.25", edit
    unit = Decimal(quote["items"][0]["unit_price"])
    line_total = Decimal(quote["total_amount"]) - Decimal(quote["delivery_fee"]) - Decimal(quote["small_basket_fee"])
    assert Decimal(edit["difference_due"]) == line_total, (unit, edit)
