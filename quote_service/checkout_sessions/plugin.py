"""Checkout sessions' registration: the service over quotes and orders, and both bindings' routes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quote_service.auth.service import AuthService
from quote_service.cache.config_store import ConfigStore
from quote_service.cache.products import ProductCache
from quote_service.checkout_sessions.acp import AcpCheckoutSessions
from quote_service.checkout_sessions.analytics import agents_analytics
from quote_service.checkout_sessions.lean_update import LeanAcpUpdate
from quote_service.checkout_sessions.service import CheckoutSessions
from quote_service.checkout_sessions.ucp import UcpCheckoutSessions, ucp_profile
from quote_service.edge import LEAN_POST
from quote_service.flash_sales.purchases import Purchases
from quote_service.orders.terms import TermsRecorder
from quote_service.quotes.service import QuoteService
from quote_service.quotes.store import QuoteStore
from quote_service.web.domain import Domain, Startup


async def start(ctx: Startup) -> Mapping[str, Any]:
    state = ctx.state
    sessions = CheckoutSessions(
        pool=ctx.pool,
        redis=ctx.redis,
        quotes=state.quotes,
        quote_store=state.quote_store,
        purchases=state.purchases,
        product_cache=state.product_cache,
        config_store=state.config_store,
        settings=ctx.settings,
        terms=state.order_terms,
        clock=ctx.quote_clock,
    )
    # ACP updates' plain case on the lean edge (lean_update.py); the edge finds it in the state.
    return {"checkout_sessions": sessions, LEAN_POST: LeanAcpUpdate(sessions, state.auth)}


CHECKOUT_SESSIONS = Domain(
    name="checkout_sessions",
    routes=[AcpCheckoutSessions, UcpCheckoutSessions, ucp_profile, agents_analytics],
    provides={"checkout_sessions": CheckoutSessions},
    requires={
        "quotes": QuoteService,
        "quote_store": QuoteStore,
        "purchases": Purchases,
        "product_cache": ProductCache,
        "config_store": ConfigStore,
        "order_terms": TermsRecorder,
        "auth": AuthService,
    },
    start=start,
)
"""After flash purchases: completing a session places an order as POST /orders does (docs/agents.md)."""
