"""POST /api/v1/sellers/{seller_id}/payout-preview: what a seller is paid for a sale before it happens, and
the smallest price that pays it a target (docs/commission.md#payout-preview).

Not a second pricing path: each price is a one-line quote made by the quote engine from the quote path's own
inputs (the product cache, the configuration snapshot), with the product's `current_price` set to the price
asked about, for an anonymous customer at the address given, stored nowhere. Price lists and flash sales
are left out (the preview prices the seller's own price), and so are automatic promotions unless
`with_promotions`; coupons never apply. The payout is the seller's ledger entry placing that quote as an order
would write (orders/money.py: the record built from the quote, the change that places it, the seller's entry by
`settlement.payout`), so ordering the same basket at that price pays exactly that. With `target_payout` the
price is searched over that real pricing (`payouts.price_search.smallest_price`), from the product's
`min_price` (a seller cannot price below it).
An `offer_id` (docs/offers.md) previews the seller's offer of a product instead: the line is the offer's (its
seller, its price and its min_price), as a quote naming that offer prices it.
"""

from __future__ import annotations

from collections.abc import Hashable
from decimal import ROUND_CEILING, Decimal
from typing import Annotated, NamedTuple
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from quote_service import ids
from quote_service.auth.schemas import Principal
from quote_service.auth.sellers import owned_by
from quote_service.errors import FieldError, PayoutUnreachable, ValidationFailed, invalid
from quote_service.orders.money import NOTHING, OrderMoney, SellerEntry, change, record_of
from quote_service.payouts.price_search import Priced, smallest_price
from quote_service.pricing.engine import price_quote
from quote_service.pricing.lines import unit_price_problem
from quote_service.pricing.money import MAX_AMOUNT, fits_minor_units, minor_units, quantum
from quote_service.pricing.quote import (
    Address,
    CatalogProduct,
    CommissionFee,
    CustomerContext,
    Quote,
    QuoteItemIn,
    QuoteRequest,
)
from quote_service.quotes.service import QuoteService
from quote_service.structs import Frozen, Strict
from quote_service.validation import StrictDecimal

_ANONYMOUS = CustomerContext(customer_id="")
Place = Annotated[str, msgspec.Meta(min_length=1, max_length=100, description="A city or a country, any case.")]


class PayoutPreviewRequest(Strict):
    """What to price: one of the seller's products, at a price or for a payout (neither: its current price)."""

    product_id: UUID | None = None
    """An active catalog product of the seller (or `offer_id`)."""
    offer_id: UUID | None = None
    """An active offer of the seller (docs/offers.md), instead of `product_id`."""
    quantity: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 1
    unit_price: StrictDecimal | None = None
    """The price to preview (the product's current_price as the seller would set it), at least its min_price."""
    target_payout: StrictDecimal | None = None
    """The payout to reach: the answer is the smallest unit_price (a whole minor unit) paying at least this."""
    city: Place | None = None
    country: Place | None = None
    currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3)] | None = None
    """The product's currency (the default); another is a 422."""
    with_promotions: bool = False
    """Apply the automatic promotions the line meets (never coupons)."""


class PreviewCommission(Frozen):
    """The commission the seller pays on the sale, part by part; `total` is their sum."""

    total: Decimal
    category: Decimal
    seller: Decimal
    logistics: Decimal
    fees: list[CommissionFee]
    """The named fees (payment_fee, platform_fee, ...), in name order."""


class PayoutPreview(Frozen):
    """A sale priced as a one-line quote, and what the seller is paid for it (the statement's formula)."""

    product_id: UUID
    seller_id: str
    currency: str
    offer_id: UUID | UnsetType = UNSET
    """The offer previewed (only when one was named)."""
    quantity: int
    unit_price: Decimal
    """The price previewed: the one asked, the current price, or the smallest one that pays target_payout."""
    goods: Decimal
    """The line after discounts, without tax."""
    tax: Decimal
    commission: PreviewCommission
    commission_tax: Decimal
    installment_commission: Decimal
    delivery_fee: Decimal
    """The fee of the seller's shipment, which it is paid (0 without shipping profiles: the platform's fee)."""
    payout: Decimal
    """goods + tax + platform_contribution - commission.total - commission_tax + delivery_fee."""
    target_payout: Decimal | UnsetType = UNSET
    """As asked (only with target_payout)."""
    platform_contribution: Decimal | UnsetType = UNSET
    """What the platform pays for its promotions' discounts (only with with_promotions)."""


async def payout_preview(
    quotes: QuoteService, seller_id: str, data: PayoutPreviewRequest, caller: Principal
) -> PayoutPreview:
    """Price the seller's product as asked and answer its payout (module docstring)."""
    owned_by(caller, seller_id, f"seller {seller_id}")
    product = await _sold(quotes, seller_id, data)
    currency = _currency(data, product)
    price_of = _Pricer(quotes, product, data, currency)
    if data.target_payout is None:
        price = product.current_price if data.unit_price is None else _checked_price(data.unit_price, product)
        return _shown(data, product, price, price_of(price), price_of.payout(price_of(price)))
    if data.unit_price is not None:
        raise invalid("target_payout", "send unit_price or target_payout, not both")
    target = _checked_target(data.target_payout, currency)
    cent = quantum(currency)
    low = max(product.min_price, cent).quantize(cent, ROUND_CEILING)
    lowest = price_of(low)
    slack = cent * (2 * len(lowest.commission_breakdown.details) + 2)
    found = smallest_price(
        price_of.payout_at,
        target,
        low=_minor(low, currency),
        high=_minor(MAX_AMOUNT - cent, currency),
        slack=slack,
    )
    if found is None:
        message = f"no price pays {target} {currency}: what the commission leaves never reaches it below the ceiling"
        raise PayoutUnreachable(message, details=[FieldError("target_payout", message)])
    price = Decimal(found).scaleb(-minor_units(currency))
    quote = price_of(price)
    return msgspec.structs.replace(_shown(data, product, price, quote, price_of.payout(quote)), target_payout=target)


async def _sold(quotes: QuoteService, seller_id: str, data: PayoutPreviewRequest) -> CatalogProduct:
    """The line previewed: the seller's product, or its offer of a product as that product's line (its seller,
    price and min_price)."""
    if (data.product_id is None) == (data.offer_id is None):
        raise invalid("product_id", "name the product_id, or the offer_id of one of the seller's offers")
    if data.product_id is not None:
        product = await quotes.catalog_product(data.product_id)
        if product is None or not product.is_active or product.seller_id != seller_id:
            raise invalid("product_id", f"not an active catalog product of seller {seller_id}")
        return product
    offers = quotes.preview_config(promotions=False).offers
    offer = None if offers is None else offers.by_id.get(str(data.offer_id))
    offered = None if offer is None else await quotes.catalog_product(offer.product_id)
    if offer is None or offer.seller_id != seller_id or offered is None or not offered.is_active:
        raise invalid("offer_id", f"not an active offer of seller {seller_id} of an active product")
    return msgspec.structs.replace(
        offered, seller_id=offer.seller_id, current_price=offer.current_price, min_price=offer.min_price
    )


class _Pricer:
    """One product's one-line quote at any price, and the seller's payout on it."""

    def __init__(self, quotes: QuoteService, product: CatalogProduct, data: PayoutPreviewRequest, currency: str):
        self.quotes, self.product = quotes, product
        self.snapshot = quotes.preview_config(promotions=data.with_promotions)
        self.now = quotes.now()
        self.key = str(product.id)
        self.request = QuoteRequest(
            customer_id="",
            items=[QuoteItemIn(product_id=self.key, quantity=data.quantity)],
            delivery_address=Address(city=data.city or "", country=data.country or ""),
            currency=currency,
        )
        self.digits = minor_units(currency)

    def __call__(self, price: Decimal) -> Quote:
        priced = msgspec.structs.replace(self.product, current_price=price)
        return price_quote(
            self.request, snapshot=self.snapshot, products={self.key: priced}, flash={}, customer=_ANONYMOUS,
            defaults=self.quotes.defaults, now=self.now, quote_id=ids.uuid7(),
        )  # fmt: skip

    def payout(self, quote: Quote) -> SellerPayout:
        return seller_payout(quote, commission_tax_rate=self.quotes.defaults.commission_tax_rate)

    def payout_at(self, minor: int) -> Priced | None:
        """The payout at `minor` minor units, and what may drop it as the price rises: the seller's delivery fee
        (free above a threshold) and the promotions applied; None for a price the engine refuses (the ceiling)."""
        try:
            quote = self(Decimal(minor).scaleb(-self.digits))
        except ValidationFailed:
            return None
        regime: Hashable = (quote.delivery_fee, tuple(p.promotion_id for p in quote.applied_promotions))
        return Priced(self.payout(quote).entry.payout, regime)


class SellerPayout(NamedTuple):
    """What placing a quote as an order pays its seller: its ledger entry, and the record it came from."""

    record: OrderMoney
    entry: SellerEntry

    def part(self, name: str) -> Decimal:
        """One commission part summed over the seller's lines."""
        return sum((line.part(name) for line in self.record.lines), Decimal(0))

    @property
    def logistics(self) -> Decimal:
        return sum((logistics for _, logistics in self.record.fees.shipments.values()), Decimal(0))


def seller_payout(quote: Quote, *, commission_tax_rate: Decimal) -> SellerPayout:
    """The seller's entry of a quote of its own goods, as placing it writes it (the module docstring)."""
    record = record_of(quote, commission_tax_rate)
    seller_id = quote.items[0].seller_id
    [entry] = [s for s in change(NOTHING, record).sellers if s.seller_id == seller_id]
    return SellerPayout(record, entry)


def _currency(data: PayoutPreviewRequest, product: CatalogProduct) -> str:
    currency = product.currency if data.currency is None else data.currency.upper()
    if currency != product.currency:
        raise invalid("currency", f"the product is priced in {product.currency}")
    return currency


def _checked_price(price: Decimal, product: CatalogProduct) -> Decimal:
    problem = unit_price_problem(price, product.currency)
    if problem is None and price < product.min_price:
        problem = f"must be at least the product's min_price ({product.min_price})"
    if problem is not None:
        raise invalid("unit_price", problem)
    return price


def _checked_target(target: Decimal, currency: str) -> Decimal:
    if not target.is_finite() or target <= 0 or target >= MAX_AMOUNT:
        raise invalid("target_payout", f"must be an amount greater than 0 and below {MAX_AMOUNT:f}")
    if not fits_minor_units(target, currency):
        raise invalid("target_payout", f"has more decimals than {currency} allows ({minor_units(currency)})")
    return target


def _minor(amount: Decimal, currency: str) -> int:
    return int(amount.scaleb(minor_units(currency)))


def _shown(
    data: PayoutPreviewRequest, product: CatalogProduct, price: Decimal, quote: Quote, paid: SellerPayout
) -> PayoutPreview:
    cent = quantum(quote.currency)
    entry = paid.entry
    return PayoutPreview(
        product_id=product.id,
        seller_id=product.seller_id,
        currency=quote.currency,
        quantity=data.quantity,
        unit_price=price.quantize(cent),
        goods=entry.goods.quantize(cent),
        tax=entry.tax.quantize(cent),
        commission=PreviewCommission(
            total=entry.commission.quantize(cent),
            category=paid.part("category").quantize(cent),
            seller=paid.part("seller").quantize(cent),
            logistics=paid.logistics.quantize(cent),
            fees=[CommissionFee(name=name, amount=entry.fees[name].quantize(cent)) for name in sorted(entry.fees)],
        ),
        commission_tax=entry.commission_tax.quantize(cent),
        installment_commission=paid.part("installment_commission").quantize(cent),
        delivery_fee=entry.delivery.quantize(cent),
        payout=entry.payout.quantize(cent),
        platform_contribution=entry.platform.quantize(cent) if data.with_promotions else UNSET,
        offer_id=UNSET if data.offer_id is None else data.offer_id,
    )
