"""A seller-funded installment option's commission (docs/taxes.md#installments), on the pure engine's quotes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from msgspec.structs import replace

from quote_service.pricing.installments import InstallmentPlan, Paying, PlanOption
from quote_service.pricing.quote import EngineDefaults, Quote
from tests.unit.pricing.test_engine_support import D, coupon, item, product, quote, request, snapshot

PLAN = InstallmentPlan(
    id=UUID(int=1),
    bin_prefixes=("454360",),
    currency="EUR",
    min_total=D(0),
    options=(PlanOption(count=6, rate=D(0), funded_by="seller", seller_commission_rate=D("2.5")),),
)


SIX_PARTS = Paying([PLAN], "45436012", 6)
"""Paid in six parts of PLAN's seller-funded option: an input of the engine."""


def _priced(*lines: Any, **fields: Any) -> Quote:
    products = [found for found, _ in lines]
    items = [item(found, quantity) for found, quantity in lines]
    coupons = [coupon("TEN", value="10")] if fields.pop("ten_off", False) else []
    if coupons:
        fields["coupon_codes"] = ["TEN"]
    return quote(
        request(*items, **fields),
        products=products,
        config=snapshot(coupons=coupons),
        defaults=EngineDefaults(currency="EUR"),
        installments=SIX_PARTS,
    )


def test_it_is_on_the_goods_after_the_discount() -> None:
    # 2 x 100.00 less 10 %: goods 180.00, 2.5 % = 4.50 (before the discount it would be 5.00)
    chosen = _priced((product("100.00"), 2), ten_off=True)
    assert chosen.items[0].installment_commission == D("4.50")
    assert chosen.commission_breakdown.installment_commission == D("4.50")


def test_it_rounds_half_up_once_per_line() -> None:
    # 10.20 x 2.5 % = 0.255: 0.26 (rounded down it would be 0.25); 10.10 x 2.5 % = 0.2525: 0.25
    chosen = _priced((product("10.20"), 1), (product("10.10"), 1))
    assert [line.installment_commission for line in chosen.items] == [D("0.26"), D("0.25")]
    assert chosen.commission_breakdown.installment_commission == D("0.51")


def test_it_is_on_a_tax_inclusive_lines_net() -> None:
    # 1180.00 tax included at 18 % is 1000.00 net: 25.00, as the sales commission's base (not 29.50)
    gross = replace(product("1180.00"), prices_include_tax=True)
    chosen = _priced((gross, 1))
    assert chosen.items[0].net == D("1000.00")
    assert chosen.items[0].installment_commission == D("25.00")


def test_it_is_on_an_exempt_tax_inclusive_lines_net() -> None:
    gross = replace(product("1180.00"), prices_include_tax=True)
    chosen = _priced((gross, 1), tax_exemption="exempt")
    assert chosen.items[0].installment_commission == D("25.00")


def test_the_breakdown_adds_up_with_it() -> None:
    chosen = _priced((product("100.00"), 2), (product("10.20"), 3), ten_off=True)
    breakdown = chosen.commission_breakdown
    extra = breakdown.installment_commission
    assert isinstance(extra, Decimal)
    parts = breakdown.seller_commission + breakdown.category_commission + breakdown.logistics_commission
    assert breakdown.total_commission == parts + extra
