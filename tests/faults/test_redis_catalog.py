"""Catalog writes across Redis faults: the write answers success once committed, and no process
prices with the old price for longer than the measured bound after Redis is back — whether
Redis was paused during the write or down and restarted from its append-only file (which
still holds the old cached product)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.faults.private import PrivatePostgres, PrivateRedis
from tests.faults.staleness import (
    Callers,
    Observation,
    observe,
    product_body,
    quote_body,
    quote_line_price,
    settle,
    two_workers,
)

pytestmark = [pytest.mark.long, pytest.mark.slow]

BOUND_SECONDS = 4.0
"""Documented: ≤ the outbox's retry backoff (2 s) + one drain after Redis answers again;
4 s is the noisy-box margin."""
WRITE_SECONDS = 3.0
"""A committed catalog write waits at most ~1 s for its invalidation: answered well within this."""


def _product(http: Any, callers: Callers) -> tuple[str, dict[str, Any]]:
    created = http.post("/api/v1/products", json=product_body("100.00"), headers=callers.admin)
    assert created.status_code == 201, created.text
    product_id = created.json()["data"]["id"]
    body = quote_body(product_id)
    # Both workers cache the product (local tier) and Redis holds it.
    settle(lambda: quote_line_price(http, callers.service, body), "100.00")
    return product_id, body


def _old_price_after(http: Any, callers: Callers, body: dict[str, Any], recovered_at: float) -> Observation:
    """8 s of quotes from both workers: 100.00 is the old price, 150.00 the new one."""
    return observe(
        lambda: quote_line_price(http, callers.service, body),
        stale="100.00",
        fresh="150.00",
        recovered_at=recovered_at,
        seconds=8.0,
    )


def test_a_price_change_during_a_redis_pause_answers_200_and_no_worker_keeps_the_old_price(
    private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    with two_workers(private_pg, private_redis) as (_, http, callers):
        product_id, body = _product(http, callers)
        private_redis.pause()
        resume = threading.Timer(3.0, private_redis.resume)
        resume.start()
        try:
            started = time.monotonic()
            changed = http.patch(
                f"/api/v1/products/{product_id}", json={"current_price": "150.00"}, headers=callers.admin
            )
            write_seconds = time.monotonic() - started
        finally:
            resume.join()
        resumed_at = time.monotonic()
        assert changed.status_code == 200, changed.text
        assert changed.json()["data"]["current_price"] == "150.00"
        seen = _old_price_after(http, callers, body, resumed_at)
    print(
        f"\nRedis paused 3 s: write answered 200 in {write_seconds:.2f} s; old price served for "
        f"{seen.staleness:.3f} s after Redis woke; answers {seen.answers}"
    )
    assert write_seconds < WRITE_SECONDS
    assert seen.staleness <= BOUND_SECONDS


def test_a_price_change_while_redis_is_down_survives_a_restart_from_the_append_only_file(
    private_pg: PrivatePostgres, private_redis_aof: PrivateRedis
) -> None:
    with two_workers(private_pg, private_redis_aof) as (_, http, callers):
        product_id, body = _product(http, callers)
        private_redis_aof.stop()  # a clean shutdown: the cached product is written to the file
        started = time.monotonic()
        changed = http.patch(f"/api/v1/products/{product_id}", json={"current_price": "150.00"}, headers=callers.admin)
        write_seconds = time.monotonic() - started
        assert changed.status_code == 200, changed.text
        time.sleep(2.0)  # Redis stays down a while (real clock on purpose): the change's deliveries fail meanwhile
        private_redis_aof.start()  # replays the file: the product at 100.00 is back in Redis
        restarted_at = time.monotonic()
        seen = _old_price_after(http, callers, body, restarted_at)
    print(
        f"\nRedis down during the write, restarted from its AOF: write answered 200 in {write_seconds:.2f} s; "
        f"old price served for {seen.staleness:.3f} s after the restart; answers {seen.answers}"
    )
    assert write_seconds < WRITE_SECONDS
    assert seen.staleness <= BOUND_SECONDS
    assert seen.answers.get("200:150.00", 0) > 10
