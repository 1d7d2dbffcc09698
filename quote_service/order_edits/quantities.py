"""An order edit against quantity rules (docs/orders-and-refunds.md#quantity-rules-and-edits). Pure.

The edited basket's lines are checked as a quote's items are (`quotes.quantity_checks.basket_quantities`:
today's rules, the customer's units in its other orders), and the edit is judged on what it changes:

- an item rule (min_qty, max_qty, step) broken on a line of a product, or of an offer, whose units the edit
  changes (a line it leaves as it was is not judged again on rules made since);
- a per-customer limit passed by a product, or an offer, whose units the edit grows (taking units out never
  passes one);

each refusal named by the edit's own field: the first addition of the product (`add[i].quantity`,
`replace[i].with.quantity`), else its first removal (`remove[i].quantity`, `replace[i].quantity`). The limits
its additions are under are counted again at the commit, under the per-customer lock an order takes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from uuid import UUID

import msgspec

from quote_service.order_edits.basket import additions
from quote_service.order_edits.schemas import EditCreate
from quote_service.pricing.quantity_rules import QuantityProblem, QuantityRules, quantity_problem
from quote_service.pricing.quote import OFFER_LIMIT, QuantityLimit

Line = tuple[str, int, UUID | None]
"""A line's (product id, units, the offer it is sold from: None for the product's own)."""


def keys_of(product_id: str, offer_id: UUID | None) -> list[str]:
    """What a line's units count towards: its product's units (every seller's), and its offer's."""
    return [product_id] if offer_id is None else [product_id, f"{OFFER_LIMIT}{offer_id}"]


def units_by_key(lines: Iterable[Line]) -> dict[str, int]:
    """Units of each product and of each offer among `lines`."""
    units: dict[str, int] = {}
    for product_id, quantity, offer_id in lines:
        for key in keys_of(product_id, offer_id):
            units[key] = units.get(key, 0) + quantity
    return units


def edit_fields(edit: EditCreate) -> dict[str, str]:
    """The field of `edit` that changes each product's (and offer's) units: its first addition, else its first
    removal or exchange."""
    fields: dict[str, str] = {}
    for field, item in additions(edit):
        if item.offer_id is not None:
            fields.setdefault(f"{OFFER_LIMIT}{item.offer_id}", field)
        fields.setdefault(item.product_id, field)
    taken = [(f"remove[{i}]", entry) for i, entry in enumerate(edit.remove)]
    taken += [(f"replace[{i}]", entry) for i, entry in enumerate(edit.replace)]
    for field, entry in taken:
        if isinstance(entry.offer_id, UUID):
            fields.setdefault(f"{OFFER_LIMIT}{entry.offer_id}", field)
        if isinstance(entry.product_id, str):
            fields.setdefault(entry.product_id, field)
    return fields


def named(
    problems: Iterable[QuantityProblem], items: Sequence[Line], fields: Mapping[str, str]
) -> list[QuantityProblem]:
    """`problems` (each naming `items[i].quantity` of the basket `items`) named by the edit's own fields."""
    found = []
    for problem in problems:
        index = _index(problem.field)
        field = problem.field
        if index is not None and index < len(items):
            product_id, _, offer_id = items[index]
            owner = next((fields[k] for k in reversed(keys_of(product_id, offer_id)) if k in fields), None)
            field = problem.field if owner is None else f"{owner}.quantity"
        found.append(msgspec.structs.replace(problem, field=field))
    return found


def refused(
    problems: Iterable[QuantityProblem], items: Sequence[Line], before: Mapping[str, int], after: Mapping[str, int]
) -> list[QuantityProblem]:
    """Of the basket's `problems`, those the edit is refused for (module docstring): `before` and `after` are
    the order's units and the edited basket's, by key (`units_by_key`)."""
    kept = []
    for problem in problems:
        index = _index(problem.field)
        if index is None or index >= len(items):
            kept.append(problem)
            continue
        product_id, quantity, offer_id = items[index]
        keys = keys_of(product_id, offer_id)
        if _breaks_item_rules(problem, quantity):
            if any(after.get(k, 0) != before.get(k, 0) for k in keys):
                kept.append(problem)
        elif any(after.get(k, 0) > before.get(k, 0) for k in keys):
            kept.append(problem)
    return kept


def grown(limits: Iterable[QuantityLimit], before: Mapping[str, int], after: Mapping[str, int]) -> list[QuantityLimit]:
    """The per-customer limits on what the edit grows: its commit counts them again."""
    return [limit for limit in limits if after.get(limit.key, 0) > before.get(limit.key, 0)]


def _breaks_item_rules(problem: QuantityProblem, quantity: int) -> bool:
    """Whether the problem is an item rule's (min_qty, max_qty, step), not only a per-customer limit's."""
    rules = QuantityRules(min_qty=problem.min_qty, max_qty=problem.max_qty, step=problem.step)
    return quantity_problem(rules, quantity) is not None


def _index(field: str) -> int | None:
    """i of `items[i].quantity`."""
    if not field.startswith("items[") or "]" not in field:
        return None
    try:
        return int(field[len("items[") : field.index("]")])
    except ValueError:
        return None
