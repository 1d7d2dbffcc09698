"""Order edit payloads (docs/orders-and-refunds.md#edits-and-exchanges). Money leaves as strings with
exactly the currency's digits."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from quote_service.pricing.quote import ExternalId, PriceSource, Quantity, QuoteItemIn

ShippingChoices = Annotated[
    dict[ExternalId, Annotated[str, msgspec.Meta(min_length=1, max_length=64)]], msgspec.Meta(max_length=200)
]


class EditRemove(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Units of a product, or of the offer that sold them (docs/offers.md), to take out of the order."""

    product_id: ExternalId | UnsetType = UNSET
    offer_id: UUID | UnsetType = UNSET
    """The offer whose units come out (docs/offers.md): the order's lines sold from it, newest first; its units
    go back to the offer's stock at the commit. With `product_id` too, the offer must sell that product."""
    quantity: Quantity
    line: Annotated[int, msgspec.Meta(ge=0, le=100_000)] | UnsetType = UNSET
    """The order line to take them from (its `line` number): needed only when the product is on lines of
    two sellers and no `offer_id` is named; otherwise the product's newest line gives its units first."""


class EditReplace(EditRemove, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An exchange: units taken out (as `remove`) and an item put in their place (as `add`)."""

    with_: QuoteItemIn = msgspec.field(name="with")


class EditCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /orders/{id}/edits`: at least one of the four."""

    add: Annotated[list[QuoteItemIn], msgspec.Meta(max_length=200)] = []
    remove: Annotated[list[EditRemove], msgspec.Meta(max_length=200)] = []
    replace: Annotated[list[EditReplace], msgspec.Meta(max_length=200)] = []
    shipping: ShippingChoices | UnsetType = UNSET
    """The delivery option per seller (`{"<seller_id>": "<code>"}`), as a quote takes it; a seller not named
    keeps the option its shipment has."""
    reason: Annotated[str, msgspec.Meta(max_length=500)] | None = None

    def is_empty(self) -> bool:
        return not (self.add or self.remove or self.replace or self.shipping)


class EditCommit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /orders/{id}/edits/{edit_id}/commit` (an empty body, or none)."""


class EditSeller(msgspec.Struct, frozen=True, kw_only=True):
    """One seller's part of an edit."""

    seller_id: str | None
    difference_due: Decimal
    """Its goods, their tax and its shipment's fee: what the edit moves of what the customer pays it."""
    commission_delta: Decimal


class EditTotals(msgspec.Struct, frozen=True, kw_only=True):
    """The order's totals as they would stand after the edit."""

    subtotal: Decimal
    discount_amount: Decimal
    tax_amount: Decimal
    delivery_fee: Decimal
    small_basket_fee: Decimal
    total_amount: Decimal


class EditLine(msgspec.Struct, frozen=True, kw_only=True):
    """A line of the edited basket."""

    product_id: str
    quantity: int
    unit_price: Decimal
    line_subtotal: Decimal
    discount: Decimal
    tax: Decimal
    price_source: PriceSource
    seller_id: str | None
    kept: bool
    """At the price its order line charged (false: added at today's price, or a gift)."""
    offer_id: UUID | UnsetType = UNSET
    """The offer the line is sold from (docs/offers.md); absent on a line of a product's own offer."""


class EditPreview(msgspec.Struct, frozen=True, kw_only=True):
    """`POST /orders/{id}/edits` → 201: what committing the edit would do."""

    edit_id: UUID
    order_id: UUID
    revision: int
    """The order's revision the preview priced (1 for an order never edited)."""
    currency: str
    difference_due: Decimal
    """> 0: the customer pays more; < 0: the customer is refunded; 0.00: nothing moves."""
    tax_delta: Decimal
    commission_delta: Decimal
    sellers: list[EditSeller]
    promotions_kept: list[UUID]
    promotions_lost: list[UUID]
    totals: EditTotals
    items: list[EditLine]
    expires_at: datetime
