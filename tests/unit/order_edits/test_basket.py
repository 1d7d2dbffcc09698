"""The edited basket (order_edits/basket.py): removals take the newest units first, additions join a line
of the same price or make their own, and every refusal names its field."""

from __future__ import annotations

import uuid
from decimal import Decimal

import msgspec
import pytest

from quote_service.errors import Conflict, ValidationFailed
from quote_service.order_edits.basket import BasketLine, KeptLine, additions, edited_basket
from quote_service.order_edits.schemas import EditCreate
from quote_service.pricing.lines import HeldPrice

D = Decimal
CASE = "11111111-1111-1111-1111-111111111111"


def price(unit: str, seller: str = "s-1") -> HeldPrice:
    return HeldPrice(source="catalog", list_unit=D(unit), unit=D(unit), min_price=D(0), inclusive=False,
                     category_id="c", seller_id=seller, product=uuid.UUID(CASE))  # fmt: skip


def edit(**body: object) -> EditCreate:
    return msgspec.convert(body, EditCreate)


def shape(basket: list[BasketLine]) -> list[tuple[str, int, Decimal, int | None]]:
    return [(line.product_id, line.quantity, line.price.unit, line.position) for line in basket]


def test_removed_units_come_from_the_newest_line_first() -> None:
    kept = [KeptLine(0, CASE, 2, price("25.50")), KeptLine(3, CASE, 1, price("30.00"))]
    basket = edited_basket(kept, edit(remove=[{"product_id": CASE, "quantity": 2}]), [])
    assert shape(basket) == [(CASE, 1, D("25.50"), 0)]


def test_an_addition_joins_a_line_of_its_price_or_makes_its_own() -> None:
    kept = [KeptLine(0, CASE, 2, price("25.50"))]
    same = BasketLine(CASE, 1, price("25.50"))
    dearer = BasketLine(CASE, 1, price("30.00"))
    body = edit(add=[{"product_id": CASE, "quantity": 1}, {"product_id": CASE, "quantity": 1}])
    assert shape(edited_basket(kept, body, [same, dearer])) == [(CASE, 3, D("25.50"), 0), (CASE, 1, D("30.00"), None)]


def test_an_exchange_takes_out_then_puts_in() -> None:
    kept = [KeptLine(0, CASE, 2, price("25.50")), KeptLine(1, "other", 1, price("5.00"))]
    large = BasketLine("large", 1, price("27.00"))
    body = edit(replace=[{"product_id": CASE, "quantity": 2, "with": {"product_id": "large", "quantity": 1}}])
    assert shape(edited_basket(kept, body, [large])) == [("other", 1, D("5.00"), 1), ("large", 1, D("27.00"), None)]
    assert [field for field, _ in additions(body)] == ["replace[0].with"]


def test_gift_lines_are_left_to_the_promotions_and_refunded_units_are_gone() -> None:
    kept = [KeptLine(0, CASE, 2, price("25.50")), KeptLine(1, "gift", 1, price("0.00"), is_gift=True),
            KeptLine(2, "gone", 0, price("3.00"))]  # fmt: skip
    assert shape(edited_basket(kept, edit(shipping={"s-1": "express"}), [])) == [(CASE, 2, D("25.50"), 0)]


@pytest.mark.parametrize(
    ("body", "error", "field"),
    [
        ({"remove": [{"product_id": CASE, "quantity": 3}]}, Conflict, "remove[0].quantity"),
        ({"remove": [{"product_id": "unknown", "quantity": 1}]}, ValidationFailed, "remove[0].product_id"),
        ({"remove": [{"offer_id": str(uuid.uuid4()), "quantity": 1}]}, ValidationFailed, "remove[0].offer_id"),
        ({"remove": [{"product_id": CASE, "quantity": 1, "line": 7}]}, ValidationFailed, "remove[0].line"),
        ({"remove": [{"product_id": CASE, "quantity": 2}]}, ValidationFailed, "remove"),
        ({"replace": [{"product_id": "x", "quantity": 1, "with": {"product_id": CASE, "quantity": 1}}]},
         ValidationFailed, "replace[0].product_id"),
    ],
)  # fmt: skip
def test_a_refusal_names_its_field(body: dict[str, object], error: type[Exception], field: str) -> None:
    kept = [KeptLine(0, CASE, 2, price("25.50"))]
    with pytest.raises(error) as refused:
        edited_basket(kept, edit(**body), [BasketLine(CASE, 1, price("25.50"))] if "replace" in body else [])
    assert [d.field for d in refused.value.details] == [field]  # type: ignore[attr-defined]


def test_a_product_on_lines_of_two_sellers_needs_the_line() -> None:
    kept = [KeptLine(0, CASE, 1, price("25.50", "s-1")), KeptLine(1, CASE, 1, price("24.00", "s-2"))]
    with pytest.raises(ValidationFailed) as refused:
        edited_basket(kept, edit(remove=[{"product_id": CASE, "quantity": 1}]), [])
    assert [d.field for d in refused.value.details] == ["remove[0].line"]
    chosen = edited_basket(kept, edit(remove=[{"product_id": CASE, "quantity": 1, "line": 1}]), [])
    assert shape(chosen) == [(CASE, 1, D("25.50"), 0)]


def test_units_sold_from_an_offer_are_taken_out_by_offer_id_or_line() -> None:
    """A product on its own line and on a line sold from another seller's offer (docs/offers.md): `offer_id`
    (or `line`) says which units come out; the product alone is ambiguous (422 naming `line`)."""
    offer = uuid.uuid4()
    kept = [KeptLine(0, CASE, 2, price("25.50", "s-2"), offer_id=offer), KeptLine(1, CASE, 1, price("30.00"))]
    taken = edited_basket(kept, edit(remove=[{"offer_id": str(offer), "quantity": 1}]), [])
    assert [(line.position, line.quantity, line.offer_id) for line in taken] == [(0, 1, offer), (1, 1, None)]
    by_line = edited_basket(kept, edit(remove=[{"product_id": CASE, "quantity": 1, "line": 1}]), [])
    assert [(line.position, line.quantity, line.offer_id) for line in by_line] == [(0, 2, offer)]
    refused_edits: list[tuple[EditCreate, type[Exception], str]] = [
        (edit(remove=[{"product_id": CASE, "quantity": 1}]), ValidationFailed, "remove[0].line"),
        (edit(remove=[{"offer_id": str(uuid.uuid4()), "quantity": 1}]), ValidationFailed, "remove[0].offer_id"),
        (edit(remove=[{"offer_id": str(offer), "product_id": "other", "quantity": 1}]), ValidationFailed,
         "remove[0].offer_id"),
        (edit(remove=[{"offer_id": str(offer), "quantity": 3}]), Conflict, "remove[0].quantity"),
        (edit(remove=[{"quantity": 1}]), ValidationFailed, "remove[0].product_id"),
    ]  # fmt: skip
    for body, error, field in refused_edits:
        with pytest.raises(error) as refused:
            edited_basket(kept, body, [])
        assert [d.field for d in refused.value.details] == [field]  # type: ignore[attr-defined]
    only_offer = [KeptLine(0, CASE, 2, price("25.50", "s-2"), offer_id=offer)]
    by_product = edited_basket(only_offer, edit(remove=[{"product_id": CASE, "quantity": 1}]), [])
    assert [(line.position, line.quantity, line.offer_id) for line in by_product] == [(0, 1, offer)]


def test_an_addition_from_an_offer_keeps_its_offer_and_joins_only_that_offers_line() -> None:
    offer, other = uuid.uuid4(), uuid.uuid4()
    kept = [KeptLine(0, CASE, 2, price("25.50", "s-2"), offer_id=offer)]
    same = BasketLine(CASE, 1, price("25.50", "s-2"), offer_id=offer)
    another = BasketLine(CASE, 1, price("25.50", "s-2"), offer_id=other)  # the seller's new offer, same price
    body = edit(add=[{"product_id": CASE, "quantity": 1, "offer_id": str(offer)},
                     {"product_id": CASE, "quantity": 1, "offer_id": str(other)}])  # fmt: skip
    basket = edited_basket(kept, body, [same, another])
    assert [(line.position, line.quantity, line.offer_id) for line in basket] == [(0, 3, offer), (None, 1, other)]
