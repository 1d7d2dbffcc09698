"""Flash sales' registration: the service, the hold reconciler and the scheduler (the purchase path, whose
purchases are orders, is registered with orders: orders/plugin.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar.datastructures import State

from quote_service.cache.config_store import ConfigStore
from quote_service.flash_sales.controller import FlashSaleController
from quote_service.flash_sales.counters import Counters
from quote_service.flash_sales.reconciler import HoldReconciler
from quote_service.flash_sales.scheduler import SaleScheduler
from quote_service.flash_sales.service import FlashSales
from quote_service.web.domain import Domain, Startup


async def start(ctx: Startup) -> Mapping[str, Any]:
    settings = ctx.settings
    flash_sales = FlashSales(ctx.pool, Counters(ctx.redis), ctx.state.config_store, reads=ctx.reads)
    if settings.flash_reconcile_interval_seconds > 0:
        reconciler = HoldReconciler(
            flash_sales, interval=settings.flash_reconcile_interval_seconds, grace=settings.flash_hold_grace_seconds
        )
        ctx.run("flash hold reconciler", reconciler)
    scheduler = SaleScheduler(flash_sales, interval=settings.flash_scheduler_interval)
    ctx.run("flash-sale scheduler", scheduler)
    return {"flash_sales": flash_sales}


async def reset(state: State) -> None:
    await state.flash_sales.reset()


FLASH_SALES = Domain(
    name="flash_sales",
    routes=[FlashSaleController],
    provides={"flash_sales": FlashSales},
    requires={"config_store": ConfigStore},
    start=start,
    reset=reset,
)
