"""Refunds of lines under taxes as markets have them (docs/taxes.md#refunds): whatever the split, every
tax component, an exempt line's untaken tax and a seller-funded installment commission come back exactly
as charged, each refund's tax is the sum of its components', and what the customer gets back of an
exempt tax-inclusive line is what it paid (its net)."""

from __future__ import annotations

from decimal import ROUND_HALF_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from quote_service.orders.refund_math import ChargedLine, take_from_line
from tests.unit.orders.test_refund_math import commission_total, customer_total

FEES = {"delivery_fee": Decimal(0), "small_basket_fee": Decimal(0), "logistics_commission": Decimal(0)}


def cents(low: int, high: int) -> Any:
    return st.integers(low, high).map(lambda n: Decimal(n).scaleb(-2))


@st.composite
def lines(draw: Any) -> tuple[ChargedLine, list[int]]:
    quantity = draw(st.integers(1, 12))
    components = draw(st.lists(cents(0, 99_999), min_size=1, max_size=3))
    inclusive = draw(st.booleans())
    exempt = inclusive and draw(st.booleans())
    charged = {
        "amount": draw(cents(100, 999_999)),
        "discount": Decimal(0),
        "tax": Decimal(0) if exempt else sum(components, Decimal(0)),
        "seller": draw(cents(0, 9_999)),
        "category": draw(cents(0, 9_999)),
    }
    extras: dict[str, Decimal] = {}
    if exempt:
        extras["exempted"] = draw(cents(1, 99_999))
    else:
        extras |= {f"tax:T{n}": amount for n, amount in enumerate(components)}
    if draw(st.booleans()):
        extras["installment_commission"] = draw(cents(0, 9_999))
    rounding = draw(st.sampled_from((ROUND_HALF_UP, ROUND_HALF_EVEN, ROUND_HALF_DOWN)))
    line = ChargedLine(position=0, product_id="p", quantity=quantity, charged=charged | extras,
                       prices_include_tax=inclusive, extras=tuple(extras), tax_rounding=rounding)  # fmt: skip
    split: list[int] = []
    left = quantity
    while left:
        units = draw(st.integers(1, left))
        split.append(units)
        left -= units
    return line, split


@settings(max_examples=150, deadline=None)
@given(lines())
def test_every_split_gives_back_each_component_exactly(case: tuple[ChargedLine, list[int]]) -> None:
    line, split = case
    given_back: dict[str, Decimal] = {}
    refunded_units = 0
    paid_back = Decimal(0)
    for units in split:
        now = ChargedLine(position=0, product_id="p", quantity=line.quantity, charged=line.charged,
                          refunded_units=refunded_units, refunded=dict(given_back),
                          prices_include_tax=line.prices_include_tax, extras=line.extras,
                          tax_rounding=line.tax_rounding)  # fmt: skip
        take = take_from_line(now, units, "TRY")
        components = [amount for part, amount in take.parts.items() if part.startswith("tax:")]
        if components:
            assert take.parts["tax"] == sum(components, Decimal(0))
        assert commission_total([take], FEES) == (
            take.parts["seller"] + take.parts["category"] + take.parts.get("installment_commission", Decimal(0))
        )
        paid_back += customer_total([take], FEES)
        for part, amount in take.parts.items():
            given_back[part] = given_back.get(part, Decimal(0)) + amount
        refunded_units += units
    assert given_back == {part: line.charged.get(part, Decimal(0)) for part in given_back}
    assert set(given_back) >= set(line.charged)
    charged = line.charged
    paid = charged["amount"] - charged["discount"]  # an exempt line's amount already left its held tax out
    assert paid_back == (paid if line.prices_include_tax else paid + charged["tax"])
