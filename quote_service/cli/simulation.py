"""`quote-service simulate`: live shoppers through the HTTP API, printing each price move.

At a steady `rate` (actions per second) for `duration` seconds it picks one action at random:
a quote (40 %), a quote confirmed as an order (25 %), a flash purchase in an active sale (10 %),
or a competitor price observation (25 %; replaced by a quote when the service has no such
endpoint). The shoppers are an audience: each action is one of `customers` customers
(`sim-customer-0001`, ...; the same ids every run, as returning customers), sent as a checkout
system sends them, with a service API key the simulator creates at its start and revokes at its
end. So an experiment's arms get customers of their own (a variant is assigned per customer),
and flash-sale limits count per customer. Beside the shoppers:
- a bestseller (simulation_stock.py): most orders carry a few units of one product until its
  stock falls to the inventory rule's low threshold (repricing: `low_stock`); a few seconds
  later the warehouse restocks it past the high threshold (`high_stock`) and another one sells;
- the market and the pricing desk (simulation_market.py): drifting competitor prices, and a
  decision run every `decide_every` seconds whose small recommendations it applies;
- orders now and then include an active campaign's product (the campaign counts the sales);
- flash sales (simulation_flash.py): purchases and orders buy at most half of each item's units,
  the rest is left for the people at the store;
- a watcher polls once a second and prints each new price move (product, old → new, source,
  reason) and each new open signal.
Products tagged `generated` (generate-data's history) and the demo's walkthrough products
(`demo.WALKTHROUGH_SKUS`, priced exactly by the README and docs) are left alone. Ctrl-C stops
cleanly and prints the summary line.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx

from quote_service.cli.simulation_flash import FlashShelf
from quote_service.cli.simulation_market import Market, run_desk
from quote_service.cli.simulation_stock import Warehouse, items

WATCH_INTERVAL = 1.0
KINDS = ("quote", "order", "flash_purchase", "competitor_observation")
WEIGHTS = (40, 25, 10, 25)
BESTSELLER_SHARE = 0.7
"""Of the orders, those that carry the bestseller (2 to 5 units)."""
CAMPAIGN_SHARE = 0.3
LEFT_ALONE_TAGS = {"generated"}
KEY_NAME = "simulate"
"""The service API key's name (revoked when the run ends)."""


def audience(size: int) -> list[str]:
    """The customer ids of a run: the same `size` ids every time."""
    return [f"sim-customer-{n:04d}" for n in range(1, size + 1)]


@dataclass
class Tally:
    sent: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    failed: int = 0
    moves: int = 0
    decisions: int = 0
    applied: int = 0
    signals: int = 0
    restocks: int = 0
    unavailable: set[str] = field(default_factory=set)

    def line(self, seconds: float) -> str:
        parts = []
        for kind in KINDS:
            if kind in self.unavailable and not self.sent[kind]:
                parts.append(f"{kind.replace('_', ' ')}s n/a")
            else:
                parts.append(f"{kind.replace('_', ' ')}s {self.sent[kind]} ({self.refused[kind]} refused)")
        total = sum(self.sent.values())
        return (
            f"simulate: {total} requests in {seconds:.1f} s: {', '.join(parts)}; "
            f"{self.failed} failed; {self.moves} price moves; {self.decisions} decisions proposed "
            f"({self.applied} applied); {self.signals} new signals; {self.restocks} restocks"
        )


def _move_line(move: dict[str, Any]) -> str:
    """`price move: Name old → new CUR (source: reason)`; a reason that repeats its source loses the repeat."""
    old = move["old_price"] if move["old_price"] is not None else "-"
    source, reason = move["source"], move["reason"]
    reason = reason.removeprefix(f"{source}: ")
    return f"price move: {move['product_name']} {old} → {move['new_price']} {move['currency']} ({source}: {reason})"


class Simulator:
    def __init__(
        self,
        http: httpx.AsyncClient,
        admin: dict[str, str],
        checkout: dict[str, str],
        customers: list[str],
        *,
        left_alone: frozenset[str] = frozenset(),
    ) -> None:
        self.http, self.admin = http, admin
        self.checkout = checkout
        """The service key's headers: a checkout system's, which quote, order and buy for any customer."""
        self.customers = customers
        self.left_alone = left_alone
        self.tally = Tally()
        self.rng = random.Random()  # noqa: S311 - a load generator, not cryptography
        self.catalog: dict[str, dict[str, Any]] = {}
        """Every active product by id (for names in what is printed)."""
        self.products: list[dict[str, Any]] = []
        """The products shoppers buy: active, of the first currency, not left alone."""
        self.flash = FlashShelf()
        self.campaign_products: list[str] = []
        self.market = Market(self.rng)
        self.warehouse = Warehouse(http, admin)
        self.seen: set[tuple[str, str, str]] = set()
        self.seen_signals: set[str] = set()
        self.waiting: dict[str, str] = {}
        """Product id -> price, of the proposals the desk left to a person."""

    # -- what the service holds -------------------------------------------------------------
    async def refresh(self) -> None:
        page = await self.http.get("/api/v1/products", params={"limit": 100, "is_active": "true"}, headers=self.admin)
        listed = items(page)
        self.catalog = {p["id"]: p for p in listed}
        currency = next((p["currency"] for p in listed if self._shoppable(p)), None)
        self.products = [p for p in listed if self._shoppable(p) and p["currency"] == currency]
        asked = self.flash.ask()
        sales = await self.http.get("/api/v1/flash-sales", params={"limit": 20}, headers=self.admin)
        self.flash.read([s for s in items(sales) if s["status"] == "active"], asked)
        campaigns = await self.http.get("/api/v1/campaigns", params={"status": "active"}, headers=self.admin)
        ours = {p["id"] for p in self.products}
        self.campaign_products = [c["product_id"] for c in items(campaigns) if c["product_id"] in ours]

    def _shoppable(self, product: dict[str, Any]) -> bool:
        return product["sku"] not in self.left_alone and not LEFT_ALONE_TAGS & set(product.get("tags") or ())

    async def prepare(self) -> None:
        """The first look: catalog, the inventory rule's thresholds, the market's products."""
        await self.refresh()
        await self.warehouse.read_rule()
        observed = await self.http.get("/api/v1/competitor-prices", params={"limit": 200}, headers=self.admin)
        self.market.watch(self.products, {o["product_id"] for o in items(observed)})
        await self.warehouse.choose(self.products)

    # -- the watcher ------------------------------------------------------------------------
    async def watch(self, *, announce: bool) -> None:
        response = await self.http.get("/api/v1/dashboard/summary", headers=self.admin)
        if response.status_code == 200:
            for move in reversed(response.json()["data"]["recent_price_moves"]):
                key = (move["product_id"], move["changed_at"], move["new_price"])
                if key in self.seen:
                    continue
                self.seen.add(key)
                if announce:
                    self.tally.moves += 1
                    self.say(_move_line(move))
        signals = await self.http.get("/api/v1/signals", params={"status": "open", "limit": 50}, headers=self.admin)
        for found in reversed(items(signals)):
            if found["id"] in self.seen_signals:
                continue
            self.seen_signals.add(found["id"])
            if announce:
                self.tally.signals += 1
                self.say(f"signal: {found['type']} on {self._name(found['product_id'])} ({found['severity']})")

    def _name(self, product_id: str) -> str:
        return str(self.catalog.get(product_id, {}).get("name", product_id))

    @staticmethod
    def say(line: str) -> None:
        print(line, flush=True)

    async def keep_stock(self) -> None:
        done = await self.warehouse.keep(self.catalog, self.products)
        if done is not None:
            self.tally.restocks += 1
            self.say(done)

    # -- shoppers ---------------------------------------------------------------------------
    async def act(self) -> None:
        kind = self.rng.choices(KINDS, WEIGHTS)[0]
        if kind in self.tally.unavailable:
            kind = "quote"
        if not self.products:
            return
        try:
            await getattr(self, kind)()
        except httpx.HTTPError:
            self.tally.failed += 1

    def _count(self, kind: str, response: httpx.Response) -> None:
        self.tally.sent[kind] += 1
        if response.status_code in (409, 422, 429):
            self.tally.refused[kind] += 1
        elif response.status_code >= 400:
            self.tally.failed += 1

    def _basket(self, *, order: bool) -> dict[str, int]:
        """Product id → quantity: one to three random products, and for an order often the
        bestseller (a few units) or a campaign's product."""
        chosen = self.rng.sample(self.products, k=min(len(self.products), self.rng.randint(1, 3)))
        basket = {p["id"]: self.rng.randint(1, 2) for p in chosen}
        ours = {p["id"] for p in self.products}
        selling = self.warehouse.selling(self.catalog)
        if order and selling in ours and self.rng.random() < BESTSELLER_SHARE:
            basket[str(selling)] = self.rng.randint(2, 5)
        if order and self.campaign_products and self.rng.random() < CAMPAIGN_SHARE:
            basket[self.rng.choice(self.campaign_products)] = 1
        return basket

    def _customer(self) -> str:
        return self.rng.choice(self.customers)

    async def _quote(self, basket: dict[str, int], customer: str) -> httpx.Response:
        body = {
            "customer_id": customer,
            "currency": self.products[0]["currency"],
            "delivery_address": {"city": "Istanbul", "country": "TR"},
            "items": [{"product_id": i, "quantity": q} for i, q in basket.items()],
        }
        return await self.http.post("/api/v1/quote", json=body, headers=self.checkout)

    async def quote(self) -> None:
        self._count("quote", await self._quote(self._basket(order=False), self._customer()))

    async def order(self) -> None:
        # An order takes its flash units from the sale: only products with units to spare.
        basket = {i: q for i, q in self._basket(order=True).items() if self.flash.spare(i, q)}
        if not basket:
            await self.quote()
            return
        with self.flash.take(basket):
            quoted = await self._quote(basket, self._customer())
            if quoted.status_code != 200:
                self._count("order", quoted)
                return
            headers = {**self.checkout, "Idempotency-Key": str(uuid.uuid4())}
            body = {"quote_id": quoted.json()["data"]["quote_id"]}
            ordered = await self.http.post("/api/v1/orders", json=body, headers=headers)
        self._count("order", ordered)
        if ordered.status_code == 201:  # the stock as the next listing will show it (the bestseller stops in time)
            for product_id, units in basket.items():
                if product_id in self.catalog:
                    self.catalog[product_id]["stock"] -= units

    async def flash_purchase(self) -> None:
        offers = self.flash.buyable()
        if not offers:
            await self.quote()
            return
        sale_id, product_id = self.rng.choice(offers)
        headers = {**self.checkout, "Idempotency-Key": str(uuid.uuid4())}
        body = {"product_id": product_id, "quantity": 1, "customer_id": self._customer()}
        with self.flash.take({product_id: 1}):
            bought = await self.http.post(f"/api/v1/flash-sales/{sale_id}/purchases", json=body, headers=headers)
        self._count("flash_purchase", bought)

    async def competitor_observation(self) -> None:
        observation = self.market.observation()
        if observation is None:
            await self.quote()
            return
        response = await self.http.post(
            "/api/v1/competitor-prices", json={"observations": [observation]}, headers=self.admin
        )
        if response.status_code in (404, 405):
            self.tally.unavailable.add("competitor_observation")
            await self.quote()
            return
        self._count("competitor_observation", response)

    # -- the pricing desk -------------------------------------------------------------------
    async def decide(self) -> None:
        # A proposal left to a person stands until they apply it or the price moves: no new one meanwhile.
        waiting = {i for i, price in self.waiting.items() if self.catalog.get(i, {}).get("current_price") == price}
        ids = [p["id"] for p in self.market.watched if p["id"] not in waiting]
        if not ids or "decisions" in self.tally.unavailable:
            return
        run = await run_desk(self.http, self.admin, self.catalog, ids)
        if run is None:
            self.tally.unavailable.add("decisions")
            return
        self.waiting.update(run.left)
        self.tally.decisions += run.proposed
        self.tally.applied += run.applied
        for line in run.lines:
            self.say(line)


async def _token(http: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await http.post("/api/v1/auth/token", json={"username": username, "password": password})
    if response.status_code != 200:
        raise SystemExit(f"quote-service simulate: cannot log in as {username}: {response.text}")
    return {"Authorization": f"Bearer {response.json()['data']['access_token']}"}


@contextlib.asynccontextmanager
async def _checkout_key(http: httpx.AsyncClient, admin: dict[str, str]) -> AsyncIterator[dict[str, str]]:
    """A service API key for the run's audience (headers that send it), revoked when the run ends."""
    response = await http.post("/api/v1/api-keys", json={"name": KEY_NAME, "role": "service"}, headers=admin)
    if response.status_code != 201:
        raise SystemExit(f"quote-service simulate: cannot create a service API key: {response.text}")
    created = response.json()["data"]
    try:
        yield {"X-API-Key": created["key"]}
    finally:
        with contextlib.suppress(httpx.HTTPError):
            await http.delete(f"/api/v1/api-keys/{created['id']}", headers=admin)


async def _every(seconds: float, stop: asyncio.Event, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run `work` every `seconds` until `stop` (an HTTP error skips one round)."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
        if not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                await work()


async def simulate(
    *,
    base_url: str,
    rate: float,
    duration: float,
    admin: tuple[str, str],
    customers: int = 200,
    decide_every: float = 10.0,
    left_alone: frozenset[str] = frozenset(),
) -> Tally:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=base_url, timeout=10, limits=limits) as http:
        admin_headers = await _token(http, *admin)
        async with _checkout_key(http, admin_headers) as checkout:
            sim = Simulator(http, admin_headers, checkout, audience(customers), left_alone=left_alone)
            return await _run(
                sim, base_url=base_url, rate=rate, duration=duration, decide_every=decide_every, stop=stop
            )


async def _run(
    sim: Simulator, *, base_url: str, rate: float, duration: float, decide_every: float, stop: asyncio.Event
) -> Tally:
    """The shoppers at `rate` for `duration` seconds (or until `stop`), the watcher and the desk beside them."""
    await sim.prepare()
    await sim.watch(announce=False)
    print(f"simulate: {rate:g} actions/s for {duration:g} s against {base_url} (Ctrl-C stops)", flush=True)
    started = time.monotonic()
    tasks: set[asyncio.Task[None]] = set()

    async def look() -> None:
        await sim.watch(announce=True)
        await sim.refresh()
        await sim.keep_stock()

    background = [asyncio.create_task(_every(WATCH_INTERVAL, stop, look))]
    if decide_every > 0:
        background.append(asyncio.create_task(_every(decide_every, stop, sim.decide)))
    n = 0
    while not stop.is_set():
        elapsed = time.monotonic() - started
        if elapsed >= duration:
            break
        due = started + n / rate
        if due > time.monotonic():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), due - time.monotonic())
            continue
        task = asyncio.create_task(sim.act())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        n += 1
    stop.set()
    if tasks:
        await asyncio.wait(tasks, timeout=10)
    await asyncio.gather(*background)
    with contextlib.suppress(httpx.HTTPError):
        await sim.watch(announce=True)
    print(sim.tally.line(time.monotonic() - started), flush=True)
    return sim.tally
