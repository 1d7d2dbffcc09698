"""An order edit against quantity rules (order_edits/quantities.py): judged on what it changes, named by its own
fields."""

from __future__ import annotations

import uuid

import msgspec

from quote_service.order_edits.quantities import edit_fields, grown, named, refused, units_by_key
from quote_service.order_edits.schemas import EditCreate
from quote_service.pricing.quantity_rules import QuantityProblem
from quote_service.pricing.quote import QuantityLimit

CASE = "11111111-1111-1111-1111-111111111111"
LAMP = "22222222-2222-2222-2222-222222222222"
OFFER = uuid.UUID("33333333-3333-3333-3333-333333333333")


def edit(**body: object) -> EditCreate:
    return msgspec.convert(body, EditCreate)


def test_units_count_towards_the_product_and_the_offer_that_sold_them() -> None:
    assert units_by_key([(CASE, 2, None), (CASE, 1, OFFER), (LAMP, 1, None)]) == {
        CASE: 3, f"offer:{OFFER}": 1, LAMP: 1,
    }  # fmt: skip


def test_an_item_rule_judges_changed_lines_and_a_limit_per_customer_grown_ones() -> None:
    items = [(CASE, 3, None), (LAMP, 1, None)]
    over_max = QuantityProblem("items[0].quantity", "must be at most 2", max_qty=2)
    per_customer = QuantityProblem("items[0].quantity", "at most 2 per customer", remaining_for_customer=2)
    lamp_rule = QuantityProblem("items[1].quantity", "must be at least 2", min_qty=2)
    both = [over_max, per_customer, lamp_rule]
    # The case grew (2 -> 3), the lamp did not change: its rule, made since, is not the edit's.
    assert refused(both, items, {CASE: 2, LAMP: 1}, {CASE: 3, LAMP: 1}) == [over_max, per_customer]
    # The case shrank (4 -> 3): its line's item rule still holds it, a limit per customer does not.
    assert refused(both, items, {CASE: 4, LAMP: 1}, {CASE: 3, LAMP: 1}) == [over_max]
    assert refused(both, items, {CASE: 3, LAMP: 1}, {CASE: 3, LAMP: 1}) == []


def test_a_refusal_names_the_first_addition_else_the_first_removal() -> None:
    body = edit(
        remove=[{"product_id": LAMP, "quantity": 1}],
        replace=[{"product_id": LAMP, "quantity": 1, "with": {"product_id": CASE, "quantity": 1}}],
        add=[{"product_id": CASE, "quantity": 2}],
    )
    fields = edit_fields(body)
    assert (fields[CASE], fields[LAMP]) == ("replace[0].with", "remove[0]")
    items = [(CASE, 3, None), (LAMP, 1, None)]
    problems = [QuantityProblem(f"items[{i}].quantity", "no") for i in (0, 1)]
    assert [p.field for p in named(problems, items, fields)] == ["replace[0].with.quantity", "remove[0].quantity"]


def test_only_the_limits_on_what_grew_are_counted_again() -> None:
    case = QuantityLimit(product_id=CASE, max_per_customer=3, window_days=30, remaining_for_customer=3)
    lamp = QuantityLimit(product_id=LAMP, max_per_customer=3, window_days=30, remaining_for_customer=3)
    assert grown([case, lamp], {CASE: 1, LAMP: 2}, {CASE: 2, LAMP: 1}) == [case]
