"""Order edits' registration: the routes, the edit service, and the recorder of each order's own terms
(which orders and flash purchases write as they are placed). Started after quotes: an edit prices its
additions as a quote would, and an order records the configuration quotes are priced with."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from litestar.datastructures import State

from quote_service.cache.config_store import ConfigStore
from quote_service.order_edits.controller import OrderEditController
from quote_service.order_edits.service import OrderEdits
from quote_service.orders.terms import TermsRecorder
from quote_service.quotes.service import QuoteService
from quote_service.web.domain import Domain, Startup


async def start_order_edits(ctx: Startup) -> Mapping[str, Any]:
    quotes: QuoteService = ctx.state.quotes
    settings = ctx.settings
    edits = OrderEdits(
        ctx.pool,
        quotes,
        window=timedelta(minutes=settings.order_edit_window_minutes),
        validity=timedelta(seconds=settings.order_edit_preview_seconds),
    )
    return {"order_edits": edits, "order_terms": TermsRecorder(ctx.state.config_store, quotes.defaults)}


async def reset_order_edits(state: State) -> None:
    state.order_terms.reset()


ORDER_EDITS = Domain(
    name="order_edits",
    routes=[OrderEditController],
    provides={"order_edits": OrderEdits, "order_terms": TermsRecorder},
    requires={"quotes": QuoteService, "config_store": ConfigStore},
    start=start_order_edits,
    reset=reset_order_edits,
)
