# mypy: disable-error-code="untyped-decorator"
"""Load test of quote-service: the traffic a checkout platform produces.

    uv run quote-service serve --demo        # or `quote-service seed-demo` on your own stores
    uv run locust -f loadtests/locustfile.py --headless -u 50 -r 10 -t 60s --host http://127.0.0.1:8000 \
        --csv loadtests/reports/locust --html loadtests/reports/locust.html

Three kinds of users (loadtests/README.md has every option):

- CheckoutUser (weight --checkout-weight, 10): prices varied baskets with POST /api/v1/quote
  (1-6 catalog products, mostly single units, coupons, express or not, six cities, tiers,
  logistics providers), reads some quotes back, and turns --order-ratio of them into orders
  with a fresh Idempotency-Key. Most users call with a service API key for many customers;
  --token-ratio of them are the demo shopper with its bearer token, quoting for itself.
- FlashSaleBuyer (weight --flash-weight, 3): every --flash-interval seconds, on the same
  wall-clock instants for all buyers, views the sale and fires --flash-burst purchases back
  to back for random customers (some retried with the same key: the replay must return the
  same purchase). SOLD_OUT, PURCHASE_LIMIT_EXCEEDED and SALE_NOT_ACTIVE are successes.
- AdminUser (--admin-users, a fixed count, 1): every --admin-interval seconds the next of:
  a new version of a pricing rule, a feature flag flipped, a restock of products running low.
  Rule and flag writes invalidate every process's configuration snapshot and quote cache
  while the checkout traffic runs; the originals are restored when the test stops.

Setup runs once per locust process on test_start (tokens, service API keys, products, a flash
sale); its calls are not in the statistics. Failures are only 5xx, 429/503/504, unexpected
statuses or codes, malformed envelopes and inconsistent amounts (scenarios/checks.py), so
`--exit-code-on-error` (1, locust's default) makes the exit code 0 only for a clean run.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
import uuid
from pathlib import Path
from typing import Any

from locust import User, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment
from locust.exception import StopTest, StopUser
from locust.runners import LocalRunner, MasterRunner
from scenarios import baskets, checks
from scenarios.options import Settings, add_arguments
from scenarios.provision import SetupError, World, cleanup, provision

log = logging.getLogger("loadtest")

QUOTE = "POST /api/v1/quote"
GET_QUOTE = "GET /api/v1/quotes/{id}"
ORDER = "POST /api/v1/orders"
VIEW_SALE = "GET /api/v1/flash-sales/{id}"
PURCHASE = "POST /api/v1/flash-sales/{id}/purchases"
RULE = "PUT /api/v1/pricing-rules/{id}"
FLAG = "PUT /api/v1/feature-flags/{id}"
PRODUCTS = "GET /api/v1/products"
RESTOCK = "POST /api/v1/products/{id}/stock"
RESTOCK_UNITS = 200
RESTOCK_AT_MOST = 10  # products per restock action

_world: World | None = None


def world() -> World:
    """The shared setup; a user started without one (setup failed) stops at once."""
    if _world is None:
        raise StopUser()
    return _world


class CheckoutUser(FastHttpUser):
    """A checkout backend (API key, many customers) or a signed-in shopper (token, itself)."""

    weight = 10

    def wait_time(self) -> float:
        settings = world().settings
        return random.uniform(settings.think_min, settings.think_max)

    def on_start(self) -> None:
        shared = world()
        self.as_shopper = shared.shopper is not None and random.random() < shared.settings.token_ratio
        self.key_headers = random.choice(shared.service_headers)

    def headers(self) -> dict[str, str]:
        shared = world()
        return shared.shopper.headers() if self.as_shopper and shared.shopper else self.key_headers

    @task
    def checkout(self) -> None:
        shared = world()
        settings = shared.settings
        if self.as_shopper and shared.shopper_id:
            customer_id = shared.shopper_id
        else:
            customer_id = f"lt-{shared.run_tag}-{random.randint(1, 20_000)}"
        body = baskets.quote_body(
            shared.products,
            customer_id=customer_id,
            currency=shared.currency,
            coupon_codes=settings.coupons,
            with_tier=not self.as_shopper,
        )
        with self.client.post("/api/v1/quote", json=body, headers=self.headers(), name=QUOTE, catch_response=True) as r:
            quote = checks.judge(r, QUOTE, ok=(200,), validate=checks.quote_problem)
        if not quote.ok:
            return
        quote_id, total = quote.data["quote_id"], str(quote.data["total_amount"])
        if random.random() < settings.fetch_quote_ratio:
            with self.client.get(
                f"/api/v1/quotes/{quote_id}", headers=self.headers(), name=GET_QUOTE, catch_response=True
            ) as r:
                checks.judge(r, GET_QUOTE, ok=(200,), validate=checks.same_total(total))
        if random.random() < settings.order_ratio:
            time.sleep(random.uniform(0, settings.think_min))  # the shopper reviews the basket
            headers = {**self.headers(), "Idempotency-Key": str(uuid.uuid4())}
            with self.client.post(
                "/api/v1/orders", json={"quote_id": quote_id}, headers=headers, name=ORDER, catch_response=True
            ) as r:
                checks.judge(r, ORDER, ok=(201,), refusals=checks.ORDER_REFUSALS, validate=checks.same_total(total))


class FlashSaleBuyer(FastHttpUser):
    """Storefront traffic when a flash sale drops: every buyer fires at the same instants."""

    weight = 3

    def wait_time(self) -> float:
        interval = world().settings.flash_interval
        return interval - (time.time() % interval) + random.uniform(0, 0.05)

    def on_start(self) -> None:
        self.key_headers = random.choice(world().service_headers)
        time.sleep(self.wait_time())  # even the first burst starts on the shared beat

    def customer(self) -> str:
        shared = world()
        return f"fs-{shared.run_tag}-{random.randint(1, shared.settings.flash_customers)}"

    @task
    def burst(self) -> None:
        shared = world()
        sale = shared.sale
        assert sale is not None  # provisioned whenever buyers run
        if random.random() < 0.5:
            with self.client.get(
                f"/api/v1/flash-sales/{sale.id}",
                params={"customer_id": self.customer()},
                headers=self.key_headers,
                name=VIEW_SALE,
                catch_response=True,
            ) as r:
                checks.judge(r, VIEW_SALE, ok=(200,), validate=checks.has("items"))
        for _ in range(shared.settings.flash_burst):
            self.purchase(sale)

    def purchase(self, sale: baskets.Sale) -> None:
        body = baskets.purchase_body(sale, customer_id=self.customer())
        headers = {**self.key_headers, "Idempotency-Key": str(uuid.uuid4())}
        path = f"/api/v1/flash-sales/{sale.id}/purchases"
        with self.client.post(path, json=body, headers=headers, name=PURCHASE, catch_response=True) as r:
            first = checks.judge(
                r, PURCHASE, ok=(201,), refusals=checks.FLASH_REFUSALS, validate=checks.has("purchase_id")
            )
        if first.ok and random.random() < 0.1:  # a client retry (timeout, double click): the same purchase again
            with self.client.post(path, json=body, headers=headers, name=PURCHASE, catch_response=True) as r:
                purchase_id = first.data["purchase_id"]
                checks.judge(r, PURCHASE, ok=(201,), validate=lambda d: _same_purchase(d, purchase_id))


def _same_purchase(data: Any, purchase_id: str) -> str | None:
    return None if data.get("purchase_id") == purchase_id else "a retry with the same Idempotency-Key bought again"


class AdminUser(FastHttpUser):
    """An operator at work during the sale: rule versions, flag flips, restocking."""

    fixed_count = 1

    def wait_time(self) -> float:
        interval = world().settings.admin_interval
        return random.uniform(0.8 * interval, 1.2 * interval)

    def on_start(self) -> None:
        shared = world()
        self.rules = itertools.cycle(shared.rules)
        self.flags = itertools.cycle(shared.flags)
        self.actions = itertools.cycle((self.new_rule_version, self.flip_flag, self.restock))

    def admin_headers(self) -> dict[str, str]:
        admin = world().admin
        assert admin is not None  # checked at setup whenever admin users run
        return admin.headers()

    @task
    def act(self) -> None:
        next(self.actions)()

    def new_rule_version(self) -> None:
        target = next(self.rules, None)
        if target is None:
            return
        path = f"/api/v1/pricing-rules/{target.rule['id']}"
        body = target.next_body()
        with self.client.put(path, json=body, headers=self.admin_headers(), name=RULE, catch_response=True) as r:
            checks.judge(r, RULE, ok=(200,), validate=checks.has("version"))

    def flip_flag(self) -> None:
        target = next(self.flags, None)
        if target is None:
            return
        path = f"/api/v1/feature-flags/{target.flag['id']}"
        body = target.next_body()
        with self.client.put(path, json=body, headers=self.admin_headers(), name=FLAG, catch_response=True) as r:
            checks.judge(r, FLAG, ok=(200,), validate=checks.has("key"))

    def restock(self) -> None:
        shared = world()
        limit = min(500, shared.settings.catalog_size)
        with self.client.get(
            "/api/v1/products",
            params={"limit": limit},
            headers=self.admin_headers(),
            name=PRODUCTS,
            catch_response=True,
        ) as r:
            listed = checks.judge(r, PRODUCTS, ok=(200,), validate=checks.has("items"))
        if not listed.ok:
            return
        ours = {p.id for p in shared.products}
        low = [p for p in listed.data["items"] if p["id"] in ours and p["stock"] < shared.settings.restock_below]
        for product in sorted(low, key=lambda p: p["stock"])[:RESTOCK_AT_MOST]:
            with self.client.post(
                f"/api/v1/products/{product['id']}/stock",
                json={"delta": RESTOCK_UNITS, "reason": "load test restock"},
                headers=self.admin_headers(),
                name=RESTOCK,
                catch_response=True,
            ) as r:
                checks.judge(r, RESTOCK, ok=(200,))


# -- wiring ---------------------------------------------------------------------------------------


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    add_arguments(parser)


@events.init.add_listener
def _apply_mix(environment: Environment, **_kwargs: Any) -> None:
    """User mix from the options: weights, the fixed admin count; a class at 0 is not run at all."""
    try:
        settings = Settings.from_options(environment.parsed_options)
    except ValueError as exc:
        log.error("%s", exc)
        raise SystemExit(2) from None
    CheckoutUser.weight = settings.checkout_weight
    FlashSaleBuyer.weight = settings.flash_weight
    AdminUser.fixed_count = settings.admin_users
    keep: dict[type[User], int] = {
        CheckoutUser: settings.checkout_weight,
        FlashSaleBuyer: settings.flash_weight,
        AdminUser: settings.admin_users,
    }
    environment.user_classes[:] = [c for c in environment.user_classes if keep.get(c, 1) > 0]


@events.test_start.add_listener
def _setup(environment: Environment, **_kwargs: Any) -> None:
    global _world
    if isinstance(environment.runner, MasterRunner):  # workers do their own setup
        return
    checks.OUTCOMES.clear()
    try:
        settings = Settings.from_options(environment.parsed_options)
        if not environment.host:
            raise SetupError("no host: pass --host http://127.0.0.1:8000")
        _world = provision(environment.host, settings)
    except (SetupError, ValueError) as exc:
        environment.process_exit_code = 2
        # Raised from test_start, StopTest stops the run before any user starts (quits when headless).
        raise StopTest(f"load test setup failed: {exc}") from None


@events.test_stop.add_listener
def _teardown(environment: Environment, **_kwargs: Any) -> None:
    global _world
    shared, _world = _world, None
    if shared is None:
        return
    for line in checks.summary():
        log.info("outcomes %s", line)
    prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if prefix and isinstance(environment.runner, LocalRunner):  # workers of --processes only log theirs
        checks.write_csv(Path(f"{prefix}_outcomes.csv"))
    if not shared.settings.no_cleanup:
        cleanup(shared)
