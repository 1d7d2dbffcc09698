"""Named commission fees come back exactly (docs/commission.md#refunds), a property over any sequence of
partial refunds: per-unit and per-line fees pro rata, the last unit taking what is left; a fee charged once
per shipment with its seller's last unit, once per order with the order's last unit. At every step nothing
reversed passes what was charged; once everything is refunded, every fee is reversed exactly."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from quote_service.orders.commission_record import FEE_PART, reversible
from quote_service.orders.refund_math import LINE_PARTS, ChargedLine, take_from_line

D = Decimal
ZERO = D(0)
SELLERS = ("s1", "s2", "s3")

amounts = st.integers(0, 100_000).map(lambda n: D(n).scaleb(-2))
fee_names = st.sampled_from(["payment_fee", "platform_fee", "handling"])


@st.composite
def orders(draw: st.DrawFn) -> tuple[list[ChargedLine], list[tuple[int, str, str | None, Decimal]]]:
    """Lines with named fees, and fees charged once per shipment or order, each to a seller of the order."""
    lines = []
    for position in range(draw(st.integers(1, 4))):
        names = draw(st.lists(fee_names, unique=True, max_size=2))
        charged = {part: ZERO for part in LINE_PARTS} | {f"{FEE_PART}{name}": draw(amounts) for name in names}
        lines.append(
            ChargedLine(
                position=position,
                product_id=f"p{position}",
                seller_id=draw(st.sampled_from(SELLERS)),
                quantity=draw(st.integers(1, 7)),
                charged=charged,
                extras=tuple(part for part in charged if part.startswith(FEE_PART)),
            )
        )
    sellers = sorted({line.seller_id for line in lines if line.seller_id is not None})
    once = [
        (position, draw(st.sampled_from(["shipment", "order"])), draw(st.sampled_from(sellers)), draw(amounts))
        for position in range(draw(st.integers(0, 3)))
    ]
    return lines, once


@settings(max_examples=400, deadline=None)
@given(order=orders(), data=st.data())
def test_any_sequence_of_refunds_reverses_exactly_what_was_charged_never_more(
    order: tuple[list[ChargedLine], list[tuple[int, str, str | None, Decimal]]], data: st.DataObject
) -> None:
    lines, once = order
    refunded = {line.position: dict.fromkeys(line.extras, ZERO) for line in lines}
    units = {line.position: 0 for line in lines}
    reversed_once: set[int] = set()
    sellers = {line.position: line.seller_id for line in lines}
    cancel = data.draw(st.booleans())
    while any(units[line.position] < line.quantity for line in lines):
        open_lines = [line for line in lines if units[line.position] < line.quantity]
        if cancel and data.draw(st.booleans()):  # a cancel gives back every unit left, in one refund
            asked = {line.position: line.quantity - units[line.position] for line in open_lines}
        else:
            chosen = data.draw(st.lists(st.sampled_from(open_lines), min_size=1, unique_by=lambda line: line.position))
            asked = {line.position: data.draw(st.integers(1, line.quantity - units[line.position])) for line in chosen}
        is_cancel = (
            cancel
            and len(asked) == len(open_lines)
            and all(
                n == line.quantity - units[line.position] for line, n in zip(open_lines, asked.values(), strict=True)
            )
        )
        for line in lines:
            if line.position not in asked:
                continue
            seen = ChargedLine(
                position=line.position,
                product_id=line.product_id,
                quantity=line.quantity,
                charged=line.charged,
                extras=line.extras,
                refunded_units=units[line.position],
                refunded=refunded[line.position],
            )
            take = take_from_line(seen, asked[line.position], "EUR")
            for part in line.extras:
                refunded[line.position][part] += take.parts[part]
                assert ZERO <= refunded[line.position][part] <= line.charged[part]  # never more than charged
        for position, n in asked.items():
            units[position] += n
        left = {
            position: next(x.quantity for x in lines if x.position == position) - n for position, n in units.items()
        }
        due = [(p, per, seller) for p, per, seller, _ in once if p not in reversed_once]
        newly = reversible(due, left, sellers, cancel=is_cancel)
        assert not reversed_once & set(newly)  # each fee charged once is reversed once
        reversed_once.update(newly)
        for position, per, seller, _ in once:  # a fee stays while a unit of its shipment (or order) is left
            shipment = [p for p, who in sellers.items() if who == seller] if per == "shipment" else list(sellers)
            assert (position in reversed_once) == all(left[p] == 0 for p in shipment) or is_cancel

    for line in lines:
        assert refunded[line.position] == {part: line.charged[part] for part in line.extras}
    assert reversed_once == {position for position, *_ in once}
