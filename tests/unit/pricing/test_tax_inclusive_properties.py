"""Tax-inclusive and tax-exclusive lines in one basket (docs/markets.md), over thousands of random baskets.

Products and price lists gross or net at random, flash sales, price rules, promotions and coupons,
TAX_RATEs at every rounding edge (a gross amount whose contained tax is exactly half a minor unit),
in currencies with 0, 2 and 3 digits. Whatever the basket, every sum holds exactly:

- per line: net + tax = gross; a gross line's tax is round(gross x rate / (100 + rate)), a net line's
  round(net x rate / 100), half up, computed here in exact fractions;
- per quote: tax_amount is the tax added to the net lines, tax_included the tax the gross lines
  contain, and total_amount = subtotal - discount_amount + tax_amount + delivery_fee + small_basket_fee;
- commission is on each line's net (after discounts, without tax), whatever its mode.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import UNSET

from quote_service.pricing.money import minor_units
from quote_service.pricing.price_lists import ListPrice, PriceList
from quote_service.pricing.promotions import PercentOff
from quote_service.pricing.quote import CatalogProduct, CustomerContext, EngineDefaults, FlashOffer, Quote
from quote_service.pricing.rules import TaxRateConfig
from quote_service.pricing.snapshot import ConfigSnapshot
from tests.unit.pricing.test_engine_properties import CODES, amounts, coupons, fee_rules, flags, price_rules, rates
from tests.unit.pricing.test_engine_support import NOW, D, item, promotion, quote, request, rule

pytestmark = pytest.mark.slow  # tens of seconds: in `make test`, not the unit loop (docs/development.md)

CURRENCIES = ("EUR", "JPY", "KWD", "TRY")
CATEGORIES = ("books", "toys", "food")
TAX_RATES = ("0", "7.7", "10", "18", "20", "100")


def half_up(value: Fraction, digits: int) -> Decimal:
    """`value` rounded half up to `digits` decimals (exact: no float, no context precision)."""
    scaled = value * 10**digits
    whole = scaled.numerator // scaled.denominator
    if scaled - whole >= Fraction(1, 2):
        whole += 1
    return Decimal(whole).scaleb(-digits).quantize(Decimal(1).scaleb(-digits))


@st.composite
def gross_prices(draw: st.DrawFn, currency: str) -> Decimal:
    """A price, a third of the time one whose tax at 20 % (or 100 %) is exactly half a minor unit."""
    digits = minor_units(currency)
    if draw(st.integers(0, 2)) == 0:
        units = draw(st.sampled_from([6 * draw(st.integers(0, 5000)) + 3, 2 * draw(st.integers(0, 20000)) + 1]))
        return Decimal(units).scaleb(-digits)
    return draw(amounts(currency, "0.5", "400"))


BASKETS_PER_EXAMPLE = 5
"""Baskets priced under each drawn configuration (one snapshot, warm after the first): 600 examples
make 3,000 baskets at a fraction of the cost of drawing a configuration for each."""


@st.composite
def markets(draw: st.DrawFn) -> dict[str, Any]:
    """A configuration, a pool of products (gross or net) and BASKETS_PER_EXAMPLE requests over them."""
    currency = draw(st.sampled_from(CURRENCIES))
    products: list[CatalogProduct] = []
    flash: dict[CatalogProduct, FlashOffer] = {}
    listed: list[ListPrice] = []
    for _ in range(draw(st.integers(1, 8))):
        price = max(draw(gross_prices(currency)), Decimal(1))
        made = CatalogProduct(
            id=uuid4(),
            currency=currency,
            current_price=price,
            min_price=draw(amounts(currency, "0", str(price))),
            category_id=draw(st.sampled_from(CATEGORIES)),
            seller_id=draw(st.sampled_from(("s1", "s2"))),
            is_active=True,
            prices_include_tax=draw(st.booleans()),
        )
        products.append(made)
        if draw(st.integers(0, 3)) == 0:
            listed.append(ListPrice(made.id, max(draw(gross_prices(currency)), Decimal(1))))
        if draw(st.integers(0, 4)) == 0:
            flash[made] = FlashOffer(
                flash_sale_id=uuid4(),
                product_id=made.id,
                flash_price=draw(amounts(currency, str(made.min_price), str(price))),
                remaining_stock=draw(st.integers(0, 5)),
                customer_remaining_limit=draw(st.integers(0, 5)),
            )
    requests = []
    for _ in range(BASKETS_PER_EXAMPLE):
        items = []
        for _ in range(draw(st.integers(1, 6))):
            quantity = draw(st.integers(1, 12))
            if draw(st.integers(0, 3)):
                items.append(item(draw(st.sampled_from(products)), quantity))
            else:
                price = max(draw(gross_prices(currency)), Decimal(1))
                category = draw(st.sampled_from(CATEGORIES))
                items.append(item(f"free-{len(items)}", quantity, unit_price=price, category_id=category))
        requests.append(
            request(
                *items,
                currency=currency,
                is_express_delivery=draw(st.booleans()),
                coupon_codes=draw(st.lists(st.sampled_from(CODES), max_size=3)),
                logistics_provider=draw(st.sampled_from((None, "Ship"))),
            )
        )
    price_lists = []
    if listed:
        price_lists.append(
            PriceList(
                id=uuid4(),
                name="shelf",
                currency=currency,
                priority=0,
                created_at=NOW - timedelta(days=1),
                prices=tuple(listed),
                prices_include_tax=draw(st.booleans()),
            )
        )
    taxes = [
        rule(TaxRateConfig(rate=D(draw(st.sampled_from(TAX_RATES)))), category_id=category)
        for category in draw(st.sets(st.sampled_from(CATEGORIES)))
    ]
    promotions = []
    if draw(st.booleans()):
        promotions.append(promotion(PercentOff(percent=D(draw(st.sampled_from(["5", "12.5", "33.3"]))))))
    config = ConfigSnapshot.build(
        version=1,
        rules=draw(price_rules()) + draw(fee_rules(currency)) + taxes,
        rates=draw(rates(currency)),
        flags=flags(None, None, draw(st.booleans())),
        coupons=coupons(currency),
        price_lists=price_lists,
        promotions=promotions,
    )
    return {
        "requests": requests,
        "config": config,
        "products": products,
        "flash": flash,
        "customer": CustomerContext(customer_id="c-1", tier=draw(st.sampled_from((None, "gold")))),
        "defaults": EngineDefaults(
            currency=draw(st.sampled_from((currency, "TRY"))),
            tax_rate=D(draw(st.sampled_from(TAX_RATES))),
            max_discount_percentage=D(draw(st.sampled_from(["30", "50", "100"]))),
        ),
    }


def check_sums(result: Quote) -> None:
    digits = minor_units(result.currency)
    lines = result.items
    inclusive = any(line.prices_include_tax is True for line in lines)
    added = included = Decimal(0)
    category_bases = [d.base for d in result.commission_breakdown.details if d.dimension == "category"]
    assert len(category_bases) == len(lines)
    for line, base in zip(lines, category_bases, strict=True):
        left = line.line_subtotal - line.discount
        rate = Fraction(line.tax_rate)
        if not inclusive:  # a quote with no gross line reads as before: no split at all
            assert (line.prices_include_tax, line.net, line.gross) == (UNSET, UNSET, UNSET)
            assert line.tax == half_up(Fraction(left) * rate / 100, digits)
            assert base == left
            added += line.tax
            continue
        assert isinstance(line.net, Decimal)
        assert isinstance(line.gross, Decimal)
        assert line.net + line.tax == line.gross
        if line.prices_include_tax:
            assert line.gross == left
            assert line.tax == half_up(Fraction(left) * rate / (100 + rate), digits)
            included += line.tax
        else:
            assert line.net == left
            assert line.tax == half_up(Fraction(left) * rate / 100, digits)
            added += line.tax
        assert base == line.net  # commission on the net, in both modes
        for value in (line.net, line.gross, line.tax):
            assert value.as_tuple().exponent == -digits, value
    assert result.tax_amount == added
    if inclusive:
        assert result.tax_included == included
        assert isinstance(result.tax_included, Decimal)
        assert result.tax_included.as_tuple().exponent == -digits
    else:
        assert result.tax_included is UNSET
    assert result.subtotal == sum(line.line_subtotal for line in lines)
    assert result.discount_amount == sum(line.discount for line in lines)
    assert result.total_amount == (
        result.subtotal - result.discount_amount + result.tax_amount + result.delivery_fee + result.small_basket_fee
    )
    assert result.pricing_breakdown.calculations[-1].running_total == result.total_amount


@settings(max_examples=600, deadline=None)
@given(markets())
def test_every_sum_holds_in_both_modes(market: dict[str, Any]) -> None:
    for req in market.pop("requests"):
        check_sums(quote(req, **market))


def test_the_rounding_edges_round_half_up() -> None:
    """The worked examples of docs/markets.md: 0.03 at 20 % contains 0.005 -> 0.01; 9.99 at 18 % 1.52."""
    assert half_up(Fraction("0.03") * 20 / 120, 2) == D("0.01")
    for price, rate, tax in (("0.03", "20", "0.01"), ("9.99", "18", "1.52"), ("1000", "10", "91")):
        currency = "JPY" if price == "1000" else "EUR"
        made = CatalogProduct(
            id=uuid4(),
            currency=currency,
            current_price=D(price),
            min_price=D(0),
            category_id="books",
            seller_id="s1",
            is_active=True,
            prices_include_tax=True,
        )
        defaults = EngineDefaults(currency=currency, tax_rate=D(rate))
        result = quote(request(item(made, 1), currency=currency), products=[made], defaults=defaults)
        assert result.items[0].tax == D(tax)
        check_sums(result)
