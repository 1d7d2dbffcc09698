"""`quote-service simulate`: live shoppers through the HTTP API, printing each price move.

At a steady `rate` (actions per second) for `duration` seconds it picks one action at random:
a quote (50 %), a quote confirmed as an order (20 %), a flash purchase in an active sale (15 %),
or a competitor price observation (15 %; skipped when the service has no such endpoint). A
watcher polls the admin dashboard summary every second and prints each new price move
(product, old → new, source, reason). Ctrl-C stops cleanly and prints the summary line.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

WATCH_INTERVAL = 1.0
KINDS = ("quote", "order", "flash_purchase", "competitor_observation")
WEIGHTS = (50, 20, 15, 15)


@dataclass
class Tally:
    sent: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    failed: int = 0
    moves: int = 0
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
            f"{self.failed} failed; {self.moves} price moves"
        )


class Simulator:
    def __init__(
        self, http: httpx.AsyncClient, admin: dict[str, str], shopper: dict[str, str], shopper_id: str
    ) -> None:
        self.http, self.admin, self.shopper, self.shopper_id = http, admin, shopper, shopper_id
        self.tally = Tally()
        self.products: list[dict[str, Any]] = []
        self.sales: list[dict[str, Any]] = []
        self.seen: set[tuple[str, str, str]] = set()
        self.rng = random.Random()  # noqa: S311 - a load generator, not cryptography

    async def refresh(self) -> None:
        page = await self.http.get("/api/v1/products", params={"limit": 100, "is_active": "true"}, headers=self.admin)
        self.products = page.json()["data"]["items"] if page.status_code == 200 else []
        sales = await self.http.get("/api/v1/flash-sales", params={"limit": 20}, headers=self.admin)
        items = sales.json()["data"]["items"] if sales.status_code == 200 else []
        self.sales = [s for s in items if s["status"] == "active"]

    async def watch(self, *, announce: bool) -> None:
        response = await self.http.get("/api/v1/dashboard/summary", headers=self.admin)
        if response.status_code != 200:
            return
        for move in reversed(response.json()["data"]["recent_price_moves"]):
            key = (move["product_id"], move["changed_at"], move["new_price"])
            if key in self.seen:
                continue
            self.seen.add(key)
            if announce:
                self.tally.moves += 1
                old = move["old_price"] if move["old_price"] is not None else "-"
                print(
                    f"price move: {move['product_name']} {old} → {move['new_price']} {move['currency']} "
                    f"({move['source']}: {move['reason']})",
                    flush=True,
                )

    async def act(self) -> None:
        kind = self.rng.choices(KINDS, WEIGHTS)[0]
        if kind in self.tally.unavailable or not self.products:
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

    async def _quote(self) -> httpx.Response:
        currency = self.products[0]["currency"]
        chosen = [p for p in self.products if p["currency"] == currency]
        basket = self.rng.sample(chosen, k=min(len(chosen), self.rng.randint(1, 3)))
        body = {
            "customer_id": self.shopper_id,
            "currency": currency,
            "delivery_address": {"city": "Istanbul", "country": "TR"},
            "items": [{"product_id": p["id"], "quantity": self.rng.randint(1, 2)} for p in basket],
        }
        return await self.http.post("/api/v1/quote", json=body, headers=self.shopper)

    async def quote(self) -> None:
        self._count("quote", await self._quote())

    async def order(self) -> None:
        quoted = await self._quote()
        if quoted.status_code != 200:
            self._count("order", quoted)
            return
        headers = {**self.shopper, "Idempotency-Key": str(uuid.uuid4())}
        body = {"quote_id": quoted.json()["data"]["quote_id"]}
        self._count("order", await self.http.post("/api/v1/orders", json=body, headers=headers))

    async def flash_purchase(self) -> None:
        if not self.sales:
            await self.quote()
            return
        sale = self.rng.choice(self.sales)
        item = self.rng.choice(sale["items"])
        headers = {**self.shopper, "Idempotency-Key": str(uuid.uuid4())}
        body = {"product_id": item["product_id"], "quantity": 1}
        path = f"/api/v1/flash-sales/{sale['id']}/purchases"
        self._count("flash_purchase", await self.http.post(path, json=body, headers=headers))

    async def competitor_observation(self) -> None:
        product = self.rng.choice(self.products)
        price = Decimal(product["current_price"]) * Decimal(self.rng.uniform(0.8, 1.15))
        observation = {
            "product_id": product["id"],
            "competitor": self.rng.choice(["rival-a", "rival-b", "rival-c"]),
            "price": str(price.quantize(Decimal("0.01"))),
            "currency": product["currency"],
            "observed_at": datetime.now(UTC).isoformat(),
        }
        response = await self.http.post(
            "/api/v1/competitor-prices", json={"observations": [observation]}, headers=self.admin
        )
        if response.status_code in (404, 405):
            self.tally.unavailable.add("competitor_observation")
            await self.quote()
            return
        self._count("competitor_observation", response)


async def _token(http: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await http.post("/api/v1/auth/token", json={"username": username, "password": password})
    if response.status_code != 200:
        raise SystemExit(f"quote-service simulate: cannot log in as {username}: {response.text}")
    return {"Authorization": f"Bearer {response.json()['data']['access_token']}"}


async def simulate(
    *, base_url: str, rate: float, duration: float, admin: tuple[str, str], shopper: tuple[str, str]
) -> Tally:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=base_url, timeout=10, limits=limits) as http:
        admin_headers = await _token(http, *admin)
        shopper_headers = await _token(http, *shopper)
        me = (await http.get("/api/v1/users/me", headers=shopper_headers)).json()["data"]
        sim = Simulator(http, admin_headers, shopper_headers, str(me["id"]))
        await sim.refresh()
        await sim.watch(announce=False)
        print(f"simulate: {rate:g} actions/s for {duration:g} s against {base_url} (Ctrl-C stops)", flush=True)
        started = time.monotonic()
        tasks: set[asyncio.Task[None]] = set()

        async def watcher() -> None:
            while not stop.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    await sim.watch(announce=True)
                    await sim.refresh()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), WATCH_INTERVAL)

        watching = asyncio.create_task(watcher())
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
        await watching
        with contextlib.suppress(httpx.HTTPError):
            await sim.watch(announce=True)
        print(sim.tally.line(time.monotonic() - started), flush=True)
        return sim.tally
