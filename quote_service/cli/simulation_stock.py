"""simulate's bestseller and warehouse: stock that crosses the inventory rule's thresholds.

Orders favour one product, the bestseller, until its stock falls to the rule's low threshold
(the repricing trigger raises its price: `low_stock`). The bestseller then stops selling for
RESTOCK_AFTER seconds, so its higher price can be seen; the warehouse restocks it past the
high threshold (`high_stock` lowers the price) and another product becomes the bestseller: the
one closest to the low threshold whose `low_stock` repricing is not cooling down.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

RESTOCK_AFTER = 5.0
"""Seconds the bestseller stays at its low stock before the restock."""
RESTOCK_ABOVE_HIGH = 10
DEFAULT_THRESHOLDS = (10, 100, 24)
"""(low, high, cooldown hours) when the service has no INVENTORY_LEVEL rule to read them from."""


def items(response: httpx.Response) -> list[dict[str, Any]]:
    """A list page's items; none when the service answers otherwise (an endpoint it lacks)."""
    if response.status_code != 200:
        return []
    found: list[dict[str, Any]] = response.json()["data"]["items"]
    return found


@dataclass
class Warehouse:
    http: httpx.AsyncClient
    admin: dict[str, str]
    thresholds: tuple[int, int, int] = DEFAULT_THRESHOLDS
    bestseller: str | None = None
    low_since: float | None = None

    def selling(self, catalog: dict[str, dict[str, Any]]) -> str | None:
        """The product orders should favour now: none once it is down to the low threshold."""
        product = catalog.get(self.bestseller or "")
        if product is None or self.low_since is not None or product["stock"] <= self.thresholds[0]:
            return None
        return str(product["id"])

    async def read_rule(self) -> None:
        """The thresholds of the (first) INVENTORY_LEVEL rule, when there is one."""
        rules = await self.http.get("/api/v1/pricing-rules", params={"type": "INVENTORY_LEVEL"}, headers=self.admin)
        for rule in items(rules)[:1]:
            config = rule["configuration"]
            self.thresholds = (config["low_threshold"], config["high_threshold"], config["cooldown_hours"])

    async def keep(self, catalog: dict[str, dict[str, Any]], products: Sequence[dict[str, Any]]) -> str | None:
        """Follow the bestseller (as the catalog last listed it); what the warehouse did, to print."""
        low, high, _ = self.thresholds
        product = catalog.get(self.bestseller or "")
        if product is None:
            await self.choose(products)
            return None
        if product["stock"] > low:
            return None
        if self.low_since is None:
            self.low_since = time.monotonic()
        if time.monotonic() - self.low_since < RESTOCK_AFTER:
            return None
        self.bestseller, self.low_since = None, None
        delta = high + RESTOCK_ABOVE_HIGH - product["stock"]
        body = {"delta": delta, "reason": "simulate: restock"}
        response = await self.http.post(f"/api/v1/products/{product['id']}/stock", json=body, headers=self.admin)
        if response.status_code != 200:
            return None
        return f"restock: {product['name']} +{delta} (stock {response.json()['data']['stock']})"

    async def choose(self, products: Sequence[dict[str, Any]]) -> None:
        """The next bestseller: closest to the low threshold, its low_stock repricing not cooling down."""
        low, _, cooldown = self.thresholds
        events = await self.http.get(
            "/api/v1/repricing/events", params={"reason": "low_stock", "limit": 200}, headers=self.admin
        )
        since = datetime.now(UTC) - timedelta(hours=cooldown)
        cooling = {
            e["product_id"]
            for e in items(events)
            if e["outcome"] == "applied" and datetime.fromisoformat(e["created_at"]) > since
        }
        candidates = [p for p in products if p["stock"] > low and p["id"] not in cooling]
        if candidates:
            self.bestseller = min(candidates, key=lambda p: p["stock"])["id"]
