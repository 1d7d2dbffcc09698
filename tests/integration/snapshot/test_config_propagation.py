"""Two running app processes: an admin change made through one reaches the other's snapshot
within 1 s (the bound docs/consistency.md and the README promise), measured over several changes: feature
flags, and price lists as the other process's quotes see them."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import product_body
from tests.integration.conftest import Caller
from tests.integration.servers import cli_env, running_server

pytestmark = [pytest.mark.slow, pytest.mark.redis_backends]

BOUND_SECONDS = 1.0
CHANGES = 8


def snapshot_of(http: httpx.Client, base: str, headers: dict[str, str]) -> dict[str, Any]:
    response = http.get(f"{base}/api/v1/config/snapshot", headers=headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def wait_for_flag_count(http: httpx.Client, base: str, headers: dict[str, str], count: int, started: float) -> float:
    """Seconds from `started` until `base` prices with `count` flags; fails past the bound."""
    while True:
        elapsed = time.perf_counter() - started
        if snapshot_of(http, base, headers)["counts"]["feature_flags"] == count:
            return elapsed
        assert elapsed < BOUND_SECONDS, f"{base} still stale after {elapsed:.3f}s"
        time.sleep(0.002)


def test_a_change_through_one_process_reaches_the_other_within_a_second(settings: Settings, admin: Caller) -> None:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, LOG_LEVEL="WARNING")
    with running_server(env) as first, running_server(env) as second, httpx.Client(timeout=5) as http:
        lags = []
        for n in range(1, CHANGES + 1):
            flag = {"key": f"propagation_{n}", "name": f"Flag {n}", "type": "BOOLEAN", "value": True}
            started = time.perf_counter()
            response = http.post(f"{first}/api/v1/feature-flags", json=flag, headers=admin.headers)
            assert response.status_code == 201, response.text
            # The writer answers only after its own snapshot has the change.
            assert snapshot_of(http, first, admin.headers)["counts"]["feature_flags"] == n
            lags.append(wait_for_flag_count(http, second, admin.headers, n, started))
        evaluated = http.post(
            f"{second}/api/v1/feature-flags/propagation_{CHANGES}/evaluate", json={}, headers=admin.headers
        )
        assert evaluated.status_code == 200, evaluated.text
        assert evaluated.json()["data"]["value"] is True
        assert snapshot_of(http, second, admin.headers)["version"] >= CHANGES
    # Measured from sending the write (so it includes the write itself) to the other process having it.
    print(
        f"\nwrite-to-visible-in-other-process over {CHANGES} changes: median {statistics.median(lags) * 1000:.1f} ms, "
        f"max {max(lags) * 1000:.1f} ms"
    )


def quoted_unit(http: httpx.Client, base: str, headers: dict[str, str], product_id: str) -> str | None:
    """The list unit price `base` quotes for one unit of the product in EUR on the web (None: not priced)."""
    body = {
        "customer_id": "c-1",
        "items": [{"product_id": product_id, "quantity": 1}],
        "delivery_address": {"city": "Berlin", "country": "DE"},
        "currency": "EUR",
        "channel": "web",
    }
    response = http.post(f"{base}/api/v1/quote", json=body, headers=headers)
    if response.status_code == 422 and response.json()["error"]["code"] == "CURRENCY_NOT_PRICED":
        return None
    assert response.status_code == 200, response.text
    unit: str = response.json()["data"]["items"][0]["list_unit_price"]
    return unit


@contextlib.contextmanager
def two_servers_and_a_product(settings: Settings, admin: Caller) -> Iterator[tuple[str, str, httpx.Client, str]]:
    """Two running servers on the test's stores, a client, and a product created through the first."""
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, LOG_LEVEL="WARNING")
    with running_server(env) as first, running_server(env) as second, httpx.Client(timeout=5) as http:
        product = http.post(f"{first}/api/v1/products", json=product_body(), headers=admin.headers)
        assert product.status_code == 201, product.text
        yield first, second, http, product.json()["data"]["id"]


@pytest.mark.long
def test_a_price_list_change_through_one_process_reaches_the_others_quotes_within_a_second(
    settings: Settings, admin: Caller
) -> None:
    with two_servers_and_a_product(settings, admin) as (first, second, http, product_id):
        key = http.post(f"{first}/api/v1/api-keys", json={"name": "checkout"}, headers=admin.headers)
        assert key.status_code == 201, key.text
        service = {"X-API-Key": key.json()["data"]["key"]}
        assert quoted_unit(http, second, service, product_id) is None  # TRY only: no price in euros yet

        lags = []
        body = {
            "name": "EU web",
            "currency": "EUR",
            "channels": ["web"],
            "prices": [{"product_id": product_id, "amount": "3.00"}],
        }
        started = time.perf_counter()
        created = http.post(f"{first}/api/v1/price-lists", json=body, headers=admin.headers)
        assert created.status_code == 201, created.text
        list_id = created.json()["data"]["id"]
        assert quoted_unit(http, first, service, product_id) == "3.00"  # the writer has it when it answers
        lags.append(wait_for_unit(http, second, service, product_id, "3.00", started))
        for n in range(1, CHANGES):
            amount = f"{3 + n}.00"
            started = time.perf_counter()
            prices = {"prices": [{"product_id": product_id, "amount": amount}]}
            saved = http.put(f"{first}/api/v1/price-lists/{list_id}/prices", json=prices, headers=admin.headers)
            assert saved.status_code == 200, saved.text
            lags.append(wait_for_unit(http, second, service, product_id, amount, started))
    print(
        f"\nprice-list write to quoted in other process over {CHANGES} changes: "
        f"median {statistics.median(lags) * 1000:.1f} ms, max {max(lags) * 1000:.1f} ms"
    )


def wait_for(answer: Callable[[], object], expected: object, started: float, what: str) -> float:
    """Seconds from `started` until `answer()` is `expected`; fails past the bound."""
    while True:
        elapsed = time.perf_counter() - started
        if answer() == expected:
            return elapsed
        assert elapsed < BOUND_SECONDS, f"{what} after {elapsed:.3f}s"
        time.sleep(0.002)


def wait_for_unit(
    http: httpx.Client, base: str, headers: dict[str, str], product_id: str, unit: str, started: float
) -> float:
    """Seconds from `started` until `base` quotes `unit`; fails past the bound."""
    return wait_for(lambda: quoted_unit(http, base, headers, product_id), unit, started, f"{base} quotes the old price")


def coupon_state(http: httpx.Client, base: str, headers: dict[str, str], product_id: str) -> str:
    """What `base` quotes for coupon LIMITED on one unit of the product: "applied", or why not."""
    body = {
        "customer_id": "c-1",
        "items": [{"product_id": product_id, "quantity": 1}],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "currency": "TRY",
        "coupon_codes": ["LIMITED"],
    }
    response = http.post(f"{base}/api/v1/quote", json=body, headers=headers)
    assert response.status_code == 200, response.text
    quote = response.json()["data"]
    if quote["applied_coupons"]:
        return "applied"
    reason: str = quote["rejected_coupons"][0]["reason"]
    return reason


def wait_for_coupon(
    http: httpx.Client, base: str, headers: dict[str, str], product_id: str, state: str, started: float
) -> float:
    """Seconds from `started` until `base` quotes LIMITED as `state`; fails past the bound."""

    def answer() -> str:
        return coupon_state(http, base, headers, product_id)

    return wait_for(answer, state, started, f"{base} does not quote the coupon {state}")


@pytest.mark.long
def test_a_coupon_used_up_stops_at_once_everywhere_and_comes_back_with_a_cancel(
    settings: Settings, admin: Caller
) -> None:
    """The order that takes a coupon's last use: the next quote refuses it (USAGE_LIMIT) in the
    ordering process, and within the bound in the other; a cancel gives it back the same way. A use
    that leaves the coupon short of its limit changes no configuration."""
    with two_servers_and_a_product(settings, admin) as (first, second, http, product_id):
        coupon = {"code": "LIMITED", "type": "PERCENTAGE", "value": 10, "valid_from": "2025-01-01T00:00:00Z",
                  "usage_limit": 2}  # fmt: skip
        created = http.post(f"{first}/api/v1/coupons", json=coupon, headers=admin.headers)
        assert created.status_code == 201, created.text

        def order() -> str:
            quote = http.post(
                f"{first}/api/v1/quote",
                json={"customer_id": "c-1", "items": [{"product_id": product_id, "quantity": 1}], "currency": "TRY",
                      "delivery_address": {"city": "Istanbul", "country": "TR"}, "coupon_codes": ["LIMITED"]},
                headers=admin.headers,
            )  # fmt: skip
            assert quote.status_code == 200, quote.text
            assert quote.json()["data"]["applied_coupons"], quote.text
            placed = http.post(
                f"{first}/api/v1/orders",
                json={"quote_id": quote.json()["data"]["quote_id"]},
                headers={**admin.headers, "Idempotency-Key": f"order-{time.perf_counter_ns()}"},
            )
            assert placed.status_code == 201, placed.text
            order_id: str = placed.json()["data"]["id"]
            return order_id

        version = snapshot_of(http, first, admin.headers)["version"]
        order()
        assert snapshot_of(http, first, admin.headers)["version"] == version  # one use of two: nothing changed
        assert coupon_state(http, second, admin.headers, product_id) == "applied"

        started = time.perf_counter()
        last = order()
        assert coupon_state(http, first, admin.headers, product_id) == "USAGE_LIMIT"
        used_up = wait_for_coupon(http, second, admin.headers, product_id, "USAGE_LIMIT", started)

        started = time.perf_counter()
        cancelled = http.post(
            f"{first}/api/v1/orders/{last}/cancel", json={}, headers={**admin.headers, "Idempotency-Key": "cancel-1"}
        )
        assert cancelled.status_code == 200, cancelled.text
        assert coupon_state(http, first, admin.headers, product_id) == "applied"
        given_back = wait_for_coupon(http, second, admin.headers, product_id, "applied", started)
    print(f"\ncoupon used up / given back, seen by the other process after {used_up * 1000:.1f} / "
          f"{given_back * 1000:.1f} ms")  # fmt: skip
