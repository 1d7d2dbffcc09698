"""Commission as marketplaces charge it (docs/commission.md): bases, FLAT per unit/line/shipment/order,
named fees, each its own winner, clamped, and sums that add up."""

from __future__ import annotations

from typing import Any

import msgspec

from quote_service.pricing.commission import CommissionRate
from quote_service.pricing.quote import Quote
from quote_service.pricing.rules import DeliveryFeeConfig, TaxRateConfig
from quote_service.pricing.shipping import ShippingOption
from tests.unit.pricing.test_engine_shipments import profile
from tests.unit.pricing.test_engine_support import EUR_DEFAULTS, D, item, product, quote, rate, request, rule

VAT_20 = rule(TaxRateConfig(rate=D(20)))
FLAT_DELIVERY = rule(DeliveryFeeConfig(base_fee=D("10.00")))


def fee(component: str, **fields: Any) -> CommissionRate:
    return rate(component=component, **fields)


def shown(q: Quote) -> Any:
    return msgspec.to_builtins(q.commission_breakdown)


def parts(q: Quote) -> tuple[str, str, list[Any]]:
    breakdown = shown(q)
    return breakdown["category_commission"], breakdown["seller_commission"], breakdown.get("fees", [])


def test_the_contracts_example_net_and_gross() -> None:
    """1,000.00 net at 20 % VAT and 15 %: 150.00 on the net, 180.00 on the gross."""
    goods = product("1000.00")
    on_net = quote(request(item(goods)), products=[goods], rules=[VAT_20], rates=[rate(rate=D(15))])
    on_gross = quote(request(item(goods)), products=[goods], rules=[VAT_20], rates=[rate(rate=D(15), base="gross")])

    assert parts(on_net)[0] == "150.00"
    assert parts(on_gross)[0] == "180.00"
    assert shown(on_gross)["details"][0]["base"] == "1200.00"


def test_a_quote_without_the_new_fields_has_no_fees_key_and_no_line_on_its_details() -> None:
    goods = product("100.00")
    breakdown = shown(quote(request(item(goods)), products=[goods], rates=[rate()]))

    assert "fees" not in breakdown
    assert all("line" not in detail for detail in breakdown["details"])


def test_named_fees_add_up_in_name_order_and_the_total_is_their_exact_sum() -> None:
    """Sales 5 % + payment processing 4 % (of the gross) + a 1.00 platform fee per order."""
    goods = product("100.00")
    rates = [
        rate(rate=D(5)),
        fee("payment_fee", rate=D(4), base="gross"),
        fee("platform_fee", commission_type="FLAT", rate=D("1.00"), per="order"),
    ]
    q = quote(request(item(goods, 2)), products=[goods], rules=[VAT_20], rates=rates)

    breakdown = shown(q)
    assert breakdown["category_commission"] == "10.00"  # 5 % of 200.00
    assert breakdown["fees"] == [
        {"name": "payment_fee", "amount": "9.60"},  # 4 % of 240.00
        {"name": "platform_fee", "amount": "1.00"},
    ]
    assert breakdown["total_commission"] == "20.60"
    order_fee = breakdown["details"][-1]
    assert (order_fee["per"], order_fee["seller_id"], order_fee["product_id"]) == ("order", "seller-1", None)


def test_an_order_fee_is_charged_once_a_quote_a_shipment_fee_once_a_seller() -> None:
    a, b, c = product("10.00", seller="s1"), product("20.00", seller="s1"), product("30.00", seller="s2")
    rates = [
        fee("platform_fee", commission_type="FLAT", rate=D("1.00"), per="order"),
        fee("pick_fee", commission_type="FLAT", rate=D("0.50"), per="shipment"),
    ]
    q = quote(request(item(a), item(b), item(c)), products=[a, b, c], rates=rates)

    fees = {f["name"]: f["amount"] for f in shown(q)["fees"]}
    assert fees == {"pick_fee": "1.00", "platform_fee": "1.00"}
    grouped = [(d["dimension"], d["seller_id"]) for d in shown(q)["details"] if "per" in d]
    assert grouped == [("pick_fee", "s1"), ("platform_fee", "s1"), ("pick_fee", "s2")]  # in order of first charge


def test_flat_per_unit_and_per_line_and_clamps_per_line() -> None:
    goods = product("10.00")
    per_unit = quote(request(item(goods, 3)), products=[goods], rates=[fee("handling", commission_type="FLAT",
                     rate=D("0.40"))])  # fmt: skip
    per_line = quote(request(item(goods, 3)), products=[goods], rates=[fee("handling", commission_type="FLAT",
                     rate=D("0.40"), per="line")])  # fmt: skip
    clamped = quote(request(item(goods, 3)), products=[goods], rates=[fee("handling", rate=D(1), min_amount=D("2"))])

    assert parts(per_unit)[2] == [{"name": "handling", "amount": "1.20"}]
    assert parts(per_line)[2] == [{"name": "handling", "amount": "0.40"}]
    assert parts(clamped)[2] == [{"name": "handling", "amount": "2.00"}]  # 1 % of 30.00, at least 2.00


def test_gross_with_delivery_shares_the_fee_pro_rata_the_last_line_taking_the_remainder() -> None:
    """Delivery 10.00 over goods 10.00 and 20.00: 3.33 and 6.67."""
    a, b = product("10.00"), product("20.00")
    q = quote(
        request(item(a), item(b)),
        products=[a, b],
        rules=[VAT_20, FLAT_DELIVERY],
        rates=[rate(rate=D(10), base="gross_with_delivery")],
    )

    assert q.delivery_fee == D("10.00")
    bases = [d["base"] for d in shown(q)["details"]]
    assert bases == ["15.33", "30.67"]  # 12.00 + 3.33, 24.00 + 6.67
    assert parts(q)[0] == "4.60"  # 1.53 + 3.07


def test_gross_with_delivery_takes_each_sellers_shipment_fee() -> None:
    a, b = product("10.00", seller="s1"), product("20.00", seller="s2")
    standard = ShippingOption(code="standard", name="Standard", base_fee=D("5.00"), eta_days_min=1, eta_days_max=2)
    q = quote(
        request(item(a), item(b)),
        products=[a, b],
        rates=[fee("payment_fee", rate=D(10), base="gross_with_delivery")],
        shipping_profiles=[profile(None, standard)],
    )

    bases = [d["base"] for d in shown(q)["details"] if d["dimension"] == "payment_fee"]
    assert bases == ["16.80", "28.60"]  # 11.80 + 5.00, 23.60 + 5.00 (default tax 18 %)


def test_each_named_component_is_its_own_winner() -> None:
    books, toys = product("100.00", category="books"), product("100.00", category="toys")
    rates = [
        fee("payment_fee", rate=D(2)),
        fee("payment_fee", rate=D(3), category_id="toys"),  # more specific: wins on toys only
        rate(rate=D(10)),
    ]
    q = quote(request(item(books), item(toys)), products=[books, toys], rates=rates)

    assert parts(q) == ("20.00", "0.00", [{"name": "payment_fee", "amount": "5.00"}])
    assert shown(q)["total_commission"] == "25.00"


def test_sellers_carry_their_fees_and_their_payout_pays_them() -> None:
    a, b = product("50.00", seller="s1"), product("80.00", seller="s2")
    standard = ShippingOption(code="standard", name="Standard", base_fee=D("5.00"), eta_days_min=1, eta_days_max=2)
    rates = [fee("platform_fee", commission_type="FLAT", rate=D("1.00"), per="order"), rate(rate=D(10))]
    defaults = msgspec.structs.replace(EUR_DEFAULTS, commission_tax_rate=D(20))
    q = quote(
        request(item(a), item(b)),
        products=[a, b],
        rates=rates,
        shipping_profiles=[profile(None, standard)],
        defaults=defaults,
    )

    assert q.sellers
    s1, s2 = q.sellers
    assert msgspec.to_builtins(s1.fees) == [{"name": "platform_fee", "amount": "1.00"}]
    assert msgspec.to_builtins(s2.fees) == [{"name": "platform_fee", "amount": "0.00"}]
    assert (s1.commission, s1.commission_tax) == (D("6.00"), D("1.20"))  # 5.00 + 1.00, taxed 1.00 + 0.20
    assert s1.payout == D("50.00") + D("9.00") - D("6.00") - D("1.20") + D("5.00")
    assert sum((s.commission for s in q.sellers), D(0)) == q.commission_breakdown.total_commission
