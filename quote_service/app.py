"""create_app(): routes, lifespan (pool, Redis), dependency injection, error envelope."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, cast

import structlog
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.types import ASGIApp
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace.export import SpanExporter
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from quote_service import __version__
from quote_service.analytics.controller import AnalyticsController, ExperimentController
from quote_service.analytics.guardrail import GuardrailChecker
from quote_service.analytics.rollups import RollupJob
from quote_service.analytics.service import Analytics
from quote_service.audit import changes
from quote_service.audit.admin import ADMIN_POOL
from quote_service.audit.change_controller import ChangeRequestController, handle_change_requested
from quote_service.audit.controller import AuditController
from quote_service.auth import credentials
from quote_service.auth.middleware import PUBLIC_PATHS, AuthMiddleware
from quote_service.auth.revocations import Revocations
from quote_service.auth.service import AuthService
from quote_service.auth.throttle import LoginThrottle
from quote_service.background import Every
from quote_service.cache.products import ProductCache
from quote_service.cache.redis import create_redis
from quote_service.campaigns.controller import CampaignController
from quote_service.campaigns.scheduler import CampaignScheduler
from quote_service.campaigns.service import Campaigns
from quote_service.catalog.controller import ProductController
from quote_service.clock import utcnow
from quote_service.commissions.controller import CommissionRateController
from quote_service.config import Settings
from quote_service.coupons.controller import CouponController
from quote_service.coupons.counters import Repairs as CouponCounterRepairs
from quote_service.db.pool import Pool, create_pool
from quote_service.db.replica import ReadPools, ReplicaSampler
from quote_service.edge import LeanEdge
from quote_service.embedded import embedded_stores
from quote_service.flags.controller import FeatureFlagController
from quote_service.flash_sales.controller import FlashSaleController
from quote_service.flash_sales.counters import Counters
from quote_service.flash_sales.purchases import Purchases
from quote_service.flash_sales.reconciler import HoldReconciler
from quote_service.flash_sales.scheduler import SaleScheduler
from quote_service.flash_sales.service import FlashSales
from quote_service.health import health, ready
from quote_service.intelligence.consumer import StreamConsumer
from quote_service.intelligence.controller import MarketIntelligenceController
from quote_service.intelligence.demand import DemandJob
from quote_service.intelligence.scheduler import DecisionScheduler
from quote_service.intelligence.service import Intelligence
from quote_service.intelligence.signal_rules import SignalEvaluator
from quote_service.lifecycle.job import LifecycleJob
from quote_service.observability import metrics, stages
from quote_service.observability.logging import configure_logging
from quote_service.observability.tracing import configure_tracing, shutdown_tracing
from quote_service.ofrep.controller import OfrepController
from quote_service.ofrep.openapi import document_ofrep
from quote_service.orders.controller import OrderController
from quote_service.pages.controller import ROUTES as PAGE_ROUTES
from quote_service.pages.controller import template_config
from quote_service.pages.summary import dashboard_summary
from quote_service.price_lists.controller import PriceListController
from quote_service.promotions.controller import PromotionController
from quote_service.quotes.controller import create_quote, display_prices, get_product_price, get_quote
from quote_service.quotes.prior_prices import PriorPrices
from quote_service.quotes.service import QuoteService
from quote_service.quotes.store import QuoteStore
from quote_service.repricing.controller import RepricingController
from quote_service.reservations.controller import get_reservation, release_reservation
from quote_service.reservations.service import Reservations
from quote_service.reservations.sweeper import ReservationSweeper
from quote_service.rules.controller import PricingRuleController
from quote_service.simulations.controller import SimulationController
from quote_service.simulations.service import Simulations
from quote_service.snapshot.controller import snapshot_status
from quote_service.snapshot.loader import load_snapshot
from quote_service.snapshot.store import ConfigStore
from quote_service.statements.controller import StatementController
from quote_service.web.auth_controller import AuthController
from quote_service.web.docs import LocalSwaggerUI
from quote_service.web.errors import EXCEPTION_HANDLERS
from quote_service.web.metrics import metrics as metrics_endpoint
from quote_service.web.middleware import RequestContextMiddleware
from quote_service.web.money_format import MoneyResponse, check_money_format
from quote_service.web.openapi import DecodedTypes, complete_openapi
from quote_service.web.options import OptionsResponder
from quote_service.web.proxy import ProxyHeaders
from quote_service.web.request import MAX_BODY_BYTES, ExactRequest
from quote_service.webhooks.controller import WebhookController
from quote_service.webhooks.dispatcher import WebhookDispatcher

log = structlog.get_logger("quote_service.app")

SHUTDOWN_STEP_SECONDS = 5.0


@get("/openapi.json", exclude_from_auth=True, include_in_schema=False)
async def openapi_json(state: State) -> dict[str, Any]:
    schema: dict[str, Any] = state.openapi_schema
    return schema


async def _close_within(name: str, close: Callable[[], Awaitable[None]], on_timeout: Callable[[], None] | None) -> None:
    """Release a resource at shutdown without ever hanging it (asyncpg waits for busy
    connections; redis-py can stall closing a socket): past the bound, log and force."""
    try:
        await asyncio.wait_for(close(), timeout=SHUTDOWN_STEP_SECONDS)
    except TimeoutError:
        log.warning("shutdown_step_timed_out", resource=name, seconds=SHUTDOWN_STEP_SECONDS)
        if on_timeout is not None:
            on_timeout()


def _pool_watcher(pool: Pool, maximum: int) -> Every:
    """Keeps the pool-usage gauges, the quote stage counters and the in-flight gauge current
    (every process, every second)."""

    async def watch() -> None:
        metrics.record_pool(pool.get_size(), pool.get_idle_size(), maximum)
        stages.flush()

    return Every("pool-metrics", 1.0, watch)


async def _read_pools(settings: Settings, primary: Pool, stack: contextlib.AsyncExitStack) -> ReadPools:
    """The chooser of pools for stale-tolerant reads; with DATABASE_REPLICA_URL, the replica's pool and
    its lag sampler too (first sample taken before serving). The replica's pool opens connections on
    demand: an unreachable replica never stops the service from starting (the primary serves)."""
    if not settings.database_replica_url:
        return ReadPools(primary)
    replica = await create_pool(
        settings.database_replica_url,
        min_size=0,
        max_size=settings.db_pool_max_size,
        acquire_timeout=settings.db_acquire_timeout,
        statement_timeout=settings.db_statement_timeout,
        lock_timeout=settings.db_lock_timeout,
        server_settings={**settings.database_session(), "application_name": "quote-service-reads"},
    )
    stack.push_async_callback(_close_within, "replica pool", replica.close, replica.terminate)
    reads = ReadPools(primary, replica, max_lag=settings.replica_max_lag_seconds)
    sampler = ReplicaSampler(reads)
    await sampler.sample()
    sampler.start()
    stack.push_async_callback(_close_within, "replica sampler", sampler.stop, None)
    return reads


def _read_pool(state: State) -> Pool:
    """A request's pool for stale-tolerant reads (the `read_pool` parameter; docs/deployment.md)."""
    reads: ReadPools = state.read_pools
    return reads.for_read()


def create_app(
    settings: Settings | None = None,
    *,
    span_exporter: SpanExporter | None = None,
    clock: Callable[[], datetime] = utcnow,
    quote_clock: Callable[[], datetime] = utcnow,
) -> Litestar:
    """Build the ASGI application; resources open in the lifespan and close after it.

    `span_exporter` turns tracing on into that exporter (tests); otherwise tracing is on only
    when OTEL_EXPORTER_OTLP_ENDPOINT is set. `clock` is the campaigns' service clock
    (campaign-script and tests simulate it); `quote_clock` the instant quotes are priced and
    read at (tests hold it still; quotes live in Redis by real time, so it stays near now).
    """
    settings = settings or Settings.from_env()
    configure_logging(settings)
    tracer_provider = configure_tracing(settings, exporter=span_exporter)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            metrics.forget_dead_workers()
            stack.callback(metrics.worker_exited, os.getpid())
            # Last but one: what the final requests counted in integers reaches the series (deferred.py).
            stack.callback(stages.flush)
            if tracer_provider is not None:
                stack.callback(shutdown_tracing)
            database_url, redis_url = settings.database_url, settings.redis_url
            if database_url is None or redis_url is None:
                urls = stack.enter_context(
                    embedded_stores(settings.home, need_database=database_url is None, need_redis=redis_url is None)
                )
                database_url = database_url or urls.database_url
                redis_url = redis_url or urls.redis_url
            pool = await create_pool(
                database_url,
                min_size=settings.db_pool_min_size,
                max_size=settings.db_pool_max_size,
                acquire_timeout=settings.db_acquire_timeout,
                statement_timeout=settings.db_statement_timeout,
                lock_timeout=settings.db_lock_timeout,
                server_settings=settings.database_session(),
            )
            stack.push_async_callback(_close_within, "postgres pool", pool.close, pool.terminate)
            redis = create_redis(redis_url, cluster=settings.redis_cluster)
            stack.push_async_callback(_close_within, "redis client", redis.aclose, None)
            app.state.pool = pool
            reads = await _read_pools(settings, pool, stack)
            app.state.read_pools = reads
            # Published once now, then every second: a scrape in the first second sees the pool too.
            metrics.record_pool(pool.get_size(), pool.get_idle_size(), settings.db_pool_max_size)
            watcher = _pool_watcher(pool, settings.db_pool_max_size)
            watcher.start()
            stack.push_async_callback(watcher.stop)
            app.state.redis = redis
            revocations = Revocations(pool, redis)
            await revocations.open()  # before serving: a token logged out before a restart stays refused
            stack.push_async_callback(_close_within, "token revocations", revocations.stop, None)
            app.state.auth = AuthService(
                settings,
                pool,
                revocations=revocations,
                throttle=LoginThrottle(
                    redis,
                    per_username=settings.login_attempts_per_username,
                    per_address=settings.login_attempts_per_address,
                    window_seconds=settings.login_window_seconds,
                ),
            )
            config_store = ConfigStore(pool, redis, load_snapshot)
            await config_store.start()
            stack.push_async_callback(_close_within, "config store", config_store.stop, None)
            app.state.config_store = config_store
            products = ProductCache(redis, pool)
            await products.start()
            stack.push_async_callback(_close_within, "product cache", products.stop, None)
            app.state.product_cache = products
            quote_store = QuoteStore(redis, pool, spool=settings.quote_log_spool)
            await quote_store.start()
            # Registered after the pool and Redis: it drains into them, so it closes first.
            stack.push_async_callback(_close_within, "quote store", quote_store.stop, None)
            app.state.quote_store = quote_store
            flash_sales = FlashSales(pool, Counters(redis), config_store, reads=reads)
            app.state.flash_sales = flash_sales
            purchases = Purchases(flash_sales)
            app.state.purchases = purchases
            # Before the pool and Redis close: ledger writes whose client left still finish.
            stack.push_async_callback(_close_within, "flash purchases", purchases.drain, None)
            if settings.flash_reconcile_interval_seconds > 0:
                reconciler = HoldReconciler(
                    flash_sales,
                    interval=settings.flash_reconcile_interval_seconds,
                    grace=settings.flash_hold_grace_seconds,
                )
                reconciler.start()
                stack.push_async_callback(_close_within, "flash hold reconciler", reconciler.stop, None)
            scheduler = SaleScheduler(flash_sales, interval=settings.flash_scheduler_interval)
            scheduler.start()
            stack.push_async_callback(_close_within, "flash-sale scheduler", scheduler.stop, None)
            campaigns = Campaigns(pool, clock=clock, prices_moved=products.invalidate, reads=reads)
            app.state.campaigns = campaigns
            campaign_scheduler = CampaignScheduler(campaigns, interval=settings.campaign_scheduler_interval)
            campaign_scheduler.start()
            stack.push_async_callback(_close_within, "campaign scheduler", campaign_scheduler.stop, None)
            app.state.campaign_scheduler = campaign_scheduler
            app.state.analytics = Analytics(reads)
            if settings.rollup_interval > 0:
                rollups = RollupJob(pool, interval=settings.rollup_interval)
                rollups.start()
                stack.push_async_callback(_close_within, "analytics rollups", rollups.stop, None)
            if settings.retention_interval > 0:
                lifecycle = LifecycleJob(pool, settings)
                lifecycle.start()
                stack.push_async_callback(_close_within, "data lifecycle", lifecycle.stop, None)
            if settings.guardrail_interval_seconds > 0:
                guardrail = GuardrailChecker(
                    pool, redis, interval=settings.guardrail_interval_seconds, changed=config_store.changed
                )
                guardrail.start()
                stack.push_async_callback(_close_within, "guardrail checker", guardrail.stop, None)
            reservations = Reservations(
                pool,
                max_units_per_product=settings.max_held_units_per_product,
                max_reservations=settings.max_active_reservations,
                clock=quote_clock,
            )
            app.state.reservations = reservations
            app.state.quote_clock = quote_clock
            if settings.reservation_sweep_interval_seconds > 0:
                sweeper = ReservationSweeper(reservations, interval=settings.reservation_sweep_interval_seconds)
                sweeper.start()
                stack.push_async_callback(_close_within, "reservation sweeper", sweeper.stop, None)
            app.state.webhook_dispatcher = None
            if settings.webhook_poll_interval > 0:
                webhooks = WebhookDispatcher(pool, settings)
                webhooks.start()
                stack.push_async_callback(_close_within, "webhook dispatcher", webhooks.stop, None)
                app.state.webhook_dispatcher = webhooks

            def admin_token(user_id: uuid.UUID) -> str:
                return credentials.issue_token(
                    settings, user_id=user_id, role="admin", tier=None, segment=None, now=utcnow()
                )

            async def apply_due_changes() -> None:
                await changes.apply_due(app, pool, admin_token, utcnow())

            # Approved change requests whose apply_at has come (docs/governance.md).
            change_loop = Every("change-requests", settings.change_apply_interval, apply_due_changes)
            change_loop.start()
            stack.push_async_callback(_close_within, "change requests", change_loop.stop, None)
            coupon_repairs = CouponCounterRepairs(pool, redis)
            coupon_repairs.start()
            stack.push_async_callback(_close_within, "coupon counter repairs", coupon_repairs.stop, None)
            app.state.quotes = QuoteService(
                settings,
                config_store=config_store,
                products=products,
                store=quote_store,
                redis=redis,
                flash_sales=flash_sales,
                reservations=reservations,
                coupon_repairs=coupon_repairs,
                prior_prices=PriorPrices(pool),
                clock=quote_clock,
            )
            app.state.simulations = Simulations(reads, app.state.quotes.defaults)
            stack.push_async_callback(_close_within, "simulations", app.state.simulations.stop, None)
            intelligence = Intelligence(
                settings, pool, redis, clock=clock, prices_moved=products.invalidate, reads=reads
            )
            app.state.intelligence = intelligence
            evaluator = SignalEvaluator(pool, window_hours=settings.market_window_hours)
            # Background work of market intelligence: the stream consumer (one per process, one
            # consumer group), the incremental demand job, the optional decision schedule.
            consumer = StreamConsumer(
                redis, pool, signals=evaluator, replay_lease_seconds=settings.ingest_replay_after_seconds
            )
            consumer.start()
            stack.push_async_callback(_close_within, "competitor-price consumer", consumer.stop, None)
            demand_job = DemandJob(pool, evaluator)
            demand_job.start()
            stack.push_async_callback(_close_within, "demand job", demand_job.stop, None)
            if settings.decision_interval_minutes:
                decisions = DecisionScheduler(intelligence, minutes=settings.decision_interval_minutes)
                decisions.start()
                stack.push_async_callback(_close_within, "decision scheduler", decisions.stop, None)
            if app.openapi_config is not None and "openapi_schema" not in app.state:
                # Litestar's cached document, completed in place: /openapi.json and /docs agree. Once
                # an app: the routes do not change when the same app is started again (tests do).
                openapi: Any = app.plugins.get("OpenAPIPlugin")
                app.state.openapi_schema = document_ofrep(complete_openapi(openapi.provide_openapi_schema(), app))
            # The snapshot was loaded before everything above started (a second or more under load):
            # a configuration committed meanwhile must not wait for the first version check, or a
            # worker that has just started answers with a configuration older than its start.
            await config_store.catch_up()
            # Everything built so far (modules, routes, schemas, the snapshot) lives as long as the
            # process: exempt it from garbage collection, or every full collection under load
            # re-traverses it (100-300 ms pauses: the quote path's p99). A young generation of 10,000
            # instead of 700 objects: under granian the default ran a collection every ~8 requests
            # (~30 µs per request); the request path makes little cyclic garbage to wait for.
            # Once a process: one that starts apps again (the tests start one per test) would
            # otherwise freeze every stopped app's cycles (pools, tasks, caches) for good, ~11 MB a
            # start, and pay a full collection of an ever larger heap each time.
            if not gc.get_freeze_count():
                gc.collect()
                gc.freeze()
            gc.set_threshold(10_000, 10, 10)
            log.info("started", environment=settings.environment)
            yield

    def from_state(name: str) -> Provide:
        def provide(state: State) -> Any:
            return state[name]

        return Provide(provide, sync_to_thread=False)

    app = Litestar(
        route_handlers=[
            health,
            ready,
            metrics_endpoint,
            *([openapi_json] if settings.serves_docs else []),
            AuthController,
            ProductController,
            CommissionRateController,
            PricingRuleController,
            FeatureFlagController,
            OfrepController,
            CouponController,
            PriceListController,
            PromotionController,
            AuditController,
            ChangeRequestController,
            snapshot_status,
            OrderController,
            StatementController,
            FlashSaleController,
            MarketIntelligenceController,
            RepricingController,
            CampaignController,
            AnalyticsController,
            ExperimentController,
            SimulationController,
            create_quote,
            get_quote,
            get_product_price,
            display_prices,
            get_reservation,
            release_reservation,
            dashboard_summary,
            WebhookController,
            *PAGE_ROUTES,
        ],
        template_config=template_config,
        lifespan=[lifespan],
        dependencies={
            "pool": from_state("pool"),
            "admin_pool": ADMIN_POOL,
            "redis": from_state("redis"),
            "auth": from_state("auth"),
            "config_store": from_state("config_store"),
            "product_cache": from_state("product_cache"),
            "quote_store": from_state("quote_store"),
            "quotes": from_state("quotes"),
            "flash_sales": from_state("flash_sales"),
            "purchases": from_state("purchases"),
            "intelligence": from_state("intelligence"),
            "campaigns": from_state("campaigns"),
            "analytics": from_state("analytics"),
            "simulations": from_state("simulations"),
            "reservations": from_state("reservations"),
            "read_pools": from_state("read_pools"),
            "read_pool": Provide(_read_pool, sync_to_thread=False),
            "settings": Provide(lambda: settings, sync_to_thread=False, use_cache=True),
        },
        middleware=[DefineMiddleware(AuthMiddleware, exclude=PUBLIC_PATHS)],
        # Money as strings or, asked for, as numbers (X-Money-Format, an API key's money_format).
        response_class=MoneyResponse,
        before_request=check_money_format,
        exception_handlers={**EXCEPTION_HANDLERS, changes.ChangeRequested: handle_change_requested},
        request_max_body_size=MAX_BODY_BYTES,
        request_class=ExactRequest,
        logging_config=None,  # structlog is configured in observability/logging.py
        plugins=[DecodedTypes()],
        openapi_config=OpenAPIConfig(
            title="quote-service",
            version=__version__,
            description=(
                "Prices e-commerce baskets: quotes, commissions, rules, flags, flash sales. Money is a "
                'decimal string ("51.00"); send X-Money-Format: number for JSON numbers with the same digits.'
            ),
            path="/docs",
            render_plugins=[LocalSwaggerUI()],
        )
        if settings.serves_docs
        else None,
        signature_types=[
            Pool,
            Redis,
            RedisCluster,
            AuthService,
            Settings,
            ConfigStore,
            ProductCache,
            QuoteStore,
            QuoteService,
            FlashSales,
            Purchases,
            Intelligence,
            Campaigns,
            Analytics,
            ReadPools,
            Reservations,
        ],
        debug=False,
    )
    app.state.body_read_timeout = settings.body_read_timeout
    # Wrap the whole handler, not a route: unknown routes and 405s get the request id too. The
    # lean edge sits outside it and gives the requests it answers the same request id, access
    # log, metrics, trace name and security headers itself (edge.py); the rest it hands inside.
    app.asgi_handler = LeanEdge(
        RequestContextMiddleware(OptionsResponder(app.asgi_handler, app)), app, max_body=MAX_BODY_BYTES
    )
    if tracer_provider is not None:
        # Outermost, so the server span is current for everything, the access log line included
        # (RequestContextMiddleware names it by route template once routing has happened).
        traced = OpenTelemetryMiddleware(
            app.asgi_handler,
            excluded_urls="/health,/metrics",
            tracer_provider=tracer_provider,
            exclude_spans=["receive", "send"],
        )
        app.asgi_handler = cast("ASGIApp", traced)
    trusted = settings.trusted_proxy_networks()
    if trusted or settings.hsts_max_age:
        # Outermost of all: every layer inside (traces, logs, the pages' cookies, the login
        # throttle) sees the scheme and client address a trusted proxy reported.
        app.asgi_handler = ProxyHeaders(app.asgi_handler, trusted=trusted, hsts_max_age=settings.hsts_max_age)
    return app
