"""The quote path: admit → gather inputs → price (pure engine) → store.

The only module that combines domains. A warm quote reads the configuration snapshot and
the product cache from memory, prices, and hands the quote to the store's group commit:
no PostgreSQL query, one Redis round trip shared with every concurrent quote.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from time import perf_counter_ns
from typing import Any, NamedTuple

import msgspec
from msgspec import UNSET

from quote_service import ids
from quote_service.auth.policy import acts_for
from quote_service.auth.schemas import Principal
from quote_service.background import OUTAGES
from quote_service.cache.config_store import ConfigStore
from quote_service.cache.products import ProductCache
from quote_service.cache.redis import RedisClient, get_many
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.coupons.codes import GeneratedCodes, as_coupon
from quote_service.coupons.counters import Repairs, count_of, uses_key
from quote_service.errors import (
    CurrencyNotPriced,
    ExtensionUnavailable,
    FxRateMissing,
    QuoteTimeout,
    ServiceError,
    ValidationFailed,
    invalid,
)
from quote_service.event_loop import running_loop
from quote_service.extensions.caller import Answers, ExtensionCaller
from quote_service.flash_sales.service import FlashSales
from quote_service.observability import flag_timing
from quote_service.observability.deferred import DeferredCounter
from quote_service.observability.metrics import CACHE_LOOKUPS
from quote_service.observability.stages import STAGES, record, watch_gate
from quote_service.observability.tracing import stage
from quote_service.pricing.coupons import Coupon, normalize_code
from quote_service.pricing.engine import ServedFlags, price_quote, region_for, served_flags
from quote_service.pricing.external import Answered
from quote_service.pricing.fx_rates import FxBook
from quote_service.pricing.installments import InstallmentPlan, Paying
from quote_service.pricing.money import round_money
from quote_service.pricing.offers import (
    Choice,
    SnapOffer,
    choose_offers,
    offer_products,
    with_offer_products,
)
from quote_service.pricing.plan import RegionPlan
from quote_service.pricing.price_lists import PriceBook
from quote_service.pricing.prior_lines import PriorTable, wanted_history
from quote_service.pricing.promotions import GiftStock, PromotionBook
from quote_service.pricing.quantity_rules import QuantityProblem
from quote_service.pricing.quote import (
    Address,
    AgentRef,
    CatalogProduct,
    CustomerContext,
    EngineDefaults,
    FlashOffer,
    QuantityLimit,
    Quote,
    QuoteItemIn,
    QuoteRequest,
    QuoteWarning,
)
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.pricing.taxes import Rounding
from quote_service.promotions.gifts import GiftStocks, PromotionUses
from quote_service.quotes import policy
from quote_service.quotes.deadlines import Bound, DeadlineWatch
from quote_service.quotes.display_prices import DisplayPrice, PriceError, Prices, PricesRequest, check_ids, shown
from quote_service.quotes.limits import ConcurrencyGate, RateLimiter
from quote_service.quotes.prior_prices import PriorPrices, reduction_start
from quote_service.quotes.quantity_checks import Bought, basket_quantities, checked_quantities, offers_under_rules
from quote_service.quotes.quote_log import compact_request
from quote_service.quotes.store import QuoteStore, Rider, decode_quote
from quote_service.reservations.service import Reservations
from quote_service.unit_limits.service import UnitPurchases

_REQUEST_ENCODER = msgspec.msgpack.Encoder()
RECENT_ENTRY_OVERHEAD = 400
"""Bytes a remembered quote holds beyond its three byte strings' contents: their headers, its tuple and
the ordered dictionary's entry (~270 measured on CPython 3.11, rounded up), counted against RECENT_QUOTES_MAX_BYTES."""
RECENT_IDLE_AFTER = 2_000
"""Quotes in a row that repeat no remembered body, after which a quote is remembered only as a probe
(one in RECENT_PROBE): a stream of distinct baskets (every customer's own) never hits the cache, and
remembering each cost its inputs encoded. The first repeat found remembers every quote again."""
RECENT_PROBE = 32
_RECENT_HITS = DeferredCounter(CACHE_LOOKUPS.labels("recent_quotes", "local", "hit"))
_RECENT_MISSES = DeferredCounter(CACHE_LOOKUPS.labels("recent_quotes", "local", "miss"))
# Span names of the stages (spans only while tracing is on; see observability/stages.py).
_VALIDATE, _CATALOG, _FLASH, _ENGINE, _STORE = (f"quote.{name}" for name in STAGES)
# A cached quote is handed out again only while it has at least this much validity left.
_MIN_REMAINING_VALIDITY = timedelta(minutes=10)
_NO_PRIORS: PriorTable = {}
"""The price history of a quote no line of which could be reduced (the engine only reads it)."""
_NO_QUOTE = uuid.UUID(int=0)
"""The id of the one-product quotes behind display prices (never stored)."""


_Recent = tuple[bytes, bytes, int]
"""A remembered quote: what else its amounts depended on, encoded (see `_inputs`), its JSON, and the
bytes it holds with its key (`_remember`). A plain tuple of bytes and an int: the garbage collector stops
tracking it at its first look (a NamedTuple it would keep traversing, one more object per quote)."""


class PricedWith(NamedTuple):
    """What a quote was priced with, to price it again with its extensions' answers (docs/extensions.md)."""

    snapshot: ConfigSnapshot
    products: dict[str, CatalogProduct]
    flash: dict[str, FlashOffer]
    customer: CustomerContext
    now: datetime
    gifts: Any
    region: RegionPlan | None
    flags: ServedFlags | None
    offers: Sequence[Choice | None] | None
    limits: Sequence[QuantityLimit]
    priors: PriorTable | None
    installments: Paying | None


class PricedQuote(msgspec.Struct, frozen=True):
    """A quote's id and its JSON exactly as stored, so the response need not encode it again (the
    `Quote` itself is let go as soon as it is stored: docs/hot-path.md)."""

    quote_id: uuid.UUID
    json: bytes


class QuoteService:
    """Prices quotes for the HTTP edge; one per process."""

    def __init__(
        self,
        settings: Settings,
        *,
        config_store: ConfigStore[ConfigSnapshot],
        products: ProductCache,
        store: QuoteStore,
        redis: RedisClient,
        flash_sales: FlashSales | None = None,
        reservations: Reservations | None = None,
        coupon_repairs: Repairs | None = None,
        generated_codes: GeneratedCodes | None = None,
        gift_stocks: GiftStocks | None = None,
        promotion_uses: PromotionUses | None = None,
        prior_prices: PriorPrices | None = None,
        clock: Callable[[], datetime] = utcnow,
        installment_plans: Callable[[str], Awaitable[list[InstallmentPlan]]] | None = None,
        unit_purchases: UnitPurchases | None = None,
        extensions: ExtensionCaller | None = None,
    ) -> None:
        self.defaults = EngineDefaults(
            timezone=settings.business_timezone,
            tax_rate=settings.default_tax_rate,
            delivery_fee=settings.default_delivery_fee,
            commission_rate=settings.default_commission_rate,
            max_discount_percentage=settings.max_discount_percentage,
            validity_minutes=settings.quote_validity_seconds / 60,
            currency=settings.default_currency.upper(),
            commission_tax_rate=settings.commission_tax_rate,
            rounding=Rounding(mode=settings.rounding_mode, tax_calculation=settings.tax_calculation),
            fx_conversion=settings.fx_conversion,
            fx_endings=tuple(settings.price_endings().items()),
        )
        self.timeout = settings.quote_timeout
        self.max_lines = settings.max_quote_lines
        self.gate = ConcurrencyGate(settings.max_concurrent_quotes)
        self.limiter = RateLimiter(settings.rate_limit_per_minute)
        watch_gate(self.gate)
        self.deadlines = DeadlineWatch()
        """Every quote's deadline, watched by one timer (quotes/deadlines.py); the lean edge's quote
        requests' body reads too (on the entry their quote's deadline then takes over)."""
        self._config = config_store
        self._products = products
        self._store = store
        self._redis = redis
        self._flash = flash_sales
        self._reservations = reservations
        self._coupon_repairs = coupon_repairs
        """Checks a coupon counter found at its limit against PostgreSQL (coupons/counters.py)."""
        self._generated_codes = generated_codes
        self._gift_stocks = gift_stocks
        self._promotion_uses = promotion_uses
        """Reads a customer's uses of per-customer-limited promotions its quote could meet."""
        """Reads the GIFT promotions' products (asked only while the book has such promotions)."""
        """Looks up the codes of coupon batches a request names (asked only for codes no coupon has)."""
        self._prior_prices = prior_prices
        """The lowest prices before reductions (price history), for display prices."""
        self._clock = clock
        self._installment_plans = installment_plans
        """The active installment plans of a currency: read only for a quote with a card_bin (docs/taxes.md)."""
        """The instant a quote is priced and read at (tests hold it still)."""
        self._extensions = extensions
        """Calls the tax and shipping extensions a quote's lines match (docs/extensions.md)."""
        self._unit_purchases = unit_purchases
        """A customer's units of products under a per-customer quantity limit (asked only for such baskets)."""
        # Recent quotes by (caller, body), with the inputs they were priced from: looking up a new
        # basket costs one dictionary miss, and only a repeated body encodes its inputs to compare.
        # Keys, inputs and quotes are all kept as bytes: bytes add nothing for the garbage
        # collector to traverse (10,000 live Quote objects made full collections take ~150 ms;
        # the inputs kept as objects, ~25 ms).
        self._recent: OrderedDict[bytes, _Recent] = OrderedDict()
        self._recent_limit = settings.recent_quotes_max_bytes
        self.recent_bytes = 0
        """The bytes the remembered quotes hold, keys included (at most RECENT_QUOTES_MAX_BYTES)."""
        self._previews: dict[bool, tuple[ConfigSnapshot, ConfigSnapshot]] = {}
        """The configuration of payout previews (`preview_config`), per with-promotions, with its snapshot."""
        self._unrepeated = 0
        """Quotes in a row whose (caller, body) no remembered quote had (`RECENT_IDLE_AFTER`)."""

    def reset(self) -> None:
        """Forget the recent quotes, the rate limits' buckets and the prior-price memo, as a
        service that has just started (a started app the tests reuse)."""
        self._recent.clear()
        self.recent_bytes = 0
        self._unrepeated = 0
        self.limiter.reset()
        if self._prior_prices is not None:
            self._prior_prices.reset()
        if self._coupon_repairs is not None:
            self._coupon_repairs.reset()
        if self._extensions is not None:
            self._extensions.reset()

    async def quote(
        self,
        request: QuoteRequest,
        caller: Principal,
        deadline: float | None = None,
        body: bytes | None = None,
        *,
        numbers: bool = False,
        bound: Bound | None = None,
        rider: Rider | None = None,
    ) -> PricedQuote:
        """Admit (rate limit, concurrency cap), then price and store within the deadline.

        `deadline` (event-loop time) continues one set before authentication; without it the
        quote has QUOTE_TIMEOUT from now (checked every few milliseconds: quotes/deadlines.py).
        `bound`, instead: a deadline of `deadlines` already used (the lean edge's body read), its
        `when` set to the quote's deadline: entered again, it keeps its entry (quotes/deadlines.py).
        `body` is the request's raw JSON when the caller has it (the lean edge): the
        identical-request cache is then keyed by it instead of by the request encoded again.
        `numbers`: the quote's JSON writes money as numbers (X-Money-Format), encoded so once,
        as the strings would be. `rider`: a write made of the quote, sent to Redis in the quote's own call
        (quotes/store.py `Rider`; a checkout session's update) — it never lands for a quote handed out again."""
        t0 = perf_counter_ns()
        with stage(_VALIDATE):
            if request.items[self.max_lines :]:  # a slice, not len(): no call a quote (the cost budget)
                raise invalid("items", f"at most {self.max_lines} items a quote (MAX_QUOTE_LINES)")
            self.limiter.check((caller.kind, caller.id.int))  # an integer: a UUID's __hash__ is Python
            policy.check_request(request, caller)
            if caller.role == "agent":  # docs/agents.md#quotes-and-orders
                request = policy.agent_request(request)
        gate = self.gate
        if gate.in_flight >= gate.limit:
            raise gate.refusal()
        gate.in_flight += 1
        if bound is None:
            bound = Bound(self.deadlines, deadline or running_loop().time() + self.timeout)
        try:
            with bound:
                return await self._price(request, caller, body, t0, numbers, bound.when, rider)
        except TimeoutError as exc:
            if not bound.expired():  # a store's own timeout (pool, Redis): 503, not 504
                raise
            raise QuoteTimeout(f"The quote took longer than its {self.timeout:g} s deadline") from exc
        finally:
            gate.in_flight -= 1

    async def get(self, quote_id: uuid.UUID, caller: Principal) -> Quote | None:
        """The stored quote, or None when unknown, expired or not the caller's (its maker's, or an admin's)."""
        stored = await self._store.get(quote_id, now=self._clock())
        return stored.quote if stored is not None and acts_for(caller, stored.maker) else None

    async def _price(
        self,
        request: QuoteRequest,
        caller: Principal,
        body: bytes | None,
        t0: int,
        numbers: bool,
        deadline: float,
        rider: Rider | None,
    ) -> PricedQuote:
        t1 = perf_counter_ns()
        now = self._clock()
        snapshot = self._config.snapshot
        # Each input is gathered by a named loader (below); an optional one is called only when the quote could
        # use it, the test written here (a call saved a quote: the cost budget, docs/hot-path.md#the-cost-budget).
        with stage(_CATALOG):
            request, products = await self._catalog(request, caller, snapshot)
        customer = await self._customer(request, caller, snapshot)
        limits: Sequence[QuantityLimit] = ()
        region: RegionPlan | None = None  # worked out early only for ruled offers, gifts and per-customer limits
        choices: list[Choice | None] | None = None
        chosen = False  # each item's offer was chosen before its quantity rules were checked
        quantities = snapshot.quantity_rules
        if quantities is not None:  # docs/pricing.md#quantity-rules: a basket of products without rules pays no call
            for item in request.items:
                if item.product_id in quantities.ruled:
                    ruled = await self._quantity_rules(request, products, customer, snapshot, now)
                    customer, limits, region, choices = ruled
                    chosen = region is not None  # worked out only to choose the basket's offers
                    break
        t2 = perf_counter_ns()
        with stage(_FLASH):
            flash = await self._flash_offers(snapshot, products, request.customer_id, now)
        t3 = perf_counter_ns()
        book = snapshot.promotions
        gifts = None
        if book.gift_products and self._gift_stocks is not None:
            try:
                region = region_for(request, snapshot=snapshot, defaults=self.defaults, now=now)
            except ServiceError:  # the engine refuses it with its fields below
                region = None
            # Only a quote that could meet a GIFT promotion reads its products' stock: one in another
            # currency is skipped without a call (the cost budget), then the promotions' view decides.
            currencies = book.gift_currencies
            if region is not None and (region.currency in currencies or None in currencies):
                gifts = await self._gifts(request, customer, book, region.currency, now)
        if (
            book.limited
            and self._promotion_uses is not None
            and (request.channel is not None or book.limited_any_channel)
        ):
            region, customer = await self._with_promotion_uses(request, customer, snapshot, now, region)
        # The caller (kind, then its id's 16 bytes), the money format and the body: one caller's
        # quote is never another's, and a quote is handed out again only in the form it was written.
        key = b"".join(  # (a join: bytes' %-formatting parses its format at every call)
            (
                caller.kind.encode(),
                b"#\0" if numbers else b"\0",
                caller.id.bytes,
                body if body is not None else _REQUEST_ENCODER.encode(request),
            )
        )
        # A reserving quote holds units of its own: never handed out again, never reused; nor is one
        # priced with gifts, whose stock is no input `_inputs` compares.
        reserving = request.reserve_stock and self._reservations is not None
        inputs: bytes | None = None
        candidate = None if reserving or gifts is not None else self._recent.get(key)
        if candidate is not None:  # the same caller sent this body before: were the inputs the same too?
            self._unrepeated = 0
            inputs = _inputs(customer, snapshot, products, flash, now)
            reused = await self._reusable(candidate, inputs, now, rider)  # the loader of a remembered quote
            if reused is not None:
                _RECENT_HITS.inc()
                record(t0, t1, t2, t3, t3, perf_counter_ns())
                return reused
        _RECENT_MISSES.pending += 1  # DeferredCounter.inc without the call
        # Remembered for a repeat only while repeats come (each costs its inputs encoded, ~10 K instructions
        # a catalog quote): after RECENT_IDLE_AFTER quotes in a row that repeated no body, one in RECENT_PROBE.
        self._unrepeated = unrepeated = self._unrepeated + 1
        remember = unrepeated <= RECENT_IDLE_AFTER or not unrepeated % RECENT_PROBE
        with stage(_ENGINE):
            if region is None:
                region = region_for(request, snapshot=snapshot, defaults=self.defaults, now=now)
            f0 = perf_counter_ns()
            flags = served_flags(
                request, snapshot=snapshot, region=region, customer=customer, products=products, now=now
            )
            flag_timing.QUOTE.observe(perf_counter_ns() - f0)
            extensions = snapshot.extensions
            first = request
            if extensions is not None and request.shipping and extensions.shipping:
                first = msgspec.structs.replace(request, shipping=None)  # the choice may be an extension's option
            # docs/offers.md: only a basket naming an offer, or holding a product that has offers, chooses; any
            # other pays a test an item, no call (the cost budget, docs/hot-path.md#the-cost-budget).
            offered = snapshot.offers
            for item in () if chosen else request.items:  # chosen: already, under the quantity rules
                if item.offer_id is not None or (offered is not None and item.product_id in offered.by_product):
                    choices = choose_offers(request, products, offered, region, snapshot.shipping)
                    break
            priors = None  # docs/markets.md#prior-price-for-announced-reductions: no catalog product, no history
            if self._prior_prices is not None:
                currency = region.currency
                priors = (
                    await self._prior_history(request, products, choices, flash, snapshot, currency)
                    if products
                    else _NO_PRIORS
                )
            paying = None if request.card_bin is None else await self._paying(request, region.currency)
            quote = price_quote(
                first, snapshot=snapshot, products=products, flash=flash, customer=customer,
                defaults=self.defaults, now=now, quote_id=ids.uuid7(), region=region, flags=flags, gifts=gifts,
                offers=choices, quantity_limits=limits, priors=priors, installments=paying,
            )  # fmt: skip
        if (  # docs/extensions.md: a quote to a country no extension serves costs no call
            extensions is not None
            and self._extensions is not None
            and (extensions.countries is None or request.delivery_address.country in extensions.countries)
        ):
            priced = PricedWith(
                snapshot, products, flash, customer, now, gifts, region, flags, choices, limits, priors, paying
            )
            quote = await self._extension_pass(quote, request, first, priced, deadline)
            # A fallback quote is not handed out again: an identical request asks the extension again.
            remember = remember and quote.warnings is UNSET
        t4 = perf_counter_ns()
        with stage(_STORE):
            if reserving:
                return await self._reserve_and_store(
                    request, quote, caller, customer, now=now, numbers=numbers, t=(t0, t1, t2, t3, t4), rider=rider
                )
            # What the quote is remembered and stored with is made now, while what it reads is still in
            # the CPU's caches, and the Quote's objects are let go before the store's wait: after it the
            # batch's other quotes have run and pushed them out, and freeing them then costs a cache
            # miss an object (docs/hot-path.md#garbage).
            if remember:
                inputs = inputs or _inputs(customer, snapshot, products, flash, now)
            quote_id = quote.quote_id
            storing = self._put(quote, request, caller, customer, now=now, numbers=numbers, rider=rider)
            del quote
            payload = await storing
        if inputs is not None:
            self._remember(key, inputs, payload)
        record(t0, t1, t2, t3, t4, perf_counter_ns())
        return PricedQuote(quote_id, payload)

    async def _catalog(
        self, request: QuoteRequest, caller: Principal, snapshot: ConfigSnapshot
    ) -> tuple[QuoteRequest, dict[str, CatalogProduct]]:
        """Loader: the request with each item naming its product (an item may name only its offer: docs/offers.md)
        and the catalog products it names (the product cache), checked against what the caller may quote."""
        for item in request.items:
            if not item.product_id:  # a truth test an item, no call, for a basket naming its products
                request = with_offer_products(request, snapshot.offers)
                break
        products = await self._products.get_many(i.product_id for i in request.items if _is_uuid(i.product_id))
        policy.check_items(request, products, caller)
        return request, products

    async def _customer(self, request: QuoteRequest, caller: Principal, snapshot: ConfigSnapshot) -> CustomerContext:
        """Loader: who the quote is for (tier, segment, group, test group, as the caller may state them), with its
        uses of the named coupons that have a per-customer limit and the coupons of the generated codes it names."""
        tier, segment = policy.customer_profile(request, caller)
        # A code batch's codes are looked up only for a code no coupon has: a quote naming none, or only
        # coupons' codes as written, pays no call for the feature (the cost budget, docs/hot-path.md).
        generated: dict[str, Coupon] = {}
        if self._generated_codes is not None:
            known = snapshot.coupons.by_code
            for code in request.coupon_codes:
                if code not in known:  # a coupon's code in another case too: `_generated` folds it
                    generated = await self._generated(request, snapshot)
                    break
        return CustomerContext(
            customer_id=request.customer_id,
            tier=tier,
            segment=segment,
            coupon_uses=await self._coupon_uses(request, snapshot),
            generated_coupons=generated,
            customer_group=policy.customer_group(request, caller),
            agent=AgentRef(name=caller.name, key_id=caller.id) if caller.role == "agent" else None,  # no call else
            test_group=policy.test_group(request, caller),
        )

    async def _quantity_rules(
        self,
        request: QuoteRequest,
        products: dict[str, CatalogProduct],
        customer: CustomerContext,
        snapshot: ConfigSnapshot,
        now: datetime,
    ) -> tuple[CustomerContext, list[QuantityLimit], RegionPlan | None, list[Choice | None] | None]:
        """Loader, for a basket holding a product with quantity rules (docs/pricing.md#quantity-rules): the customer
        with its units bought under per-customer limits, the basket's limits, and, where the basket has offers, the
        region and each item's offer, chosen under the rules (docs/offers.md#quantity-rules)."""
        quantities = snapshot.quantity_rules
        assert quantities is not None
        region: RegionPlan | None = None
        choices: list[Choice | None] | None = None
        offered = snapshot.offers  # docs/offers.md#quantity-rules: the chosen offer's rules
        if offered is not None and any(i.product_id in offered.by_product for i in request.items):
            region = region_for(request, snapshot=snapshot, defaults=self.defaults, now=now)
            choices = offers_under_rules(request, products, customer, snapshot, quantities, region, now)
        customer, limits = await checked_quantities(
            request, products, customer, snapshot, quantities, self._unit_purchases, now, choices
        )
        return customer, limits, region, choices

    async def _gifts(
        self, request: QuoteRequest, customer: CustomerContext, book: PromotionBook, currency: str, now: datetime
    ) -> dict[str, GiftStock] | None:
        """Loader, for a quote in a currency a GIFT promotion names (docs/promotions.md#gifts): the stock of the
        gifts this kind of quote could be given (None: none it could be given)."""
        assert self._gift_stocks is not None
        wanted = book.gifts_for(currency, customer.customer_group, customer.segment, request.channel, now)
        return await self._gift_stocks.read(wanted) if wanted else None

    async def _extension_pass(
        self, quote: Quote, request: QuoteRequest, first: QuoteRequest, priced: PricedWith, deadline: float
    ) -> Quote:
        """Loader and the one pass more, for a quote to a country an extension serves (docs/extensions.md): the
        extensions its lines' sellers match are asked about `quote` (priced from `first`, `request` without its
        shipping choice where that may be an extension's option), and the quote is priced again with their answers
        (`_with_answers`); `quote` itself when none is asked and the request chose no shipping."""
        assert self._extensions is not None
        assert priced.snapshot.extensions is not None
        country = request.delivery_address.country
        calls = priced.snapshot.extensions.calls(country, [i.seller_id for i in quote.items if i.is_gift is UNSET])
        answers = await self._extensions.ask(calls, quote, request, deadline) if calls else None
        if answers is None and first is request:
            return quote
        return self._with_answers(answers, quote, request, priced)

    def _with_answers(
        self,
        answers: Answers | None,
        quote: Quote,
        request: QuoteRequest,
        priced: PricedWith,
    ) -> Quote:
        """The quote priced again with what its extensions answered (docs/extensions.md); a 503 when one
        with `on_failure: reject` failed, the service's own rules and a warning for a `fallback` one.
        `answers` None: none applied, and the quote is priced again only for the request's shipping choice.

        The one pass more a quote an extension applies to costs: an extension is asked about the priced lines (each
        line's net after its discounts, its tax in a tax-inclusive price) and its sellers' shipments as priced, so
        it is asked after a first pass, and its answers are an input of the second (`external`, `answered`)."""
        rejecting = [] if answers is None else [e for e in answers.failed if e.on_failure == "reject"]
        if rejecting:
            raise ExtensionUnavailable(f"The {rejecting[0].kind} extension {rejecting[0].id} did not answer usably")
        answered = external = None
        if answers is not None:
            warnings = [QuoteWarning.fallback(failed.id) for failed in answers.failed]
            answered = Answered("extension" if answers.taxed else "internal", warnings or UNSET)
            if answers.external or request.shipping:
                external = answers.external
        return price_quote(
            request, snapshot=priced.snapshot, products=priced.products, flash=priced.flash,
            customer=priced.customer, defaults=self.defaults, now=priced.now, quote_id=quote.quote_id,
            region=priced.region, flags=priced.flags, gifts=priced.gifts, offers=priced.offers,
            external=external, quantity_limits=priced.limits, priors=priced.priors,
            installments=priced.installments, answered=answered,
        )  # fmt: skip

    async def _reserve_and_store(
        self,
        request: QuoteRequest,
        quote: Quote,
        caller: Principal,
        customer: CustomerContext,
        *,
        now: datetime,
        numbers: bool,
        t: tuple[int, int, int, int, int],
        rider: Rider | None,
    ) -> PricedQuote:
        """Hold the quote's units (PostgreSQL; taking over the hold of `replaces_quote_id`), then store
        it; a quote that is not stored is not answered, so its holds are dropped at once (else they
        would wait for their expiry) and the hold it took over is held again."""
        assert self._reservations is not None
        reserved = await self._reservations.hold(request, quote, caller, now=now)
        replaced = request.replaces_quote_id
        try:
            payload = await self._put(reserved, request, caller, customer, now=now, numbers=numbers, rider=rider)
        except BaseException:
            # Best effort: should PostgreSQL fail too, the holds still end at their expiry.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._reservations.discard(reserved.quote_id, replaced=replaced))
            raise
        self._reservations.answered(replaced=replaced is not None)
        record(*t, perf_counter_ns())
        return PricedQuote(reserved.quote_id, payload)

    def _put(
        self,
        quote: Quote,
        request: QuoteRequest,
        caller: Principal,
        customer: CustomerContext,
        *,
        now: datetime,
        numbers: bool,
        rider: Rider | None,
    ) -> Coroutine[Any, Any, bytes]:
        """Store the quote (Redis, group commit; the quote log behind) with who asked and where to
        (the store's coroutine, holding the only reference to `quote` the caller does not drop), and
        what a what-if simulation prices it again from (`quote_log.compact_request`). An agent key's
        quote says whose it is (docs/agents.md#quotes-and-orders)."""
        address = request.delivery_address
        return self._store.put(
            quote,
            now=now,
            caller=(caller.kind, caller.id),
            delivery=(address.city, address.country),
            numbers=numbers,
            request=compact_request(quote, request, customer),
            rider=rider,
        )

    async def write_quote_log(self) -> None:
        """Write this process's answered quotes' quote-log rows now (they are written behind, every 0.2 s)."""
        await self._store.log.write_pending()

    async def catalog_products(self, product_ids: Iterable[str]) -> dict[str, CatalogProduct]:
        """The catalog products among `product_ids`, as quotes see them (the product cache)."""
        return await self._products.get_many(i for i in product_ids if _is_uuid(i))

    async def price_today(
        self, request: QuoteRequest, customer: CustomerContext, caller: Principal, fx: FxBook | None = None
    ) -> tuple[Quote, dict[str, CatalogProduct]]:
        """`request` priced now as POST /quote would price it for `customer` (the configuration and catalog
        of today), without flash-sale units, stored nowhere; and its catalog products. An order edit takes
        its additions' prices from it (docs/orders-and-refunds.md#edits-and-exchanges). `request`'s items name
        their products (`with_offer_products`)."""
        products = await self.catalog_products(item.product_id for item in request.items)
        policy.check_items(request, products, caller)
        snapshot, now = self._config.snapshot, self._clock()
        if fx is not None:  # `fx`: the rates to convert at (an order edit's: its order's, docs/currencies.md)
            snapshot = dataclasses.replace(snapshot, fx=fx)
        choices = region = None
        offered = snapshot.offers  # docs/offers.md: an item naming an offer, or of a product with offers, chooses
        if any(
            i.offer_id is not None or (offered is not None and i.product_id in offered.by_product)
            for i in request.items
        ):
            region = region_for(request, snapshot=snapshot, defaults=self.defaults, now=now)
            choices = choose_offers(request, products, offered, region, snapshot.shipping)
        quote = price_quote(
            request, snapshot=snapshot, products=products, flash={}, customer=customer,
            defaults=self.defaults, now=now, quote_id=ids.uuid7(), region=region, offers=choices,
        )  # fmt: skip
        return quote, products

    async def basket_quantities(
        self,
        request: QuoteRequest,
        products: Mapping[str, CatalogProduct],
        customer: CustomerContext,
        offer_ids: Sequence[uuid.UUID | None],
        bought: Bought,
    ) -> tuple[list[QuantityProblem], list[QuantityLimit]]:
        """An order edit's basket against today's quantity rules (`quantity_checks.basket_quantities`)."""
        snapshot = self._config.snapshot
        return await basket_quantities(request, products, customer, snapshot, offer_ids, bought, self._clock())

    async def learn_units(self, customer_id: str, keys: Sequence[str]) -> None:
        """The quote path's counters learn the customer's units of these limit keys from PostgreSQL (after an
        order edit moved some: docs/pricing.md#quantity-rules)."""
        if keys and self._unit_purchases is not None:
            await self._unit_purchases.confirm(customer_id, keys, self._clock())

    def offer_products(self, items: Sequence[QuoteItemIn], fields: Sequence[str]) -> list[QuoteItemIn] | None:
        """`items` with those naming only their offer given the offer's product, as quotes see the offers now;
        None when each names its product; a 422 naming `<fields[i]>.offer_id` or `.product_id` (pricing/offers.py)."""
        return offer_products(items, self._config.snapshot.offers, fields)

    def offer(self, offer_id: uuid.UUID) -> SnapOffer | None:
        """An active offer as quotes see it now (the configuration snapshot's), or None."""
        return self.offer_named(str(offer_id))

    def offer_named(self, offer_id: str) -> SnapOffer | None:
        """`offer` of an id written as `str(UUID)` writes it (lowercase, hyphenated)."""
        book = self._config.snapshot.offers
        return None if book is None else book.by_id.get(offer_id)

    def snapshot_fx(self) -> FxBook | None:
        """The exchange rates quotes convert at now (None: none are stored)."""
        return self._config.snapshot.fx

    def now(self) -> datetime:
        """The instant quotes are priced at now (tests hold the clock still)."""
        return self._clock()

    def preview_config(self, *, promotions: bool) -> ConfigSnapshot:
        """The configuration a payout preview prices under (payouts/preview.py): the current snapshot
        without price lists and, unless `promotions`, without automatic promotions. Made once per snapshot,
        with a memo of its own: the previews' many prices never crowd the quotes' memo."""
        snapshot = self._config.snapshot
        kept = self._previews.get(promotions)
        if kept is None or kept[0] is not snapshot:
            stripped = dataclasses.replace(snapshot, price_lists=PriceBook())
            if not promotions:
                stripped = dataclasses.replace(stripped, promotions=PromotionBook())
            kept = self._previews[promotions] = (snapshot, stripped)
        return kept[1]

    async def catalog_product(self, product_id: uuid.UUID) -> CatalogProduct | None:
        """A catalog product as quotes see it (the product cache), or None when there is none."""
        key = str(product_id)
        return (await self._products.get_many([key])).get(key)

    async def price_one(
        self,
        product: CatalogProduct,
        quantity: int,
        customer: CustomerContext,
        *,
        region: str | None,
        offer: FlashOffer | None = None,
        offer_id: uuid.UUID | None = None,
        now: datetime | None = None,
    ) -> Quote:
        """A one-line quote of `quantity` units of `product` for `customer`, delivered to `region` (a
        city or country; None: no region), priced exactly as POST /quote would and stored nowhere:
        GET /products/{id}/price shows its steps 1-3. `offer`: the flash-sale units to price, instead of
        what the sale's counters leave the customer now (a purchase's, already taken from them); a
        purchase is held to the product's quantity rules as a quote is (422 QUANTITY_RULE), and its
        per-customer limit rides on the quote for its order to count again under the lock. `offer_id` (with
        `offer`): the line is sold from that offer of the product (a flash item naming it,
        docs/offers.md#price-lists-and-flash-sales)."""
        now = now or utcnow()
        snapshot = self._config.snapshot
        if offer_id is not None and (snapshot.offers is None or str(offer_id) not in snapshot.offers.by_id):
            snapshot = await self._caught_up(snapshot)
        key = str(product.id)
        if offer is not None:
            flash = {key if offer_id is None else f"{key}/{offer_id}": offer}
        else:
            flash = await self._flash_offers(snapshot, {key: product}, customer.customer_id, now)
        place = region or ""
        request = QuoteRequest(
            customer_id=customer.customer_id,
            items=[
                QuoteItemIn(product_id=key, quantity=quantity, offer_id=None if offer_id is None else str(offer_id))
            ],
            delivery_address=Address(city=place, country=place),
            currency=product.currency,
        )
        plan = choices = None
        if offer_id is not None:
            plan = region_for(request, snapshot=snapshot, defaults=self.defaults, now=now)
            choices = choose_offers(request, {key: product}, snapshot.offers, plan, snapshot.shipping)
        limits: list[QuantityLimit] = []
        quantities = snapshot.quantity_rules
        if offer is not None and quantities is not None and key in quantities.ruled:  # docs/pricing.md#quantity-rules
            customer, limits = await checked_quantities(
                request, {key: product}, customer, snapshot, quantities, self._unit_purchases, now, choices
            )
        return price_quote(
            request, snapshot=snapshot, products={key: product}, flash=flash, customer=customer,
            defaults=self.defaults, now=now, quote_id=ids.uuid7(), region=plan, offers=choices, quantity_limits=limits,
        )  # fmt: skip

    async def _caught_up(self, snapshot: ConfigSnapshot) -> ConfigSnapshot:
        """The configuration as PostgreSQL has it now, for a purchase whose sale (read from PostgreSQL)
        names an offer this process's snapshot does not know yet: the offer was created through another
        process a moment ago and the announcement has not been followed here. One version read (a reload
        only when it moved); a store away leaves the snapshot as it was (the purchase then answers what it
        would have)."""
        with contextlib.suppress(*OUTAGES):
            await self._config.refresh(background=False)
            return self._config.snapshot
        return snapshot

    async def display_prices(self, request: PricesRequest, caller: Principal) -> Prices:
        """POST /api/v1/prices (quotes/display_prices.py): each product a one-product quote made by
        `price_quote` as POST /quote makes it, stored nowhere; unknown, inactive and unpriced products
        go to `errors`."""
        self.limiter.check(_client(caller))
        check_ids(request)
        now = self._clock()
        snapshot = self._config.snapshot
        is_user = caller.role == "user"
        template = QuoteRequest(
            customer_id=str(caller.id) if is_user else "",
            items=[],
            delivery_address=Address(city="", country=""),
            currency=request.currency,
            channel=request.channel,
            customer_tier=request.customer_tier,
            customer_segment=request.customer_segment,
            customer_group=request.customer_group,
        )
        policy.check_request(template, caller)  # what a caller may state: as on a quote
        tier, segment = policy.customer_profile(template, caller)
        customer = CustomerContext(
            customer_id=template.customer_id,
            tier=tier,
            segment=segment,
            customer_group=policy.customer_group(template, caller),
        )
        region = region_for(template, snapshot=snapshot, defaults=self.defaults, now=now)
        found = await self._products.get_many(i for i in request.product_ids if _is_uuid(i))
        active = {key: product for key, product in found.items() if product.is_active}
        flash = await self._flash_offers(snapshot, active, customer.customer_id, now)
        quantity = request.quantity
        items: list[DisplayPrice] = []
        errors: list[PriceError] = []
        for key in request.product_ids:
            product = active.get(key)
            if product is None:
                errors.append(PriceError(product_id=key, code="NOT_FOUND"))
                continue
            offer = flash.get(key)
            basket = msgspec.structs.replace(template, items=[QuoteItemIn(product_id=key, quantity=quantity)])
            try:
                quote = price_quote(
                    basket, snapshot=snapshot, products={key: product}, flash={} if offer is None else {key: offer},
                    customer=customer, defaults=self.defaults, now=now, quote_id=_NO_QUOTE, region=region,
                )  # fmt: skip
            except CurrencyNotPriced:
                errors.append(PriceError(product_id=key, code="CURRENCY_NOT_PRICED"))
                continue
            except FxRateMissing:  # docs/currencies.md: FX_CONVERSION on, no rate converts its price
                errors.append(PriceError(product_id=key, code="FX_RATE_MISSING"))
                continue
            except ValidationFailed:  # the money ceiling (docs/quotes-and-orders.md#the-money-ceiling)
                errors.append(PriceError(product_id=key, code="VALIDATION_FAILED"))
                continue
            items.append(shown(quote, key, quantity))
        return Prices(items=await self._with_prior_prices(items, active, snapshot, now), errors=errors)

    async def _paying(self, request: QuoteRequest, currency: str) -> Paying:
        """Loader: the card the quote is paid with and the active installment plans of its currency (one read,
        only for a quote with a card_bin: docs/taxes.md#installments), which the engine prices on its total."""
        assert request.card_bin is not None
        plans = [] if self._installment_plans is None else await self._installment_plans(currency)
        return Paying(plans, request.card_bin, request.installments)

    async def _prior_history(
        self,
        request: QuoteRequest,
        products: dict[str, CatalogProduct],
        choices: Sequence[Choice | None] | None,
        flash: dict[str, FlashOffer],
        snapshot: ConfigSnapshot,
        currency: str,
    ) -> PriorTable | None:
        """Loader: the price history at every start the quote's lines could be reduced from, read before pricing
        (the engine's `prior_lines` step shows it; docs/markets.md#prior-price-for-announced-reductions); None
        without a price history. Remembered per (product, start): a warm quote reads nothing."""
        if self._prior_prices is None:
            return None
        catalog, offered = wanted_history(request.items, products, choices, flash, snapshot, currency)
        if not catalog and not offered:
            return _NO_PRIORS
        return await self._prior_prices.lowest(catalog, offered)

    async def _with_prior_prices(
        self, items: list[DisplayPrice], products: dict[str, CatalogProduct], snapshot: ConfigSnapshot, now: datetime
    ) -> list[DisplayPrice]:
        """Items reduced by a flash sale, an automatic promotion or a campaign, with their reduction's start
        and the lowest catalog price in the 30 days before it
        (docs/markets.md#prior-price-for-announced-reductions)."""
        starts: dict[str, datetime] = {}
        for item in items:
            product = products[item.product_id]
            started = reduction_start(
                snapshot, item.product_id, product.category_id, item.flash_sale_id,
                [p.promotion_id for p in item.promotions], _campaign_since(product, item.price_list_id),
            )  # fmt: skip
            if started is not None:
                starts[item.product_id] = started
        if not starts:
            return items
        # The history is the catalog price's: a price in a list, or in another currency, has none.
        catalog = {
            key: (key, started) for key, started in starts.items() if products[key].currency == items[0].currency
        }
        wanted = {key: frozenset((started,)) for key, (_, started) in catalog.items()}
        lowest = await self._prior_prices.lowest(wanted) if self._prior_prices and catalog else {}
        shown_items = []
        for item in items:
            started = starts.get(item.product_id)
            if started is not None:
                at = catalog.get(item.product_id) if item.price_list_id is None else None
                prior = lowest.get(at) if at is not None else None
                prior = None if prior is None else round_money(prior, item.currency)
                item = msgspec.structs.replace(item, prior_price=prior, reduction_started_at=started)
            shown_items.append(item)
        return shown_items

    def _region(self, request: QuoteRequest, snapshot: ConfigSnapshot, now: datetime) -> RegionPlan | None:
        """The quote's region, worked out before the engine (None: the engine refuses it with its fields)."""
        try:
            return region_for(request, snapshot=snapshot, defaults=self.defaults, now=now)
        except ServiceError:
            return None

    async def _with_promotion_uses(
        self,
        request: QuoteRequest,
        customer: CustomerContext,
        snapshot: ConfigSnapshot,
        now: datetime,
        region: RegionPlan | None,
    ) -> tuple[RegionPlan | None, CustomerContext]:
        """The quote's region (None: the engine refuses it) and `customer` with its orders' uses of
        the promotions with a per_customer_limit this kind of quote (currency, group, segment,
        channel, time) could meet; as it was when there are none. `region`: the quote's, when worked out already."""
        assert self._promotion_uses is not None
        if region is None:
            region = self._region(request, snapshot, now)
        if region is None:
            return None, customer
        limited = snapshot.promotions.limited_for(
            currency=region.currency,
            customer_group=customer.customer_group,
            customer_segment=customer.segment,
            channel=request.channel,
            now=now,
        )
        if not limited:
            return region, customer
        uses = await self._promotion_uses.read(request.customer_id, limited)
        return region, msgspec.structs.replace(customer, promotion_uses=uses) if uses else customer

    async def _generated(self, request: QuoteRequest, snapshot: ConfigSnapshot) -> dict[str, Coupon]:
        """The request's codes that no coupon has but a coupon batch generated, each as its coupon
        usable once (one PostgreSQL read, only for a quote naming a code no coupon has). A second
        code of a coupon the request already names is left out (then NOT_FOUND): one coupon, once."""
        unknown = [code for code in request.coupon_codes if snapshot.coupons.get(code) is None]
        if not unknown or self._generated_codes is None:
            return {}
        found = await self._generated_codes.lookup(unknown)
        named = {normalize_code(code) for code in request.coupon_codes} - set(found)
        coupons: dict[str, Coupon] = {}
        for code in request.coupon_codes:
            entry = found.get(normalize_code(code))
            parent = snapshot.coupons.get(entry[0]) if entry is not None else None
            if entry is None or parent is None or parent.code in named:
                continue
            named.add(parent.code)
            coupons[normalize_code(code)] = as_coupon(parent, normalize_code(code), used=entry[1])
        return coupons

    async def _coupon_uses(self, request: QuoteRequest, snapshot: ConfigSnapshot) -> dict[str, int]:
        """Per-customer uses of the named coupons that have a per-customer limit (Redis, kept by
        orders). A counter at its limit, which refuses the coupon, is handed to the repairs: should
        it be too high, the customer's next quotes price with PostgreSQL's count."""
        limited = {
            normalize_code(code): coupon.per_customer_limit
            for code in request.coupon_codes
            if (coupon := snapshot.coupons.get(code)) is not None and coupon.per_customer_limit is not None
        }
        if not limited:
            return {}
        customer_id = request.customer_id
        values = await get_many(self._redis, [uses_key(code, customer_id) for code in limited])
        uses = {}
        for (code, limit), value in zip(limited.items(), values, strict=True):
            if value is not None:
                uses[code] = count = count_of(value)
                if count >= limit and self._coupon_repairs is not None:
                    self._coupon_repairs.suspect(customer_id, code)
        return uses

    async def _flash_offers(
        self, snapshot: ConfigSnapshot, products: dict[str, CatalogProduct], customer_id: str, now: datetime
    ) -> dict[str, FlashOffer]:
        """Step 2's inputs: for each basket product's item in an active sale, the units left and the
        customer's remaining limit (one Redis read per item; none when no product is on sale). Keyed by
        the item's slot: the product's id for its default offer, `<product>/<offer>` for an item naming
        one offer (docs/offers.md#price-lists-and-flash-sales), which prices only the lines sold from it."""
        if self._flash is None or not len(snapshot.flash_sales):
            return {}
        book = snapshot.flash_sales
        offers: dict[str, FlashOffer] = {}
        for pid in products:
            for sale, item in book.active_items(pid, now):
                slot = item.slot
                seen = await self._flash.counters.customer_view(sale.id, [slot], customer_id)
                if seen is None:
                    await self._flash.ensure_counters(sale.id)
                    seen = await self._flash.counters.customer_view(sale.id, [slot], customer_id)
                left, bought = seen[0] if seen else (0, 0)
                offers[pid if item.offer_id is None else f"{pid}/{item.offer_id}"] = FlashOffer(
                    flash_sale_id=sale.id,
                    product_id=item.product_id,
                    flash_price=item.flash_price,
                    remaining_stock=left,
                    customer_remaining_limit=max(0, item.per_user_limit - bought),
                )
        return offers

    async def _reusable(
        self, candidate: _Recent, inputs: bytes, now: datetime, rider: Rider | None
    ) -> PricedQuote | None:
        """The quote made for an identical request, while it has validity left and was not ordered
        (`rider` rides on that question: quotes/store.py `was_ordered`)."""
        remembered, payload, _ = candidate
        if remembered != inputs:
            return None
        cached = decode_quote(payload)
        if cached.valid_until - now < _MIN_REMAINING_VALIDITY:
            return None
        # Ordered in any process → never handed out again (its repeat purchase would be a 409).
        if await self._store.was_ordered(cached.quote_id, payload, rider):
            return None
        return PricedQuote(cached.quote_id, payload)

    def _remember(self, key: bytes, inputs: bytes, payload: bytes) -> None:
        """Remember a quote for an identical request within RECENT_QUOTES_MAX_BYTES, the oldest let go
        first; one larger than the whole allowance is not remembered. Its size is the lengths of the
        three byte strings already made (three `len`s, no encoding: the cost budget)."""
        recent = self._recent
        held = self.recent_bytes
        if key in recent:  # a repeat priced again (its inputs had moved): the new quote takes its place
            held -= recent.pop(key)[2]
        size = len(key) + len(inputs) + len(payload) + RECENT_ENTRY_OVERHEAD
        limit = self._recent_limit
        if size <= limit:
            held += size
            while held > limit:
                held -= recent.popitem(last=False)[1][2]
            recent[key] = (inputs, payload, size)
        self.recent_bytes = held


def _inputs(
    customer: CustomerContext,
    snapshot: ConfigSnapshot,
    products: dict[str, CatalogProduct],
    flash: dict[str, FlashOffer],
    now: datetime,
) -> bytes:
    """Everything besides the caller and the body that a quote's amounts depend on: equal inputs
    (for the same caller and body), equal quote within its validity. The customer carries its
    group; the body its channel; the price lists' interval says which lists are in effect."""
    return _REQUEST_ENCODER.encode(
        (
            customer,
            snapshot.version,
            sorted(products.items()),
            sorted(flash.items()) if flash else (),  # (most baskets have no flash units: two calls saved)
            _minute(now),
            snapshot.price_lists.interval(now),
        )
    )


def _campaign_since(product: CatalogProduct | None, price_list_id: uuid.UUID | None) -> datetime | None:
    """When a campaign's reduction of the catalog price began, for a line priced from that catalog
    price (a price list's price is not the one a campaign moves); None when no campaign reduces it."""
    if product is None or price_list_id is not None:
        return None
    return product.campaign_reduced_since


def _client(caller: Principal) -> tuple[str, int]:
    """The rate limit's key of a caller: its kind and id as an integer (a UUID hashes in Python: its
    `__hash__` is a Python method, called twice a quote by the bucket's pop and store)."""
    return caller.kind, caller.id.int


def _minute(moment: datetime) -> int:
    # Time-window rules switch on minute boundaries: never reuse a quote across one.
    return int(moment.timestamp()) // 60


_UUIDS: dict[str, bool] = {}


def _is_uuid(value: str) -> bool:
    """Whether `value` can name a product; remembered per id (parsing it per quote cost ~2 µs a line)."""
    known = _UUIDS.get(value)
    if known is not None:
        return known
    valid = len(value) == 36
    if valid:
        try:
            uuid.UUID(value)
        except ValueError:
            valid = False
    if len(_UUIDS) >= 100_000:
        _UUIDS.clear()
    _UUIDS[value] = valid
    return valid
