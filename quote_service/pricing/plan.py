"""The pricing plan: a snapshot's configuration compiled for one region, currency and kind of line.

Whatever the basket, a quote delivered to one (city, country) in one currency under one set of
engine defaults reads the same fee rules, and each of its lines reads the price rules, TAX_RATE
and sales commission rate of its (product, category, seller). The plan resolves those once per
snapshot and effective-window interval (it lives in the snapshot's `Resolution`, so a reload or
a window edge starts a new one) instead of once per line per quote:

    RegionPlan  (city, country, currency, defaults): the five fee rules, the default commission
                rate, and memos of what depends on little more: the delivery charge per
                (express, multiplier flag, coordinates), the small-basket fee per threshold flag,
                the logistics commission per (provider, seller, categories, fee), the flags
                served per customer, the client unit prices already found fit, and every `Priced` line
    LinePlan    (product, category, commission seller): price rules in application order, the
                tax rule and rate (the default already filled in), the category commission rate
                (the default already filled in) and the seller commission rate, if any
    Priced      every input of one line (the product as requested and as found, category,
                sellers, list price, min_price, units; for the price rules also the quantity,
                the customer's tier and which TIME_WINDOWs are open): its unit price after the
                rules, every rounded amount, and its tax, commission and response parts while
                no coupon touches it

Everything a plan holds is exactly what the pricing functions return for those inputs, computed
the first time it is asked for; the memo is bounded with the other answers of its `Resolution`
(each entry counts, and a full memo forgets every plan), but for the flags served per customer,
which are counted and forgotten apart (`resolution.MAX_CUSTOMERS`): most quotes come from a
customer not seen before, and their entries must not make the plan forget its lines. A plan never
reads the clock: the interval it belongs to and the open windows in a `Priced` key carry all that
`now` decides.
Objects a plan hands out (`Priced`, `Fee`, response parts) are shared by the quotes that use
them and are never changed after they are made.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from quote_service.pricing.commission import (
    CommissionRate,
    charged_as_before,
    commission_amount,
    default_rate,
    precedence,
)
from quote_service.pricing.fx_convert import LineFx, convert, converted_commission_rate, converted_fee_rule
from quote_service.pricing.fx_rates import Conversion, FxBook
from quote_service.pricing.money import ZERO, quantum
from quote_service.pricing.quote import AppliedRule, CommissionDetail, EngineDefaults, PriceSource, QuoteLine
from quote_service.pricing.resolution import Resolution
from quote_service.pricing.rules import PricingRule, RuleType, TaxRateConfig
from quote_service.pricing.rules import fee_currency as fee_currency_of
from quote_service.pricing.taxes import PLAIN_CODE, Component


class Priced:
    """One line's prices, rounded amounts and response parts for one set of inputs (shared by all quotes with them)."""

    __slots__ = (
        "base",
        "category_commission",
        "category_id",
        "flash_sale_id",
        "floor",
        "fx",
        "inclusive",
        "list_shown",
        "list_subtotal",
        "minor",
        "moneys",
        "moves",
        "parts",
        "plan",
        "price_list_id",
        "product_id",
        "rule_keys",
        "seller_commission",
        "seller_id",
        "shown",
        "source",
        "split_parts",
        "subtotal",
        "tax",
        "taxed",
        "unit_shown",
        "units",
    )

    def __init__(
        self,
        plan: LinePlan,
        *,
        product_id: str,
        source: PriceSource,
        category_id: str | None,
        seller_id: str | None,
        list_unit: Decimal,
        unit: Decimal,
        min_price: Decimal,
        units: int,
        flash_sale_id: UUID | None = None,
        moved: tuple[tuple[PricingRule, Decimal], ...] = (),
        shown: tuple[AppliedRule, ...] = (),
        price_list_id: UUID | None = None,
        inclusive: bool = False,
        fx: LineFx | None = None,
    ) -> None:
        region = plan.region
        cent, zero = region.cent, region.zero
        self.plan = plan
        self.inclusive = inclusive
        """Its prices are gross, tax included: the tax is contained in the line, not added to it."""
        self.product_id, self.source, self.units = product_id, source, units
        self.category_id, self.seller_id, self.flash_sale_id = category_id, seller_id, flash_sale_id
        self.price_list_id = price_list_id
        self.fx = fx
        """How its price was converted into the quote's currency (docs/currencies.md); None: it was not."""
        self.list_shown = list_unit.quantize(cent, ROUND_HALF_UP)
        self.unit_shown = unit.quantize(cent, ROUND_HALF_UP)
        """The unit price shown; the line is computed from the exact `unit`, not from this."""
        self.list_subtotal = (list_unit * units).quantize(cent, ROUND_HALF_UP)
        self.subtotal = subtotal = (unit * units).quantize(cent, ROUND_HALF_UP)
        self.floor = (min_price * units).quantize(cent, ROUND_CEILING)
        """The least the line may cost after coupons, on the grid (up, should a price ever be off it)."""
        self.minor: tuple[int, int, int, int, int, int, int] | None = None
        """(`subtotal`, `floor`, `tax`, the tax it adds: 0 when inclusive) in minor units and its tax's
        `minor_units.tax_terms`, once a big basket's promotions asked for them (`promotion_deals.MinorLines`)."""
        self.moves = tuple(
            (id(rule), rule, money, applied) for (rule, money), applied in zip(moved, shown, strict=True)
        )
        """Price rules that applied, in order: (id, rule, money moved on the line, as the response shows it)."""
        self.rule_keys = tuple(move[0] for move in self.moves)
        self.moneys = tuple(move[2] for move in self.moves)
        self.shown = shown
        if inclusive:
            self.tax = tax = plan.contained_tax(subtotal, cent)
            self.base = base = subtotal - tax
        else:
            self.base = base = subtotal - zero
            self.tax = (base * plan.tax_fraction).quantize(cent, ROUND_HALF_UP)
        """The line's net (what commission is on) and tax as long as no coupon discounts it."""
        self.category_commission, self.seller_commission = plan.commission(base, units)
        """Per-item commission of the line as long as no coupon discounts it."""
        self.parts: tuple[QuoteLine, tuple[CommissionDetail, ...]] | None = None
        """The response line and its commission detail as long as no coupon discounts it (see `settle`)."""
        self.split_parts: tuple[QuoteLine, tuple[CommissionDetail, ...]] | None = None
        """The same with the line's tax split shown (a quote with a tax-inclusive line; see `settle`)."""
        self.taxed: dict[tuple[Any, ...], Any] | None = None
        """The line settled under docs/taxes.md's terms, by (terms, split), while no coupon touches it
        (`taxed.settle_taxed`); None until a quote with such terms prices it."""


class LinePlan:
    """What the configuration says about one kind of line in one region."""

    __slots__ = (
        "category_fraction",
        "category_rate",
        "charged_by",
        "delivered",
        "extended",
        "fee_rates",
        "fx_used",
        "price_rules",
        "region",
        "seller_fraction",
        "seller_rate",
        "tax_applied",
        "tax_components",
        "tax_divisor",
        "tax_fraction",
        "tax_key",
        "tax_rate",
        "tax_rule",
    )

    def __init__(self, region: RegionPlan, *, product_id: UUID | None, category_id: str | None, seller_id: str | None):
        resolution, city, country, now = region.resolution, region.city, region.country, region.now
        self.region = region
        self.price_rules = resolution.price_rules(
            product_id=product_id, category_id=category_id, city=city, country=country, now=now
        )
        """Price rules in application order (empty: the list price stands)."""
        self.tax_rule, rate = resolution.tax(category_id=category_id, city=city, country=country, now=now)
        self.tax_key = id(self.tax_rule)
        self.tax_applied = None if self.tax_rule is None else region.shown(self.tax_rule)
        """The TAX_RATE rule as the response shows it, its amount still to fill in (None: the default rate)."""
        self.tax_rate = region.defaults.tax_rate if rate is None else rate
        config = None if self.tax_rule is None else self.tax_rule.configuration
        compound = config.components if isinstance(config, TaxRateConfig) else None
        self.tax_components: tuple[Component, ...] | None = None
        """A compound TAX_RATE's components (docs/taxes.md); None: one rate, `tax_rate` (`components`)."""
        if compound is not None:
            self.tax_components = tuple(Component(part.code, part.rate, part.compound) for part in compound)
        self.tax_fraction = self.tax_rate.scaleb(-2)
        """The tax rate as a fraction (18 -> 0.18): a line's tax is `net * tax_fraction`, rounded,
        the same digits as `(net * tax_rate).scaleb(-2)` (a shift of the exponent) for one operation less."""
        self.tax_divisor = self.tax_rate + 100
        """100 + the rate: a tax-inclusive line contains `gross * rate / (100 + rate)` (`contained_tax`)."""

        self.fx_used: tuple[Conversion, ...] = ()
        """The rates its commission rates priced in another currency converted at (docs/currencies.md)."""

        def winner(component: str) -> CommissionRate | None:
            found = resolution.item_rate(
                component, category_id=category_id, seller_id=seller_id, city=city, country=country,
                currency=region.currency, now=now,
            )  # fmt: skip
            if found is None and region.fx is not None and resolution.item_currencies:
                converted = region.foreign_rate(component, category_id, seller_id)
                if converted is not None:
                    found = converted[0]
                    if converted[1] not in self.fx_used:
                        self.fx_used += (converted[1],)
            return found

        found = winner("category")
        self.category_rate: CommissionRate = region.default_rate if found is None else found
        """The category component's winner, else the default rate."""
        self.seller_rate = winner("seller")
        """The seller component's winner; None: the line pays no seller commission."""
        self.category_fraction = _plain_fraction(self.category_rate)
        self.seller_fraction = None if self.seller_rate is None else _plain_fraction(self.seller_rate)
        self.fee_rates = tuple((name, found) for name in resolution.fee_names if (found := winner(name)) is not None)
        """Each named component's winner (docs/commission.md#named-fees), in name order; () without any."""
        self.extended = bool(self.fee_rates) or not charged_as_before(self.category_rate)
        if self.seller_rate is not None and not charged_as_before(self.seller_rate):
            self.extended = True
        """The line pays commission as docs/commission.md charges it (a named fee, a base other than net, a
        FLAT rate per line, shipment or order): `commission_charges` works it out once delivery is known.
        `commission` (what settle and the line's memo use) stays the net, per-unit reading of its rates."""
        self.charged_by: tuple[tuple[str, CommissionRate], ...] = (
            ("category", self.category_rate),
            *(() if self.seller_rate is None else (("seller", self.seller_rate),)),
            *self.fee_rates,
        )
        """Each component's winner in the order its details come: category, seller, the named ones."""
        self.delivered = any(rate.base == "gross_with_delivery" for _, rate in self.charged_by)
        """A winner takes a share of the shipment's delivery fee into its base."""

    def components(self) -> tuple[Component, ...]:
        """The line's taxes: a compound rule's components, else its one rate, code TAX."""
        if self.tax_components is not None:
            return self.tax_components
        return (Component(PLAIN_CODE, self.tax_rate),)

    def contained_tax(self, gross: Decimal, cent: Decimal) -> Decimal:
        """The tax contained in a tax-inclusive line worth `gross` after its discount:
        round(gross x rate / (100 + rate)), half up, once (docs/markets.md). Multiplied first, then
        divided: an exact half stays exact (a precomputed fraction would not be)."""
        return (gross * self.tax_rate / self.tax_divisor).quantize(cent, ROUND_HALF_UP)

    def commission(self, base: Decimal, units: int) -> tuple[Decimal, Decimal]:
        """(category, seller) commission of a line whose net is `base`, each rounded half up."""
        region = self.region
        cent, currency = region.cent, region.currency
        if self.category_fraction is not None:  # `commission_amount` written out for a plain percentage
            category = (max(base, ZERO) * self.category_fraction).quantize(cent, ROUND_HALF_UP)
        else:
            category = commission_amount(self.category_rate, base=base, quantity=units, currency=currency)
        seller = region.zero
        if self.seller_rate is not None:
            if self.seller_fraction is not None:
                seller = (max(base, ZERO) * self.seller_fraction).quantize(cent, ROUND_HALF_UP)
            else:
                seller = commission_amount(self.seller_rate, base=base, quantity=units, currency=currency)
        return category, seller


def _plain_fraction(rate: CommissionRate) -> Decimal | None:
    """The rate's percent as a fraction (12.5 -> 0.125) when its commission is just that percent of
    the net (no bounds), else None. `net * fraction` has the digits of `percent_of(net, percent)`
    (dividing by 100 only shifts the exponent), one division less a line."""
    if rate.commission_type == "PERCENTAGE" and rate.min_amount is None and rate.max_amount is None:
        return (rate.rate or ZERO).scaleb(-2)
    return None


class RegionPlan:
    """What the configuration says about every quote to one place, in one currency, under one set of defaults."""

    __slots__ = (
        "cent",
        "charges",
        "city",
        "conversions",
        "country",
        "currency",
        "default_delivery_fee",
        "default_fees",
        "default_rate",
        "defaults",
        "delivery_rule",
        "express_rule",
        "fee_conversion",
        "fine_prices",
        "flags",
        "free_rule",
        "fx",
        "fx_locks",
        "lines",
        "logistics",
        "now",
        "priced",
        "regional_rule",
        "resolution",
        "rules_shown",
        "small_basket",
        "small_basket_defaults",
        "small_rule",
        "validity",
        "zero",
    )

    def __init__(
        self,
        resolution: Resolution,
        *,
        city: str,
        country: str,
        currency: str,
        defaults: EngineDefaults,
        now: datetime,
        fee_conversion: Conversion | None = None,
        fx: FxBook | None = None,
    ) -> None:
        self.resolution = resolution
        self.fx = fx
        """FX_CONVERSION on: the rates a fee rule or commission rate priced in another currency converts at
        (docs/currencies.md); None: nothing here converts."""
        self.conversions: dict[str, Conversion | None] = {}
        """Each source currency's rate into this one, at `now` (the plan's key holds the rates' epoch)."""
        self.fx_locks: tuple[Conversion, ...] = () if fee_conversion is None else (fee_conversion,)
        """The rates the plan's fees converted at: a quote of it locks them."""
        self.city, self.country, self.currency, self.defaults = city, country, currency, defaults
        self.now = now
        """An instant inside the plan's interval: every lookup answers the same for all of them."""
        self.cent = quantum(currency)
        self.zero = ZERO.quantize(self.cent)
        self.validity = timedelta(minutes=defaults.validity_minutes)
        self.default_rate = default_rate(defaults.commission_rate, currency)
        fee_currency = defaults.currency.upper()
        self.fee_conversion = fee_conversion
        """FX_CONVERSION on, a quote in another currency than DEFAULT_CURRENCY: the rate its fees priced in
        DEFAULT_CURRENCY (the defaults, the rules without a currency) convert at when none in its own
        currency applies (docs/currencies.md); None: no fee converts."""
        self.default_fees = fee_currency == currency or fee_conversion is not None
        """Whether the default fees (DEFAULT_DELIVERY_FEE, the small-basket defaults) apply: they are in this
        currency, or convert into it; else a quote pays only fees of rules priced in it
        (docs/markets.md#default-fees-have-a-currency)."""
        self.default_delivery_fee = defaults.delivery_fee
        """DEFAULT_DELIVERY_FEE in this currency (converted at `fee_conversion`)."""
        self.small_basket_defaults = (defaults.small_basket_threshold, defaults.small_basket_fee)
        """The small-basket threshold and fee defaults in this currency (converted at `fee_conversion`)."""
        if fee_conversion is not None:
            cent = self.cent
            self.default_delivery_fee = convert(defaults.delivery_fee, fee_conversion, cent)
            self.small_basket_defaults = (
                convert(defaults.small_basket_threshold, fee_conversion, cent),
                convert(defaults.small_basket_fee, fee_conversion, cent),
            )
        self.delivery_rule = self._fee_rule("DELIVERY_FEE", fee_currency)
        self.express_rule = self._fee_rule("EXPRESS_FEE", fee_currency)
        self.regional_rule = self._fee_rule("REGIONAL_FEE", fee_currency)
        self.free_rule = self._fee_rule("FREE_DELIVERY", fee_currency)
        self.small_rule = self._fee_rule("SMALL_BASKET", fee_currency)
        self.lines: dict[tuple[int | None, str | None, str | None], LinePlan] = {}
        self.priced: dict[tuple[Any, ...], Priced] = {}
        """`Priced` lines by every input that decides them; see `lines.price_lines`."""
        self.charges: dict[tuple[Any, ...], Any] = {}
        """Delivery charges by (express, multiplier flag, coordinates); see `delivery`."""
        self.fine_prices: dict[Decimal, None] = {}
        """Client unit prices already found fit for this currency (`lines.unit_price_problem`)."""
        self.rules_shown: dict[int, AppliedRule] = {}
        """Rules as the response shows them, by id(rule) (the plan keeps the rules alive); see `shown`."""
        self.flags: dict[tuple[Any, ...], Any] = {}
        """Flags served per (customer id, segment, flag-edge interval); see `engine`. Counted apart from
        the other memos (`remember_flags`)."""
        self.logistics: dict[tuple[Any, ...], Any] = {}
        """Logistics commissions by (provider, quote seller, categories, delivery fee); see `commission_breakdown`."""
        self.small_basket: dict[Decimal | None, Any] = {}
        """Small-basket fees by the threshold flag; see `delivery`."""

    def _fee_rule(self, rule_type: RuleType, fee_currency: str) -> PricingRule | None:
        """The fee rule of `rule_type` priced in this currency; with a fee conversion and none such, the one
        priced in DEFAULT_CURRENCY, converted (pricing/fx_convert.py)."""
        city, country, now = self.city, self.country, self.now
        found = self.resolution.fee_rule(
            rule_type, city=city, country=country, now=now, currency=self.currency, default_currency=fee_currency
        )
        conversion = self.fee_conversion
        if found is not None or (conversion is None and self.fx is None):
            return found
        if conversion is not None:
            source = self.resolution.fee_rule(
                rule_type, city=city, country=country, now=now, currency=fee_currency, default_currency=fee_currency
            )
            if source is not None:
                return converted_fee_rule(source, conversion, self.currency)
        if self.fx is None:
            return None
        # docs/currencies.md: else the best rule of the type in any currency, converted at its rate
        source = self.resolution.fee_rule(
            rule_type, city=city, country=country, now=now, currency=None, default_currency=fee_currency
        )
        priced_in = None if source is None else fee_currency_of(source, fee_currency)
        conversion = None if priced_in is None or priced_in == self.currency else self.conversion(priced_in)
        if source is None or conversion is None:
            return None
        if conversion not in self.fx_locks:
            self.fx_locks += (conversion,)
        return converted_fee_rule(source, conversion, self.currency)

    def conversion(self, source: str) -> Conversion | None:
        """The rate from `source` into this plan's currency (None: none, or conversion is off)."""
        try:
            return self.conversions[source]
        except KeyError:
            found = self.conversions[source] = (
                None if self.fx is None else self.fx.rate(source, self.currency, self.now)
            )
            return found

    def logistics_rate(
        self, provider: str, seller_id: str | None, category_ids: frozenset[str]
    ) -> tuple[CommissionRate | None, Conversion | None]:
        """The logistics rate of `provider` for a shipment or quote of this seller and these categories, and the
        rate it converted at: one priced in this currency (or every one) wins; else, FX_CONVERSION on, the best
        priced in another that converts, converted (docs/currencies.md); (None, None): none matches."""
        resolution, city, country = self.resolution, self.city, self.country

        def lookup(currency: str) -> CommissionRate | None:
            return resolution.logistics_rate(
                provider=provider, seller_id=seller_id, category_ids=category_ids, city=city, country=country,
                currency=currency, now=self.now,
            )  # fmt: skip

        found = lookup(self.currency)
        if found is not None or self.fx is None or not resolution.logistics_currencies:
            return found, None
        converted = self._foreign(resolution.logistics_currencies, lookup)
        return (None, None) if converted is None else converted

    def foreign_rate(
        self, component: str, category_id: str | None, seller_id: str | None
    ) -> tuple[CommissionRate, Conversion] | None:
        """The winning rate of `component` among those priced in another currency than this plan's that convert
        into it, converted (`fx_convert.converted_commission_rate`), and its rate; None: none such."""
        resolution, city, country = self.resolution, self.city, self.country

        def lookup(currency: str) -> CommissionRate | None:
            return resolution.item_rate(
                component, category_id=category_id, seller_id=seller_id, city=city, country=country,
                currency=currency, now=self.now,
            )  # fmt: skip

        return self._foreign(resolution.item_currencies, lookup)

    def _foreign(
        self, currencies: tuple[str, ...], lookup: Callable[[str], CommissionRate | None]
    ) -> tuple[CommissionRate, Conversion] | None:
        """The best of the rates `lookup` finds priced in each of `currencies` (but this plan's) that converts
        into this currency, by the usual precedence, converted; and the rate it converted at."""
        best: tuple[tuple[object, ...], CommissionRate, Conversion] | None = None
        for currency in currencies:
            conversion = None if currency == self.currency else self.conversion(currency)
            found = None if conversion is None else lookup(currency)
            key = None if found is None or found.currency != currency else precedence(found, self.city, self.country)
            if key is not None and found is not None and conversion is not None and (best is None or key > best[0]):
                best = (key, found, conversion)
        if best is None:
            return None
        return converted_commission_rate(best[1], best[2], self.currency), best[2]

    def line(self, product_id: UUID | None, category_id: str | None, seller_id: str | None) -> LinePlan:
        """The plan of a line of this product (None: priced by the request), category and commission seller."""
        key = (None if product_id is None else product_id.int, category_id, seller_id)  # UUID hashes slowly
        found = self.lines.get(key)
        if found is None:
            self.resolution.grow()
            found = self.lines[key] = LinePlan(
                self, product_id=product_id, category_id=category_id, seller_id=seller_id
            )
        return found

    def shown(self, rule: PricingRule) -> AppliedRule:
        """`rule` as the response shows it, amount still to fill in: one object per rule, so lines can compare them."""
        found = self.rules_shown.get(id(rule))
        if found is None:
            found = AppliedRule(rule_id=rule.id, name=rule.name, type=rule.type, version=rule.version, amount=ZERO)
            self.remember(self.rules_shown, id(rule), found)
        return found

    def remember(self, memo: dict[Any, Any], key: Any, value: Any) -> Any:
        """Keep `value` in one of this plan's memos; returns it."""
        self.resolution.grow()
        memo[key] = value
        return value

    def remember_flags(self, key: tuple[Any, ...], value: Any) -> Any:
        """Keep the flags served to one customer (`flags`); returns them. Bounded on their own
        (`resolution.MAX_CUSTOMERS`): a stream of new customers does not empty the other memos."""
        self.resolution.grow_customers()
        self.flags[key] = value
        return value


def region_plan(
    resolution: Resolution,
    *,
    city: str,
    country: str,
    currency: str,
    defaults: EngineDefaults,
    now: datetime,
    fee_conversion: Conversion | None = None,
    fx: FxBook | None = None,
) -> RegionPlan:
    """The plan for quotes to (city, country) in `currency` under `defaults` (its DEFAULT_CURRENCY fees
    converted at `fee_conversion`, when given), made on first use."""
    # `defaults` by identity: the service keeps one for its life and the plan holds it, so the id
    # cannot be reused while the entry exists; equal defaults built anew only cost another plan.
    key: tuple[Any, ...] = (city, country, currency, id(defaults))
    if fee_conversion is not None:  # a rate in force from later is another plan
        key += (fee_conversion.rate, fee_conversion.used)
    if fx is not None:  # conversions at the rates in force between two of the rates' valid_from
        key += (fx.epoch(now),)
    plans = resolution.plans
    found = plans.get(key)
    if found is None:
        resolution.grow()
        found = plans[key] = RegionPlan(
            resolution, city=city, country=country, currency=currency, defaults=defaults, now=now,
            fee_conversion=fee_conversion, fx=fx,
        )  # fmt: skip
    return found
