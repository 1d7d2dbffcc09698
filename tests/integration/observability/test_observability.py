"""Metrics and traces: /metrics exposes the named series; spans come out of a real quote.

Tracing goes to an in-memory exporter (the same TracerProvider and instrumentations as with
OTLP, only the exporter differs); the stores are real.
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

import quote_service.app as app_module
from quote_service.app import create_app
from quote_service.config import Settings
from quote_service.observability import tracing
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.flash import buy, new_sale
from tests.integration.servers import cli_env, running_server
from tests.waiting import until

Client = AsyncTestClient[Litestar]

SERIES = (
    "qs_http_request_duration_seconds_bucket",
    "qs_http_refusals_total",
    "qs_quote_duration_seconds_bucket",
    "qs_quote_stage_seconds_total",
    "qs_quotes_in_flight",
    "qs_cache_lookups_total",
    "qs_config_snapshot_version",
    "qs_config_snapshot_reloads_total",
    "qs_flash_purchases_total",
    "qs_db_pool_connections",
    "qs_worker_resident_memory_bytes",
    "qs_gc_pause_seconds_bucket",
)


def quote_body(customer_id: str, product_id: str) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "currency": "TRY",
        "items": [{"product_id": product_id, "quantity": 2}],
        "delivery_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0082, "longitude": 28.9784},
    }


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in Prometheus text (0 when absent)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        match = re.match(r"^([a-z_]+)(\{[^}]*\})? (\S+)$", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(3))
    return total


async def test_metrics_expose_every_named_series(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str]
) -> None:
    product = await create_product(client, admin, stock=50)
    before = (await client.get("/metrics", headers=admin.headers)).text
    for _ in range(3):
        expect_ok(
            await client.post("/api/v1/quote", json=quote_body(str(shopper.id), product["id"]), headers=shopper.headers)
        )
    sale, _ = await new_sale(client, admin)
    expect_ok(await buy(client, service_key, sale, customer_id="c-1", quantity=2), 201)
    expect_error(await buy(client, service_key, sale, customer_id="c-1"), 409, "PURCHASE_LIMIT_EXCEEDED")
    gc.collect()  # a full collection: the started app times it

    response = await client.get("/metrics", headers=admin.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for series in SERIES:
        assert re.search(rf"^{series}[{{ ]", text, re.MULTILINE), f"{series} missing"
    route = "/api/v1/quote"
    assert (
        sample(text, "qs_http_request_duration_seconds_count", route=route, status="200")
        - sample(before, "qs_http_request_duration_seconds_count", route=route, status="200")
        == 3
    )
    # Path templates, never raw ids: one series per endpoint.
    assert sale["id"] not in text
    assert 'route="/api/v1/flash-sales/{sale_id}/purchases"' in text
    # One observation per quote; the stages' time (published at the scrape) adds up to it exactly.
    assert sample(text, "qs_quote_duration_seconds_count") - sample(before, "qs_quote_duration_seconds_count") == 3
    stages = ("validate", "catalog", "flash", "engine", "store")
    spent = {
        s: sample(text, "qs_quote_stage_seconds_total", stage=s)
        - sample(before, "qs_quote_stage_seconds_total", stage=s)
        for s in stages
    }
    assert all(seconds > 0 for seconds in spent.values()), spent
    total = sample(text, "qs_quote_duration_seconds_sum") - sample(before, "qs_quote_duration_seconds_sum")
    assert sum(spent.values()) == pytest.approx(total, rel=1e-6)
    assert sample(text, "qs_cache_lookups_total", cache="products", tier="local", result="hit") >= 1
    assert sample(text, "qs_flash_purchases_total", outcome="confirmed") >= 1
    assert sample(text, "qs_flash_purchases_total", outcome="PURCHASE_LIMIT_EXCEEDED") >= 1
    assert sample(text, "qs_config_snapshot_reloads_total") >= 1
    full = "qs_gc_pause_seconds_count"
    assert sample(text, full, generation="2") - sample(before, full, generation="2") >= 1
    assert sample(text, "qs_db_pool_connections", state="max") == 10
    # This process's resident memory as the kernel counts it (one process here: no pid label).
    assert 20 * 2**20 < sample(text, "qs_worker_resident_memory_bytes") < 8 * 2**30


async def test_metrics_need_an_admin_unless_public(client: Client, shopper: Caller, settings: Settings) -> None:
    expect_error(await client.get("/metrics"), 401, "UNAUTHORIZED")
    expect_error(await client.get("/metrics", headers=shopper.headers), 403, "FORBIDDEN")
    public = create_app(msgspec.structs.replace(settings, metrics_public=True))
    async with AsyncTestClient(app=public) as anyone:
        response = await anyone.get("/metrics")
        assert response.status_code == 200
        assert "qs_http_request_duration_seconds" in response.text


async def test_refusals_are_counted_by_status_and_code(client: Client, admin: Caller, settings: Settings) -> None:
    limited = create_app(msgspec.structs.replace(settings, rate_limit_per_minute=1))
    product = await create_product(client, admin, stock=5)
    async with AsyncTestClient(app=limited) as tight:
        body = quote_body("c-1", product["id"])
        statuses = [(await tight.post("/api/v1/quote", json=body, headers=admin.headers)).status_code for _ in range(3)]
        assert statuses.count(429) == 2
        text = (await tight.get("/metrics", headers=admin.headers)).text
    assert sample(text, "qs_http_refusals_total", status="429", code="RATE_LIMITED") >= 2


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    tracing.shutdown_tracing()


@pytest.fixture
async def traced(settings: Settings, spans: InMemorySpanExporter) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(settings, span_exporter=spans)) as client:
        yield client


async def test_a_quote_produces_server_stage_and_store_spans(
    traced: Client, spans: InMemorySpanExporter, admin: Caller, shopper: Caller
) -> None:
    product = await create_product(traced, admin, stock=5)
    spans.clear()
    expect_ok(
        await traced.post("/api/v1/quote", json=quote_body(str(shopper.id), product["id"]), headers=shopper.headers)
    )
    finished = spans.get_finished_spans()
    names = [span.name for span in finished]
    server = [s for s in finished if s.name == "POST /api/v1/quote"]
    assert len(server) == 1, names
    trace_id = server[0].context.trace_id
    for stage in ("quote.validate", "quote.catalog", "quote.flash", "quote.engine", "quote.store"):
        assert stage in names, names
        (span,) = [s for s in finished if s.name == stage]
        assert span.context.trace_id == trace_id
    # The first quote of a product reads it from PostgreSQL and Redis: both appear as client spans.
    in_trace = [s for s in finished if s.context.trace_id == trace_id]
    assert any(s.attributes and s.attributes.get("db.system") == "postgresql" for s in in_trace), names
    assert any(s.attributes and s.attributes.get("db.system") == "redis" for s in in_trace), names


# A fresh interpreter: structlog caches each logger's configuration at its first use, so the
# check must see the service's own logging set-up from the start, as a real process does.
_TRACED_PROCESS = """
import asyncio, json, sys
from litestar.testing import AsyncTestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from quote_service.app import create_app
from quote_service.config import Settings

async def main() -> None:
    spans = InMemorySpanExporter()
    settings = Settings(database_url=sys.argv[1], redis_url=sys.argv[2], log_format="json", log_level="INFO")
    async with AsyncTestClient(app=create_app(settings, span_exporter=spans)) as client:
        await client.get("/api/v1/products", headers={"Authorization": sys.argv[3]})
        await client.get("/api/v1/no-such-route")
    for span in spans.get_finished_spans():
        if span.kind.name == "SERVER":
            print(json.dumps([span.name, format(span.context.trace_id, "032x"), format(span.context.span_id, "016x")]))

asyncio.run(main())
"""


async def test_log_lines_carry_the_trace_and_span_ids(admin: Caller, settings: Settings) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _TRACED_PROCESS,
        settings.database_url or "",
        settings.redis_url or "",
        admin.headers["Authorization"],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    servers = [json.loads(line) for line in out.decode().splitlines()]
    assert len(servers) == 2
    assert "GET /api/v1/products" in [name for name, _, _ in servers]  # named by route template
    logged = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    requests = [line for line in logged if line.get("event") == "request"]
    assert sorted(line["path"] for line in requests) == ["/api/v1/no-such-route", "/api/v1/products"]
    assert sorted((line["trace_id"], line["span_id"]) for line in requests) == sorted(
        (trace_id, span_id) for _, trace_id, span_id in servers
    )


async def test_tracing_is_off_without_an_endpoint(client: Client, admin: Caller) -> None:
    assert tracing.stage("quote.engine") is tracing.stage("quote.store")  # the shared no-op
    expect_ok(await client.get("/api/v1/products", headers=admin.headers))


async def test_a_graceful_stop_publishes_what_was_counted_since_the_last_flush(
    settings: Settings, admin: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The per-second publisher pushed out of the way: only a scrape or the stop publishes.
    real_watcher = app_module._pool_watcher

    def idle_watcher(pool: Any, maximum: int) -> Any:
        watcher = real_watcher(pool, maximum)
        watcher.interval = 3600.0
        return watcher

    monkeypatch.setattr(app_module, "_pool_watcher", idle_watcher)
    route = {"method": "POST", "route": "/api/v1/quote", "status": "200"}

    def quotes_published() -> float:
        return REGISTRY.get_sample_value("qs_http_request_duration_seconds_count", route) or 0.0

    async with AsyncTestClient(app=create_app(settings)) as own:
        product = await create_product(own, admin, stock=5)
        before = quotes_published()
        expect_ok(await own.post("/api/v1/quote", json=quote_body("c-stop", product["id"]), headers=admin.headers))
        assert quotes_published() == before  # counted in an integer, not published yet
    assert quotes_published() == before + 1  # the stop published it


@pytest.mark.slow
async def test_metrics_add_up_every_worker(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    product = await create_product(client, admin, stock=50)
    env = cli_env(DATABASE_URL=settings.database_url or "", REDIS_URL=settings.redis_url or "", METRICS_PUBLIC="true")
    with running_server(env, "--workers", "2") as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            answers = await asyncio.gather(
                *(
                    http.post("/api/v1/quote", json=quote_body(f"c-{n}", product["id"]), headers=service_key)
                    for n in range(40)
                )
            )
            assert [a.status_code for a in answers] == [200] * 40

            # Whichever worker answers the scrape, it reports the sum over both: its own requests
            # at once, the other worker's once that worker's flush (every second) has published them.
            def counts(text: str) -> tuple[float, float]:
                route = sample(text, "qs_http_request_duration_seconds_count", route="/api/v1/quote", status="200")
                return route, sample(text, "qs_quote_duration_seconds_count")

            async def both_workers_published() -> bool:
                scrape = await http.get("/metrics")
                assert scrape.status_code == 200, scrape.text
                return counts(scrape.text) == (40, 40)

            await until(both_workers_published, "both workers' quotes in a scrape", within=5)
            for _ in range(4):  # and any worker's scrape says so from then on, never more
                assert counts((await http.get("/metrics")).text) == (40, 40)

            # Each worker publishes its stage time every second (and when it answers a scrape).
            async def engine_time_published() -> bool:
                text = (await http.get("/metrics")).text
                return sample(text, "qs_quote_stage_seconds_total", stage="engine") > 0

            await until(engine_time_published, "a worker publishes its engine stage time")

            # Resident memory: one series per live worker, told apart by its pid.
            async def both_workers_resident() -> dict[str, float]:
                text = (await http.get("/metrics")).text
                found = re.findall(r'^qs_worker_resident_memory_bytes\{pid="(\d+)"\} (\S+)$', text, re.MULTILINE)
                return {pid: float(value) for pid, value in found} if len(found) == 2 else {}

            resident = await until(both_workers_resident, "each worker publishes its resident memory")
            assert all(20 * 2**20 < value < 8 * 2**30 for value in resident.values()), resident
