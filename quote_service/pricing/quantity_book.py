"""A snapshot's quantity rules, and a quote's items checked against them (docs/pricing.md#quantity-rules).

The snapshot compiles every rule set, the products' own, the price-list entries' and the offers', into a
`QuantityBook` (None: no rule anywhere, and a quote pays one `is None` test for the feature). An item
is under the rules of the price-list entry that prices it, else its product's (`QuantityBook.rules_for`);
an item sold from another seller's offer is under that offer's own rules, else its product's
(`item_rules`; docs/offers.md#quantity-rules).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from msgspec import UNSET

from quote_service.pricing.offers import Accepts, Choice, SnapOffer
from quote_service.pricing.price_lists import PriceBook
from quote_service.pricing.quantity_rules import QuantityProblem, QuantityRules, bought_within, quantity_problem
from quote_service.pricing.quote import OFFER_LIMIT, CatalogProduct, QuantityLimit, QuoteRequest


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
    offers: Mapping[str, QuantityRules] = field(default_factory=dict)
    """An offer's own rules, by its id."""
    offered: frozenset[str] = frozenset()
    """Ids of the products some offer with rules of its own sells."""
    ruled: frozenset[str] = field(init=False)
    """Ids of every product under some rule: a quote whose items name none of them pays nothing more."""
    per_customer: frozenset[str] = field(init=False)
    """Ids of the products some max_per_customer rule is on: only their purchases are read."""

    def __post_init__(self) -> None:
        listed = {_uuid_of(product) for _, product in self.entries}
        object.__setattr__(self, "ruled", frozenset(self.products) | listed | self.offered)
        limited = {pid for pid, rules in self.products.items() if rules.max_per_customer is not None}
        for (_, product), (_, found) in self.entries.items():
            if any(rules is not None and rules.max_per_customer is not None for rules in found):
                limited.add(_uuid_of(product))
        object.__setattr__(self, "per_customer", frozenset(limited))

    @classmethod
    def of(
        cls,
        products: Mapping[str, QuantityRules],
        entries: Iterable[tuple[int, int, int, QuantityRules | None]],
        offers: Iterable[SnapOffer] = (),
    ) -> QuantityBook | None:
        """The book of product rules, (price list, product, min_quantity, rules) entries and the offers'
        own rules; None when no rule set is anywhere."""
        grouped: dict[tuple[int, int], list[tuple[int, QuantityRules | None]]] = {}
        for list_id, product, min_quantity, rules in entries:
            grouped.setdefault((list_id, product), []).append((min_quantity, rules))
        kept = {
            key: (tuple(q for q, _ in found), tuple(r for _, r in found))
            for key, found in ((key, sorted(found, key=lambda e: e[0])) for key, found in grouped.items())
            if any(rules is not None for _, rules in found)
        }
        ruled_offers = [offer for offer in offers if offer.quantity_rules is not None]
        if not products and not kept and not ruled_offers:
            return None
        return cls(
            products=dict(products),
            entries=kept,
            offers={str(o.id): o.quantity_rules for o in ruled_offers if o.quantity_rules is not None},
            offered=frozenset(str(o.product_id) for o in ruled_offers),
        )

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


def item_rules(
    book: QuantityBook, product: CatalogProduct, offer: SnapOffer | None, list_id: int | None, quantity: int
) -> tuple[QuantityRules | None, SnapOffer | None]:
    """The rules an item of `quantity` units of `product` sold from `offer` (None: the product's own offer,
    priced by list `list_id` or none) is under, and the offer whose own rules they are (None: the
    product's or a price-list entry's). Another seller's offer is under its own rules, else its product's
    own (price-list entries price the product's own offer only)."""
    if offer is None:
        return book.rules_for(product, list_id, quantity), None
    own = book.offers.get(str(offer.id))
    if own is not None:
        return own, offer
    return book.products.get(str(product.id)), None


def _item_rules(rules: QuantityRules) -> dict[str, int]:
    """The item rules (min_qty, max_qty, step) a rule set has, for its `QuantityLimit`."""
    found = {"min_qty": rules.min_qty, "max_qty": rules.max_qty, "step": rules.step}
    return {name: value for name, value in found.items() if value is not None}


def _list_id(
    price_lists: PriceBook | None,
    product: CatalogProduct,
    quantity: int,
    currency: str,
    customer_group: str | None,
    channel: str | None,
    now: datetime,
) -> int | None:
    """The price list that prices `quantity` units of the product's own offer (as the engine's step 1)."""
    if price_lists is None:
        return None
    selected = price_lists.select(currency, product.id.int, quantity, customer_group, channel, now)
    return None if selected is None else selected.price_list.id.int


def accepting(
    book: QuantityBook,
    *,
    price_lists: PriceBook | None,
    currency: str,
    customer_group: str | None,
    channel: str | None,
    now: datetime,
) -> Accepts:
    """Whether an offer's item rules (min_qty, max_qty, step) accept a quantity: what the best landed choice
    keeps (a per-customer limit is checked on the offer chosen)."""

    def accepts(product: CatalogProduct, offer: SnapOffer | None, quantity: int) -> bool:
        if str(product.id) not in book.ruled:
            return True
        list_id = None
        if offer is None:
            list_id = _list_id(price_lists, product, quantity, currency, customer_group, channel, now)
        rules, _ = item_rules(book, product, offer, list_id, quantity)
        return rules is None or quantity_problem(rules, quantity) is None

    return accepts


def limited_keys(request: QuoteRequest, book: QuantityBook, choices: Sequence[Choice | None] | None) -> list[str]:
    """What the customer's units are read for: each item's product under some max_per_customer rule, and
    each chosen offer whose own rules have one (`QuantityLimit.key`), once each."""
    keys: list[str] = []
    for index, item in enumerate(request.items):
        choice = None if choices is None else choices[index]
        if choice is not None and choice.offer is not None:
            own = book.offers.get(str(choice.offer.id))
            if own is not None:
                if own.max_per_customer is not None:
                    keys.append(f"{OFFER_LIMIT}{choice.offer.id}")
                continue
        if item.product_id in book.per_customer:
            keys.append(item.product_id)
    return list(dict.fromkeys(keys))


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
    choices: Sequence[Choice | None] | None = None,
) -> tuple[list[QuantityProblem], list[QuantityLimit]]:
    """Each item against its rules: the problems (one per breaking item, in item order) and the
    per-customer limits the quote is under (one per product or offer, its first item's).
    `price_lists`, `customer_group` and `channel` (folded) select the entry that prices an item as
    the engine's step 1 does; `choices`: each item's offer (`offers.choose_offers`; None: none has one);
    `purchases`: the customer's (epoch second, units) per limit key (`limited_keys`). A product's limit
    counts the basket's every earlier unit of the product, whichever seller sells it; an offer's, those
    of that offer."""
    problems: list[QuantityProblem] = []
    limits: dict[str, QuantityLimit] = {}
    taken: dict[str, int] = {}  # units of each product, and of each ruled offer, in the items before
    for index, item in enumerate(request.items):
        product = products.get(item.product_id)
        if product is None or not product.is_active or item.product_id not in book.ruled:
            continue
        choice = None if choices is None else choices[index]
        offer = None if choice is None else choice.offer
        list_id = None
        if offer is None:
            list_id = _list_id(price_lists, product, item.quantity, currency, customer_group, channel, now)
        rules, owner = item_rules(book, product, offer, list_id, item.quantity)
        key = item.product_id if owner is None else f"{OFFER_LIMIT}{owner.id}"
        before = taken.get(key, 0)
        taken[item.product_id] = taken.get(item.product_id, 0) + item.quantity
        if owner is not None:
            taken[key] = before + item.quantity
        if rules is None:
            continue
        why = quantity_problem(rules, item.quantity)
        remaining = None
        limit = rules.max_per_customer
        if limit is not None:
            bought = bought_within(purchases.get(key, ()), rules.window_days, now)
            remaining = max(limit - bought - before, 0)
            limits.setdefault(
                key,
                QuantityLimit(
                    product_id=item.product_id,
                    max_per_customer=limit,
                    window_days=rules.window_days,
                    remaining_for_customer=max(limit - bought, 0),
                    offer_id=UNSET if owner is None else owner.id,
                    **_item_rules(rules),
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
