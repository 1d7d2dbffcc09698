"""A snapshot's quantity rules, and a quote's items checked against them (docs/pricing.md#quantity-rules).

The snapshot compiles every rule set, the products' own and the price-list entries', into a
`QuantityBook` (None: no rule anywhere, and a quote pays one `is None` test for the feature). An item
is under the rules of the price-list entry that prices it, else its product's (`QuantityBook.rules_for`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from quote_service.pricing.price_lists import PriceBook
from quote_service.pricing.quantity_rules import QuantityProblem, QuantityRules, bought_within, quantity_problem
from quote_service.pricing.quote import CatalogProduct, QuantityLimit, QuoteRequest


@dataclass(frozen=True, slots=True)
class QuantityBook:
    """Every rule set of a snapshot: the products' own and the price-list entries'."""

    products: Mapping[str, QuantityRules] = field(default_factory=dict)
    """A product's own rules, by its id."""
    entries: Mapping[tuple[int, int], tuple[tuple[int, ...], tuple[QuantityRules | None, ...]]] = field(
        default_factory=dict
    )
    """(price list id, product id) as ints -> the list's entries of the product, by ascending
    min_quantity, and each one's rules (kept only for pairs where some entry has rules)."""
    ruled: frozenset[str] = field(init=False)
    """Ids of every product under some rule: a quote whose items name none of them pays nothing more."""
    per_customer: frozenset[str] = field(init=False)
    """Ids of the products some max_per_customer rule is on: only their purchases are read."""

    def __post_init__(self) -> None:
        listed = {_uuid_of(product) for _, product in self.entries}
        object.__setattr__(self, "ruled", frozenset(self.products) | listed)
        limited = {pid for pid, rules in self.products.items() if rules.max_per_customer is not None}
        for (_, product), (_, found) in self.entries.items():
            if any(rules is not None and rules.max_per_customer is not None for rules in found):
                limited.add(_uuid_of(product))
        object.__setattr__(self, "per_customer", frozenset(limited))

    @classmethod
    def of(
        cls, products: Mapping[str, QuantityRules], entries: Iterable[tuple[int, int, int, QuantityRules | None]]
    ) -> QuantityBook | None:
        """The book of product rules and (price list, product, min_quantity, rules) entries; None when
        no rule set is anywhere."""
        grouped: dict[tuple[int, int], list[tuple[int, QuantityRules | None]]] = {}
        for list_id, product, min_quantity, rules in entries:
            grouped.setdefault((list_id, product), []).append((min_quantity, rules))
        kept = {
            key: (tuple(q for q, _ in found), tuple(r for _, r in found))
            for key, found in ((key, sorted(found, key=lambda e: e[0])) for key, found in grouped.items())
            if any(rules is not None for _, rules in found)
        }
        if not products and not kept:
            return None
        return cls(products=dict(products), entries=kept)

    def rules_for(self, product: CatalogProduct, list_id: int | None, quantity: int) -> QuantityRules | None:
        """The rules an item of `quantity` units of `product` is under: those of the price-list entry
        that prices it (list `list_id`, the entry with the highest min_quantity <= quantity), else the
        product's own."""
        if list_id is not None:
            found = self.entries.get((list_id, product.id.int))
            if found is not None:
                position = bisect_right(found[0], quantity)
                if position and found[1][position - 1] is not None:
                    return found[1][position - 1]
        return self.products.get(str(product.id))


def _uuid_of(value: int) -> str:
    return str(UUID(int=value))


def check_quantities(
    request: QuoteRequest,
    products: Mapping[str, CatalogProduct],
    book: QuantityBook,
    *,
    price_lists: PriceBook | None,
    currency: str,
    customer_group: str | None,
    channel: str | None,
    purchases: Mapping[str, Sequence[tuple[int, int]]],
    now: datetime,
) -> tuple[list[QuantityProblem], list[QuantityLimit]]:
    """Each item against its rules: the problems (one per breaking item, in item order) and the
    per-customer limits the quote's products are under (one per product, its first item's).
    `price_lists`, `customer_group` and `channel` (folded) select the entry that prices an item as
    the engine's step 1 does; `purchases`: the customer's (epoch second, units) per limited product."""
    problems: list[QuantityProblem] = []
    limits: dict[str, QuantityLimit] = {}
    taken: dict[str, int] = {}  # units of each limited product in the items before
    for index, item in enumerate(request.items):
        product = products.get(item.product_id)
        if product is None or not product.is_active or item.product_id not in book.ruled:
            continue
        list_id = None
        if price_lists is not None:
            selected = price_lists.select(currency, product.id.int, item.quantity, customer_group, channel, now)
            list_id = None if selected is None else selected.price_list.id.int
        rules = book.rules_for(product, list_id, item.quantity)
        if rules is None:
            continue
        why = quantity_problem(rules, item.quantity)
        remaining = None
        limit = rules.max_per_customer
        if limit is not None:
            bought = bought_within(purchases.get(item.product_id, ()), rules.window_days, now)
            before = taken.get(item.product_id, 0)
            remaining = max(limit - bought - before, 0)
            taken[item.product_id] = before + item.quantity
            limits.setdefault(
                item.product_id,
                QuantityLimit(
                    product_id=item.product_id,
                    max_per_customer=limit,
                    window_days=rules.window_days,
                    remaining_for_customer=max(limit - bought, 0),
                ),
            )
            if why is None and item.quantity > remaining:
                why = f"at most {limit} per customer in {rules.window_days} days: {remaining} left for this customer"
        if why is not None:
            problems.append(
                QuantityProblem(
                    f"items[{index}].quantity",
                    why,
                    min_qty=rules.min_qty,
                    max_qty=rules.max_qty,
                    step=rules.step,
                    remaining_for_customer=remaining,
                )
            )
    return problems, list(limits.values())
