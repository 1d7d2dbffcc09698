"""Every money string a quote shows has exactly its currency's minor-unit digits (hypothesis).

Inputs are shaped as they come out of PostgreSQL: catalog prices, coupon amounts and commission
amounts are `numeric(20, 4)`, so they arrive as `Decimal('104.9700')` (JPY `Decimal('105.0000')`).
Nothing of that scale may reach the response: the engine quantizes at the source, and the JSON
the service stores and answers with is checked as well as the `Quote` itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import msgspec
from hypothesis import example, given, settings
from hypothesis import strategies as st

from quote_service.pricing.commission import CommissionRate
from quote_service.pricing.coupons import Coupon
from quote_service.pricing.money import minor_units, quantum
from quote_service.pricing.quote import CatalogProduct, CustomerContext, EngineDefaults, FlashOffer, Quote
from quote_service.pricing.rules import DeliveryFeeConfig, PricingRule, RegionalFeeConfig, TaxRateConfig
from tests.unit.pricing.test_engine_support import (
    NOW,
    D,
    address,
    item,
    offer,
    product,
    quote,
    rate,
    request,
    rule,
    snapshot,
)

CURRENCIES = ("EUR", "TRY", "JPY", "KWD", "CLF")  # 2, 2, 0, 3 and 4 minor-unit digits
NOT_MONEY = frozenset({"tax_rate", "rate"})
"""Decimal fields that are percents or configured rates, shown as configured (never rounded)."""
DB = D("0.0001")
"""The scale of every `numeric(20, 4)` column."""


def stored(amount: Decimal) -> Decimal:
    """`amount` as PostgreSQL hands it back from a numeric(20, 4) column."""
    return amount.quantize(DB)


def on_grid(currency: str, low: str, high: str) -> st.SearchStrategy[Decimal]:
    digits = minor_units(currency)
    scale = 10**digits
    return st.integers(int(D(low) * scale), int(D(high) * scale)).map(lambda n: Decimal(n).scaleb(-digits))


def money_pattern(currency: str) -> re.Pattern[str]:
    digits = minor_units(currency)
    fraction = rf"\.\d{{{digits}}}" if digits else ""
    return re.compile(rf"-?(0|[1-9]\d*){fraction}")


def money_fields(value: Any, path: str = "") -> Iterator[tuple[str, Decimal]]:
    """Every money Decimal in a Quote, with its path (`items[1].discount`)."""
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            if name not in NOT_MONEY:
                yield from money_fields(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, list):
        for index, entry in enumerate(value):
            yield from money_fields(entry, f"{path}[{index}]")
    elif isinstance(value, Decimal):
        yield path, value


def json_at(document: Any, path: str) -> Any:
    """The value at a `money_fields` path in the decoded JSON."""
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        document = document[int(part[1:-1])] if part.startswith("[") else document[part]
    return document


def catalog(currency: str, price: Decimal, min_price: Decimal, category: str = "books") -> CatalogProduct:
    """A catalog product whose prices have the database's four decimals."""
    return product(str(stored(price)), min_price=str(stored(min_price)), category=category, currency=currency)


def stacked_coupons(currency: str) -> list[Coupon]:
    """The coupons of the probe that found the bug, as the database returns them."""
    since = NOW - timedelta(days=1)
    fixed = D("750") if minor_units(currency) == 0 else D("7.50")
    return [
        Coupon(code="P15", type="PERCENTAGE", value=stored(D("15")), valid_from=since),
        Coupon(code="F750", type="FIXED", value=stored(fixed), currency=currency, valid_from=since),
        Coupon(code="P333", type="PERCENTAGE", value=stored(D("33.3")), valid_from=since),
        Coupon(code="CAP", type="PERCENTAGE", value=stored(D("40")), max_discount=stored(D("55.5")), valid_from=since),
        Coupon(code="SHIP", type="FREE_DELIVERY", value=stored(D("0")), valid_from=since),
    ]


def commission_rates(currency: str) -> list[CommissionRate]:
    return [
        rate(currency=currency, category_id="books", rate=stored(D("12.345"))),
        rate(currency=currency, seller_id="s2", commission_type="FLAT", rate=stored(D("0.75"))),
        rate(currency=currency, logistics_provider="Ship", rate=stored(D("5")), min_amount=stored(D("0.5"))),
    ]


def fee_rules() -> list[PricingRule]:
    return [
        rule(TaxRateConfig(rate=D("18"))),
        rule(TaxRateConfig(rate=D("8.25")), category_id="food"),
        rule(DeliveryFeeConfig(base_fee=D("12.345"), per_km=D("0.8125"))),
        rule(RegionalFeeConfig(amount=D("1.255"))),
    ]


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    currency = draw(st.sampled_from(CURRENCIES))
    products: list[CatalogProduct] = []
    flash: dict[CatalogProduct, FlashOffer] = {}
    items = []
    for _ in range(draw(st.integers(1, 5))):
        quantity = draw(st.integers(1, 12))
        category = draw(st.sampled_from(("books", "food", "toys")))
        if draw(st.integers(0, 3)):
            price = draw(on_grid(currency, "1", "2000"))
            if draw(st.booleans()):  # the probe's catalog: min_price at 70 % of the price
                min_price = (price * D("0.7")).quantize(quantum(currency), ROUND_HALF_UP)
            else:
                min_price = draw(on_grid(currency, "0", str(price)))
            made = catalog(currency, price, min_price, category)
            products.append(made)
            items.append(item(made, quantity))
            if draw(st.integers(0, 4)) == 0:
                flash_price = stored(draw(on_grid(currency, str(min_price), str(price))))
                flash[made] = offer(
                    made, str(flash_price), stock=draw(st.integers(0, 5)), limit=draw(st.integers(0, 5))
                )
        else:  # client prices may have fewer digits than the currency: "25.5" in EUR
            price = draw(on_grid(currency, "1", "400")).normalize()
            items.append(item(f"free-{len(items)}", quantity, unit_price=price, category_id=category))
    coordinates = draw(st.booleans())
    req = request(
        *items,
        currency=currency,
        is_express_delivery=draw(st.booleans()),
        coupon_codes=draw(st.lists(st.sampled_from(("P15", "F750", "P333", "CAP", "SHIP")), max_size=4)),
        logistics_provider=draw(st.sampled_from((None, "Ship"))),
        seller_id=draw(st.sampled_from((None, "s2"))),
        pickup_address=address(latitude=41.0, longitude=29.0) if coordinates else None,
        delivery_address=address(latitude=41.0 + draw(st.floats(0, 1)), longitude=29.0) if coordinates else address(),
    )
    return {
        "req": req,
        "config": snapshot(rules=fee_rules(), rates=commission_rates(currency), coupons=stacked_coupons(currency)),
        "products": products,
        "flash": flash,
        "customer": CustomerContext(customer_id="c-1"),
        "defaults": EngineDefaults(
            currency=currency, max_discount_percentage=D(draw(st.sampled_from(["30", "50", "100"])))
        ),
    }


def assert_money_digits(result: Quote) -> None:
    """Every money field of `result` and of its JSON has exactly the currency's digits."""
    pattern = money_pattern(result.currency)
    document = msgspec.json.decode(msgspec.json.encode(result))
    fields = list(money_fields(result))
    assert len(fields) >= 20
    for path, value in fields:
        assert value.as_tuple().exponent == -minor_units(result.currency), (path, value)
        assert pattern.fullmatch(str(value)), (path, value)
        shown = json_at(document, path)
        assert isinstance(shown, str), (path, shown)
        assert pattern.fullmatch(shown), (path, shown)
        assert not re.fullmatch(r"-0(\.0*)?", shown), (path, shown)  # never a negative zero


def assert_totals_add_up(result: Quote) -> None:
    lines = result.items
    assert result.total_amount == (
        result.subtotal - result.discount_amount + result.tax_amount + result.delivery_fee + result.small_basket_fee
    )
    assert result.subtotal == sum(line.line_subtotal for line in lines)
    assert result.discount_amount == sum(line.discount for line in lines)
    assert result.discount_amount == sum(c.amount for c in result.applied_coupons if c.type != "FREE_DELIVERY")
    assert result.tax_amount == sum(line.tax for line in lines)
    assert result.pricing_breakdown.calculations[-1].running_total == result.total_amount
    breakdown = result.commission_breakdown
    assert breakdown.total_commission == sum(d.amount for d in breakdown.details)
    assert breakdown.total_commission == (
        breakdown.seller_commission + breakdown.category_commission + breakdown.logistics_commission
    )


def probe_basket(currency: str = "EUR", prices: tuple[str, ...] = ("149.95", "19.99", "1234.56")) -> dict[str, Any]:
    """The basket of the bug report: 5 x 149.95, 3 x 19.99, 7 x 1234.56, min_price at 70 %, a 33.3 % coupon."""
    products = [
        catalog(currency, D(price), (D(price) * D("0.7")).quantize(quantum(currency)))  # as seed-demo does
        for price in prices
    ]
    req = request(
        item(products[0], 5), item(products[1], 3), item(products[2], 7), coupon_codes=["P333"], currency=currency
    )
    return {
        "req": req,
        "config": snapshot(coupons=stacked_coupons(currency)),
        "products": products,
        "flash": {},
        "customer": CustomerContext(customer_id="c-1"),
        "defaults": EngineDefaults(currency=currency),
    }


def test_a_coupon_clipped_at_the_min_price_floor_shows_two_digits() -> None:
    scenario = probe_basket()
    result = quote(scenario.pop("req"), **scenario)

    # 33.3 % of 9451.64 would be 3147.40; the 70 % floors hold the first two lines to 224.95 and
    # 18.00 of discount, and the third line's share (2592.59) stays under its room.
    assert [line.discount for line in result.items] == [D("224.95"), D("18.00"), D("2592.59")]
    assert str(result.discount_amount) == "2835.54"
    assert str(result.total_amount) == "7816.99"
    assert b'"discount_amount":"2835.54"' in msgspec.json.encode(result)
    assert_money_digits(result)
    assert_totals_add_up(result)


@settings(max_examples=400, deadline=None)
@given(scenarios())
@example(probe_basket())
@example(probe_basket("JPY", ("14995", "1999", "123456")))
@example(probe_basket("KWD", ("149.955", "19.991", "1234.567")))
def test_every_money_field_has_the_currency_digits(scenario: dict[str, Any]) -> None:
    result = quote(scenario.pop("req"), **scenario)

    assert_money_digits(result)
    assert_totals_add_up(result)
