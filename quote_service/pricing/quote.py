"""Quote request and response shapes (the Go service's field names) and the engine's inputs.

Pure data: the HTTP edge decodes `QuoteRequest`, the quotes service gathers the inputs
(`CatalogProduct`, `FlashOffer`, `CustomerContext`, `EngineDefaults`), and the engine returns
a `Quote`, which is also what is stored and later confirmed by an order.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from quote_service.pricing.coupons import Coupon
from quote_service.pricing.fx_convert import LineFx, QuoteFx
from quote_service.pricing.taxes import LineTax, Rounding, TaxExemption
from quote_service.validation import QUOTE_LINES_CEILING, StrictDecimal

ExternalId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
ShortText = Annotated[str, msgspec.Meta(max_length=200)]
Quantity = Annotated[int, msgspec.Meta(ge=1, le=10_000)]
Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]
CountryCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{2}\Z", description="ISO 3166-1 alpha-2")]
CurrencyCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{3}\Z", description="ISO 4217")]
OfferSelection = Literal["named", "best_landed"]
PriceSource = Literal["catalog", "request", "flash_sale", "price_list", "gift"]
STOCKED_SOURCES: frozenset[str] = frozenset({"catalog", "price_list", "gift"})
"""Lines whose units come from the product's catalog stock (a price list prices a catalog product;
flash-priced units come from their sale, request-priced lines have no stock)."""


# --- request -------------------------------------------------------------------------------


class QuoteItemIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    product_id: ExternalId = ""
    """Required unless `offer_id` is given: an item naming only its offer is the offer's product
    (docs/offers.md). Left out it decodes as "" (a product id sent is 1-64 characters), which
    `pricing/offers.with_offer_products` fills in before anything reads it."""
    quantity: Quantity
    variant_id: ExternalId | None = None
    unit_price: StrictDecimal | None = None
    """Used only when the product is not an active catalog product (then required, > 0)."""
    category_id: ExternalId | None = None
    tags: Annotated[list[Annotated[str, msgspec.Meta(max_length=64)]], msgspec.Meta(max_length=50)] = []
    weight: StrictDecimal | None = None
    seller_id: ExternalId | None = None
    """For a product with offers: that seller's offer (docs/offers.md); else the seller of a request-priced item."""
    offer_id: ExternalId | None = None
    """The offer the item is sold from (docs/offers.md); an unknown or inactive one is 422."""


class Address(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    city: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    country: CountryCode
    street: ShortText | None = None
    district: ShortText | None = None
    postal_code: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None


class RequestContext(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    user_agent: Annotated[str, msgspec.Meta(max_length=512)] | None = None
    ip_address: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    session_id: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    ab_test_group: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class QuoteRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    customer_id: ExternalId
    # The schema's ceiling; the configured MAX_QUOTE_LINES (at most this) is checked by QuoteService.quote.
    items: Annotated[list[QuoteItemIn], msgspec.Meta(min_length=1, max_length=QUOTE_LINES_CEILING)]
    delivery_address: Address
    currency: CurrencyCode
    seller_id: ExternalId | None = None
    pickup_address: Address | None = None
    is_express_delivery: bool = False
    coupon_codes: Annotated[
        list[Annotated[str, msgspec.Meta(min_length=1, max_length=32)]], msgspec.Meta(max_length=10)
    ] = []
    logistics_provider: ExternalId | None = None
    customer_tier: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    customer_segment: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    context: RequestContext | None = None
    reserve_stock: bool = False
    """Hold the catalog lines' units until `valid_until` (docs/reservations.md); the engine ignores it."""
    replaces_quote_id: UUID | None = None
    """With `reserve_stock`: the customer's own live reserved quote whose hold moves to this one, in
    one step (its units counted once; docs/reservations.md). The engine ignores it."""
    channel: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    """The sales channel (e.g. "web", "app"): price lists may be limited to some channels."""
    customer_group: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    """The customer's group (e.g. "b2b"), stated by a service key or admin as `customer_tier` is; default
    the calling account's own group. A shopper's comes from its account (docs/markets.md#customer-group-per-quote)."""
    shipping: (
        Annotated[
            dict[ExternalId, Annotated[str, msgspec.Meta(min_length=1, max_length=64)]], msgspec.Meta(max_length=200)
        ]
        | None
    ) = None
    """The delivery option chosen per seller (`{"<seller_id>": "<code>"}`); an unchosen shipment takes the
    default option (docs/shipping.md#which-option-is-selected)."""
    # Taxes and installments (docs/taxes.md): each absent leaves the quote as it was.
    tax_exemption: TaxExemption | None = None
    """`exempt` or `reverse_charge` (with `customer_tax_id`): the lines carry no tax. A service key or admin only."""
    customer_tax_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    """The buyer's tax number (VAT id); required with `tax_exemption: reverse_charge`."""
    card_bin: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6,8}\Z")] | None = None
    """The card's first 6-8 digits: the quote lists the installment plans offered for it."""
    installments: Annotated[int, msgspec.Meta(ge=1, le=36)] | None = None
    """With `card_bin`: the number of installments chosen (one of `installment_options`' counts)."""
    hints: bool = False
    """Ask for the next cheapest steps to a better total (`hints` in the quote, docs/promotions.md#hints)."""


# --- engine inputs -------------------------------------------------------------------------


class CatalogProduct(msgspec.Struct, frozen=True, kw_only=True):
    """What the engine needs of a catalog product (step 1)."""

    id: UUID
    currency: str
    current_price: Decimal
    min_price: Decimal
    category_id: str
    seller_id: str
    is_active: bool
    prices_include_tax: bool = False
    """The catalog price (and its min_price and flash prices) is gross, tax included (docs/markets.md)."""
    campaign_reduced_since: datetime | None = None
    """When the product's active campaign first moved its price below the campaign's base price, while
    `current_price` is still below it (a campaign reduction, docs/markets.md#prior-price-for-announced-reductions);
    None otherwise. Read with `current_price`, so the two are never out of step."""
    weight: Decimal | None = None
    """Per unit, in kg: what a shipment weighs (docs/shipping.md); None: the request item's `weight`."""


class FlashOffer(msgspec.Struct, frozen=True, kw_only=True):
    """An active flash sale's offer on one product, for one customer (step 2)."""

    flash_sale_id: UUID
    product_id: UUID
    flash_price: Decimal
    remaining_stock: int
    customer_remaining_limit: int


class CustomerContext(msgspec.Struct, frozen=True, kw_only=True):
    """Who the quote is for: tier and segment from the request, else from the caller."""

    customer_id: str
    tier: str | None = None
    segment: str | None = None
    coupon_uses: dict[str, int] = {}
    """Times this customer has used each coupon code (per_customer_limit)."""
    promotion_uses: dict[UUID, int] = {}
    """Orders of this customer that used each promotion with a per_customer_limit its quote could meet."""
    generated_coupons: dict[str, Coupon] = {}
    """The generated single-use codes the request names (docs/promotions.md#code-batches), each
    priced as its coupon (upper-case code → the coupon as that code)."""
    customer_group: str | None = None
    """The caller's customer group (a user's account, a service key's statement): price lists
    may be limited to some groups."""
    test_group: str | None = None
    """A variant the caller forces in every running experiment that has it (`context.ab_test_group`
    of a service or admin caller; never a shopper's)."""
    unit_purchases: dict[str, list[tuple[int, int]]] = {}
    """The customer's (epoch second, units) orders of the basket's products under a per-customer
    quantity limit (docs/pricing.md#quantity-rules): read for such a basket only."""
    agent: AgentRef | None = None
    """The agent key asking (docs/agents.md#quotes-and-orders): its quote says so (`channel`, `agent`)."""


class EngineDefaults(msgspec.Struct, frozen=True, kw_only=True):
    """Fallbacks when no rule or rate applies (from Settings)."""

    timezone: str = "UTC"
    """BUSINESS_TIMEZONE: the zone of a TIME_WINDOW rule without its own `timezone`."""
    tax_rate: Decimal = Decimal("18")
    delivery_fee: Decimal = Decimal("10.00")
    commission_rate: Decimal = Decimal("15")
    max_discount_percentage: Decimal = Decimal("50")
    express_multiplier: Decimal = Decimal("2.0")
    small_basket_threshold: Decimal = Decimal("50.00")
    small_basket_fee: Decimal = Decimal("5.00")
    validity_minutes: float = 15
    currency: str = "TRY"
    """The currency of `delivery_fee` and the small-basket threshold and fee (DEFAULT_CURRENCY): a quote
    in another currency gets no default fee (docs/markets.md#default-fees-have-a-currency)."""
    commission_tax_rate: Decimal = Decimal(0)
    """COMMISSION_TAX_RATE: the tax on the commission, in a quote's per-seller totals (docs/shipping.md)."""
    rounding: Rounding = Rounding()
    """ROUNDING_MODE and TAX_CALCULATION: how taxes are rounded (docs/taxes.md#rounding-modes)."""
    fx_conversion: bool = False
    """FX_CONVERSION: a line with no price in the quote's currency converts its catalog price (docs/currencies.md)."""
    fx_endings: tuple[tuple[str, str], ...] = ()
    """FX_PRICE_ENDINGS: per currency, the ending a converted unit price is lifted to (`whole`, `0.99`)."""


# --- response ------------------------------------------------------------------------------


class AppliedRule(msgspec.Struct, frozen=True, kw_only=True):
    rule_id: UUID | None
    name: str
    type: str
    version: int | None
    amount: Decimal
    """Money the rule moved (negative for a discount), in the quote currency."""


class QuoteLine(msgspec.Struct, frozen=True, kw_only=True):
    product_id: str
    quantity: int
    list_unit_price: Decimal
    unit_price: Decimal
    line_subtotal: Decimal
    discount: Decimal
    tax: Decimal
    price_source: PriceSource
    applied_rules: list[AppliedRule] = []
    category_id: str | None = None
    seller_id: str | None = None
    flash_sale_id: UUID | None = None
    tax_rate: Decimal = Decimal(0)
    price_list_id: UUID | None = None
    """The price list that priced the line (`price_source: "price_list"`)."""
    # Only on a line of a product that has offers (docs/offers.md), absent from every other line.
    offer_id: Annotated[
        UUID | UnsetType | None, msgspec.Meta(description="The offer that sells the line (null: the product's own).")
    ] = UNSET
    offer_selection: Annotated[
        OfferSelection | UnsetType,
        msgspec.Meta(description="`named` by the item (offer_id or seller_id), or the `best_landed` offer."),
    ] = UNSET
    at_min_price: Annotated[
        bool,
        msgspec.Meta(
            description="The line is at (or below) its product's min_price x quantity: no discount takes it "
            "lower, so a promotion or coupon gave it less than its share (docs/pricing.md)."
        ),
    ] = False
    # The tax split (docs/markets.md#the-lines-tax-split): on every line of a quote that has a line
    # priced from a tax-inclusive source, absent from every other quote (which reads as it always did).
    prices_include_tax: Annotated[
        bool | UnsetType,
        msgspec.Meta(description="The line's prices are gross (tax included); its `tax` is contained, not added."),
    ] = UNSET
    net: Annotated[
        Decimal | UnsetType, msgspec.Meta(description="The line after its discount, without tax: gross - tax.")
    ] = UNSET
    gross: Annotated[
        Decimal | UnsetType, msgspec.Meta(description="The line after its discount, with its tax: net + tax.")
    ] = UNSET
    # An announced reduction (docs/markets.md#prior-price-for-announced-reductions): only on a line a flash
    # sale, an automatic promotion or a campaign reduces, absent from every other line.
    fx: Annotated[
        LineFx | UnsetType,
        msgspec.Meta(description="Only on a line priced by converting its catalog price (docs/currencies.md)."),
    ] = UNSET
    prior_price: Annotated[
        Decimal | UnsetType | None,
        msgspec.Meta(
            description="The lowest catalog price in the 30 days before the reduction began (null: no history)."
        ),
    ] = UNSET
    reduction_started_at: Annotated[
        datetime | UnsetType,
        msgspec.Meta(description="When the flash sale, promotion or campaign reducing the line began."),
    ] = UNSET
    # Taxes as markets have them (docs/taxes.md): only in a quote with a compound tax, an exemption or
    # rounding other than the default; absent from every other quote.
    taxes: Annotated[
        list[LineTax] | UnsetType,
        msgspec.Meta(description="The line's taxes, component by component; `tax` is their sum."),
    ] = UNSET
    tax_exemption: Annotated[
        TaxExemption | UnsetType, msgspec.Meta(description="Why the line carries no tax (exempt, reverse_charge).")
    ] = UNSET
    tax_exempted: Annotated[
        Decimal | UnsetType,
        msgspec.Meta(
            description="An exempt tax-inclusive line: the tax its price held, not charged (it charges net): "
            "left out of its line_subtotal."
        ),
    ] = UNSET
    installment_commission: Annotated[
        Decimal | UnsetType,
        msgspec.Meta(description="A seller-funded installment option chosen: the line's share of it (docs/taxes.md)."),
    ] = UNSET
    # Only on a line a platform-funded promotion or coupon discounts (docs/orders-and-refunds.md#who-funds-a-discount).
    platform_funded: Annotated[
        Decimal | UnsetType,
        msgspec.Meta(
            description="The part of `discount` the platform pays the seller; not taken off the commission base."
        ),
    ] = UNSET
    # Only on a GIFT promotion's line (docs/promotions.md#gifts): 0.00, no tax, no commission.
    is_gift: Annotated[bool | UnsetType, msgspec.Meta(description="A gift of the promotion `promotion_id`.")] = UNSET
    promotion_id: UUID | UnsetType = UNSET
    # Only on a line a tax extension taxed (docs/extensions.md): its `taxes` are the extension's amounts.
    tax_source: Annotated[
        Literal["extension"] | UnsetType,
        msgspec.Meta(description="The line's tax came from a tax extension, as it answered (docs/extensions.md)."),
    ] = UNSET


class CommissionDetail(msgspec.Struct, frozen=True, kw_only=True):
    product_id: str | None
    """None for the per-quote logistics line, and for a fee charged once per shipment or order."""
    rate_id: UUID | None
    dimension: str
    """The component: `category`, `seller`, `logistics`, or a named fee (docs/commission.md)."""
    commission_type: Literal["PERCENTAGE", "FLAT", "TIERED"]
    base: Decimal
    rate: Decimal | None
    amount: Decimal
    line: Annotated[
        int | UnsetType,
        msgspec.Meta(
            description="An order's detail: the number (`items[].line`) of the line it is on (absent on the "
            "logistics detail; a quote lists its details line by line, in `items` order, each line's category "
            "detail first). One product id may be on several lines: the line, not the product, owns the money."
        ),
    ] = UNSET
    # docs/commission.md: only on a FLAT rate's fee charged once per shipment or once per order (no line's).
    per: Annotated[
        Literal["shipment", "order"] | UnsetType,
        msgspec.Meta(description="A FLAT fee charged once per shipment or once per order, on no line."),
    ] = UNSET
    seller_id: Annotated[
        str | UnsetType | None,
        msgspec.Meta(description="Who a fee charged once per shipment or order is charged to."),
    ] = UNSET


class CommissionFee(msgspec.Struct, frozen=True, kw_only=True):
    """A named commission component's amount (docs/commission.md#named-fees)."""

    name: str
    amount: Decimal


class CommissionBreakdown(msgspec.Struct, frozen=True, kw_only=True):
    total_commission: Decimal
    seller_commission: Decimal
    category_commission: Decimal
    logistics_commission: Decimal
    currency: str
    details: list[CommissionDetail]
    installment_commission: Annotated[
        Decimal | UnsetType,
        msgspec.Meta(
            description="A seller-funded installment option chosen: what the sellers pay for it, in "
            "total_commission (docs/taxes.md#installments)."
        ),
    ] = UNSET
    fees: Annotated[
        list[CommissionFee] | UnsetType,
        msgspec.Meta(
            description="The named components (payment_fee, platform_fee, ...) in name order, each in "
            "total_commission; only where a named rate applies (docs/commission.md)."
        ),
    ] = UNSET


class Calculation(msgspec.Struct, frozen=True, kw_only=True):
    step: str
    description: str
    amount: Decimal
    running_total: Decimal


class PricingBreakdown(msgspec.Struct, frozen=True, kw_only=True):
    item_total: Decimal
    subtotal: Decimal
    tax_amount: Decimal
    delivery_fee: Decimal
    small_basket_fee: Decimal
    total_amount: Decimal
    currency: str
    calculations: list[Calculation]


class AppliedCoupon(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    type: str
    amount: Decimal
    funded_by: Annotated[
        Literal["platform"] | UnsetType,
        msgspec.Meta(description="Only on a coupon the platform funds (absent: the seller's)."),
    ] = UNSET


class RejectedCoupon(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    reason: str


class ReservedLine(msgspec.Struct, frozen=True, kw_only=True):
    """Units of one catalog product held for a quote (of its own stock, or of an offer's: `offer_id`)."""

    product_id: str
    quantity: int
    offer_id: UUID | UnsetType = UNSET
    """The offer whose units are held (docs/offers.md); absent for the product's own (default) offer."""


class StockReservation(msgspec.Struct, frozen=True, kw_only=True):
    """What a reserving quote holds, until when (its `valid_until`)."""

    expires_at: datetime
    lines: list[ReservedLine]


class AppliedPromotion(msgspec.Struct, frozen=True, kw_only=True):
    promotion_id: UUID
    name: str
    kind: str
    amount: Decimal
    """The goods discount it gave; for FREE_DELIVERY the delivery fee it waived (not in discount_amount)."""
    funded_by: Annotated[
        Literal["platform"] | UnsetType,
        msgspec.Meta(description="Only on a promotion the platform funds (absent: the seller's)."),
    ] = UNSET


class RejectedPromotion(msgspec.Struct, frozen=True, kw_only=True):
    promotion_id: UUID
    reason: str
    """BETTER_DEAL, USAGE_LIMIT, NOTHING_LEFT, BEST_IN_GROUP, BUDGET_EXHAUSTED or GIFT_UNAVAILABLE
    (docs/promotions.md)."""
    name: str = ""
    """The promotion's name (empty only in a quote stored before rejections carried it)."""
    detail: Annotated[
        str,
        msgspec.Meta(
            description="Why, in a sentence for people: what beat it and by how much less the customer pays "
            "with the deal chosen, or what left it nothing (docs/promotions.md#in-the-quote)."
        ),
    ] = ""


class ShipmentOption(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery option of a shipment, priced for it."""

    code: str
    name: str
    fee: Decimal
    eta_days_min: int
    eta_days_max: int
    free: bool
    """The shipment's goods reach the option's `free_above`: it costs nothing."""


class Shipment(msgspec.Struct, frozen=True, kw_only=True):
    """One seller's parcel in a quote (docs/shipping.md)."""

    seller_id: str | None
    product_ids: list[str]
    goods: Decimal
    """The seller's lines after discounts."""
    options: list[ShipmentOption]
    """The options of the seller's profile ([]: no profile applies; the delivery rules priced the parcel)."""
    selected: str | None
    delivery_fee: Decimal
    """The selected option's fee (0 when a FREE_DELIVERY promotion or coupon waived it)."""
    free_delivery_remaining: Decimal | None
    """How much more of the seller's goods make the selected option free (0 once they do); None: it never is."""
    logistics_commission: Decimal


class SellerTotals(msgspec.Struct, frozen=True, kw_only=True):
    """One seller's share of a quote; each field summed over the sellers is the quote's own figure."""

    seller_id: str | None
    goods: Decimal
    discount: Decimal
    tax: Decimal
    tax_included: Decimal
    delivery_fee: Decimal
    commission: Decimal
    commission_tax: Decimal
    payout: Decimal
    """goods - discount + tax + platform_contribution - commission - commission_tax + delivery_fee."""
    platform_contribution: Annotated[
        Decimal | UnsetType,
        msgspec.Meta(
            description="What the platform pays the seller for its platform-funded discounts on the seller's lines "
            "(in payout). On every seller of a quote with a platform-funded discount; absent: 0."
        ),
    ] = UNSET
    tax_exempted: Annotated[
        Decimal | UnsetType,
        msgspec.Meta(
            description="The tax the seller's exempt tax-inclusive lines held and did not charge (already left out "
            "of goods). On every seller of a quote with `tax_exempted`."
        ),
    ] = UNSET
    fees: Annotated[
        list[CommissionFee] | UnsetType,
        msgspec.Meta(
            description="The seller's named commission fees (in `commission`), in name order; on every seller of "
            "a quote with `commission_breakdown.fees` (docs/commission.md)."
        ),
    ] = UNSET


OFFER_LIMIT = "offer:"
"""The prefix of an offer's per-customer limit key (`QuantityLimit.key`): `offer:<offer id>`."""


class QuantityLimit(msgspec.Struct, frozen=True, kw_only=True):
    """A per-customer limit a quote's product, or one of its offers, is under: what its order counts again
    under a lock."""

    product_id: str
    max_per_customer: int
    window_days: int
    remaining_for_customer: int
    """What the customer could still buy before this quote (by the quote path's counters)."""
    offer_id: UUID | UnsetType = UNSET
    """Only for an offer's own limit (docs/offers.md#quantity-rules): it counts the units bought from that
    offer; a product's limit counts the product's units from every seller."""
    min_qty: int | UnsetType = UNSET
    max_qty: int | UnsetType = UNSET
    step: int | UnsetType = UNSET
    """The item rules of the rule set the limit is part of (only those it has): an order refused at the limit
    names them, as a quote refused by them does."""

    @property
    def key(self) -> str:
        """What the limit counts units of: the product's id, or `offer:<offer id>`."""
        return self.product_id if self.offer_id is UNSET else f"{OFFER_LIMIT}{self.offer_id}"


HintKind = Literal["spend_tier", "free_delivery", "bundle", "buy_x_get_y", "gift"]


class Hint(msgspec.Struct, frozen=True, kw_only=True):
    """A step to a better total: goods to add and what the customer would then save (docs/promotions.md#hints)."""

    kind: HintKind
    promotion_id: UUID | None
    """The promotion the step reaches (null: a shipping profile's free_above)."""
    seller_id: str | None
    """The seller whose goods the step adds (null: any)."""
    add_amount: Decimal
    """The goods to add, before discounts (after them for a shipment's free_above and a FREE_DELIVERY rule)."""
    saves: Decimal
    """How much less the customer would then pay than without the step's benefit."""
    message: str


class InstallmentOption(msgspec.Struct, frozen=True, kw_only=True):
    """One way to pay a quote in parts (docs/taxes.md#installments)."""

    plan_id: UUID
    count: int
    rate: Decimal
    """Percent of the total: the interest, paid by `funded_by`."""
    funded_by: Literal["customer", "seller", "platform"]
    installment_amount: Decimal
    first_installment_amount: Decimal
    """The first installment takes the remainder: first + (count - 1) x installment_amount = total_payable."""
    total_payable: Decimal
    """What the customer pays in all: total_amount x (1 + rate / 100) when customer-funded, else total_amount."""


class SelectedInstallment(msgspec.Struct, frozen=True, kw_only=True):
    """The installment option the quote was made with (`installments`), carried to its order."""

    plan_id: UUID
    count: int
    rate: Decimal
    funded_by: Literal["customer", "seller", "platform"]
    installment_amount: Decimal
    first_installment_amount: Decimal
    total_payable: Decimal
    seller_commission_rate: Decimal | None = None
    """Seller-funded: the percent of each seller's goods added to its commission."""
    installment_commission: Decimal | None = None
    """Seller-funded: what the sellers pay for it in all (in `commission_breakdown`, `sellers`)."""


WarningCode = Literal["EXTENSION_FALLBACK"]
"""A quote's warning (no error: the quote is priced): an extension failed, its lines priced by the service's rules."""


_FALLBACK: WarningCode = "EXTENSION_FALLBACK"  # a warning's code, not an error's (docs/errors.md has none)


class QuoteWarning(msgspec.Struct, frozen=True, kw_only=True):
    """Something the quote priced otherwise than configured (docs/extensions.md#failures)."""

    code: WarningCode
    extension_id: UUID

    @classmethod
    def fallback(cls, extension_id: UUID) -> QuoteWarning:
        """An extension with `on_failure: fallback` that failed."""
        return cls(code=_FALLBACK, extension_id=extension_id)


class AgentRef(msgspec.Struct, frozen=True, kw_only=True):
    """The agent (an API key of role `agent`) whose quote or order this is (docs/agents.md)."""

    name: str
    key_id: UUID


class Quote(msgspec.Struct, frozen=True, kw_only=True):
    """The priced basket: the response `data`, what is stored, and what an order confirms."""

    quote_id: UUID
    customer_id: str
    subtotal: Decimal
    discount_amount: Decimal
    tax_amount: Decimal
    delivery_fee: Decimal
    small_basket_fee: Decimal
    total_amount: Decimal
    currency: str
    items: list[QuoteLine]
    commission_breakdown: CommissionBreakdown
    pricing_breakdown: PricingBreakdown
    applied_rules: list[AppliedRule]
    applied_coupons: list[AppliedCoupon]
    rejected_coupons: list[RejectedCoupon]
    feature_flags: dict[str, Any]
    experiments: dict[str, str]
    created_at: datetime
    valid_until: datetime
    config_version: int = 0
    forced_experiments: list[str] = []
    """Experiments (flag keys) whose variant in `experiments` the caller forced: such an exposure
    is left out of the experiment's statistics."""
    reservation: StockReservation | None = None
    """The units held for this quote (`reserve_stock: true`); null for every other quote."""
    applied_promotions: list[AppliedPromotion] = []
    rejected_promotions: list[RejectedPromotion] = []
    """Promotions whose conditions the basket met but that were not applied, with the reason."""
    tax_included: Annotated[
        Decimal | UnsetType,
        msgspec.Meta(
            description="The tax contained in the tax-inclusive lines (not added: `tax_amount` is the tax added to "
            "the others). Present only when a line is priced from a tax-inclusive source (docs/markets.md)."
        ),
    ] = UNSET
    # Only where a shipping profile applies (docs/shipping.md): a quote without one reads as it always did.
    shipments: Annotated[
        list[Shipment] | UnsetType,
        msgspec.Meta(description="A shipment per seller, in first-appearance order; delivery_fee is their sum."),
    ] = UNSET
    sellers: Annotated[
        list[SellerTotals] | UnsetType,
        msgspec.Meta(description="Per-seller totals (with shipments); each field sums to the quote's own figure."),
    ] = UNSET
    # Taxes and installments (docs/taxes.md): only in a quote that uses them.
    rounding: Annotated[
        Rounding | UnsetType,
        msgspec.Meta(description="How the quote's taxes were rounded (absent: HALF_UP per LINE, the default)."),
    ] = UNSET
    tax_exemption: Annotated[TaxExemption | UnsetType, msgspec.Meta(description="As the request stated it.")] = UNSET
    customer_tax_id: Annotated[str | UnsetType, msgspec.Meta(description="As the request stated it.")] = UNSET
    tax_exempted: Annotated[
        Decimal | UnsetType,
        msgspec.Meta(
            description="Tax held in exempt tax-inclusive lines' prices and not charged, already left out of "
            "their line_subtotal (and so of subtotal): total_amount = subtotal - discount_amount + tax_amount "
            "+ delivery_fee + small_basket_fee."
        ),
    ] = UNSET
    installment_options: Annotated[
        list[InstallmentOption] | UnsetType,
        msgspec.Meta(description="With `card_bin`: the plans' options for that card, currency and total."),
    ] = UNSET
    installment: Annotated[
        SelectedInstallment | UnsetType, msgspec.Meta(description="With `installments`: the option chosen.")
    ] = UNSET
    hints: Annotated[
        list[Hint] | UnsetType,
        msgspec.Meta(
            description="Only with `hints: true`: at most three steps to a better total, cheapest add_amount first "
            "(docs/promotions.md#hints). They change no total."
        ),
    ] = UNSET
    quantity_limits: Annotated[
        list[QuantityLimit] | UnsetType,
        msgspec.Meta(
            description="Only where a product of the basket has a max_per_customer quantity rule: each such limit, "
            "which the order counts again (docs/pricing.md#quantity-rules)."
        ),
    ] = UNSET
    # Only in a quote that an extension applied to (docs/extensions.md): a quote without one reads as it did.
    tax_source: Annotated[
        Literal["extension", "internal"] | UnsetType,
        msgspec.Meta(description="`extension` when any line's tax came from a tax extension, else `internal`."),
    ] = UNSET
    warnings: Annotated[
        list[QuoteWarning] | UnsetType,
        msgspec.Meta(description="An extension that failed and was replaced by the service's own rules."),
    ] = UNSET
    # Only in a quote an agent key made (docs/agents.md#quotes-and-orders): any other reads as it did.
    channel: Annotated[
        Literal["agent"] | UnsetType,
        msgspec.Meta(description="`agent`: an agent key made it, priced for the channel `agent`."),
    ] = UNSET
    agent: Annotated[AgentRef | UnsetType, msgspec.Meta(description="The agent key that made it.")] = UNSET
    fx: Annotated[
        QuoteFx | UnsetType,
        msgspec.Meta(description="Only where a line was converted: the rates used, locked until valid_until."),
    ] = UNSET
