"""Prometheus metrics: what `GET /metrics` exposes.

With several workers (`serve --workers N`) every worker is a process with its own counters;
`serve` then points PROMETHEUS_MULTIPROC_DIR at a fresh directory before the workers start,
each worker writes its values there (prometheus_client's multiprocess mode), and whichever
worker answers a scrape reports the sum over all of them. Gauges say how they combine
(`livesum`: the live workers' sum; `max`).
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

from quote_service.observability.deferred import DeferredCounter

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST.replace("; charset=utf-8", "")
"""The exposition format, without the charset: Litestar adds "; charset=utf-8" to every text/* type."""

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.0)

REQUEST_DURATION = Histogram(
    "qs_http_request_duration_seconds",
    "Time from request received to response sent, by route template.",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
)
REFUSALS = Counter(
    "qs_http_refusals_total",
    "Requests refused for capacity or time: 429 RATE_LIMITED, 503 OVERLOADED / DEPENDENCY_UNAVAILABLE, 504.",
    ["status", "code"],
)
CLIENT_DISCONNECTS = Counter(
    "qs_http_client_disconnects_total",
    "Requests abandoned by the client before its body arrived (logged at info, not counted as 5xx).",
)
QUOTE_DURATION = Histogram(
    "qs_quote_duration_seconds",
    "Time a priced quote spent in the quote service (admitted to stored): one observation per quote.",
    buckets=_STAGE_BUCKETS,
)
GC_PAUSE = Histogram(
    "qs_gc_pause_seconds",
    "Time the process stood still in one garbage collection, by generation (2: a full collection); counted "
    "in-process and published every second and at each scrape (observability/gc_pauses.py).",
    ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
FLAG_BUCKETS = (1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.025)
FLAG_EVALUATION = Histogram(
    "qs_flag_evaluation_seconds",
    "Time to evaluate feature flags: a quote's flag step (source=quote), one flag by the evaluate "
    "endpoint (source=api), an OFREP request's flags (source=ofrep); counted in-process and published "
    "every second and at each scrape.",
    ["source"],
    buckets=FLAG_BUCKETS,
)
QUOTE_STAGE_SECONDS = Counter(
    "qs_quote_stage_seconds",
    "Seconds priced quotes spent in each stage (validate, catalog, flash, engine, store); "
    "added up in-process and published every second and at each scrape.",
    ["stage"],
)
QUOTES_IN_FLIGHT = Gauge("qs_quotes_in_flight", "Quotes admitted and not yet answered.", multiprocess_mode="livesum")
_resident_memory: Gauge | None = None


def worker_resident_memory() -> Gauge:
    """qs_worker_resident_memory_bytes, made on first use: by a worker's first flush, never by
    `serve`'s master process, which imports this module too and would otherwise report a series
    of its own, always 0, beside the workers' (an unlabelled multiprocess value exists from birth)."""
    global _resident_memory
    if _resident_memory is None:
        _resident_memory = Gauge(
            "qs_worker_resident_memory_bytes",
            "Resident memory of this worker process (Linux /proc/self/statm), refreshed every second; "
            "with several workers one series per live worker, labelled pid.",
            multiprocess_mode="liveall",
        )
    return _resident_memory


CACHE_LOOKUPS = Counter(
    "qs_cache_lookups_total",
    "Cache lookups by cache, tier and result (hit or miss).",
    ["cache", "tier", "result"],
)
EDGE_REQUESTS = Counter(
    "qs_edge_requests_total",
    "Hot-route requests by how they were served: lean (the lean edge) or litestar (handed on).",
    ["route", "path"],
)
SNAPSHOT_VERSION = Gauge(
    "qs_config_snapshot_version", "Configuration version this process prices with.", multiprocess_mode="max"
)
SNAPSHOT_RELOADS = Counter("qs_config_snapshot_reloads_total", "Configuration snapshot reloads.")
FLASH_PURCHASES = Counter(
    "qs_flash_purchases_total",
    "Flash-sale purchase attempts by outcome (confirmed, replayed, or the refusal code).",
    ["outcome"],
)
FLASH_COUNTER_REBUILDS = Counter(
    "qs_flash_counter_rebuilds_total",
    "Flash-sale counter hashes rebuilt from the ledger because Redis had lost them (restart, flush, failover).",
)
FLASH_HOLDS_RECONCILED = Counter(
    "qs_flash_holds_reconciled_total",
    "Flash-sale holds older than FLASH_HOLD_GRACE_SECONDS the reconciler judged, by outcome: returned "
    "(no purchase: units given back), settled (the ledger had the purchase), gone (already undone).",
    ["outcome"],
)
FLASH_UNITS_RETURNED = Counter(
    "qs_flash_stranded_units_returned_total",
    "Flash-sale units a failed undo had left taken in Redis that the hold reconciler gave back.",
)
RESERVATIONS = Counter(
    "qs_stock_reservations_total",
    "Stock reservations between quote and order by event: made (a reserving quote answered), refused (409 "
    "INSUFFICIENT_STOCK or HOLD_LIMIT_EXCEEDED), consumed (by its order), released (DELETE), expired (closed by "
    "the sweeper), replaced (its hold taken over by a newer quote: replaces_quote_id).",
    ["event"],
)
GUARDRAIL_CHECKS = Counter(
    "qs_guardrail_checks_total",
    "Experiments the guardrail checker looked at (one per running experiment per pass: its split, its guardrail).",
)
GUARDRAIL_ROLLBACKS = Counter("qs_guardrail_rollbacks_total", "Experiments the guardrail checker rolled back.")
GUARDRAIL_DURATION = Histogram(
    "qs_guardrail_check_duration_seconds",
    "Duration of one guardrail pass over every running experiment with a guardrail.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BACKGROUND_FAILURES = Counter(
    "qs_background_pass_failures_total",
    "Failed passes of a background loop (the loop logs them and tries again), by loop.",
    ["loop"],
)
DB_POOL = Gauge(
    "qs_db_pool_connections",
    "asyncpg pool connections: open (size), idle, and the configured maximum.",
    ["state"],
    multiprocess_mode="livesum",
)

REPLICA_UP = Gauge(
    "qs_db_replica_up",
    "1 when the last sample reached the read replica (and the primary's WAL position), else 0.",
    multiprocess_mode="livemin",
)
REPLICA_LAG = Gauge(
    "qs_db_replica_lag_seconds",
    "How far the read replica's replay is behind the primary (-1 when it cannot be measured).",
    multiprocess_mode="livemax",
)
REPLICA_READS = Counter("qs_db_replica_reads_total", "Reads sent to the read replica.")
REPLICA_FALLBACKS = Counter(
    "qs_db_replica_fallbacks_total",
    "Replica-eligible reads sent to the primary instead, by reason (lag over the bound, replica down).",
    ["reason"],
)
QUOTE_LOG_ROWS_REJECTED = Counter(
    "qs_quote_log_rows_rejected_total",
    "Quote-log rows PostgreSQL refused to store (a value out of a column's range, invalid text): "
    "each logged with its quote id and left out; the rest of the batch is written.",
)
QUOTE_LOG_ROWS_DROPPED = Counter(
    "qs_quote_log_rows_dropped_total",
    "Quote-log rows of answered quotes dropped because the process's spool held MAX_SPOOL_BYTES of "
    "unwritten rows (PostgreSQL unreachable or too slow for long enough).",
)
QUOTE_LOG_ROWS_REPLAYED = Counter(
    "qs_quote_log_rows_replayed_total",
    "Quote-log rows written from spool segments that a process left behind (killed, or stopped "
    "while PostgreSQL was down), replayed by another process or its successor.",
)
QUOTE_LOG_SPOOL_BYTES = Gauge(
    "qs_quote_log_spool_bytes",
    "Bytes of answered quotes' rows waiting in the spool on local disk for PostgreSQL.",
    multiprocess_mode="livesum",
)
COMPETITOR_OBSERVATIONS = Counter(
    "qs_competitor_observations_total",
    "Accepted competitor observations the consumers finished, by path (stream; replay: from the "
    "PostgreSQL inbox, what Redis lost or held too long) and outcome (stored, duplicate, dead_lettered).",
    ["path", "outcome"],
)

EXTENSION_CALLS = Counter(
    "qs_extension_calls_total",
    "Calls to tax and shipping extensions, by extension and result: ok (a usable answer) or failed.",
    ["extension_id", "kind", "result"],
)
EXTENSION_LATENCY = Histogram(
    "qs_extension_call_seconds",
    "Time an extension took to answer (or to fail), by extension.",
    ["extension_id"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0),
)
EXTENSION_FAILURES = Counter(
    "qs_extension_failures_total",
    "Extension calls that failed, by extension and reason: timeout, connection_error, http_error (a non-2xx), "
    "too_large (an answer over 1 MiB, decoded), malformed (not the answer's JSON shape), invalid (an amount or "
    "line the quote cannot use), circuit_open "
    "(not called: its circuit is open).",
    ["extension_id", "reason"],
)
EXTENSION_CIRCUIT = Gauge(
    "qs_extension_circuit_state",
    "An extension's circuit breaker: 0 closed, 1 open (not called), 2 half-open (one trial call let through).",
    ["extension_id"],
    multiprocess_mode="livemax",
)

WEBHOOK_ATTEMPTS = Counter(
    "qs_webhook_attempts_total",
    "Webhook delivery attempts by result: delivered (a 2xx), http_error (any other status, a redirect "
    "included), timeout (WEBHOOK_TIMEOUT), connection_error, address_refused (the URL resolved to an "
    "address WEBHOOK_ALLOW_PRIVATE does not allow).",
    ["result"],
)
WEBHOOK_DELIVERIES = Counter(
    "qs_webhook_deliveries_total",
    "Webhook deliveries finished, by result: delivered, or failed after the last attempt of WEBHOOK_RETRY_SCHEDULE.",
    ["result"],
)
WEBHOOK_PENDING = Gauge(
    "qs_webhook_pending_deliveries",
    "Webhook deliveries pending (due or waiting for a retry) for active subscriptions.",
    multiprocess_mode="livemax",
)
WEBHOOK_OLDEST_PENDING = Gauge(
    "qs_webhook_oldest_pending_seconds",
    "Age of the oldest pending webhook delivery of an active subscription (0 when none is pending).",
    multiprocess_mode="livemax",
)
WEBHOOKS_DISABLED = Counter(
    "qs_webhooks_disabled_total",
    "Webhook subscriptions disabled by the sender: every attempt failed for WEBHOOK_DISABLE_AFTER_HOURS.",
)
WEBHOOK_IN_FLIGHT = Gauge(
    "qs_webhook_deliveries_in_flight", "Webhook deliveries being sent right now.", multiprocess_mode="livesum"
)
SIMULATIONS_RUNNING = Gauge(
    "qs_simulations_running", "What-if simulations being priced right now.", multiprocess_mode="livesum"
)
SIMULATIONS = Counter("qs_simulations_total", "What-if simulations finished, by status (done, failed).", ["status"])
SIMULATED_QUOTES = Counter(
    "qs_simulated_quotes_total", "Stored quotes priced again by what-if simulations (each twice: before and after)."
)
PAYOUT_SELLERS_HELD = Counter(
    "qs_payout_sellers_held_total",
    "Sellers a payout run held, not paid, because their entries are wrong: ledger_entry_repeated (the ledger "
    "lists an entry more than once), database_refused (the database refused the payout for its data); and "
    "ledger currencies held, fx_rate_missing (no exchange rate into the seller's payout currency).",
    ["reason"],
)


# Series that exist before their first event, so dashboards and alerts see 0 rather than nothing.
for _status, _code in (
    ("429", "RATE_LIMITED"),
    ("503", "OVERLOADED"),
    ("503", "DEPENDENCY_UNAVAILABLE"),
    ("504", "QUOTE_TIMEOUT"),
):
    REFUSALS.labels(_status, _code)
for _outcome in ("returned", "settled", "gone"):
    FLASH_HOLDS_RECONCILED.labels(_outcome)
for _reason in ("lag", "replica_down"):
    REPLICA_FALLBACKS.labels(_reason)
for _path in ("stream", "replay"):
    for _outcome in ("stored", "duplicate", "dead_lettered"):
        COMPETITOR_OBSERVATIONS.labels(_path, _outcome)
for _result in ("delivered", "http_error", "timeout", "connection_error", "address_refused"):
    WEBHOOK_ATTEMPTS.labels(_result)
for _result in ("delivered", "failed"):
    WEBHOOK_DELIVERIES.labels(_result)
for _reason in ("ledger_entry_repeated", "database_refused"):
    PAYOUT_SELLERS_HELD.labels(_reason)
for _outcome in ("confirmed", "replayed", "SOLD_OUT", "PURCHASE_LIMIT_EXCEEDED", "SALE_NOT_ACTIVE", "PRICE_CHANGED"):
    FLASH_PURCHASES.labels(_outcome)


_CACHE_CHILDREN: dict[tuple[str, str, str], DeferredCounter] = {}


def count_cache(cache: str, tier: str, hits: int, misses: int) -> None:
    """Record a batched lookup in one go (a quote looks up several products at once); the
    labelled children are bound once, not looked up through `labels()` on every call, and
    counted in integers until the next flush (deferred.py)."""
    if hits:
        _cache_child(cache, tier, "hit").inc(hits)
    if misses:
        _cache_child(cache, tier, "miss").inc(misses)


def _cache_child(cache: str, tier: str, result: str) -> DeferredCounter:
    key = (cache, tier, result)
    child = _CACHE_CHILDREN.get(key)
    if child is None:
        child = _CACHE_CHILDREN[key] = DeferredCounter(CACHE_LOOKUPS.labels(cache, tier, result))
    return child


_PURCHASE_CHILDREN: dict[str, DeferredCounter] = {}


def count_purchase(outcome: str) -> None:
    """One flash purchase attempt by outcome (the child bound once per outcome, counted in an
    integer until the next flush: deferred.py)."""
    child = _PURCHASE_CHILDREN.get(outcome)
    if child is None:
        child = _PURCHASE_CHILDREN[outcome] = DeferredCounter(FLASH_PURCHASES.labels(outcome))
    child.inc()


def count_observations(path: str, *, stored: int, duplicate: int, dead_lettered: int) -> None:
    """One finished batch of competitor observations (docs/market-intelligence.md)."""
    for outcome, count in (("stored", stored), ("duplicate", duplicate), ("dead_lettered", dead_lettered)):
        if count:
            COMPETITOR_OBSERVATIONS.labels(path, outcome).inc(count)


def record_pool(size: int, idle: int, maximum: int) -> None:
    DB_POOL.labels("size").set(size)
    DB_POOL.labels("idle").set(idle)
    DB_POOL.labels("max").set(maximum)


def record_replica(up: bool, lag_seconds: float | None) -> None:
    REPLICA_UP.set(1 if up else 0)
    REPLICA_LAG.set(-1 if lag_seconds is None else lag_seconds)


def exposition() -> bytes:
    """The Prometheus text format: this process's registry, or every worker's in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def worker_exited(pid: int) -> None:
    """Drop a stopped worker's live gauges (multiprocess mode only)."""
    if os.environ.get(MULTIPROC_ENV):
        _multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def forget_dead_workers() -> None:
    """Drop the live gauges of workers that died without `worker_exited` (SIGKILL, OOM killer).

    Called by every worker as it starts, so a respawned worker clears its predecessor's values:
    otherwise `livesum` gauges (quotes in flight, pool connections) kept them for good.
    """
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _alive(int(pid)):
            _multiprocess.mark_process_dead(int(pid), directory)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


PARTITIONS_CREATED = Counter(
    "qs_partitions_created_total",
    "Time partitions the lifecycle job created (ahead of time, or for rows the default partition held), by table.",
    ["table"],
)
PARTITIONS_DROPPED = Counter(
    "qs_partitions_dropped_total",
    "Time partitions retention dropped, by table (docs/data-lifecycle.md).",
    ["table"],
)
PARTITION_BYTES_DROPPED = Counter(
    "qs_partition_bytes_dropped_total",
    "Bytes (table, indexes and TOAST) of the partitions retention dropped, by table.",
    ["table"],
)
PARTITION_DEFAULT_ROWS = Gauge(
    "qs_partition_default_rows",
    "Rows a table's default partition still holds after the lifecycle job's pass: above 0, a write fell "
    "outside every partition the job could make (alert on it).",
    ["table"],
    multiprocess_mode="max",
)
LIFECYCLE_LAST_PASS = Gauge(
    "qs_lifecycle_last_pass_timestamp_seconds",
    "When a lifecycle pass (partitions ahead, retention) last finished in any process (Unix time).",
    multiprocess_mode="max",
)
