"""The edited basket: an order's live lines with an edit's removals, exchanges and additions. Pure.

The order's basket is its live lines with the units no refund gave back, each at the price it charged
(`HeldPrice`); gift lines are left out (the order's GIFT promotions give them again when the edited
basket still earns them). Then, in this order:

- `remove[i]`: units of a product (`product_id`), or of the offer that sold them (`offer_id`, docs/offers.md),
  come out of its lines, the newest line first (the units an earlier edit added go before those ordered); a
  product on lines of two sellers (its own and another seller's offer, say) needs the `line` or the
  `offer_id` to take them from;
- `replace[i]`: units come out as for `remove`, and its `with` item goes in as an addition;
- `add[i]` (and each `with`): an item at today's price (`added`, one per addition, in that order). It joins
  a line of the same product, offer, seller and prices when there is one; otherwise it is a line of its own.
  An addition sold from an offer keeps the offer's identity (`offer_id`), as a kept line does.

Every refusal names the field: an unknown product, offer or line (422), a product on lines of two sellers
with neither `line` nor `offer_id` (422), more units than the order holds (409 EDIT_EXCEEDS_ORDER), a basket
left empty (422).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from uuid import UUID

import msgspec

from quote_service.errors import Conflict, FieldError, ValidationFailed
from quote_service.order_edits.schemas import EditCreate, EditRemove
from quote_service.orders.refund_math import listed
from quote_service.pricing.lines import HeldPrice
from quote_service.pricing.quote import QuoteItemIn


@dataclass(frozen=True)
class BasketLine:
    """A line of the edited basket: a product's units at a held price."""

    product_id: str
    quantity: int
    price: HeldPrice
    position: int | None = None
    """The order line it keeps (its `line`); None: an addition."""
    weight: Decimal | None = None
    """The item's stated weight (an addition's), for a shipment priced by weight."""
    offer_id: UUID | None = None
    """The offer it was sold from (docs/offers.md); None: its product's own (default) offer."""


@dataclass(frozen=True)
class KeptLine:
    """A live order line: its units left after refunds, at the price it charged."""

    position: int
    product_id: str
    quantity: int
    price: HeldPrice
    is_gift: bool = False
    offer_id: UUID | None = None
    """The offer the line was sold from (docs/offers.md); None: its product's own."""


def edited_basket(kept: Sequence[KeptLine], edit: EditCreate, added: Sequence[BasketLine]) -> list[BasketLine]:
    """The basket after `edit`; `added`: the additions priced today, `replace[i].with` items first, then
    `add`'s, in request order (as `additions` lists them)."""
    basket = [
        BasketLine(k.product_id, k.quantity, k.price, k.position, offer_id=k.offer_id)
        for k in kept
        if not k.is_gift and k.quantity
    ]
    for index, entry in enumerate(edit.remove):
        basket = _take(basket, entry, f"remove[{index}]")
    incoming = iter(added)
    for index, exchange in enumerate(edit.replace):
        basket = _take(basket, exchange, f"replace[{index}]")
        basket = _put(basket, next(incoming))
    for line in incoming:
        basket = _put(basket, line)
    if not basket:
        message = "the edit leaves the order without a line: cancel the order instead"
        raise ValidationFailed(message, details=[FieldError("remove", message)])
    return basket


def additions(edit: EditCreate) -> list[tuple[str, QuoteItemIn]]:
    """(field, item) of every item the edit puts in, in the order `edited_basket` takes them."""
    found: list[tuple[str, QuoteItemIn]] = [(f"replace[{i}].with", r.with_) for i, r in enumerate(edit.replace)]
    found += [(f"add[{i}]", item) for i, item in enumerate(edit.add)]
    return found


def with_additions(edit: EditCreate, items: Sequence[QuoteItemIn]) -> EditCreate:
    """`edit` with its additions replaced by `items`, given in the order `additions` lists them."""
    given = iter(items)
    replace = [msgspec.structs.replace(r, with_=next(given)) for r in edit.replace]
    return msgspec.structs.replace(edit, replace=replace, add=list(given))


def _take(basket: list[BasketLine], entry: EditRemove, field: str) -> list[BasketLine]:
    """`entry`'s units taken out of `basket`'s lines of its product (or of its offer), the newest line first."""
    offer_id = entry.offer_id if isinstance(entry.offer_id, UUID) else None
    product_id = entry.product_id if isinstance(entry.product_id, str) else None
    if offer_id is not None:
        what = f"offer {offer_id}"
        candidates = [i for i, line in enumerate(basket) if line.offer_id == offer_id]
        if not candidates:
            message = f"the order has no live line sold from offer {offer_id}"
            raise ValidationFailed(message, details=[FieldError(f"{field}.offer_id", message)])
        if product_id is not None and any(basket[i].product_id != product_id for i in candidates):
            message = f"offer {offer_id} does not sell product {product_id}"
            raise ValidationFailed(message, details=[FieldError(f"{field}.offer_id", message)])
    elif product_id is not None:
        what = f"product {product_id}"
        candidates = [i for i, line in enumerate(basket) if line.product_id == product_id]
        if not isinstance(entry.line, int) and len({basket[i].price.seller_id for i in candidates}) > 1:
            message = f"product {product_id} is on lines of different sellers: name the line or the offer_id"
            raise ValidationFailed(message, details=[FieldError(f"{field}.line", message)])
    else:
        message = "name the product_id or the offer_id"
        raise ValidationFailed(message, details=[FieldError(f"{field}.product_id", message)])
    if isinstance(entry.line, int):
        candidates = [i for i in candidates if basket[i].position == entry.line]
        if not candidates:
            message = _no_such_line(basket, entry.line, what)
            raise ValidationFailed(message, details=[FieldError(f"{field}.line", message)])
    if not candidates:
        message = f"product {product_id} is not in this order"
        raise ValidationFailed(message, details=[FieldError(f"{field}.product_id", message)])
    held = sum(basket[i].quantity for i in candidates)
    if entry.quantity > held:
        message = f"{what}: {entry.quantity} unit(s) to take out, the order holds {held}"
        raise Conflict(message, code="EDIT_EXCEEDS_ORDER", details=[FieldError(f"{field}.quantity", message)])
    left = list(basket)
    units = entry.quantity
    for i in sorted(candidates, key=lambda i: _age(basket[i]), reverse=True):
        taken = min(units, left[i].quantity)
        left[i] = replace(left[i], quantity=left[i].quantity - taken)
        units -= taken
    return [line for line in left if line.quantity > 0]


def _no_such_line(basket: Sequence[BasketLine], number: int, what: str) -> str:
    """A `line` that names no live line of `what`: the live lines' numbers, as a refund's refusal lists them
    (docs/orders-and-refunds.md#line-numbers), or whose line it is."""
    named = next((line for line in basket if line.position == number), None)
    if named is None:
        live = {line.position for line in basket if line.position is not None}
        message = f"the order has no live line {number} (its lines are {listed(live)})"
    elif what.startswith("product "):
        message = f"line {number} is product {named.product_id}, not {what.removeprefix('product ')}"
    else:
        message = f"line {number} is not sold from {what}"
    return message


def _age(line: BasketLine) -> int:
    """A line's place from oldest to newest: an addition of this edit is the newest."""
    return 1 << 62 if line.position is None else line.position


def _put(basket: list[BasketLine], line: BasketLine) -> list[BasketLine]:
    """`line` added: into a line of the same product, offer, seller and prices, else as a line of its own."""
    for i, present in enumerate(basket):
        same = present.product_id == line.product_id and present.offer_id == line.offer_id
        if same and present.price == line.price:
            return [*basket[:i], replace(present, quantity=present.quantity + line.quantity), *basket[i + 1 :]]
    return [*basket, line]
