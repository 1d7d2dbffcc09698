"""Properties of every quote over random baskets and configurations (hypothesis).

Whatever the basket and the configuration: the total is exactly the sum of its rounded parts,
commission parts add up, no amount is negative, the discount stays under its cap and above no
floor, and every money value is already rounded to the currency's minor units.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quote_service.pricing.commission import CommissionRate, Tier
from quote_service.pricing.coupons import Coupon
from quote_service.pricing.flags import FeatureFlag, Rollout
from quote_service.pricing.money import minor_units, round_money
from quote_service.pricing.quote import CatalogProduct, CustomerContext, EngineDefaults, FlashOffer, Quote
from quote_service.pricing.rules import (
    DeliveryFeeConfig,
    DistanceBand,
    ExpressFeeConfig,
    FreeDeliveryConfig,
    PricingRule,
    QuantityTier,
    QuantityTierConfig,
    RegionalFeeConfig,
    SmallBasketConfig,
    TaxRateConfig,
    TimeWindowConfig,
    UserTierConfig,
)
from tests.unit.pricing.test_engine_support import NOW, D, address, item, quote, rate, request, rule, snapshot

CURRENCIES = ("EUR", "JPY", "KWD")
CATEGORIES = ("books", "toys", "food")
SELLERS = ("s1", "s2")
CODES = ("P10", "P50", "F5", "SHIP", "NOPE")


def amounts(currency: str, low: str = "0", high: str = "500") -> st.SearchStrategy[Decimal]:
    """Decimals on the currency's grid between low and high."""
    digits = minor_units(currency)
    scale = 10**digits
    return st.integers(int(D(low) * scale), int(D(high) * scale)).map(lambda n: Decimal(n).scaleb(-digits))


percents = st.integers(-60, 60).map(Decimal)


@st.composite
def price_rules(draw: st.DrawFn) -> list[PricingRule]:
    found: list[PricingRule] = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["window", "tier", "user"]))
        if kind == "window":
            config: Any = TimeWindowConfig(adjust_percent=draw(percents), start_time="00:00", end_time="00:00")
        elif kind == "tier":
            config = QuantityTierConfig(
                tiers=(
                    QuantityTier(min_quantity=2, adjust_percent=draw(percents)),
                    QuantityTier(min_quantity=5, adjust_percent=draw(percents)),
                )
            )
        else:
            config = UserTierConfig(tiers={"gold": draw(percents)})
        found.append(
            rule(
                config,
                priority=draw(st.integers(0, 3)),
                exclusive=draw(st.booleans()),
                category_id=draw(st.sampled_from((None, *CATEGORIES))),
            )
        )
    return found


@st.composite
def fee_rules(draw: st.DrawFn, currency: str) -> list[PricingRule]:
    money = amounts(currency, "0", "60")
    found = [
        rule(TaxRateConfig(rate=D(draw(st.integers(0, 30)))), category_id=c)
        for c in draw(st.sets(st.sampled_from(CATEGORIES)))
    ]
    if draw(st.booleans()):
        bands = (DistanceBand(max_km=D("5"), fee=draw(money)), DistanceBand(max_km=D("50"), fee=draw(money)))
        found.append(
            rule(
                DeliveryFeeConfig(
                    base_fee=draw(money),
                    per_km=draw(st.none() | amounts(currency, "0", "2")),
                    max_fee=draw(st.none() | money),
                    distance_bands=draw(st.none() | st.just(bands)),
                )
            )
        )
    if draw(st.booleans()):
        found.append(
            rule(
                ExpressFeeConfig(
                    multiplier=draw(st.sampled_from([D("1"), D("1.5"), D("2.25")])),
                    base_fee=draw(st.none() | money),
                    distance_factor=draw(st.none() | st.just(D("0.137"))),
                    max_fee=draw(st.none() | money),
                )
            )
        )
    if draw(st.booleans()):
        found.append(rule(RegionalFeeConfig(amount=D("1.255"))))
    if draw(st.booleans()):
        found.append(rule(FreeDeliveryConfig(min_subtotal=draw(amounts(currency, "0", "900")))))
    if draw(st.booleans()):
        found.append(rule(SmallBasketConfig(threshold=draw(amounts(currency, "0", "200")), fee=draw(money))))
    return found


@st.composite
def rates(draw: st.DrawFn, currency: str) -> list[CommissionRate]:
    found = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["PERCENTAGE", "FLAT", "TIERED"]))
        fields: dict[str, Any] = {
            "currency": currency,
            "commission_type": kind,
            "category_id": draw(st.sampled_from((None, *CATEGORIES))),
            "seller_id": draw(st.sampled_from((None, *SELLERS))),
            "logistics_provider": draw(st.sampled_from((None, "Ship"))),
            "min_amount": draw(st.none() | st.just(D("0.5"))),
            "max_amount": draw(st.none() | st.just(D("40"))),
        }
        if kind == "TIERED":
            fields.update(rate=None, tiers=(Tier(up_to=D("100"), rate=D("10")), Tier(up_to=None, rate=D("3.5"))))
        else:
            fields["rate"] = D(draw(st.sampled_from(["0", "2.5", "12.345", "30"])))
        found.append(rate(**fields))
    return found


def coupons(currency: str) -> list[Coupon]:
    since = NOW - timedelta(days=1)
    return [
        Coupon(code="P10", type="PERCENTAGE", value=D("10"), valid_from=since, category_ids=frozenset({"books"})),
        Coupon(code="P50", type="PERCENTAGE", value=D("50"), valid_from=since, max_discount=D("80"), currency=currency),
        Coupon(code="F5", type="FIXED", value=D("5"), valid_from=since, currency=currency),
        Coupon(code="SHIP", type="FREE_DELIVERY", value=D("0"), valid_from=since),
    ]


def flags(multiplier: Decimal | None, threshold: Decimal | None, dynamic: bool) -> list[FeatureFlag]:
    found = [FeatureFlag(key="dynamic_pricing", type="BOOLEAN", value=dynamic, default_value=False, is_enabled=True)]
    for key, value in (("express_delivery_multiplier", multiplier), ("small_basket_threshold", threshold)):
        if value is not None:
            found.append(
                FeatureFlag(key=key, type="NUMBER", value=value, default_value=None, is_enabled=True, rollout=Rollout())
            )
    return found


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    currency = draw(st.sampled_from(CURRENCIES))
    products: list[CatalogProduct] = []
    flash: dict[CatalogProduct, FlashOffer] = {}
    items = []
    for _ in range(draw(st.integers(1, 6))):
        quantity = draw(st.integers(1, 12))
        category = draw(st.sampled_from(CATEGORIES))
        if draw(st.booleans()):
            price = draw(amounts(currency, "0.5", "400"))
            min_price = draw(amounts(currency, "0", str(price)))
            made = CatalogProduct(
                id=uuid4(),
                currency=currency,
                current_price=price,
                min_price=min_price,
                category_id=category,
                seller_id=draw(st.sampled_from(SELLERS)),
                is_active=True,
            )
            products.append(made)
            items.append(item(made, quantity))
            if draw(st.booleans()):
                flash[made] = FlashOffer(
                    flash_sale_id=uuid4(),
                    product_id=made.id,
                    flash_price=draw(amounts(currency, str(min_price), str(price))),
                    remaining_stock=draw(st.integers(0, 5)),
                    customer_remaining_limit=draw(st.integers(0, 5)),
                )
        else:
            price = draw(amounts(currency, "1", "400"))
            items.append(item(f"free-{len(items)}", quantity, unit_price=price, category_id=category))
    coordinates = draw(st.booleans())
    req = request(
        *items,
        currency=currency,
        is_express_delivery=draw(st.booleans()),
        coupon_codes=draw(st.lists(st.sampled_from(CODES), max_size=4)),
        logistics_provider=draw(st.sampled_from((None, "Ship"))),
        seller_id=draw(st.sampled_from((None, *SELLERS))),
        pickup_address=address(latitude=41.0, longitude=29.0) if coordinates else None,
        delivery_address=address(latitude=41.0 + draw(st.floats(0, 1)), longitude=29.0) if coordinates else address(),
    )
    config = snapshot(
        rules=draw(price_rules()) + draw(fee_rules(currency)),
        rates=draw(rates(currency)),
        flags=flags(
            draw(st.none() | st.sampled_from([D("1.5"), D("3")])),
            draw(st.none() | amounts(currency, "0", "300")),
            draw(st.booleans()),
        ),
        coupons=coupons(currency),
    )
    return {
        "req": req,
        "config": config,
        "products": products,
        "flash": flash,
        "customer": CustomerContext(customer_id="c-1", tier=draw(st.sampled_from((None, "gold")))),
        "defaults": EngineDefaults(
            currency=currency, max_discount_percentage=D(draw(st.sampled_from(["0", "30", "50", "100"])))
        ),
    }


def money_values(result: Quote) -> list[Decimal]:
    values = [
        result.subtotal,
        result.discount_amount,
        result.tax_amount,
        result.delivery_fee,
        result.small_basket_fee,
        result.total_amount,
        result.pricing_breakdown.item_total,
    ]
    for line in result.items:
        values += [line.list_unit_price, line.unit_price, line.line_subtotal, line.discount, line.tax]
    breakdown = result.commission_breakdown
    values += [breakdown.total_commission, breakdown.seller_commission, breakdown.category_commission]
    values += [
        breakdown.logistics_commission,
        *(d.amount for d in breakdown.details),
        *(d.base for d in breakdown.details),
    ]
    values += [c.amount for c in result.applied_coupons]
    return values


@pytest.mark.slow  # 300 random scenarios: in `make test`, not the unit loop
@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_every_quote_keeps_the_invariants(scenario: dict[str, Any]) -> None:
    result = quote(scenario.pop("req"), **scenario)
    currency = result.currency
    lines = result.items

    # The total is exactly the sum of its rounded parts, and each part is the sum of its lines.
    assert result.total_amount == (
        result.subtotal - result.discount_amount + result.tax_amount + result.delivery_fee + result.small_basket_fee
    )
    assert result.subtotal == sum(line.line_subtotal for line in lines)
    assert result.discount_amount == sum(line.discount for line in lines)
    assert result.tax_amount == sum(line.tax for line in lines)
    assert result.pricing_breakdown.calculations[-1].running_total == result.total_amount
    assert result.discount_amount == sum(c.amount for c in result.applied_coupons if c.type != "FREE_DELIVERY")

    # Commission parts add up, by dimension too.
    breakdown = result.commission_breakdown
    assert breakdown.total_commission == (
        breakdown.seller_commission + breakdown.category_commission + breakdown.logistics_commission
    )
    for dimension, part in (
        ("seller", breakdown.seller_commission),
        ("category", breakdown.category_commission),
        ("logistics", breakdown.logistics_commission),
    ):
        assert part == sum(d.amount for d in breakdown.details if d.dimension == dimension)

    # No amount is negative; no line is discounted below its floor; flash lines take no coupon.
    assert all(value >= 0 for value in money_values(result))
    products = {str(p.id): p for p in scenario["products"]}
    for line in lines:
        assert line.discount <= line.line_subtotal
        if line.price_source == "catalog":
            assert line.line_subtotal - line.discount >= products[line.product_id].min_price * line.quantity
        if line.price_source == "flash_sale":
            assert line.discount == 0

    # The discount stays under the cap.
    assert result.discount_amount * 100 <= result.subtotal * scenario["defaults"].max_discount_percentage

    # Every amount is already rounded, written with exactly the currency's digits.
    digits = minor_units(currency)
    for value in money_values(result):
        assert round_money(value, currency) == value
        assert value.as_tuple().exponent == -digits, value


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_pricing_the_same_scenario_twice_gives_the_same_quote(scenario: dict[str, Any]) -> None:
    req = scenario.pop("req")

    assert quote(req, **scenario) == quote(req, **scenario)
