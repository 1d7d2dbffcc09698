"""The active offers in the configuration snapshot, and the best landed choice (docs/offers.md).

An offer is another seller's price and stock for a catalog product; the product's own seller,
prices and stock are its default offer. Pure: the loader reads the rows, the quotes service picks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple
from uuid import UUID

import msgspec

from quote_service.errors import FieldError, ValidationFailed
from quote_service.pricing.delivery import coordinates, delivery_fee, haversine_km
from quote_service.pricing.fx_convert import convert, lifted
from quote_service.pricing.fx_rates import Conversion
from quote_service.pricing.money import ZERO
from quote_service.pricing.plan import RegionPlan
from quote_service.pricing.quantity_rules import QuantityRules
from quote_service.pricing.quote import CatalogProduct, OfferSelection, QuoteItemIn, QuoteLine, QuoteRequest
from quote_service.pricing.shipping import ShippingBook, ShippingOption


class SnapOffer(msgspec.Struct, frozen=True, kw_only=True):
    """An active offer as the quote path needs it (prices in its product's currency)."""

    id: UUID
    product_id: UUID
    seller_id: str
    current_price: Decimal
    min_price: Decimal
    stock: int
    condition: str = "new"
    quantity_rules: QuantityRules | None = None
    """The offer's own quantity rules (None: its product's apply; docs/offers.md#quantity-rules)."""


@dataclass(frozen=True, slots=True)
class OfferBook:
    """Active offers by product id (text, as a quote item names it) and by offer id."""

    by_product: Mapping[str, tuple[SnapOffer, ...]] = field(default_factory=dict)
    by_id: Mapping[str, SnapOffer] = field(default_factory=dict)
    default_stock: Mapping[str, int] = field(default_factory=dict)
    """The stock of each offered product's own (default) offer: the product's stock."""

    @classmethod
    def of(cls, offers: Iterable[SnapOffer], default_stock: Mapping[str, int] | None = None) -> OfferBook | None:
        """The book of `offers`; None when there are none (a quote then pays one `is None` test)."""
        grouped: dict[str, list[SnapOffer]] = defaultdict(list)
        by_id: dict[str, SnapOffer] = {}
        for offer in offers:
            grouped[str(offer.product_id)].append(offer)
            by_id[str(offer.id)] = offer
        if not by_id:
            return None
        return cls({k: tuple(v) for k, v in grouped.items()}, by_id, dict(default_stock or {}))

    def __len__(self) -> int:
        return len(self.by_id)


class LineAlone(msgspec.Struct, frozen=True):
    """What one seller's shipment would charge for one line alone: its fee and (a profile's option) its eta."""

    fee: Decimal
    eta_days_min: int | None
    eta_days_max: int | None


class Landing:
    """The fee each seller's shipment would charge for one line alone at a request's address (docs/shipping.md's
    option selection: the request's choice for that seller, else the cheapest option matching
    `is_express_delivery`; the delivery rules without a profile). Made once a quote: the distance is measured
    once, each seller's profile and its candidate options looked up once."""

    __slots__ = ("_km", "_request", "_sellers", "_shipping", "region")

    def __init__(self, request: QuoteRequest, region: RegionPlan, shipping: ShippingBook | None) -> None:
        self._request = request
        self.region = region
        self._shipping = shipping
        self._km: Decimal | None = None
        self._sellers: dict[str, tuple[ShippingOption, ...] | None] = {}

    def _options(self, seller_id: str) -> tuple[ShippingOption, ...] | None:
        """The options a shipment of `seller_id` chooses among (None: no profile, the delivery rules)."""
        known = self._sellers.get(seller_id, False)
        if known is not False:
            return known  # type: ignore[return-value]
        request = self._request
        address = request.delivery_address
        profile = None
        if self._shipping is not None:
            profile = self._shipping.profile_for(
                seller_id, city=address.city, country=address.country, currency=self.region.currency
            )
        options: tuple[ShippingOption, ...] | None = None
        if profile is not None:
            code = (request.shipping or {}).get(seller_id)
            named = tuple(o for o in profile.options if o.code == code) if code is not None else ()
            express = request.is_express_delivery
            options = named or tuple(o for o in profile.options if o.express is express) or tuple(profile.options)
            if self._km is None:
                points = coordinates(request.pickup_address, address)
                self._km = ZERO if points is None else Decimal(f"{haversine_km(*points):.3f}")
        self._sellers[seller_id] = options
        return options

    def fee(self, seller_id: str, goods: Decimal, weight: Decimal | None) -> LineAlone:
        """The fee (and eta) of `seller_id`'s shipment of `goods` weighing `weight` kg, alone."""
        options = self._options(seller_id)
        region = self.region
        if options is None:
            request = self._request
            charged = delivery_fee(
                region,
                express=request.is_express_delivery,
                pickup=request.pickup_address,
                delivery=request.delivery_address,
                goods=goods,
                flag_multiplier=None,
            )
            return LineAlone(charged.amount, None, None)
        cent = region.cent
        km = self._km or ZERO
        best: tuple[Decimal, int, str] | None = None
        chosen: ShippingOption | None = None
        for option in options:
            key = (option.fee(goods, weight, km, cent)[0], option.eta_days_max, option.code)
            if best is None or key < best:
                best, chosen = key, option
        assert best is not None
        assert chosen is not None
        return LineAlone(best[0], chosen.eta_days_min, chosen.eta_days_max)


def line_alone(
    request: QuoteRequest,
    region: RegionPlan,
    shipping: ShippingBook | None,
    seller_id: str,
    goods: Decimal,
    weight: Decimal | None,
) -> LineAlone:
    """What `seller_id`'s shipment of `goods` (weighing `weight` kg) alone would charge at the request's address."""
    return Landing(request, region, shipping).fee(seller_id, goods, weight)


def best_landed(
    candidates: Iterable[tuple[SnapOffer | None, str, Decimal, int]],
    landing: Landing,
    quantity: int,
    weight: Decimal | None,
) -> SnapOffer | None:
    """Among (offer (None: the default), seller_id, unit_price, stock), the one with the lowest landed price
    (`unit_price x quantity` rounded once, plus its seller's fee for the line alone); ties: more stock, then
    seller_id. Candidates are taken cheapest goods first, and stop once the goods alone cost more than the best
    landed price found (a fee is never negative): O(candidates)."""
    cent = landing.region.cent
    priced = sorted(
        ((unit * quantity).quantize(cent, ROUND_HALF_UP), -stock, seller_id, offer)
        for offer, seller_id, unit, stock in candidates
    )
    best: tuple[Decimal, int, str] | None = None
    chosen: SnapOffer | None = None
    for goods, less_stock, seller_id, offer in priced:
        if best is not None and goods > best[0]:
            break
        key = (goods + landing.fee(seller_id, goods, weight).fee, less_stock, seller_id)
        if best is None or key < best:
            best, chosen = key, offer
    return chosen


Accepts = Callable[[CatalogProduct, SnapOffer | None, int], bool]
"""Whether an offer's quantity rules (None: the default offer's) accept a quantity of the product."""


class Choice(NamedTuple):
    """The offer an item is sold from: `offer` None is the product's own (default) offer."""

    offer: SnapOffer | None
    seller_id: str
    selection: OfferSelection


def _conversion(region: RegionPlan, source: str) -> Conversion | None:
    """FX_CONVERSION on: the rate an offer priced in `source` converts into the quote's currency at (None: none)."""
    return None if region.fx is None else region.conversion(source)


def region_unit(region: RegionPlan, conversion: Conversion, unit: Decimal) -> Decimal:
    """An offer's unit price in the quote's currency, as its line would be priced (docs/currencies.md)."""
    ending = dict(region.defaults.fx_endings).get(region.currency)
    return lifted(convert(unit, conversion, region.cent), ending, region.cent)


def with_offer_products(request: QuoteRequest, book: OfferBook | None) -> QuoteRequest:
    """`request` with each item that names only its `offer_id` given the offer's product (an item may name
    the offer alone: docs/offers.md); `request` itself when every item names its product. Raises 422 naming
    `items[i].offer_id` (not an active offer) or `items[i].product_id` (an item naming neither)."""
    items = offer_products(request.items, book, [f"items[{i}]" for i in range(len(request.items))])
    return request if items is None else msgspec.structs.replace(request, items=items)


def offer_products(
    items: Sequence[QuoteItemIn], book: OfferBook | None, fields: Sequence[str]
) -> list[QuoteItemIn] | None:
    """`items` with those naming only their `offer_id` given the offer's product; None when every item names
    its product. A 422 names `<field>.offer_id` (not an active offer) or `<field>.product_id` (an item naming
    neither), `fields[i]` being where item i is in the request (`items[0]`, `add[1]`)."""
    named: list[QuoteItemIn] | None = None
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        if item.product_id:
            continue
        offer = None if book is None or item.offer_id is None else book.by_id.get(item.offer_id)
        if offer is not None:
            named = named or list(items)
            named[index] = msgspec.structs.replace(item, product_id=str(offer.product_id))
        elif item.offer_id is None:
            errors.append(
                FieldError(f"{fields[index]}.product_id", "required field missing: name a product_id or an offer_id")
            )
        else:
            errors.append(FieldError(f"{fields[index]}.offer_id", "is not an active offer"))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), details=errors)
    return named


def choose_offers(
    request: QuoteRequest,
    products: Mapping[str, CatalogProduct],
    book: OfferBook | None,
    region: RegionPlan,
    shipping: ShippingBook | None,
    accepts: Accepts | None = None,
) -> list[Choice | None] | None:
    """Each item's offer (None: an item of a product without offers, priced as ever); None when no item
    has one. An item names `offer_id`, or a `seller_id` (that seller's offer, the default one included), or
    takes the best landed offer with enough stock for its quantity (none: the default) among those whose
    quantity rules `accepts` its quantity (none does: among all with the stock, and the quote is then
    refused on the chosen one's rules; docs/offers.md#quantity-rules). Raises 422 naming
    `items[i].offer_id` (unknown, inactive, another product's) or `items[i].seller_id` (no active offer)."""
    errors: list[FieldError] = []
    chosen: list[Choice | None] | None = None
    landing: Landing | None = None
    for index, item in enumerate(request.items):
        choice: Choice | None = None
        product = products.get(item.product_id)
        if item.offer_id is not None:
            offer = None if book is None else book.by_id.get(item.offer_id)
            if offer is None or str(offer.product_id) != item.product_id or product is None or not product.is_active:
                errors.append(FieldError(f"items[{index}].offer_id", "is not an active offer of this product"))
                continue
            choice = Choice(offer, offer.seller_id, "named")
        elif book is not None and product is not None and product.is_active:
            offers = book.by_product.get(item.product_id)
            if not offers:
                continue
            if item.seller_id is not None:
                if item.seller_id == product.seller_id:
                    choice = Choice(None, product.seller_id, "named")
                else:
                    named = next((o for o in offers if o.seller_id == item.seller_id), None)
                    if named is None:
                        errors.append(FieldError(f"items[{index}].seller_id", "has no active offer of this product"))
                        continue
                    choice = Choice(named, named.seller_id, "named")
            elif product.currency != region.currency and (conversion := _conversion(region, product.currency)) is None:
                choice = Choice(None, product.seller_id, "best_landed")  # in the product's currency: the default
            else:
                quantity = item.quantity
                unit_weight = product.weight if product.weight is not None else item.weight
                weight = None if unit_weight is None else unit_weight * quantity
                eligible: list[tuple[SnapOffer | None, str, Decimal, int]] = [
                    (o, o.seller_id, o.current_price, o.stock) for o in offers if o.stock >= quantity
                ]
                own_stock = book.default_stock.get(item.product_id, 0)
                if own_stock >= quantity:
                    eligible.append((None, product.seller_id, product.current_price, own_stock))
                if accepts is not None:
                    eligible = [c for c in eligible if accepts(product, c[0], quantity)] or eligible
                if product.currency != region.currency and conversion is not None:  # ranked once converted
                    eligible = [
                        (o, seller, region_unit(region, conversion, unit), n) for o, seller, unit, n in eligible
                    ]
                best = None
                if eligible:
                    if landing is None:
                        landing = Landing(request, region, shipping)
                    best = best_landed(eligible, landing, quantity, weight)
                choice = Choice(best, product.seller_id if best is None else best.seller_id, "best_landed")
        if choice is not None:
            if chosen is None:
                chosen = [None] * len(request.items)
            chosen[index] = choice
    if errors:
        raise ValidationFailed("some items name no active offer", details=errors)
    return chosen


def with_offers(items: Sequence[QuoteLine], request: QuoteRequest, choices: Sequence[Choice | None]) -> list[QuoteLine]:
    """The quote's lines, each line of an item with an offer carrying its `offer_id` and `offer_selection`
    (gift lines are the product's own, as they are)."""
    by_line: dict[tuple[str, str], Choice] = {}
    for item, choice in zip(request.items, choices, strict=True):
        if choice is not None:
            key = (item.product_id, choice.seller_id)
            if key not in by_line or choice.selection == "named":
                by_line[key] = choice
    shown: list[QuoteLine] = []
    for line in items:
        choice = by_line.get((line.product_id, line.seller_id or "")) if line.price_source != "gift" else None
        if choice is not None:
            offer_id = None if choice.offer is None else choice.offer.id
            line = msgspec.structs.replace(line, offer_id=offer_id, offer_selection=choice.selection)
        shown.append(line)
    return shown
