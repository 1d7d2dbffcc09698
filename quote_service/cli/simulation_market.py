"""simulate's market and pricing desk: competitors whose prices drift, and decision runs.

The market watches a few products (those competitors already observe first). Each watched
product has three competitors, each at its own level around the product's list price; every
observation moves that level a little (a random walk, so the competitors' mean drifts and the
decisions have something to follow), and now and then one competitor posts an odd price (a
`price_anomaly` for the signal rules) without moving its level.

The desk runs a decision for the watched products every few seconds and applies the small
recommendations itself (at most AUTO_APPLY_PERCENT), as a pricing team would let a tool do;
bigger ones stay `proposed` for a person (the dashboard's Apply button), and their product gets
no new decision until its price moves.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

COMPETITORS = ("shopfast", "megamart", "buynow", "dealzone")
WATCHED = 6
"""Products the market follows: few enough that each competitor posts every few seconds."""
COMPETITORS_PER_PRODUCT = 3
LEVELS = (0.88, 1.08)
"""A competitor's starting level, as a fraction of the product's list price."""
DRIFT = 0.02
"""The standard deviation of a level's step per observation (log scale)."""
BOUNDS = (0.75, 1.25)
ODD_CHANCE, ODD_FACTOR = 0.03, 1.35
AUTO_APPLY_PERCENT = Decimal(5)


@dataclass
class Market:
    rng: random.Random
    watched: list[dict[str, Any]] = field(default_factory=list)
    levels: dict[tuple[str, str], float] = field(default_factory=dict)

    def watch(self, products: Sequence[dict[str, Any]], observed: set[str]) -> None:
        """Choose the watched products: those already observed first, then others at random."""
        seen = [p for p in products if p["id"] in observed]
        others = [p for p in products if p["id"] not in observed]
        self.watched = (seen + self.rng.sample(others, len(others)))[:WATCHED]
        for product in self.watched:
            for competitor in self.rng.sample(COMPETITORS, COMPETITORS_PER_PRODUCT):
                self.levels[(product["id"], competitor)] = self.rng.uniform(*LEVELS)

    def observation(self) -> dict[str, Any] | None:
        """The next competitor price, as POST /competitor-prices takes it; None when nothing is watched."""
        if not self.watched:
            return None
        product = self.rng.choice(self.watched)
        competitor = self.rng.choice([c for p, c in self.levels if p == product["id"]])
        key = (product["id"], competitor)
        level = min(max(self.levels[key] * math.exp(self.rng.gauss(0, DRIFT)), BOUNDS[0]), BOUNDS[1])
        self.levels[key] = level
        posted = level * ODD_FACTOR if self.rng.random() < ODD_CHANCE else level
        price = Decimal(product["base_price"]) * Decimal(str(round(posted, 4)))
        return {
            "product_id": product["id"],
            "competitor": competitor,
            "price": str(price.quantize(Decimal("0.01"))),
            "currency": product["currency"],
            "observed_at": datetime.now(UTC).isoformat(),
        }


@dataclass
class DeskRun:
    """One decision run: what to print, and the counts."""

    lines: list[str] = field(default_factory=list)
    left: dict[str, str] = field(default_factory=dict)
    """Product id -> the price its proposal was made at, for the proposals left to a person."""
    proposed: int = 0
    applied: int = 0
    refused: int = 0


async def run_desk(
    http: httpx.AsyncClient, admin: dict[str, str], products: dict[str, dict[str, Any]], product_ids: list[str]
) -> DeskRun | None:
    """A decision run for `product_ids`, then the small proposals applied; None when the service
    has no decisions endpoint."""
    response = await http.post("/api/v1/decisions/run", json={"product_ids": product_ids}, headers=admin)
    if response.status_code in (404, 405):
        return None
    run = DeskRun()
    if response.status_code != 200:
        run.refused += 1
        return run
    for decision in response.json()["data"]:
        if decision["status"] != "proposed":
            continue
        run.proposed += 1
        product = products.get(decision["product_id"], {})
        why = ", ".join([*decision["reasons"], *decision["guardrails"]]) or "market"
        said = (
            f"decision: {product.get('name', decision['product_id'])} {decision['old_price']} → "
            f"{decision['recommended_price']} {product.get('currency', '')} ({decision['change_percent']} %: {why})"
        )
        if abs(Decimal(decision["change_percent"])) > AUTO_APPLY_PERCENT:
            run.lines.append(f"{said}: proposed, yours to apply")
            run.left[decision["product_id"]] = decision["old_price"]
            continue
        applied = await http.post(f"/api/v1/decisions/{decision['id']}/apply", headers=admin)
        if applied.status_code == 200:
            run.applied += 1
            run.lines.append(f"{said}: applied")
        else:  # 409 PRICE_CHANGED: the price moved between the run and the apply
            run.refused += 1
            run.lines.append(f"{said}: not applied ({applied.json().get('message', applied.status_code)})")
    return run
