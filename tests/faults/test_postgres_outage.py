"""PostgreSQL stopped for 20 s under quote load: warm quotes need no database, so they keep
answering 200 the whole time (principals from their last good value, configuration from the
snapshot, products from the cache tiers, quotes stored in Redis)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.faults.private import PrivatePostgres, PrivateRedis
from tests.faults.staleness import QuoteLoad, product_body, quote_body, two_workers
from tests.waiting import until_sync

pytestmark = [pytest.mark.long, pytest.mark.slow]

OUTAGE_SECONDS = 22.0  # more than twice the 10 s principal TTL


def test_quotes_keep_answering_200_through_a_postgres_outage(
    private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    with two_workers(private_pg, private_redis) as (base, http, callers):
        created = http.post("/api/v1/products", json=product_body("100.00"), headers=callers.admin)
        assert created.status_code == 201, created.text
        product_id = created.json()["data"]["id"]
        by_key = quote_body(product_id, customer_id="customer-key")
        for _ in range(40):  # new connections: both workers learn the key and cache the product
            warm = http.post("/api/v1/quote", json=by_key, headers=callers.service)
            assert warm.status_code == 200, warm.text

        with QuoteLoad(base, callers.service, by_key, threads=3) as load:
            until_sync(lambda: len(load.results) >= 30, "the load gets going", within=60)
            down_at = time.monotonic()
            private_pg.stop("fast")
            time.sleep(OUTAGE_SECONDS)  # the outage's length: a real clock on purpose
            private_pg.start()
            up_at = time.monotonic()
            after = len(load.results)  # then quotes on the recovered service, judged below
            until_sync(lambda: len(load.results) >= after + 30, "quotes after the outage", within=60)

        during = load.between(down_at, up_at)
        statuses = {status for _, status, _ in load.results}
        slowest = max(seconds for _, _, seconds in during)
        print(
            f"\nPostgreSQL down {up_at - down_at:.1f} s: {len(during)} quotes during the outage, "
            f"{len(load.results)} in all, statuses {sorted(statuses)}, "
            f"slowest during the outage {slowest * 1000:.0f} ms"
        )
        assert len(during) > 100
        assert statuses == {200}, [r for r in load.results if r[1] != 200][:10]
        assert slowest < 2.0
        # After the outage the database answers again through the same service.
        with httpx.Client(base_url=base, timeout=10) as again:
            assert again.get(f"/api/v1/products/{product_id}", headers=callers.admin).status_code == 200
