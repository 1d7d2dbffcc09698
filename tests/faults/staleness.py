"""Helpers for the staleness and outage fault tests: callers on a private database, probes that
reach every worker, and a quote load that records every answer."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from quote_service.auth import credentials
from quote_service.auth import repository as auth_repository
from quote_service.clock import utcnow
from quote_service.config import Settings
from tests.faults.private import PrivatePostgres, PrivateRedis, service_env, serving

SECRET_KEY = "fault-tests-secret-key-0123456789abcdef"
QUOTE = "/api/v1/quote"


@dataclass(frozen=True)
class Callers:
    admin: dict[str, str]
    service: dict[str, str]


async def make_callers(database_url: str) -> Callers:
    """An admin user (bearer token) and a `service` API key, written straight into the database."""
    settings = Settings(database_url=database_url, redis_url="redis://unused", secret_key=SECRET_KEY)
    conn = await asyncpg.connect(database_url)
    try:
        row = await auth_repository.insert_user(
            conn, username="fault-admin", password_hash="unused", role="admin", tier=None, segment=None
        )
        key, key_hash, prefix = credentials.new_api_key()
        await auth_repository.insert_api_key(
            conn, name="fault-checkout", role="service", key_hash=key_hash, prefix=prefix, created_by=row["id"]
        )
    finally:
        await conn.close()
    token = credentials.issue_token(settings, user_id=row["id"], role="admin", tier=None, segment=None, now=utcnow())
    return Callers(admin={"Authorization": f"Bearer {token}"}, service={"X-API-Key": key})


@contextlib.contextmanager
def two_workers(pg: PrivatePostgres, redis: PrivateRedis) -> Iterator[tuple[str, httpx.Client, Callers]]:
    """`serve --workers 2` on the private servers: its URL, a client spreading requests over
    both workers, and an admin and a service caller."""
    callers = asyncio.run(make_callers(pg.url))
    env = service_env(pg.url, redis.url, SECRET_KEY=SECRET_KEY, LOG_LEVEL="WARNING")
    with serving(env, "--workers", "2") as service, fresh_connections(service.base) as http:
        service.wait_for_workers(2)
        yield service.base, http, callers


def fresh_connections(base: str, timeout: float = 10.0) -> httpx.Client:
    """A client that opens a new connection per request, so requests spread over the workers."""
    return httpx.Client(base_url=base, timeout=timeout, limits=httpx.Limits(max_keepalive_connections=0))


def product_body(price: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sku": f"SKU-{uuid.uuid4().hex[:10]}",
        "name": "Fault probe",
        "category_id": "books",
        "seller_id": "seller-1",
        "currency": "EUR",
        "base_price": price,
        "min_price": "1.00",
        "cost_price": "0.50",
        "stock": 100,
    }
    body.update(overrides)
    return body


def quote_body(product_id: str, customer_id: str = "customer-fault") -> dict[str, Any]:
    """The same body every time: identical requests may be answered from the recent-quote cache."""
    return {
        "customer_id": customer_id,
        "items": [{"product_id": product_id, "quantity": 1}],
        "delivery_address": {"city": "Berlin", "country": "DE"},
        "currency": "EUR",
    }


def quote_line_price(http: httpx.Client, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, str | None]:
    """(status, the line's unit price) of one quote."""
    response = http.post(QUOTE, json=body, headers=headers)
    if response.status_code != 200:
        return response.status_code, None
    return 200, response.json()["data"]["items"][0]["unit_price"]


LAST_ANSWER: dict[str, Any] = {}
"""The last quote a probe read, whole: what `observe` shows when a value is unexpected."""


def quote_commission(http: httpx.Client, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, str | None]:
    """(status, total commission) of one quote."""
    response = http.post(QUOTE, json=body, headers=headers)
    if response.status_code != 200:
        return response.status_code, None
    data = response.json()["data"]
    LAST_ANSWER.clear()
    LAST_ANSWER.update(data)
    return 200, data["commission_breakdown"]["total_commission"]


def settle(probe: Any, value: str, *, times: int = 20, within: float = 10.0) -> None:
    """Probe until `value` comes back `times` times in a row (every worker has it), or fail."""
    deadline = time.monotonic() + within
    streak = 0
    while streak < times:
        assert time.monotonic() < deadline, f"never settled on {value!r}"
        streak = streak + 1 if probe() == (200, value) else 0


@dataclass
class Observation:
    """What a probe saw after a recovery: when it last saw the stale value, how many answers."""

    recovered_at: float
    last_stale: float | None = None
    answers: dict[str, int] = field(default_factory=dict)

    @property
    def staleness(self) -> float:
        """Seconds after the recovery during which a stale value was still served (0: never)."""
        return 0.0 if self.last_stale is None else max(0.0, self.last_stale - self.recovered_at)


def observe(
    probe: Any, *, stale: str, fresh: str, recovered_at: float, seconds: float, interval: float = 0.02
) -> Observation:
    """Call `probe()` → (status, value) for `seconds`; record every value and the last stale one."""
    seen = Observation(recovered_at=recovered_at)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, value = probe()
        label = f"{status}:{value}"
        seen.answers[label] = seen.answers.get(label, 0) + 1
        if value == stale:
            seen.last_stale = time.monotonic()
        else:
            assert value in (fresh, None), f"unexpected value {value!r} after {seen.answers}; the quote: {LAST_ANSWER}"
        time.sleep(interval)
    return seen


class QuoteLoad:
    """Quotes sent back to back from `threads` threads (new connection each) until stopped."""

    def __init__(self, base: str, headers: dict[str, str], body: dict[str, Any], threads: int = 4) -> None:
        self.base, self.headers, self.body = base, headers, body
        self.results: list[tuple[float, int, float]] = []  # (sent at, status, seconds)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        with fresh_connections(self.base) as http:
            while not self._stop.is_set():
                sent = time.monotonic()
                try:
                    status = http.post(QUOTE, json=self.body, headers=self.headers).status_code
                except httpx.HTTPError:
                    status = 0
                with self._lock:
                    self.results.append((sent, status, time.monotonic() - sent))
                time.sleep(0.01)

    def __enter__(self) -> QuoteLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def between(self, start: float, end: float) -> list[tuple[float, int, float]]:
        with self._lock:
            return [r for r in self.results if start <= r[0] < end]
