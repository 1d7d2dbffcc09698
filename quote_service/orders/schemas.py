"""Order payloads. Money is a string with exactly the currency's digits on the way out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from quote_service.pricing.fx_convert import QuoteFx
from quote_service.pricing.quote import (
    AgentRef,
    AppliedCoupon,
    CommissionBreakdown,
    CommissionFee,
    PriceSource,
    SelectedInstallment,
    SellerTotals,
    Shipment,
)
from quote_service.pricing.taxes import LineTax, Rounding
from quote_service.structs import Frozen, Strict
from quote_service.validation import StrictDecimal

OrderStatus = Literal["confirmed", "partially_refunded", "refunded", "cancelled"]
ORDER_STATUSES: tuple[str, ...] = ("confirmed", "partially_refunded", "refunded", "cancelled")
DiscountSource = Literal["promotion", "coupon"]
FundedBy = Literal["seller"]
"""Who pays for a discount: the seller (the customer pays less, and so is the seller paid)."""


class OrderCreate(Strict):
    quote_id: UUID
    """A stored, unexpired quote; the order confirms it at exactly its amounts."""


class LineCommission(Frozen):
    seller: Decimal
    category: Decimal
    fees: list[CommissionFee] | UnsetType = UNSET
    """The line's named commission fees, in name order (docs/commission.md; absent: none)."""


class LineDiscount(Frozen):
    """One source's share of a line's discount (the order's priced record)."""

    source: DiscountSource
    id: str
    """The promotion's id, or the coupon's code (a coupon's id)."""
    name: str
    """The promotion's name, or the coupon's code."""
    code: str | UnsetType = UNSET
    """The coupon's code (coupons only)."""
    funded_by: FundedBy
    amount: Decimal


class OrderPromotion(Frozen):
    """A promotion the order's quote applied, as it applied it."""

    promotion_id: UUID
    name: str
    kind: str
    amount: Decimal
    """The goods discount it gave; for FREE_DELIVERY the delivery fee it waived (not in discount_amount)."""
    funded_by: FundedBy


class OrderLine(Frozen):
    line: int
    """The line's number (docs/orders-and-refunds.md#line-numbers): what its commission details, a refund
    and an edit name it by. An order never edited numbers its lines 0, 1, ... as in `items`; an edit writes
    each line anew with a number after the last one, so after one they are no longer its index in `items`."""
    product_id: str
    quantity: int
    list_unit_price: Decimal
    unit_price: Decimal
    line_subtotal: Decimal
    discount: Decimal
    tax: Decimal
    tax_rate: Decimal
    price_source: PriceSource
    flash_sale_id: UUID | None
    category_id: str | None
    seller_id: str | None
    price_list_id: UUID | None = None
    offer_id: UUID | UnsetType = UNSET
    """The offer that sold the line (docs/offers.md); absent on a line of a product's own (default) offer."""
    prices_include_tax: bool
    """The line's prices are gross (its `tax` contained, not added; docs/markets.md)."""
    net: Decimal
    """The line after its discount, without tax (the base of its commission)."""
    discounts: list[LineDiscount]
    """The line's `discount` by source; the amounts add up to it exactly ([]: no discount, or an order
    placed before orders kept their priced record)."""
    commission: LineCommission
    """The line's commission parts."""
    gross: Decimal | UnsetType = UNSET
    """net + tax (an order with a tax-inclusive line, as its quote showed it)."""
    platform_contribution: Decimal | UnsetType = UNSET
    """What the platform pays the seller for the line's platform-funded discounts (absent: none)."""
    commission_tax: Decimal | UnsetType = UNSET
    """The tax on the line's commission at COMMISSION_TAX_RATE (absent: none)."""
    # docs/taxes.md: only in an order whose quote used compound taxes, an exemption or its own rounding.
    taxes: list[LineTax] | UnsetType = UNSET
    tax_exemption: str | UnsetType = UNSET
    tax_exempted: Decimal | UnsetType = UNSET
    installment_commission: Decimal | UnsetType = UNSET
    """The line's share of a seller-funded installment option's commission (docs/taxes.md#installments)."""
    tax_source: Literal["extension"] | UnsetType = UNSET
    """The line's `taxes` are a tax extension's amounts (docs/extensions.md)."""


class OrderEdit(Frozen):
    """A committed edit of the order (docs/orders-and-refunds.md#edits-and-exchanges)."""

    edit_id: UUID
    revision: int
    """The order's revision the edit made."""
    difference_due: Decimal
    at: datetime
    refund_id: UUID | None = None
    """The refund that paid a negative difference back (null: nothing was refunded)."""


class Payment(Frozen):
    """A payment of money an order's edits made due (docs/orders-and-refunds.md#money-due-and-payments)."""

    id: UUID
    order_id: UUID
    currency: str
    amount: Decimal
    balance_due: Decimal
    """The order's balance due once the payment was recorded."""
    created_by: str
    created_at: datetime


class PaymentCreate(Strict):
    """`POST /orders/{id}/payments`: a payment of (part of) the order's balance due."""

    amount: StrictDecimal
    """In the order's currency: more than 0, with at most its minor-unit digits, at most `balance_due`."""


class OrderShipment(Shipment, frozen=True, kw_only=True):
    """A shipment of the order, as its quote priced it."""

    refund_id: UUID | None
    """The refund that gave its delivery fee back (null: not given back)."""


class Order(Frozen):
    id: UUID
    quote_id: UUID
    customer_id: str
    status: OrderStatus
    currency: str
    subtotal: Decimal
    discount_amount: Decimal
    tax_amount: Decimal
    delivery_fee: Decimal
    small_basket_fee: Decimal
    total_amount: Decimal
    items: list[OrderLine]
    commission_breakdown: CommissionBreakdown
    applied_coupons: list[AppliedCoupon]
    applied_promotions: list[OrderPromotion]
    """[] for an order placed before orders kept their priced record (`priced_record: false`)."""
    logistics_commission: Decimal
    """The commission on the delivery fee (also in `commission_breakdown`)."""
    priced_record: bool
    """Whether the order kept its priced record (every order placed since): false for older orders,
    whose lines show `discounts: []` and whose commission parts are read from their details."""
    created_by: str
    created_at: datetime
    refunded_amount: Decimal
    """What the customer got back so far (goods after discount, their tax, fees given back)."""
    refunds: list[UUID]
    """The order's refunds (a cancel is one), oldest first."""
    tax_included: Decimal | UnsetType = UNSET
    """The tax contained in the tax-inclusive lines (an order with one; docs/markets.md)."""
    shipments: list[OrderShipment] | UnsetType = UNSET
    """Its quote's shipments (an order whose quote had some; docs/shipping.md)."""
    sellers: list[SellerTotals] | UnsetType = UNSET
    """Its quote's per-seller totals (with shipments)."""
    # docs/taxes.md: as its quote recorded them; absent from an order whose quote used none.
    rounding: Rounding | UnsetType = UNSET
    tax_exemption: str | UnsetType = UNSET
    customer_tax_id: str | UnsetType = UNSET
    tax_exempted: Decimal | UnsetType = UNSET
    installment: SelectedInstallment | UnsetType = UNSET
    tax_source: Literal["extension", "internal"] | UnsetType = UNSET
    """As its quote said (an order whose quote an extension applied to; docs/extensions.md)."""
    # docs/flash-sales.md#a-purchase-is-an-order: only in the order a flash "Buy now" purchase is.
    flash_sale_id: UUID | UnsetType = UNSET
    purchase_id: UUID | UnsetType = UNSET
    """The flash-sale purchase this order records (`POST /flash-sales/{id}/purchases`)."""
    # docs/orders-and-refunds.md#edits-and-exchanges
    revision: int = 1
    """1, and one more with each committed edit."""
    edits: list[OrderEdit] = []
    """Its committed edits, oldest first."""
    balance_due: Decimal = Decimal(0)
    """What the customer owes for its edits: their positive differences, less what later negative differences,
    refunds and a cancel took off it (never charged, never paid back), less its payments."""
    paid_amount: Decimal = Decimal(0)
    """What its payments paid of the money its edits made due."""
    payments: list[Payment] = []
    """Its payments, oldest first."""
    # docs/agents.md#quotes-and-orders: only in an order whose quote an agent key made.
    channel: Literal["agent"] | UnsetType = UNSET
    agent: AgentRef | UnsetType = UNSET
    """The agent key whose quote it confirms (`{name, key_id}`)."""
    checkout_session_id: str | UnsetType = UNSET
    """The checkout session it completes (docs/agents.md): only in an order a session placed."""
    fx: QuoteFx | UnsetType = UNSET
    """The exchange rates its quote converted prices with (docs/currencies.md): only where it converted."""


class RefundLineIn(Strict):
    product_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    """A product on a line of the order."""
    quantity: Annotated[int, msgspec.Meta(gt=0, le=1_000_000)]
    """Units to give back (a product on several lines of one seller: from its first line first)."""
    line: Annotated[int, msgspec.Meta(ge=0, le=10_000)] | UnsetType = UNSET
    """The line to give them back from: its number (`items[].line`, a line of `product_id`). Required
    when the product is on lines of two sellers (docs/orders-and-refunds.md#one-product-on-several-lines);
    unset when not sent, so a body without it keeps its fingerprint."""


class RefundCreate(Strict):
    lines: Annotated[list[RefundLineIn], msgspec.Meta(max_length=500)] = []
    include_fees: bool = False
    """Give back the delivery and small-basket fees (and reverse the logistics commission), once."""
    shipments: (
        Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=64)]], msgspec.Meta(max_length=200)]
        | UnsetType
    ) = UNSET
    """Sellers whose shipment's delivery fee (and its logistics commission) to give back, once each (unset
    when not sent: a body without it keeps its fingerprint, so an Idempotency-Key retry still matches)."""
    reason: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class CancelCreate(Strict):
    reason: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class RefundTax(Frozen):
    """What a refund line gave back of one tax component (docs/taxes.md#refunds)."""

    code: str
    amount: Decimal


class RefundLine(Frozen):
    line: int
    """The order line it gives back from: its number (`items[].line`)."""
    product_id: str
    quantity: int
    amount: Decimal
    """The units' share of the line's subtotal (before coupons)."""
    discount: Decimal
    tax: Decimal
    """The units' share of the line's tax: added to the refund, or contained in it for a tax-inclusive line."""
    commission: LineCommission
    prices_include_tax: bool | UnsetType = UNSET
    """Shown when the refund gives back a tax-inclusive line: then every line says its mode."""
    taxes: list[RefundTax] | UnsetType = UNSET
    """Each tax component's share of `tax` (a line of an order that kept its components; docs/taxes.md)."""
    tax_exempted: Decimal | UnsetType = UNSET
    """An exempt tax-inclusive line: the units' share of the tax its price held, not given back (never charged)."""
    installment_commission: Decimal | UnsetType = UNSET
    """The units' share of the line's installment commission this refund reverses (in commission_reversed)."""


class Refund(Frozen):
    id: UUID
    order_id: UUID
    kind: Literal["refund", "cancel", "edit"]
    """`edit`: the refund of an order edit's negative difference (docs/orders-and-refunds.md#the-commit): its
    amounts are what the edit reversed, and it has no lines (the edit's ledger entries carry them)."""
    reason: str | None
    currency: str
    lines: list[RefundLine]
    delivery_fee: Decimal
    small_basket_fee: Decimal
    logistics_commission: Decimal
    total_refunded: Decimal
    """What went back to the customer: amount - discount + tax over the lines (without the tax a tax-inclusive
    line contains), plus the fees given back, less `balance_reduced`."""
    balance_reduced: Decimal
    """The part of what it gave back that an order edit had made due and no payment had settled: taken off
    the order's `balance_due` instead of paid back (docs/orders-and-refunds.md#money-due-and-payments)."""
    commission_reversed: Decimal
    """seller + category (+ installment commission and named fees) over the lines, the fees charged once per
    shipment or order it reversed, plus the logistics commission."""
    created_at: datetime
    tax_included: Decimal | UnsetType = UNSET
    """The tax contained in the tax-inclusive lines given back (shown when there is one)."""
    shipments: list[str | None] | UnsetType = UNSET
    """The sellers whose shipment fee this refund gave back (shown when there is one)."""
    commission_fees: list[CommissionFee] | UnsetType = UNSET
    """The named commission fees it reversed, in commission_reversed: its lines' shares, and fees charged once
    per shipment or order whose last unit it gave back (docs/commission.md; shown when there is one)."""
