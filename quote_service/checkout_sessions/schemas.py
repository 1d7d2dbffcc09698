"""A checkout session as stored and as both protocol bindings read it (docs/agents.md).

`State` is what the agent asked for (items, address, per-seller fulfillment choices, codes) and the
last pricing's `Summary`: every amount an integer in the currency's minor units, exactly the quote's
decimal amount (no second rounding). The bindings (acp.py, ucp.py) only rename and nest these.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from quote_service.pricing.quote import Address

Protocol = Literal["acp", "ucp"]
Status = Literal["open", "completed", "canceled"]


class Item(msgspec.Struct, frozen=True, kw_only=True):
    """A line as the agent sent it: `id` is an offer id (that offer) or a product id (its best offer)."""

    id: str
    quantity: int


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """A business outcome: `param` is the JSONPath of what it is about (e.g. `$.line_items[1]`)."""

    type: Literal["info", "error"]
    code: str
    param: str
    content: str


class Option(msgspec.Struct, frozen=True, kw_only=True):
    """One delivery option of one seller's shipment."""

    id: str
    title: str
    amount: int
    earliest: datetime
    latest: datetime


class Group(msgspec.Struct, frozen=True, kw_only=True):
    """A seller's shipment: the lines it carries, its options and the one chosen (None: not yet)."""

    seller_id: str
    line_ids: list[str]
    options: list[Option]
    selected: str | None
    fee: int


class Line(msgspec.Struct, frozen=True, kw_only=True):
    """A priced line. `discount` = base - subtotal (price rules and allocated promotions and coupons);
    `total` = subtotal + tax, or subtotal for a tax-inclusive line (its tax contained)."""

    id: str
    item: Item
    seller_id: str | None
    unit_price: int
    base_amount: int
    discount: int
    subtotal: int
    tax: int
    total: int


class Allocation(msgspec.Struct, frozen=True, kw_only=True):
    path: str
    amount: int


class Applied(msgspec.Struct, frozen=True, kw_only=True):
    """A discount the quote applied: a code's, or an automatic promotion's; its allocations sum to `amount`."""

    id: str
    code: str | None
    title: str
    amount: int
    automatic: bool
    method: Literal["each", "across"]
    allocations: list[Allocation]


class Rejected(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    reason: str


class Totals(msgspec.Struct, frozen=True, kw_only=True):
    """total = subtotal - discount + fulfillment + tax + fee; subtotal = items_base_amount - items_discount."""

    items_base_amount: int = 0
    items_discount: int = 0
    subtotal: int = 0
    discount: int = 0
    fulfillment: int = 0
    tax: int = 0
    fee: int = 0
    total: int = 0


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    """The last pricing of the basket, in minor units."""

    quote_id: UUID | None = None
    quote_expires_at: datetime | None = None
    total_amount: str | None = None
    """The quote's decimal total: a later pricing compares with it (`price_changed`)."""
    lines: list[Line] = []
    groups: list[Group] = []
    totals: Totals = Totals()
    applied: list[Applied] = []
    rejected: list[Rejected] = []


class State(msgspec.Struct, kw_only=True):
    """What the agent asked for, and the last pricing of it."""

    items: list[Item] = []
    address: Address | None = None
    """The fulfillment address as the quote takes it; None: priced for the default market."""
    address_sent: dict[str, Any] | None = None
    """The address as the agent sent it, shown back in its binding's shape."""
    buyer: dict[str, Any] | None = None
    shipping: dict[str, str] = {}
    """seller id → the option code chosen for its shipment."""
    codes: list[str] = []
    messages: list[Message] = []
    summary: Summary = Summary()
    payment_reference: str | None = None
    """A digest of the payment token the session completed with (never the token)."""


class Changes(msgspec.Struct, frozen=True, kw_only=True):
    """An update in protocol-neutral terms: an absent field leaves the state as it is."""

    items: list[Item] | UnsetType = UNSET
    address: Address | UnsetType | None = UNSET
    address_sent: dict[str, Any] | UnsetType | None = UNSET
    buyer: dict[str, Any] | UnsetType | None = UNSET
    shipping: dict[str, str] | UnsetType = UNSET
    """Merged into the choices (UCP's full replace sends them all)."""
    shipping_all: str | UnsetType = UNSET
    """ACP's combined option: this code for every seller of the basket."""
    codes: list[str] | UnsetType = UNSET


class Allowance(msgspec.Struct, frozen=True, kw_only=True):
    """A delegated payment's allowance: the most it may pay, in minor units of `currency`, until `expires_at`."""

    max_amount: int
    currency: str
    expires_at: datetime


class Payment(msgspec.Struct, frozen=True, kw_only=True):
    token: str
    provider: str
    allowance: Allowance | None = None


class Session(msgspec.Struct, frozen=True, kw_only=True):
    """A session as both bindings render it."""

    id: UUID
    protocol: Protocol
    status: Status
    ready: bool
    currency: str
    state: State
    expires_at: datetime
    created_at: datetime
    order_id: UUID | None = None
    shown: list[Message] = []
    """Messages of this answer only (a price change seen now), shown before the session's own."""

    @property
    def messages(self) -> list[Message]:
        return [*self.shown, *self.state.messages]
