"""Settings, read from the environment once.

Every field has a safe development default; `Settings.from_env()` is the only place that
reads `os.environ`. Production refuses the development `SECRET_KEY`, and `serve` refuses to
start without one unless development was asked for (`require_secret_key_to_serve`).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

import msgspec

from quote_service.pricing.fx_convert import ending_problem
from quote_service.pricing.local_time import zone_problem
from quote_service.pricing.money import is_currency
from quote_service.structs import Frozen
from quote_service.validation import QUOTE_LINES_CEILING

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me-0123456789"  # noqa: S105 - refused in production
SUPPORTED_ALGORITHMS = ("HS256", "HS384", "HS512")
_FIELD_PATH = re.compile(r" - at `\$\.(\w+)`$")
PAYOUT_MAX_AHEAD_CEILING = 100 * 366 * 86_400
"""The widest PAYOUT_MAX_AHEAD_SECONDS: 100 years (a simulated cycle far enough, and now + it a date)."""


class ConfigError(Exception):
    """A setting is missing, malformed or unsafe; the service must not start."""


class Settings(Frozen):
    """Process-wide configuration. Field docs name the environment variable."""

    database_url: str | None = None
    """DATABASE_URL: PostgreSQL DSN. Unset: an embedded PostgreSQL under `home` (refused in production)."""
    database_replica_url: str | None = None
    """DATABASE_REPLICA_URL: a streaming replica of DATABASE_URL for reads that may be a little stale
    (analytics, experiments, market reads, admin lists); unset: every read goes to DATABASE_URL."""
    replica_max_lag_seconds: float = 5.0
    """REPLICA_MAX_LAG_SECONDS: while the replica's measured lag is above this (or it is down), its
    reads go to the primary instead."""
    redis_url: str | None = None
    """REDIS_URL: Redis URL. Unset: an embedded Redis under `home` (refused in production)."""
    redis_cluster: bool = False
    """REDIS_CLUSTER: REDIS_URL names one node of a Redis Cluster (as does a `redis+cluster://` URL)."""
    home: Path = Path(".quote-service")
    """QUOTE_SERVICE_HOME: where the embedded servers keep their data."""
    quote_log_spool_dir: Path | None = None
    """QUOTE_LOG_SPOOL_DIR: the local directory where every process appends its answered quotes'
    quote-log rows before answering, until PostgreSQL holds them; what a killed process (or one
    stopped while PostgreSQL was down) leaves there is written by the next process of the same
    database. Keep it on a disk that outlives the process (a volume in a container); unset:
    `QUOTE_SERVICE_HOME/quote-log-spool`."""
    secret_key: str = DEV_SECRET_KEY
    """SECRET_KEY: JWT signing key (at least 32 characters outside development)."""
    algorithm: str = "HS256"
    """ALGORITHM: the only JWT algorithm accepted (HS256, HS384 or HS512)."""
    access_token_expire_minutes: int = 60
    """ACCESS_TOKEN_EXPIRE_MINUTES: lifetime of an issued token."""
    cancel_window_minutes: int = 30
    """CANCEL_WINDOW_MINUTES: how long after placing it a user or service key may cancel its order."""
    order_edit_window_minutes: int = 60
    """ORDER_EDIT_WINDOW_MINUTES: how long after placing it a shopper may edit its own confirmed order
    (admins and service keys: any time while it is not cancelled or fully refunded)."""
    order_edit_preview_seconds: int = 900
    """ORDER_EDIT_PREVIEW_SECONDS: how long an order edit's preview may be committed (then 410 EDIT_EXPIRED)."""
    payout_max_ahead_seconds: int = 300
    """PAYOUT_MAX_AHEAD_SECONDS: how far past now a payout run's `as_of` may be (0 to 100 years); a later one is
    refused (422 naming `as_of`). A staging deployment that simulates payout cycles widens it."""
    quote_timeout: float = 2.0
    """QUOTE_TIMEOUT: seconds a quote may take before it is answered 504."""
    quote_validity_seconds: int = 900
    """QUOTE_VALIDITY_SECONDS: how long a quote stays orderable (`valid_until` = now + this), and so
    how long a reserving quote (`reserve_stock`) holds its units."""
    checkout_session_ttl: int = 21_600
    """CHECKOUT_SESSION_TTL: seconds an agent's checkout session lives (`expires_at`; then 410 session_expired);
    its quotes live QUOTE_VALIDITY_SECONDS each and are priced again as they expire (docs/agents.md)."""
    checkout_default_country: str = "TR"
    """CHECKOUT_DEFAULT_COUNTRY: the country a checkout session's lines are priced for before it has an
    address (docs/agents.md)."""
    business_timezone: str = "UTC"
    """BUSINESS_TIMEZONE: the IANA time zone the business keeps its days in (`Europe/Istanbul`): the
    wall clock of TIME_WINDOW rules without a `timezone`, and the days of analytics, statements and
    the dashboard when a request names no `tz` (docs/time-zones.md)."""
    max_quote_lines: int = 200
    """MAX_QUOTE_LINES: the most items one quote may have (1 to 5,000); beyond → 422 naming `items`."""
    max_concurrent_quotes: int = 256
    """MAX_CONCURRENT_QUOTES: quotes in flight per process before 503."""
    recent_quotes_max_bytes: int = 32 * 1024 * 1024
    """RECENT_QUOTES_MAX_BYTES: the most memory a process's recent-quote cache (identical requests answered
    with the same quote) may hold: each quote's request, inputs and JSON; the oldest quotes go first. 0: off."""
    max_concurrent_simulations: int = 1
    """MAX_CONCURRENT_SIMULATIONS: what-if simulations running at once per process before 429 (each
    prices on the event loop that serves quotes: docs/governance.md#what-if-simulations)."""
    rate_limit_per_minute: int = 6000
    """RATE_LIMIT_PER_MINUTE: requests per client identity before 429."""
    login_attempts_per_username: int = 10
    """LOGIN_ATTEMPTS_PER_USERNAME: failed logins on one account per window before 429."""
    login_attempts_per_address: int = 30
    """LOGIN_ATTEMPTS_PER_ADDRESS: failed logins from one client address per window before 429."""
    login_window_seconds: int = 300
    """LOGIN_WINDOW_SECONDS: length of the login-attempt windows (fixed, from the first attempt)."""
    login_concurrency: int = 0
    """LOGIN_CONCURRENCY: password verifications at once per process; 0: one per CPU (`serve`
    sets it to CPUs ÷ workers for its worker processes)."""
    change_approval: Literal["off", "required"] = "off"
    """CHANGE_APPROVAL: `required` turns admin writes of rates, rules, flags, coupons, promotions
    and price lists, and the writes that make an admin (an admin user or API key, the admin
    role), into change requests that another person approves (docs/governance.md)."""
    change_apply_interval: float = 5.0
    """CHANGE_APPLY_INTERVAL: seconds between looks for approved change requests to apply (their
    `apply_at` has come, or they are still to apply: their approving process died, or applying
    failed for a passing reason)."""
    fx_conversion: bool = False
    """FX_CONVERSION: a line with no price in the quote's currency is priced from its catalog price converted
    at the rate in force (docs/currencies.md); false: such a line is 422 CURRENCY_NOT_PRICED."""
    fx_price_endings: str = ""
    """FX_PRICE_ENDINGS: a JSON object, per currency, of the ending a converted unit price is lifted to:
    `whole` (the next whole unit) or a fraction such as `0.99`, e.g. `{"JPY": "whole", "EUR": "0.99"}`."""
    default_tax_rate: Decimal = Decimal("18")
    """DEFAULT_TAX_RATE: tax percent when no TAX_RATE rule matches."""
    rounding_mode: Literal["HALF_UP", "HALF_EVEN", "HALF_DOWN"] = "HALF_UP"
    """ROUNDING_MODE: how a tax is rounded to the currency's minor unit (docs/taxes.md#rounding-modes);
    a price list may set its own."""
    tax_calculation: Literal["LINE", "UNIT", "INVOICE"] = "LINE"
    """TAX_CALCULATION: LINE (tax on the line, rounded once), UNIT (tax on one unit, rounded, x quantity) or
    INVOICE (per tax code and rate on the sum of the lines, rounded once, given back by largest remainder)."""
    default_delivery_fee: Decimal = Decimal("10.00")
    """DEFAULT_DELIVERY_FEE: standard delivery fee when no DELIVERY_FEE rule matches, in DEFAULT_CURRENCY."""
    default_currency: str = "TRY"
    """DEFAULT_CURRENCY: the currency of DEFAULT_DELIVERY_FEE and the small-basket defaults (and of a
    fee rule without `currency`); a quote in another currency pays only fee rules priced in its own."""
    catalog_prices_include_tax: bool = False
    """CATALOG_PRICES_INCLUDE_TAX: a product created without `prices_include_tax` holds gross prices
    (tax included) when true, net prices (tax added) when false."""
    default_commission_rate: Decimal = Decimal("15")
    """DEFAULT_COMMISSION_RATE: commission percent when no rate matches."""
    commission_tax_rate: Decimal = Decimal("0")
    """COMMISSION_TAX_RATE: the tax (VAT) percent the platform charges the seller on its commission,
    per order line, rounded once per line; reversed with the commission on refunds."""
    max_discount_percentage: Decimal = Decimal("50")
    """MAX_DISCOUNT_PERCENTAGE: cap on all coupon discounts, percent of goods."""
    log_level: str = "INFO"
    """LOG_LEVEL: DEBUG, INFO, WARNING or ERROR."""
    log_format: Literal["json", "console"] | None = None
    """LOG_FORMAT: json or console; unset: console on a terminal, json otherwise."""
    otel_exporter_otlp_endpoint: str | None = None
    """OTEL_EXPORTER_OTLP_ENDPOINT: OTLP endpoint; unset: tracing is off."""
    metrics_public: bool = False
    """METRICS_PUBLIC: serve /metrics without admin credentials."""
    environment: Literal["development", "production"] = "development"
    """ENVIRONMENT: development or production (production refuses unsafe defaults)."""
    db_pool_min_size: int = 2
    """DB_POOL_MIN_SIZE: connections the pool keeps open."""
    db_pool_max_size: int = 10
    """DB_POOL_MAX_SIZE: most connections the pool opens per process."""
    db_acquire_timeout: float = 1.0
    """DB_ACQUIRE_TIMEOUT: seconds a request waits for a pool connection before 503."""
    db_statement_timeout: float = 5.0
    """DB_STATEMENT_TIMEOUT: seconds one SQL statement may run before it is cancelled (503)."""
    db_lock_timeout: float = 1.0
    """DB_LOCK_TIMEOUT: seconds one SQL statement may wait for a lock before it is cancelled (503)."""
    trusted_proxies: str = ""
    """TRUSTED_PROXIES: comma-separated IP addresses or CIDR networks of the reverse proxies in front
    of the service (`10.0.0.0/8,127.0.0.1`). Only a request whose TCP peer is one of them has its
    `Forwarded` / `X-Forwarded-For` / `X-Forwarded-Proto` headers believed (scheme and client
    address: the session cookie's `Secure`, the login throttle's address); unset: nobody's."""
    hsts_max_age: int = 0
    """HSTS_MAX_AGE: seconds of `Strict-Transport-Security` sent on every https answer (https as
    the connection or a trusted proxy says); 0: no such header."""
    body_read_timeout: float = 10.0
    """BODY_READ_TIMEOUT: seconds a client has to send a request's whole body before a 408 (and
    the connection closed): a trickled body would otherwise hold a connection open."""
    docs_enabled: bool | None = None
    """DOCS_ENABLED: serve /docs and /openapi.json; unset: on in development, off in production."""
    flash_scheduler_interval: float = 1.0
    """FLASH_SCHEDULER_INTERVAL: seconds between the flash-sale scheduler's passes (lifecycle by the
    clock, background summaries). Status shown and enforced follows the clock regardless."""
    shutdown_timeout_seconds: float = 30.0
    """SHUTDOWN_TIMEOUT_SECONDS: `serve` gives its workers this long to stop gracefully after the
    first SIGINT/SIGTERM, then kills them (a second signal kills them at once); 0 = no limit."""
    flash_reconcile_interval_seconds: float = 30.0
    """FLASH_RECONCILE_INTERVAL_SECONDS: seconds between the flash-sale hold reconciler's passes
    (units a failed undo left taken in Redis go back); 0 turns it off in this process."""
    flash_hold_grace_seconds: float = 60.0
    """FLASH_HOLD_GRACE_SECONDS: a hold (units taken in Redis, not yet in the ledger) older than
    this is judged by the reconciler. Keep it well above a purchase's own bounds (5 s for a connection,
    then its order's and ledger row's statements, each within DB_STATEMENT_TIMEOUT): a purchase still
    writing past it is refused (503), never oversold."""
    max_held_units_per_product: int = 10
    """MAX_HELD_UNITS_PER_PRODUCT: units of one product that one customer may hold at once, across all
    its reserving quotes (`reserve_stock`), whoever asks for it; beyond → 409 HOLD_LIMIT_EXCEEDED."""
    max_active_reservations: int = 3
    """MAX_ACTIVE_RESERVATIONS: live (held, unexpired) stock reservations one customer may have at
    once; beyond → 409 HOLD_LIMIT_EXCEEDED (a checkout moves its hold with `replaces_quote_id`)."""
    reservation_sweep_interval_seconds: float = 1.0
    """RESERVATION_SWEEP_INTERVAL_SECONDS: seconds between the reservation sweeper's passes (stock
    reservations past their expiry are closed as expired; their units stopped counting at the
    expiry itself); 0 turns it off in this process."""
    decision_interval_minutes: int = 0
    """DECISION_INTERVAL_MINUTES: run pricing decisions for every active product this often
    (proposals only, never auto-applied); 0 turns the schedule off."""
    min_margin: float = 0.05
    """MIN_MARGIN: decisions never price below cost * (1 + MIN_MARGIN) (a fraction: 0.05 = 5 %)."""
    max_margin: float = 0.30
    """MAX_MARGIN: decisions never price above cost * (1 + MAX_MARGIN)."""
    max_price_change_percent: float = 10.0
    """MAX_PRICE_CHANGE_PERCENT: the most one decision moves a price, in percent of it."""
    min_price_change_percent: float = 1.0
    """MIN_PRICE_CHANGE_PERCENT: a decision moving the price less than this is `skipped`."""
    market_window_hours: int = 72
    """MARKET_WINDOW_HOURS: competitor observations older than this are not the market."""
    ingest_replay_after_seconds: float = 60.0
    """INGEST_REPLAY_AFTER_SECONDS: an accepted competitor observation that no consumer has
    finished this long after its 202 (Redis lost it, or it is stuck) is finished from PostgreSQL."""
    elasticity_window_days: int = 90
    """ELASTICITY_WINDOW_DAYS: days of orders the elasticity fit reads."""

    max_markup_percent: Decimal = Decimal("50")
    """MAX_MARKUP_PERCENT: automatic price moves (inventory repricing) never go above
    base_price x (1 + this / 100)."""
    seller_price_change_approval_percent: Decimal = Decimal("30")
    """SELLER_PRICE_CHANGE_APPROVAL_PERCENT: a seller's move of current_price or base_price by more
    than this percent from any price its own moves gave it within SELLER_PRICE_CHANGE_WINDOW_HOURS
    (since an admin last set or approved it) is a change request an admin approves (docs/sellers.md)."""
    seller_price_change_window_hours: int = 24
    """SELLER_PRICE_CHANGE_WINDOW_HOURS: how far back a seller's own price moves count towards
    SELLER_PRICE_CHANGE_APPROVAL_PERCENT (several small steps are one big move); 0: each step alone."""
    min_seller_margin_percent: Decimal = Decimal("0")
    """MIN_SELLER_MARGIN_PERCENT: a seller's min_price is at least cost_price x (1 + this / 100)
    when the product has a cost (docs/sellers.md)."""
    campaign_scheduler_interval: float = 1.0
    """CAMPAIGN_SCHEDULER_INTERVAL: seconds between the campaign scheduler's passes (each
    campaign moves once per hour of its own; a pass only finds the hours that are due)."""
    rollup_interval: float = 5.0
    """ROLLUP_INTERVAL: seconds between the analytics rollup job's passes; 0 turns the job off in
    this process (reports stay exact: hours not rolled up yet are computed live)."""
    guardrail_interval_seconds: float = 60.0
    """GUARDRAIL_INTERVAL_SECONDS: seconds between the experiment guardrail checker's passes (one
    process per pass across all of them); 0 turns the checker off in this process."""
    webhook_allow_private: bool = False
    """WEBHOOK_ALLOW_PRIVATE: let webhook URLs reach loopback and private addresses (refused
    otherwise, when a subscription is saved and again at every delivery); link-local and cloud
    metadata addresses are refused either way."""
    webhook_timeout: float = 5.0
    """WEBHOOK_TIMEOUT: seconds one webhook delivery attempt may take (connect to answer) before it
    counts as failed and is retried."""
    webhook_retry_schedule: str = "0,5,300,1800,7200,18000,36000,36000"
    """WEBHOOK_RETRY_SCHEDULE: seconds before each attempt of a delivery, counted from the attempt
    before (comma-separated; the first, 0, is the attempt made at once, and is put in front of a
    list that does not start with it). Each pause is stretched
    or shortened by up to 10 % (jitter); after the last attempt the delivery is `failed`. The
    default is Standard Webhooks' schedule: 8 attempts over about 27.6 hours."""
    webhook_disable_after_hours: float = 120.0
    """WEBHOOK_DISABLE_AFTER_HOURS: a subscription every attempt to which has failed for this long
    (no 2xx since) is disabled (`is_active` false, `disabled_reason`) and `webhook.disabled` is sent
    to the subscriptions that want it; 0 never disables one."""
    webhook_secret_overlap: float = 86_400.0
    """WEBHOOK_SECRET_OVERLAP: seconds after a secret rotation during which the previous secret
    still signs every delivery (beside the new one)."""
    webhook_poll_interval: float = 0.5
    """WEBHOOK_POLL_INTERVAL: seconds between the webhook sender's looks for due deliveries;
    0 turns the sender off in this process (events are still written)."""
    webhook_concurrency: int = 32
    """WEBHOOK_CONCURRENCY: deliveries one process sends at once, all subscriptions together."""
    webhook_endpoint_concurrency: int = 4
    """WEBHOOK_ENDPOINT_CONCURRENCY: deliveries one process sends at once to one subscription."""
    webhook_lease_seconds: float = 60.0
    """WEBHOOK_LEASE_SECONDS: a delivery a process took but never finished (the process died) is
    sent again by any process this long after it was taken; more than WEBHOOK_TIMEOUT."""
    webhook_retention_days: int = 30
    """WEBHOOK_RETENTION_DAYS: days a webhook delivery (and its event, a day longer) is kept; its
    day's partition is dropped after that (docs/data-lifecycle.md), never one holding a pending delivery."""
    stale_flag_days: float = 30.0
    """STALE_FLAG_DAYS: a feature flag served the same way to everyone (no variants; no percentage,
    or 0 or 100) and unchanged this many days is `potentially_stale` (unless `permanent`)."""
    stale_flag_interval: float = 60.0
    """STALE_FLAG_INTERVAL: seconds between the looks for flags that became potentially stale (each
    sends `flag.potentially_stale` once); 0 turns the look off in this process."""
    quote_log_retention_days: int = 90
    """QUOTE_LOG_RETENTION_DAYS: days the raw quote log (and so the flag exposures in it) is kept;
    the analytics rollups of older hours stay. 0 keeps it forever."""
    idempotency_retention_days: int = 30
    """IDEMPOTENCY_RETENTION_DAYS: days an Idempotency-Key's kept first answer (a success or a refusal,
    byte for byte) answers a retry (a day's partition goes once its last moment is this old; 0: forever).
    An order's own key stays with the order: past this, a retry gets the order as it is now."""
    stock_movement_retention_days: int = 365
    """STOCK_MOVEMENT_RETENTION_DAYS: days the stock-movement history is kept (0: forever)."""
    competitor_price_retention_days: int = 90
    """COMPETITOR_PRICE_RETENTION_DAYS: days a competitor price observation is kept, by when it was
    observed (0: forever); at least MARKET_WINDOW_HOURS, which the market reads look back over."""
    audit_log_retention_days: int = 0
    """AUDIT_LOG_RETENTION_DAYS: days the audit log is kept; 0 (the default) keeps it forever."""
    partition_days_ahead: int = 7
    """PARTITION_DAYS_AHEAD: days ahead the time partitions are created, so that writes never wait on
    the lifecycle job (one missed for days still writes into the default partition)."""
    retention_interval: float = 3600.0
    """RETENTION_INTERVAL: seconds between the lifecycle job's passes (partitions ahead, retention);
    0 turns it off in this process."""
    retention_lock_timeout: float = 0.2
    """RETENTION_LOCK_TIMEOUT: seconds a lifecycle pass waits for a table's lock to make or drop a
    partition. Every insert into the table (an order's stock movements, webhook deliveries) queues
    behind that wait, so it is short; a table still busy is left to the next pass."""

    @property
    def quote_log_spool(self) -> Path:
        """The quote-log spool's directory (QUOTE_LOG_SPOOL_DIR, else under QUOTE_SERVICE_HOME)."""
        return self.quote_log_spool_dir or self.home / "quote-log-spool"

    @property
    def retry_schedule(self) -> tuple[float, ...]:
        """WEBHOOK_RETRY_SCHEDULE parsed: the pause before each attempt (the first 0); ConfigError naming it."""
        try:
            pauses = tuple(float(part) for part in self.webhook_retry_schedule.split(","))
        except ValueError as exc:
            raise ConfigError("WEBHOOK_RETRY_SCHEDULE must be numbers of seconds, comma-separated") from exc
        if any(not 0 <= p < 10**7 for p in pauses):
            raise ConfigError("WEBHOOK_RETRY_SCHEDULE must be pauses of 0 or more seconds (less than 10,000,000)")
        # The first attempt is made at once: a list that does not start with its 0 gets it in front.
        return pauses if pauses[0] == 0 else (0.0, *pauses)

    @property
    def is_production(self) -> bool:
        """True when running with ENVIRONMENT=production."""
        return self.environment == "production"

    @property
    def redis_cluster_mode(self) -> bool:
        """True when Redis is a Redis Cluster (REDIS_CLUSTER=true or a `+cluster` URL scheme)."""
        scheme = (self.redis_url or "").partition("://")[0].lower()
        return self.redis_cluster or scheme in ("redis+cluster", "rediss+cluster")

    def _validate_redis_cluster(self) -> None:
        if not self.redis_cluster_mode:
            return
        url = self.redis_url or ""
        if not url:
            raise ConfigError(
                "REDIS_CLUSTER needs REDIS_URL (one node of the cluster): the embedded Redis is no cluster"
            )
        scheme, _, rest = url.partition("://")
        if scheme.lower() == "unix":
            raise ConfigError("REDIS_CLUSTER needs a redis:// or rediss:// REDIS_URL, not a unix socket")
        database = rest.partition("?")[0].partition("/")[2]
        if database not in ("", "0"):
            raise ConfigError(f"a Redis Cluster has database 0 only: REDIS_URL names database {database}")

    def _validate_webhooks(self) -> None:
        _ = self.retry_schedule  # raises ConfigError naming WEBHOOK_RETRY_SCHEDULE
        if self.webhook_secret_overlap < 0:
            raise ConfigError("WEBHOOK_SECRET_OVERLAP must be 0 (no overlap) or a number of seconds")
        if self.webhook_poll_interval < 0:
            raise ConfigError("WEBHOOK_POLL_INTERVAL must be 0 (off) or positive")
        if self.webhook_lease_seconds <= self.webhook_timeout:
            raise ConfigError("WEBHOOK_LEASE_SECONDS must be more than WEBHOOK_TIMEOUT")

    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """TRUSTED_PROXIES parsed; raises ConfigError naming an entry that is no address or network."""
        networks = []
        for entry in (part.strip() for part in self.trusted_proxies.split(",")):
            if entry:
                try:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError as exc:
                    raise ConfigError(f"TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR network") from exc
        return tuple(networks)

    @property
    def serves_docs(self) -> bool:
        """True when /docs and /openapi.json are served (DOCS_ENABLED, else not in production)."""
        return not self.is_production if self.docs_enabled is None else self.docs_enabled

    def database_session(self) -> dict[str, str]:
        """Settings the database's own code reads, set on every connection of the service's pools."""
        return {
            "quote_service.max_markup_percent": str(self.max_markup_percent),
            "quote_service.stale_flag_days": str(self.stale_flag_days),
        }

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Build settings from the environment, or raise ConfigError naming the variable."""
        env = dict(os.environ if environ is None else environ)
        raw: dict[str, object] = {}
        for field in msgspec.structs.fields(cls):
            value = env.get(field.name.upper())
            if field.name == "home":
                value = env.get("QUOTE_SERVICE_HOME")
            if value is not None and value != "":
                raw[field.name] = value
        try:
            settings = msgspec.convert(raw, cls, strict=False, dec_hook=_decode_hook)
        except msgspec.ValidationError as exc:
            raise ConfigError(_naming_the_variable(exc)) from exc
        settings.validate()
        return settings

    def price_endings(self) -> dict[str, str]:
        """FX_PRICE_ENDINGS as {currency: ending} (ConfigError naming what is wrong)."""
        if not self.fx_price_endings.strip():
            return {}
        try:
            endings = msgspec.json.decode(self.fx_price_endings, type=dict[str, str])
        except msgspec.MsgspecError as exc:
            raise ConfigError(f"FX_PRICE_ENDINGS must be a JSON object of currency: ending ({exc})") from exc
        for currency, ending in endings.items():
            if not is_currency(currency):
                raise ConfigError(f"FX_PRICE_ENDINGS: {currency!r} is not an ISO 4217 currency code")
            problem = ending_problem(ending)
            if problem is not None:
                raise ConfigError(f"FX_PRICE_ENDINGS[{currency}]: {problem}")
        return endings

    def validate(self) -> None:
        """Refuse settings that are unsafe or cannot work."""
        if self.algorithm not in SUPPORTED_ALGORITHMS:
            raise ConfigError(f"ALGORITHM must be one of {', '.join(SUPPORTED_ALGORITHMS)}")
        if self.is_production and (self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32):
            raise ConfigError(
                "ENVIRONMENT=production needs a SECRET_KEY of at least 32 characters "
                "that is not the development default"
            )
        zone_error = zone_problem(self.business_timezone)
        if zone_error:
            raise ConfigError(f"BUSINESS_TIMEZONE: {zone_error}")
        if self.database_replica_url and not self.database_url:
            raise ConfigError("DATABASE_REPLICA_URL needs DATABASE_URL (the embedded PostgreSQL has no replica)")
        if self.is_production and not (self.database_url and self.redis_url):
            missing = " and ".join(
                name for name, url in (("DATABASE_URL", self.database_url), ("REDIS_URL", self.redis_url)) if not url
            )
            raise ConfigError(
                f"ENVIRONMENT=production needs {missing}: the embedded PostgreSQL and Redis are for development only"
            )
        self._validate_redis_cluster()
        positive = {
            "ACCESS_TOKEN_EXPIRE_MINUTES": self.access_token_expire_minutes,
            "QUOTE_TIMEOUT": self.quote_timeout,
            "CANCEL_WINDOW_MINUTES": self.cancel_window_minutes,
            "ORDER_EDIT_PREVIEW_SECONDS": self.order_edit_preview_seconds,
            "MAX_CONCURRENT_QUOTES": self.max_concurrent_quotes,
            "MAX_QUOTE_LINES": self.max_quote_lines,
            "MAX_CONCURRENT_SIMULATIONS": self.max_concurrent_simulations,
            "RATE_LIMIT_PER_MINUTE": self.rate_limit_per_minute,
            "LOGIN_ATTEMPTS_PER_USERNAME": self.login_attempts_per_username,
            "LOGIN_ATTEMPTS_PER_ADDRESS": self.login_attempts_per_address,
            "LOGIN_WINDOW_SECONDS": self.login_window_seconds,
            "DB_POOL_MAX_SIZE": self.db_pool_max_size,
            "DB_ACQUIRE_TIMEOUT": self.db_acquire_timeout,
            "DB_STATEMENT_TIMEOUT": self.db_statement_timeout,
            "DB_LOCK_TIMEOUT": self.db_lock_timeout,
            "FLASH_SCHEDULER_INTERVAL": self.flash_scheduler_interval,
            "MAX_PRICE_CHANGE_PERCENT": self.max_price_change_percent,
            "MARKET_WINDOW_HOURS": self.market_window_hours,
            "INGEST_REPLAY_AFTER_SECONDS": self.ingest_replay_after_seconds,
            "ELASTICITY_WINDOW_DAYS": self.elasticity_window_days,
            "BODY_READ_TIMEOUT": self.body_read_timeout,
            "CAMPAIGN_SCHEDULER_INTERVAL": self.campaign_scheduler_interval,
            "REPLICA_MAX_LAG_SECONDS": self.replica_max_lag_seconds,
            "CHANGE_APPLY_INTERVAL": self.change_apply_interval,
            "FLASH_HOLD_GRACE_SECONDS": self.flash_hold_grace_seconds,
            "MAX_HELD_UNITS_PER_PRODUCT": self.max_held_units_per_product,
            "MAX_ACTIVE_RESERVATIONS": self.max_active_reservations,
            "WEBHOOK_TIMEOUT": self.webhook_timeout,
            "WEBHOOK_CONCURRENCY": self.webhook_concurrency,
            "WEBHOOK_ENDPOINT_CONCURRENCY": self.webhook_endpoint_concurrency,
            "WEBHOOK_RETENTION_DAYS": self.webhook_retention_days,
            "PARTITION_DAYS_AHEAD": self.partition_days_ahead,
            "RETENTION_LOCK_TIMEOUT": self.retention_lock_timeout,
        }
        if self.decision_interval_minutes < 0:
            raise ConfigError("DECISION_INTERVAL_MINUTES must be 0 (off) or positive")
        if not 0 <= self.min_margin <= self.max_margin:
            raise ConfigError("MIN_MARGIN must be between 0 and MAX_MARGIN")
        if self.min_price_change_percent < 0:
            raise ConfigError("MIN_PRICE_CHANGE_PERCENT must not be negative")
        for name, number in positive.items():
            if number <= 0:
                raise ConfigError(f"{name} must be positive")
        for name, days in {
            "QUOTE_LOG_RETENTION_DAYS": self.quote_log_retention_days,
            "IDEMPOTENCY_RETENTION_DAYS": self.idempotency_retention_days,
            "STOCK_MOVEMENT_RETENTION_DAYS": self.stock_movement_retention_days,
            "COMPETITOR_PRICE_RETENTION_DAYS": self.competitor_price_retention_days,
            "AUDIT_LOG_RETENTION_DAYS": self.audit_log_retention_days,
        }.items():
            if days < 0:
                raise ConfigError(f"{name} must be 0 (keep forever) or a number of days")
        self.price_endings()  # a bad FX_PRICE_ENDINGS refuses to start
        if not 1 <= self.max_quote_lines <= QUOTE_LINES_CEILING:
            raise ConfigError(f"MAX_QUOTE_LINES must be between 1 and {QUOTE_LINES_CEILING:,}")
        if not 0 <= self.seller_price_change_window_hours <= 8784:
            raise ConfigError("SELLER_PRICE_CHANGE_WINDOW_HOURS must be between 0 (each step alone) and 8784 (a year)")
        if 0 < self.audit_log_retention_days * 24 < self.seller_price_change_window_hours:
            raise ConfigError("AUDIT_LOG_RETENTION_DAYS must cover SELLER_PRICE_CHANGE_WINDOW_HOURS (or be 0: forever)")
        if 0 < self.competitor_price_retention_days * 24 < self.market_window_hours:
            raise ConfigError("COMPETITOR_PRICE_RETENTION_DAYS must cover MARKET_WINDOW_HOURS (or be 0: forever)")
        if self.retention_interval < 0:
            raise ConfigError("RETENTION_INTERVAL must be 0 (off) or positive")
        if self.stale_flag_interval < 0:
            raise ConfigError("STALE_FLAG_INTERVAL must be 0 (off) or positive")
        if not 0 <= self.payout_max_ahead_seconds <= PAYOUT_MAX_AHEAD_CEILING:
            raise ConfigError(
                f"PAYOUT_MAX_AHEAD_SECONDS must be between 0 and {PAYOUT_MAX_AHEAD_CEILING:,} (100 years)"
            )
        if not 0 <= self.stale_flag_days < 100_000:
            raise ConfigError("STALE_FLAG_DAYS must be a number of days (0: stale as soon as fully rolled out)")
        if not 0 <= self.webhook_disable_after_hours < 10**7:
            raise ConfigError("WEBHOOK_DISABLE_AFTER_HOURS must be 0 (never) or a number of hours")
        if self.rollup_interval < 0:
            raise ConfigError("ROLLUP_INTERVAL must be 0 (off) or positive")
        if self.recent_quotes_max_bytes < 0:
            raise ConfigError("RECENT_QUOTES_MAX_BYTES must be 0 (off) or a number of bytes")
        if self.shutdown_timeout_seconds < 0:
            raise ConfigError("SHUTDOWN_TIMEOUT_SECONDS must be 0 (no limit) or positive")
        if self.flash_reconcile_interval_seconds < 0:
            raise ConfigError("FLASH_RECONCILE_INTERVAL_SECONDS must be 0 (off) or positive")
        if not 1 <= self.quote_validity_seconds <= 86_400:
            raise ConfigError("QUOTE_VALIDITY_SECONDS must be between 1 and 86400")
        if self.reservation_sweep_interval_seconds < 0:
            raise ConfigError("RESERVATION_SWEEP_INTERVAL_SECONDS must be 0 (off) or positive")
        if self.guardrail_interval_seconds < 0:
            raise ConfigError("GUARDRAIL_INTERVAL_SECONDS must be 0 (off) or positive")
        self._validate_webhooks()
        if self.login_concurrency < 0:
            raise ConfigError("LOGIN_CONCURRENCY must be 0 (one per CPU) or positive")
        if not 0 <= self.db_pool_min_size <= self.db_pool_max_size:
            raise ConfigError("DB_POOL_MIN_SIZE must be between 0 and DB_POOL_MAX_SIZE")
        for name, percent, most in (
            ("DEFAULT_TAX_RATE", self.default_tax_rate, 100),
            ("COMMISSION_TAX_RATE", self.commission_tax_rate, 100),
            ("DEFAULT_COMMISSION_RATE", self.default_commission_rate, 100),
            ("MAX_DISCOUNT_PERCENTAGE", self.max_discount_percentage, 100),
            ("MAX_MARKUP_PERCENT", self.max_markup_percent, 1000),
            ("SELLER_PRICE_CHANGE_APPROVAL_PERCENT", self.seller_price_change_approval_percent, 1000),
            ("MIN_SELLER_MARGIN_PERCENT", self.min_seller_margin_percent, 1000),
        ):
            if not (percent.is_finite() and 0 <= percent <= most):
                raise ConfigError(f"{name} must be a percentage between 0 and {most}")
        if not (self.default_delivery_fee.is_finite() and self.default_delivery_fee >= 0):
            raise ConfigError("DEFAULT_DELIVERY_FEE must be a non-negative amount")
        from quote_service.pricing.money import is_currency

        if not is_currency(self.default_currency.upper()):
            raise ConfigError("DEFAULT_CURRENCY must be an ISO 4217 currency code (e.g. TRY, EUR)")
        if self.hsts_max_age < 0:
            raise ConfigError("HSTS_MAX_AGE must be 0 (off) or a number of seconds")
        self.trusted_proxy_networks()  # raises ConfigError naming TRUSTED_PROXIES
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError("LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")


def require_secret_key_to_serve(environ: Mapping[str, str], *, demo: bool) -> None:
    """`serve` fails closed: no SECRET_KEY is a ConfigError naming it, unless ENVIRONMENT=development
    is set explicitly or the demo was asked for (`serve --demo`, what `make run` does).

    The development default key is public (it is in this file): a server that forgot SECRET_KEY
    would sign tokens anyone can forge. Other commands (migrate, create-user...) sign nothing.
    """
    if environ.get("SECRET_KEY") or demo or environ.get("ENVIRONMENT") == "development":
        return
    raise ConfigError(
        "SECRET_KEY is not set: serve refuses to sign tokens with the public development key; "
        "set SECRET_KEY (at least 32 characters), or ENVIRONMENT=development to try it locally "
        "(serve --demo implies it)"
    )


def _naming_the_variable(exc: msgspec.ValidationError) -> str:
    """msgspec names the field (`$.quote_timeout`); the operator set QUOTE_TIMEOUT."""
    message = str(exc)
    match = _FIELD_PATH.search(message)
    if match is None:
        return f"invalid configuration: {message}"
    field = match.group(1)
    variable = "QUOTE_SERVICE_HOME" if field == "home" else field.upper()
    return f"{variable} is invalid: {message[: match.start()]}"


def _decode_hook(type_: type, obj: object) -> object:
    if type_ is Path and isinstance(obj, str):
        return Path(obj)
    if type_ is Decimal and isinstance(obj, str):
        try:
            return Decimal(obj)
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal: {obj!r}") from exc
    raise NotImplementedError
