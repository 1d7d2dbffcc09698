"""What an order keeps of docs/commission.md's commission (orders/commission_record.py): which line each detail
is on, each line's named fees, the fees by name."""

from __future__ import annotations

from decimal import Decimal

from quote_service.orders.commission_record import details_on_lines, line_fees, order_fees
from tests.unit.pricing.test_commission_charges import fee
from tests.unit.pricing.test_engine_support import D, item, product, quote, rate, request


def test_a_quote_charging_only_once_per_order_puts_no_detail_on_a_line() -> None:
    """A category part charged once per order, and nothing else: no line has a detail of its own."""
    a, b = product("10.00"), product("20.00")
    q = quote(request(item(a), item(b)), products=[a, b], rates=[rate(commission_type="FLAT", rate=D(2), per="order")])

    on = details_on_lines([i.product_id for i in q.items], q.commission_breakdown.details)

    assert on == [None]
    assert q.commission_breakdown.category_commission == D("2.00")


def test_each_line_keeps_its_named_fees_and_the_order_sums_them_by_name() -> None:
    a, b = product("10.00"), product("20.00")
    rates = [fee("payment_fee", rate=D(4)), fee("platform_fee", commission_type="FLAT", rate=D(1), per="order")]
    q = quote(request(item(a), item(b, 2)), products=[a, b], rates=rates)
    details = q.commission_breakdown.details

    on = details_on_lines([i.product_id for i in q.items], details)
    found = [(line, d.dimension, d.amount) for line, d in zip(on, details, strict=True)]

    assert line_fees(2, found) == [{"payment_fee": D("0.40")}, {"payment_fee": D("1.60")}]
    assert order_fees((d.dimension, d.amount) for d in details) == {
        "payment_fee": D("2.00"),
        "platform_fee": Decimal("1.00"),
    }


def test_a_quote_priced_as_before_is_walked_as_before() -> None:
    a = product("10.00")
    q = quote(request(item(a), item(a)), products=[a], rates=[rate(seller_id="seller-1", component="seller")])

    assert details_on_lines([i.product_id for i in q.items], q.commission_breakdown.details) == [0, 0, 1, 1]
