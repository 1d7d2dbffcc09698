"""Refund money splits exactly: examples, and properties over real quotes (hypothesis).

The baskets are the engine's own random scenarios (catalog, flash-sale and request-priced
lines, coupons, fees, commission rates, several currencies); each is refunded in a random
split of random refunds. Whatever the split: no refund ever takes more than is left of any
part, and the sum of all refunds is, part by part, exactly what the quote charged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quote_service.orders.money import Fees, LineMoney, OrderMoney
from quote_service.orders.record_math import detail_lines, line_commissions
from quote_service.orders.refund_math import (
    FEE_PARTS,
    LINE_PARTS,
    AmbiguousProduct,
    ChargedLine,
    ExceedsOrder,
    LineTake,
    UnknownLine,
    UnknownProduct,
    Wanted,
    everything_left,
    fee_refund,
    plan_refund,
)
from quote_service.pricing.money import ZERO, quantum
from quote_service.pricing.quote import Quote
from quote_service.pricing.settlement import commission_tax
from tests.unit.pricing.test_engine_properties import scenarios
from tests.unit.pricing.test_engine_support import quote

D = Decimal


def given_back(takes: Sequence[LineTake], fees: Mapping[str, Decimal]) -> OrderMoney:
    """What refunds of `takes` and `fees` (refund_math.FEE_PARTS) give back, as the order's calculator counts it."""
    lines = [LineMoney(None, take.parts, take.prices_include_tax) for take in takes]
    given = Fees(
        delivery=fees["delivery_fee"], small_basket=fees["small_basket_fee"], logistics=fees["logistics_commission"]
    )
    return OrderMoney(lines, given)


def customer_total(takes: Sequence[LineTake], fees: Mapping[str, Decimal]) -> Decimal:
    return given_back(takes, fees).customer_total


def commission_total(takes: Sequence[LineTake], fees: Mapping[str, Decimal]) -> Decimal:
    return given_back(takes, fees).commission


def line(quantity: int, amount: str, *, product: str = "p", position: int = 0, **parts: str) -> ChargedLine:
    charged = {part: D(parts.get(part, "0")) for part in LINE_PARTS}
    charged["amount"] = D(amount)
    return ChargedLine(position=position, product_id=product, quantity=quantity, charged=charged)


def after(old: ChargedLine, take: LineTake) -> ChargedLine:
    """The line as the next refund sees it."""
    refunded = {part: old.refunded.get(part, ZERO) + take.parts[part] for part in LINE_PARTS}
    return ChargedLine(
        position=old.position,
        product_id=old.product_id,
        seller_id=old.seller_id,
        quantity=old.quantity,
        charged=old.charged,
        refunded_units=old.refunded_units + take.quantity,
        refunded=refunded,
    )


def test_a_unit_takes_its_rounded_share_and_the_last_unit_the_rest() -> None:
    ten = line(3, "10.00", tax="1.90")
    first = plan_refund([ten], [Wanted("p", 1)], "EUR")[0]
    assert first.parts["amount"] == D("3.33")
    assert first.parts["tax"] == D("0.63")
    second = plan_refund([after(ten, first)], [Wanted("p", 1)], "EUR")[0]
    assert second.parts["amount"] == D("3.33")
    last = plan_refund([after(after(ten, first), second)], [Wanted("p", 1)], "EUR")[0]
    assert last.parts["amount"] == D("3.34")
    assert last.parts["tax"] == D("0.64")


def test_a_share_rounded_up_never_takes_more_than_is_left() -> None:
    # 0.02 over 4 units: a unit's share is 0.005 -> 0.01; three units may not take 0.03.
    tiny = line(4, "0.02")
    three = plan_refund([tiny], [Wanted("p", 3)], "EUR")[0]
    assert three.parts["amount"] == D("0.02")
    assert plan_refund([after(tiny, three)], [Wanted("p", 1)], "EUR")[0].parts["amount"] == D("0.00")


def test_zero_decimal_currencies_round_to_whole_units() -> None:
    assert plan_refund([line(3, "100")], [Wanted("p", 2)], "JPY")[0].parts["amount"] == D("66")


def test_a_product_on_two_lines_gives_back_from_its_first_line_first() -> None:
    lines = [line(2, "10.00", position=0), line(3, "9.00", position=1)]
    takes = plan_refund(lines, [Wanted("p", 3)], "EUR")
    assert [(t.position, t.quantity, t.parts["amount"]) for t in takes] == [(0, 2, D("10.00")), (1, 1, D("3.00"))]


def test_a_product_on_lines_of_two_sellers_is_refunded_by_naming_the_line() -> None:
    lines = [
        line(2, "200.00", position=0, seller="2.00", category="30.00"),
        line(1, "40.00", position=1, category="6.00"),
    ]
    lines = [replace(lines[0], seller_id="a"), replace(lines[1], seller_id="b")]
    with pytest.raises(AmbiguousProduct) as ambiguous:
        plan_refund(lines, [Wanted("p", 1)], "EUR")
    assert (ambiguous.value.index, str(ambiguous.value)) == (0, "product p is on lines 0 (a) and 1 (b), of different "
                                                               "sellers: name the line")  # fmt: skip
    [take] = plan_refund(lines, [Wanted("p", 1, line=1)], "EUR")
    assert (take.position, take.parts["amount"], take.parts["category"]) == (1, D("40.00"), D("6.00"))
    with pytest.raises(ExceedsOrder) as exceeds:
        plan_refund(lines, [Wanted("p", 1, line=1), Wanted("p", 1, line=1)], "EUR")
    assert (exceeds.value.index, exceeds.value.remaining) == (1, 0)
    for wrong in (Wanted("p", 1, line=2), Wanted("q", 1, line=0)):
        with pytest.raises(UnknownLine):
            plan_refund(lines, [wrong], "EUR")


def test_refusals_name_the_request_entry() -> None:
    lines = [line(2, "10.00", product="a"), line(1, "5.00", product="b", position=1)]
    with pytest.raises(UnknownProduct) as unknown:
        plan_refund(lines, [Wanted("a", 1), Wanted("zz", 1)], "EUR")
    assert (unknown.value.index, unknown.value.product_id) == (1, "zz")
    with pytest.raises(ExceedsOrder) as exceeds:
        plan_refund(lines, [Wanted("b", 1), Wanted("a", 3)], "EUR")
    assert (exceeds.value.index, exceeds.value.remaining) == (1, 2)


def test_fees_are_given_back_once() -> None:
    fees = {"delivery_fee": D("4.99"), "small_basket_fee": D("1.00"), "logistics_commission": D("0.38")}
    assert fee_refund(fees, already_refunded=False, include=True) == fees
    assert set(fee_refund(fees, already_refunded=True, include=True).values()) == {ZERO}
    assert set(fee_refund(fees, already_refunded=False, include=False).values()) == {ZERO}


def charged_lines(result: Quote) -> list[ChargedLine]:
    """A quote's lines as an order stores them."""
    details = result.commission_breakdown.details
    on = detail_lines([item.product_id for item in result.items], [(d.product_id, d.dimension) for d in details])
    found = line_commissions(
        len(result.items), [(at, d.dimension, d.amount) for at, d in zip(on, details, strict=True)]
    )
    commissions = [{"category": category, "seller": seller} for category, seller in found]
    return [
        ChargedLine(
            position=position,
            product_id=item.product_id,
            quantity=item.quantity,
            charged={
                "amount": item.line_subtotal,
                "discount": item.discount,
                "tax": item.tax,
                **commissions[position],
                # As if the platform funded the whole discount, with a 20 % tax on the commission.
                "platform": item.discount,
                "commission_tax": commission_tax(
                    commissions[position]["seller"] + commissions[position]["category"],
                    Decimal(20),
                    quantum(result.currency),
                ),
            },
        )
        for position, item in enumerate(result.items)
    ]


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.data())
def test_refunds_in_any_split_never_exceed_and_finally_equal_what_was_charged(
    scenario: dict[str, Any], data: st.DataObject
) -> None:
    result = quote(scenario.pop("req"), **scenario)
    currency = result.currency
    lines = charged_lines(result)
    fees = {
        "delivery_fee": result.delivery_fee,
        "small_basket_fee": result.small_basket_fee,
        "logistics_commission": result.commission_breakdown.logistics_commission,
    }
    fees_given = False
    refunded_to_customer = commission_reversed = ZERO
    fee_sums = dict.fromkeys(FEE_PARTS, ZERO)
    cancel_at_the_end = data.draw(st.booleans(), label="cancel the rest")
    while any(line.remaining_units for line in lines):
        open_lines = [line for line in lines if line.remaining_units]
        if cancel_at_the_end and data.draw(st.booleans(), label="cancel now"):
            takes = everything_left(lines, currency)
            include = True
        else:
            chosen = data.draw(st.lists(st.sampled_from(open_lines), min_size=1, max_size=3, unique_by=id))
            # Each chosen line by its position (a product id may be on lines of two sellers).
            wanted = [Wanted(c.product_id, data.draw(st.integers(1, c.remaining_units)), c.position) for c in chosen]
            takes = plan_refund(lines, wanted, currency)
            include = data.draw(st.booleans(), label="include_fees")
        given_fees = fee_refund(fees, already_refunded=fees_given, include=include)
        fees_given = fees_given or include
        for part in FEE_PARTS:
            fee_sums[part] += given_fees[part]
        refunded_to_customer += customer_total(takes, given_fees)
        commission_reversed += commission_total(takes, given_fees)
        by_position = {take.position: take for take in takes}
        for index, old in enumerate(lines):
            if old.position in by_position:
                lines[index] = after(old, by_position[old.position])
        # Never more than was charged, part by part, on any line.
        for each in lines:
            for part in LINE_PARTS:
                assert abs(each.refunded.get(part, ZERO)) <= abs(each.charged[part]), (part, each)
    if not fees_given:
        fee_sums = dict(fee_refund(fees, already_refunded=False, include=True))
        refunded_to_customer += fees["delivery_fee"] + fees["small_basket_fee"]
        commission_reversed += fees["logistics_commission"]

    # In the end: exactly what was charged, per line and part, per fee, and in total.
    for each in lines:
        assert each.refunded_units == each.quantity
        for part in LINE_PARTS:
            assert each.refunded.get(part, ZERO) == each.charged[part], (part, each)
    assert fee_sums == fees
    assert refunded_to_customer == result.total_amount
    assert commission_reversed == result.commission_breakdown.total_commission
