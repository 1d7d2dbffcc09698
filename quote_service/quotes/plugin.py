"""Quotes' two registrations: the quote store (started early: it drains into the pool and Redis,
so it stops after everything started later), and the quote service with its routes (started
after every domain it combines)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar.datastructures import State

from quote_service.cache.config_store import ConfigStore
from quote_service.cache.products import ProductCache
from quote_service.coupons.codes import GeneratedCodes
from quote_service.coupons.counters import Repairs as CouponCounterRepairs
from quote_service.extensions.caller import ExtensionCaller
from quote_service.flash_sales.service import FlashSales
from quote_service.installments.service import ActivePlans
from quote_service.promotions.gifts import GiftStocks, PromotionUses
from quote_service.quotes.controller import create_quote, display_prices, get_product_price, get_quote
from quote_service.quotes.prior_prices import PriorPrices
from quote_service.quotes.service import QuoteService
from quote_service.quotes.store import QuoteStore
from quote_service.reservations.service import Reservations
from quote_service.unit_limits.service import UnitPurchases
from quote_service.web.domain import Domain, Startup


async def start_store(ctx: Startup) -> Mapping[str, Any]:
    quote_store = QuoteStore(ctx.redis, ctx.pool, spool=ctx.settings.quote_log_spool)
    await ctx.open("quote store", quote_store)
    return {"quote_store": quote_store}


async def start_quotes(ctx: Startup) -> Mapping[str, Any]:
    coupon_repairs = CouponCounterRepairs(ctx.pool, ctx.redis)
    ctx.run("coupon counter repairs", coupon_repairs)
    state = ctx.state
    quotes = QuoteService(
        ctx.settings,
        config_store=state.config_store,
        products=state.product_cache,
        store=state.quote_store,
        redis=ctx.redis,
        flash_sales=state.flash_sales,
        reservations=state.reservations,
        coupon_repairs=coupon_repairs,
        generated_codes=GeneratedCodes(ctx.pool),
        gift_stocks=GiftStocks(ctx.pool),
        promotion_uses=PromotionUses(ctx.pool),
        prior_prices=PriorPrices(ctx.pool),
        clock=ctx.quote_clock,
        installment_plans=ActivePlans(ctx.pool),
        unit_purchases=UnitPurchases(ctx.pool, ctx.redis),
        extensions=state.extension_caller,
    )
    return {"quotes": quotes}


async def reset_store(state: State) -> None:
    store: QuoteStore = state.quote_store
    await store.settle()
    store.reset()


async def reset_quotes(state: State) -> None:
    state.quotes.reset()


QUOTE_STORE = Domain(name="quote_store", provides={"quote_store": QuoteStore}, start=start_store, reset=reset_store)
QUOTES = Domain(
    name="quotes",
    routes=[create_quote, get_quote, get_product_price, display_prices],
    provides={"quotes": QuoteService},
    requires={
        "config_store": ConfigStore,
        "product_cache": ProductCache,
        "quote_store": QuoteStore,
        "flash_sales": FlashSales,
        "reservations": Reservations,
        "extension_caller": ExtensionCaller,
    },
    start=start_quotes,
    reset=reset_quotes,
)
