"""The pricing plan keeps answers between quotes of one snapshot: every input that changes one changes it.

Each test prices several quotes under ONE snapshot (so the plan's memos are warm) and checks that
what differs between them reaches the result: the instant (TIME_WINDOW rules), the customer's
tier, the catalog price, the coordinates, a coupon, the currency.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from quote_service.errors import ValidationFailed
from quote_service.pricing.flags import Rollout
from quote_service.pricing.quote import CatalogProduct, CustomerContext, EngineDefaults, Quote
from quote_service.pricing.rules import DeliveryFeeConfig, TimeWindowConfig, UserTierConfig
from tests.unit.pricing.test_engine_support import NOW, D, address, coupon, flag, item, product, request, rule, snapshot
from tests.unit.pricing.test_engine_support import quote as quote_anew

DEFAULTS = EngineDefaults(currency="EUR")  # the quotes here are in EUR: their default fees too
"""One object, as the service keeps: plans are per defaults object, so sharing it shares the plan."""


def quote(*args: Any, **kwargs: Any) -> Quote:
    """Price with the shared defaults, so consecutive quotes under one snapshot share its plan."""
    return quote_anew(*args, defaults=DEFAULTS, **kwargs)


def test_a_time_window_opens_and_closes_under_one_snapshot() -> None:
    config = snapshot(rules=[rule(TimeWindowConfig(adjust_percent=D("-20"), start_time="12:00", end_time="13:00"))])
    req = request(item("p", 1, unit_price="100.00"))
    instants = [NOW - timedelta(minutes=1), NOW, NOW + timedelta(minutes=59), NOW + timedelta(hours=1), NOW]

    prices = [quote(req, config=config, now=now).items[0].unit_price for now in instants]

    assert prices == [D("100.00"), D("80.00"), D("80.00"), D("100.00"), D("80.00")]


def test_the_customers_tier_reaches_a_line_priced_before() -> None:
    config = snapshot(rules=[rule(UserTierConfig(tiers={"gold": D("-10")}))])
    req = request(item("p", 2, unit_price="50.00"))
    tiers = [None, "gold", None, "GOLD"]

    subtotals = [
        quote(req, config=config, customer=CustomerContext(customer_id="c-1", tier=tier)).subtotal for tier in tiers
    ]

    assert subtotals == [D("100.00"), D("90.00"), D("100.00"), D("90.00")]


def test_a_new_catalog_price_is_used_at_once_under_the_same_snapshot() -> None:
    config = snapshot()
    before = product("100.00", min_price="50.00")
    after = CatalogProduct(
        **{**{f: getattr(before, f) for f in before.__struct_fields__}, "current_price": D("120.00")}
    )

    first = quote(request(item(before, 1)), config=config, products=[before])
    second = quote(request(item(after, 1)), config=config, products=[after])

    assert (first.subtotal, second.subtotal) == (D("100.00"), D("120.00"))


def test_each_pair_of_coordinates_gets_its_own_delivery_fee() -> None:
    config = snapshot(rules=[rule(DeliveryFeeConfig(base_fee=D("5.00"), per_km=D("1.00")))])
    pickup = address(latitude=41.0, longitude=29.0)
    near, far = address(latitude=41.01, longitude=29.0), address(latitude=41.2, longitude=29.0)

    fees = [
        quote(
            request(item("p", 1, unit_price="100.00"), pickup_address=pickup, delivery_address=there), config=config
        ).delivery_fee
        for there in (near, far, near, address())
    ]

    assert fees[0] == fees[2] == D("6.11")  # 5.00 + 1.112 km
    assert fees[1] == D("27.24")  # 5.00 + 22.239 km
    assert fees[3] == D("5.00")  # no coordinates: base fee


def test_a_coupon_recomputes_the_tax_of_a_line_priced_before_and_leaves_it_intact() -> None:
    config = snapshot(coupons=[coupon("TEN")])
    plain, with_coupon = (
        request(item("p", 1, unit_price="100.00")),
        request(item("p", 1, unit_price="100.00"), coupon_codes=["TEN"]),
    )

    first, discounted, again = (quote(req, config=config) for req in (plain, with_coupon, plain))

    assert (first.items[0].tax, discounted.items[0].tax) == (D("18.00"), D("16.20"))
    assert discounted.commission_breakdown.details[0].base == D("90.00")
    assert again == first


def test_a_price_fit_for_one_currency_is_still_checked_in_another() -> None:
    config = snapshot()

    assert quote(request(item("p", 1, unit_price="1.50"), currency="EUR"), config=config).subtotal == D("1.50")
    with pytest.raises(ValidationFailed) as refused:
        quote(request(item("p", 1, unit_price="1.50"), currency="JPY"), config=config)

    assert "decimals" in refused.value.details[0].message


def test_flags_follow_the_customer_and_their_start_under_one_snapshot() -> None:
    start = NOW + timedelta(hours=1)
    config = snapshot(
        flags=[
            flag("banner", True, rollout=Rollout(start_at=start)),
            flag("loyal", True, rollout=Rollout(user_segments=("loyal",))),
        ]
    )
    req = request(item("p", 1, unit_price="100.00"))

    def served(segment: str | None, now: datetime) -> dict[str, Any]:
        customer = CustomerContext(customer_id="c-1", segment=segment)
        return quote(req, config=config, customer=customer, now=now).feature_flags

    assert served(None, NOW) == {}
    assert served("loyal", NOW) == {"loyal": True}
    assert served(None, start) == {"banner": True}
    assert served("loyal", start) == {"banner": True, "loyal": True}
    assert served(None, NOW) == {}
