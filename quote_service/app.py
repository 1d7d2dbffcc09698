"""create_app(): the stores' lifespan, the domains (`DOMAINS`, each its own `plugin.py`), the edge, OpenAPI."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import AsyncIterator, Callable
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
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from quote_service import __version__
from quote_service.accounts.domain import AUTH
from quote_service.analytics.plugin import ANALYTICS
from quote_service.audit.openapi import document_change_requests
from quote_service.audit.plugin import AUDIT
from quote_service.auth.middleware import PUBLIC_PATHS, AuthMiddleware
from quote_service.background import Every
from quote_service.cache.lean_redis import close_lean
from quote_service.cache.redis import RedisClient, create_redis
from quote_service.campaigns.plugin import CAMPAIGNS
from quote_service.catalog.plugin import CATALOG
from quote_service.checkout_sessions.openapi import document_agent_protocols
from quote_service.checkout_sessions.plugin import CHECKOUT_SESSIONS
from quote_service.clock import utcnow
from quote_service.commissions.plugin import COMMISSIONS
from quote_service.config import Settings
from quote_service.coupons.plugin import COUPONS
from quote_service.db.pool import Pool, create_pool, open_pool
from quote_service.db.replica import ReadPools, ReplicaSampler
from quote_service.edge import LeanEdge
from quote_service.embedded import embedded_stores
from quote_service.extensions.plugin import EXTENSIONS
from quote_service.flags.plugin import FLAGS
from quote_service.flash_sales.plugin import FLASH_SALES
from quote_service.fx.plugin import FX
from quote_service.health import health, ready
from quote_service.installments.plugin import INSTALLMENTS
from quote_service.intelligence.plugin import INTELLIGENCE
from quote_service.lifecycle.plugin import LIFECYCLE
from quote_service.observability import gc_pauses, metrics, stages
from quote_service.observability.logging import configure_logging
from quote_service.observability.tracing import configure_tracing, shutdown_tracing
from quote_service.offers.plugin import OFFERS
from quote_service.ofrep.openapi import document_ofrep
from quote_service.ofrep.plugin import OFREP
from quote_service.order_edits.plugin import ORDER_EDITS
from quote_service.orders.plugin import FLASH_PURCHASES, ORDERS
from quote_service.pages.controller import template_config
from quote_service.pages.plugin import PAGES
from quote_service.pagination import Listing, page_query
from quote_service.payouts.plugin import PAYOUTS
from quote_service.price_lists.plugin import PRICE_LISTS
from quote_service.promotions.plugin import PROMOTIONS
from quote_service.quotes.plugin import QUOTE_STORE, QUOTES
from quote_service.repricing.plugin import REPRICING
from quote_service.reservations.plugin import RESERVATIONS
from quote_service.rules.plugin import RULES
from quote_service.sellers.plugin import SELLERS
from quote_service.shipping.plugin import SHIPPING
from quote_service.simulations.plugin import SIMULATIONS
from quote_service.snapshot.plugin import SNAPSHOT
from quote_service.statements.plugin import STATEMENTS
from quote_service.web.deps import PageDep, ReadPoolDep
from quote_service.web.docs import LocalSwaggerUI
from quote_service.web.domain import Domain, Domains, Startup, close_within, from_state
from quote_service.web.errors import EXCEPTION_HANDLERS
from quote_service.web.metrics import metrics as metrics_endpoint
from quote_service.web.middleware import RequestContextMiddleware
from quote_service.web.money_format import MoneyResponse, check_money_format
from quote_service.web.openapi import DecodedTypes, complete_openapi
from quote_service.web.options import OptionsResponder
from quote_service.web.proxy import ProxyHeaders
from quote_service.web.request import MAX_BODY_BYTES, ExactRequest
from quote_service.web.starting import DomainStarter, StartingGate
from quote_service.webhooks.plugin import WEBHOOKS

log = structlog.get_logger("quote_service.app")

DOMAINS: list[Domain] = [
    AUTH,
    SNAPSHOT,  # before everything that prices or reads configuration
    CATALOG,
    COMMISSIONS,
    RULES,
    FLAGS,
    OFREP,
    COUPONS,
    PRICE_LISTS,
    PROMOTIONS,
    SHIPPING,
    FX,
    OFFERS,
    INSTALLMENTS,
    EXTENSIONS,
    QUOTE_STORE,  # early: it drains into the pool and Redis, so it stops after everything later
    ORDERS,
    STATEMENTS,
    SELLERS,
    PAYOUTS,
    FLASH_SALES,
    REPRICING,
    CAMPAIGNS,
    ANALYTICS,
    LIFECYCLE,
    RESERVATIONS,
    WEBHOOKS,
    AUDIT,
    QUOTES,  # after every domain it combines (snapshot, catalog, quote store, flash sales, reservations)
    ORDER_EDITS,  # after quotes: an edit prices its additions as a quote; orders record its configuration
    FLASH_PURCHASES,  # after quotes: a purchase is priced as a quote; it drains before the pool and Redis close
    CHECKOUT_SESSIONS,  # after flash purchases: a session prices as a quote and completes as an order
    SIMULATIONS,  # after quotes: it prices with the quote path's defaults
    INTELLIGENCE,
    PAGES,
]
"""Every domain of the app, in start order (each stops before those started earlier): its routes,
dependencies and loops are declared in its own `plugin.py` (docs/architecture.md#domains)."""


@get("/openapi.json", exclude_from_auth=True, include_in_schema=False)
async def openapi_json(state: State) -> dict[str, Any]:
    schema: dict[str, Any] = state.openapi_schema
    return schema


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
    stack.push_async_callback(close_within, "replica pool", replica.close, replica.terminate)
    reads = ReadPools(primary, replica, max_lag=settings.replica_max_lag_seconds)
    sampler = ReplicaSampler(reads)
    await sampler.sample()
    sampler.start()
    stack.push_async_callback(close_within, "replica sampler", sampler.stop, None)
    return reads


def _read_pool(state: State) -> Pool:
    """A request's pool for stale-tolerant reads (the `read_pool` parameter; docs/deployment.md)."""
    reads: ReadPools = state.read_pools
    return reads.for_read()


def _listing(read_pool: ReadPoolDep, page: PageDep) -> Listing:
    """A list handler's page and the pool it reads it from (the `listing` parameter)."""
    return Listing(read_pool, page)


async def _open_stores(
    app: Litestar, settings: Settings, stack: contextlib.AsyncExitStack, *, traced: bool
) -> tuple[Pool, RedisClient, ReadPools]:
    """The process's metrics and tracing, then the stores every domain shares: the pool, Redis and
    the read pools (closed last, after every domain has stopped). None of them needs its server
    to answer now (web/starting.py)."""
    metrics.forget_dead_workers()
    stack.callback(metrics.worker_exited, os.getpid())
    # Last but one: what the final requests counted in integers reaches the series (deferred.py).
    stack.callback(stages.flush)
    if traced:
        stack.callback(shutdown_tracing)
    database_url, redis_url = settings.database_url, settings.redis_url
    if database_url is None or redis_url is None:
        urls = stack.enter_context(
            embedded_stores(settings.home, need_database=database_url is None, need_redis=redis_url is None)
        )
        database_url = database_url or urls.database_url
        redis_url = redis_url or urls.redis_url
    pool = await open_pool(
        database_url,
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        acquire_timeout=settings.db_acquire_timeout,
        statement_timeout=settings.db_statement_timeout,
        lock_timeout=settings.db_lock_timeout,
        server_settings=settings.database_session(),
    )
    stack.push_async_callback(close_within, "postgres pool", pool.close, pool.terminate)
    redis = create_redis(redis_url, cluster=settings.redis_cluster)
    stack.push_async_callback(close_within, "redis client", redis.aclose, None)
    stack.callback(close_lean, redis)  # the hot path's pipelined connection (cache/lean_redis.py), first
    app.state.pool = pool
    reads = await _read_pools(settings, pool, stack)
    app.state.read_pools = reads
    # Published once now, then every second: a scrape in the first second sees the pool too.
    metrics.record_pool(pool.get_size(), pool.get_idle_size(), settings.db_pool_max_size)
    watcher = _pool_watcher(pool, settings.db_pool_max_size)
    watcher.start()
    stack.push_async_callback(watcher.stop)
    app.state.redis = redis
    return pool, redis, reads


def _document(app: Litestar) -> None:
    """The OpenAPI document, built first thing in a start, before any store is opened or any loop runs.

    Building it holds the event loop for seconds (2-3 s of CPU for ~180 operations on a 2-core box). Built
    once the domains had started, as it was, that stall fell on their loops' first passes: a configuration
    reload, a cache drain or a stale-flag pass waiting for a pool connection timed out (DB_ACQUIRE_TIMEOUT,
    1 s) on most starts, logged as `config_reload_failed` with a traceback. Nothing waits on a timer yet here.
    Litestar's cached document, completed in place: /openapi.json and /docs agree. Once an app: the routes
    do not change when the same app is started again (tests do)."""
    if app.openapi_config is not None and "openapi_schema" not in app.state:
        openapi: Any = app.plugins.get("OpenAPIPlugin")
        completed = complete_openapi(openapi.provide_openapi_schema(), app)
        app.state.openapi_schema = document_agent_protocols(document_ofrep(document_change_requests(completed, app)))


async def _ready(app: Litestar, settings: Settings) -> None:
    """The last steps of a start, once every domain has started."""
    # The snapshot was loaded before everything above started (a second or more under load):
    # a configuration committed meanwhile must not wait for the first version check, or a
    # worker that has just started answers with a configuration older than its start.
    await app.state.config_store.catch_up()
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
    gc_pauses.watch()  # what each collection costs from here on: qs_gc_pause_seconds
    log.info("started", environment=settings.environment)


def _openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="quote-service",
        version=__version__,
        description=(
            "Prices e-commerce baskets: quotes, commissions, rules, flags, flash sales. Money is a "
            'decimal string ("51.00"); send X-Money-Format: number for JSON numbers with the same digits.'
        ),
        path="/docs",
        render_plugins=[LocalSwaggerUI()],
    )


def _wrap_edge(app: Litestar, settings: Settings, tracer_provider: TracerProvider | None) -> None:
    """The layers around Litestar's handler: the lean edge, tracing, trusted proxies."""
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
    domains = Domains(DOMAINS)
    starter = DomainStarter()

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        _document(app)  # first: its seconds of CPU stall nothing that has started (`_document`)
        async with contextlib.AsyncExitStack() as stack:
            pool, redis, reads = await _open_stores(app, settings, stack, traced=tracer_provider is not None)

            async def start(stops: contextlib.AsyncExitStack) -> None:
                await domains.start(Startup(app, settings, pool, redis, reads, stops, clock, quote_clock))
                await _ready(app, settings)

            stack.push_async_callback(starter.stop)
            await starter.begin(app.state, start)  # stores away: serves 503s, starts once they answer
            yield

    app = Litestar(
        # The stores' and the process's routes; each domain adds its own (`domains`).
        route_handlers=[health, ready, metrics_endpoint, *([openapi_json] if settings.serves_docs else [])],
        template_config=template_config,
        lifespan=[lifespan],
        dependencies={
            **{name: from_state(name) for name in ("pool", "redis", "read_pools")},
            "read_pool": Provide(_read_pool, sync_to_thread=False),
            "page": Provide(page_query, sync_to_thread=False),
            "listing": Provide(_listing, sync_to_thread=False),
            "settings": Provide(lambda: settings, sync_to_thread=False, use_cache=True),
        },
        signature_types=[Pool, Redis, RedisCluster, ReadPools, Settings],
        middleware=[
            DefineMiddleware(StartingGate, starter=starter),  # 503s until the domains have started
            DefineMiddleware(AuthMiddleware, exclude=PUBLIC_PATHS),
        ],
        # Money as strings or, asked for, as numbers (X-Money-Format, an API key's money_format).
        response_class=MoneyResponse,
        before_request=check_money_format,
        exception_handlers=dict(EXCEPTION_HANDLERS),
        request_max_body_size=MAX_BODY_BYTES,
        request_class=ExactRequest,
        logging_config=None,  # structlog is configured in observability/logging.py
        plugins=[DecodedTypes(), domains],
        openapi_config=_openapi_config() if settings.serves_docs else None,
        debug=False,
    )
    app.state.body_read_timeout = settings.body_read_timeout
    app.state.startup = starter  # /health/ready reports it
    _wrap_edge(app, settings, tracer_provider)
    return app
