"""ConfigSnapshot: every piece of pricing configuration, immutable and indexed.

Built once per reload from plain lists (the loader reads them in one transaction); the quote
engine reads it without any I/O. Each part is an index, so resolving a rate, a rule or a flag
costs a few dict lookups and a short candidate list, never a scan of every row.

Each snapshot also owns the memo of those lookups (`resolver`, see `resolution`): it is made
with the snapshot from the snapshot's own rules and rates, so a reload always starts with an
empty memo and the old memo is freed with the old snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from quote_service.pricing.commission import CommissionIndex, CommissionRate
from quote_service.pricing.coupons import Coupon, CouponSet
from quote_service.pricing.extensions import Extension, ExtensionBook
from quote_service.pricing.flags import CompiledFlags, FeatureFlag, FlagSet
from quote_service.pricing.flash import FlashSale, FlashSaleBook
from quote_service.pricing.fx_rates import Conversion, FxBook, StoredRate
from quote_service.pricing.offers import OfferBook, SnapOffer
from quote_service.pricing.price_lists import PriceBook, PriceList
from quote_service.pricing.promotions import Promotion, PromotionBook
from quote_service.pricing.quantity_book import QuantityBook
from quote_service.pricing.quantity_rules import QuantityRules
from quote_service.pricing.resolution import Resolver
from quote_service.pricing.rules import PricingRule, RuleBook
from quote_service.pricing.shipping import ShippingBook, ShippingProfile


@dataclass(frozen=True, slots=True)
class ConfigSnapshot:
    """The configuration in force at one version."""

    version: int
    commissions: CommissionIndex
    rules: RuleBook
    flags: FlagSet
    coupons: CouponSet
    flash_sales: FlashSaleBook = field(default_factory=FlashSaleBook, compare=False)
    """Sales not yet ended (or ended within a day), for quotes and purchases."""
    price_lists: PriceBook = field(default_factory=PriceBook, compare=False)
    """Price lists not yet ended, indexed by (currency, product)."""
    promotions: PromotionBook = field(default_factory=PromotionBook, compare=False)
    """Automatic promotions in stacking order (empty: a quote pays one truth test for the feature)."""
    shipping: ShippingBook | None = field(default=None, compare=False)
    """Active shipping profiles (None: there are none, and a quote pays one `is None` test for the feature)."""
    quantity_rules: QuantityBook | None = field(default=None, compare=False)
    """The products', price-list entries' and offers' quantity rules (None: there are none, and a quote pays one
    `is None` test for the feature; docs/pricing.md#quantity-rules)."""
    extensions: ExtensionBook | None = field(default=None, compare=False)
    """Active tax and shipping extensions (None: there are none, and a quote pays one `is None` test for the
    feature; docs/extensions.md)."""
    offers: OfferBook | None = field(default=None, compare=False)
    """Active offers of catalog products (None: there are none, and a quote pays one `is None` test for
    the feature; docs/offers.md)."""
    fx: FxBook | None = field(default=None, compare=False)
    """Exchange rates in force from a day before the load on (None: there are none; docs/currencies.md).
    A quote that converts nothing never reads them."""
    resolver: Resolver = field(init=False, repr=False, compare=False)
    """Memoized rule and rate lookups and pricing plans over `rules` and `commissions` (derived, never passed in)."""
    compiled_flags: CompiledFlags = field(init=False, repr=False, compare=False)
    """`flags` in key order (the order a quote reports them in), compiled (derived)."""
    flags_read_context: bool = field(init=False, repr=False, compare=False)
    """Whether some flag's evaluation depends on the customer, the place or the instant (derived)."""
    flag_edges: tuple[datetime, ...] = field(init=False, repr=False, compare=False)
    """Every flag `start_at` and `end_at`, ascending: between two of them no flag's answer moves with `now`."""
    flag_attributes: tuple[str, ...] = field(init=False, repr=False, compare=False)
    """Every context attribute some flag's rules read, sorted (derived); empty: no flag has rules."""

    def __post_init__(self) -> None:
        # Derived here rather than passed to the constructor, so a memo can never belong to
        # other rules than the snapshot's own (also under `dataclasses.replace`).
        object.__setattr__(self, "resolver", Resolver(self.rules, self.commissions))
        compiled = self.flags.compiled
        object.__setattr__(self, "compiled_flags", compiled)
        object.__setattr__(self, "flags_read_context", any(flag.fixed is None for flag in compiled))
        rollouts = [flag.rollout for flag in self.flags.by_key.values()]
        edges = {edge for rollout in rollouts for edge in (rollout.start_at, rollout.end_at) if edge is not None}
        object.__setattr__(self, "flag_edges", tuple(sorted(edges)))
        object.__setattr__(
            self, "flag_attributes", tuple(sorted({name for flag in compiled for name in flag.attributes}))
        )

    @classmethod
    def build(
        cls,
        *,
        version: int,
        rates: Iterable[CommissionRate] = (),
        rules: Iterable[PricingRule] = (),
        flags: Iterable[FeatureFlag] = (),
        coupons: Iterable[Coupon] = (),
        flash_sales: Iterable[FlashSale] = (),
        price_lists: Iterable[PriceList] | PriceBook = (),
        promotions: Iterable[Promotion] = (),
        shipping_profiles: Iterable[ShippingProfile] = (),
        quantity_rules: Mapping[str, QuantityRules] | None = None,
        extensions: Iterable[Extension] = (),
        offers: Iterable[SnapOffer] = (),
        offer_default_stock: Mapping[str, int] | None = None,
        fx_rates: Iterable[StoredRate] = (),
    ) -> ConfigSnapshot:
        """Index plain lists into a snapshot (price lists may come already compiled); `quantity_rules`:
        the products' own, by product id (the price-list entries' are in the lists, the offers' on them)."""
        book = price_lists if isinstance(price_lists, PriceBook) else PriceBook.of(price_lists)
        offers = tuple(offers)
        return cls(
            version=version,
            commissions=CommissionIndex(rates),
            rules=RuleBook(rules),
            flags=FlagSet.of(flags),
            coupons=CouponSet.of(coupons),
            flash_sales=FlashSaleBook(flash_sales),
            price_lists=book,
            promotions=PromotionBook(promotions),
            shipping=ShippingBook.of(shipping_profiles),
            quantity_rules=QuantityBook.of(quantity_rules or {}, book.ruled, offers),
            extensions=ExtensionBook.of(extensions),
            offers=OfferBook.of(offers, offer_default_stock),
            fx=FxBook.of(fx_rates),
        )

    def release(self) -> None:
        """Empty the memos this snapshot filled, once another replaced it (cache/config_store.py): the plans and
        per-customer entries go at once. A quote still pricing on it refills what it reads."""
        self.resolver.release()
        self.price_lists.open_lists.clear()  # a book shared with the next snapshot refills it: only a memo
        self.price_lists.open_offer_lists.clear()

    def counts(self) -> dict[str, int]:
        """How many entries each part holds (for operators and tests)."""
        return {
            "commission_rates": len(self.commissions),
            "pricing_rules": len(self.rules),
            "feature_flags": len(self.flags.by_key),
            "coupons": len(self.coupons.by_code),
            "flash_sales": len(self.flash_sales),
            "price_lists": len(self.price_lists),
            "price_list_prices": self.price_lists.prices(),
            "promotions": len(self.promotions),
            "shipping_profiles": 0 if self.shipping is None else len(self.shipping),
            "extensions": 0 if self.extensions is None else len(self.extensions),
            "offers": 0 if self.offers is None else len(self.offers),
            "fx_rates": 0 if self.fx is None else len(self.fx),
        }

    def rate(self, base: str, quote: str, at: datetime) -> Conversion | None:
        """The exchange rate from `base` to `quote` at `at` (direct, inverse or crossed through EUR), from
        the rates this snapshot holds; None when there is none (pricing/fx_rates.py)."""
        return None if self.fx is None else self.fx.rate(base, quote, at)
