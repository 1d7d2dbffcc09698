"""The quote workloads that cost is counted on: one definition for the cost budget
(tests/integration/test_cost_budget.py), the instruction counter (bench_instructions.py) and the
served benchmark's simple body (bench.py --body simple).

- `simple`: the cost budget's request (one ad-hoc, client-priced line, express), nothing configured;
- `readme`: the README's one-line order example (one demo catalog product, 2 units, to Ankara),
  written as the README writes it (spaces after colons), on seed-demo's catalog and configuration;
- `card_bin`: the same with a card BIN (installment plans are read for it: docs/taxes.md#installments);
- `demo`: seed-demo's catalog and configuration, a 5-unit basket of three demo products that a price
  list (group b2b), two promotions and WELCOME10 all price;
- `marketplace`: 200 lines from 20 sellers, shipping profiles for 16 of them, 30 promotions.

Each body is a new customer's (the identical-request cache never answers), of one length (a
log row's bytes do not depend on which quote it is).
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
from bench_shipping import CATEGORIES, promotion_body

Made = Callable[[str, dict[str, Any]], Awaitable[Any]]
"""POST a JSON body to an admin path; the created object's `data` (the caller checks the status)."""

WORKLOADS = ("simple", "readme", "card_bin", "demo", "marketplace")
README_SKU = "DEMO-BOOK-001"

DEMO_SKUS = (("DEMO-ELEC-002", 1), ("DEMO-GROC-001", 3), ("DEMO-HOME-001", 1))
DEMO_LOOKUP = (*(sku for sku, _ in DEMO_SKUS), "DEMO-BOOK-001")
"""The demo SKUs whose ids the workloads need."""
"""The demo basket: no flash-sale product (seed-demo's sale starts a minute after it), three grocery
units (buy 2, get 1), home goods (the platform-funded promotion)."""

DEMO_PRIORITIES = (
    "UPDATE promotions p SET priority = r.rank FROM"
    " (SELECT id, row_number() OVER (ORDER BY name) AS rank FROM promotions) r WHERE p.id = r.id"
)
"""Promotions of one priority stack in the order of their ids, which are random, and the deal search's
work follows that order (909 or 958 calls, run by run): a priority each, by name, makes it one order."""

CARD_BIN = "454360"


def customers(prefix: str) -> Iterator[str]:
    """Customer ids of one length."""
    return (f"{prefix}-{n:06d}" for n in itertools.count())


def simple_body(customer: str, *, card_bin: str | None = None) -> bytes:
    """The README's request (one ad-hoc line, express) for `customer`; with `card_bin`, paid by that card."""
    body: dict[str, Any] = {
        "customer_id": customer, "seller_id": "seller-1",
        "items": [{"product_id": "go-readme-item", "quantity": 2, "unit_price": 25.50, "category_id": "electronics"}],
        "delivery_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0082, "longitude": 28.9784},
        "is_express_delivery": True, "coupon_codes": [], "currency": "TRY",
    }  # fmt: skip
    if card_bin is not None:
        body["card_bin"] = card_bin
    return msgspec.json.encode(body)


def simple_bodies(prefix: str = "customer") -> Iterator[bytes]:
    return (simple_body(customer) for customer in customers(prefix))


def card_bin_bodies(prefix: str = "c-card") -> Iterator[bytes]:
    return (simple_body(customer, card_bin=CARD_BIN) for customer in customers(prefix))


def readme_body(customer: str, book: str) -> bytes:
    """The README's one-line basket (`book`: DEMO-BOOK-001's id) for `customer`, formatted as there."""
    return b"".join((
        b'{"customer_id": "', customer.encode(), b'", "seller_id": "seller-anatolia", "currency": "TRY",',
        b' "items": [{"product_id": "', book.encode(), b'", "quantity": 2}],',
        b' "delivery_address": {"city": "Ankara", "country": "TR"}}',
    ))  # fmt: skip


def readme_bodies(ids: dict[str, str], prefix: str = "shopper") -> Iterator[bytes]:
    return (readme_body(customer, ids[README_SKU]) for customer in customers(prefix))


def demo_body(customer: str, ids: dict[str, str]) -> bytes:
    """The demo basket (`DEMO_SKUS`; `ids`: the demo products' ids by SKU) for `customer`."""
    return msgspec.json.encode({
        "customer_id": customer, "seller_id": "seller-anatolia", "currency": "TRY",
        "items": [{"product_id": ids[sku], "quantity": quantity} for sku, quantity in DEMO_SKUS],
        "delivery_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0082, "longitude": 28.9784},
        "pickup_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0186, "longitude": 29.0023},
        "coupon_codes": ["WELCOME10"], "customer_tier": "gold", "customer_group": "b2b",
    })  # fmt: skip


def demo_bodies(ids: dict[str, str], prefix: str = "c-demo") -> Iterator[bytes]:
    return (demo_body(customer, ids) for customer in customers(prefix))


def marketplace_body(customer: str, ids: list[str]) -> bytes:
    """One line per product of `ids` (200 from `configure_marketplace`), 1-3 units each."""
    return msgspec.json.encode({
        "customer_id": customer, "currency": "TRY",
        "items": [{"product_id": product, "quantity": 1 + n % 3} for n, product in enumerate(ids)],
        "delivery_address": {"city": "Ankara", "country": "TR", "latitude": 39.93, "longitude": 32.86},
        "pickup_address": {"city": "Istanbul", "country": "TR", "latitude": 41.01, "longitude": 28.98},
        "logistics_provider": "fastship",
    })  # fmt: skip


def marketplace_bodies(ids: list[str], prefix: str = "c-market") -> Iterator[bytes]:
    return (marketplace_body(customer, ids) for customer in customers(prefix))


async def configure_marketplace(made: Made, *, shipping: bool = True, per_seller: int = 10) -> list[str]:
    """20 sellers of `per_seller` products each (10: 200 products; 50 for a 1,000-line basket), shipping
    profiles for all but every fifth seller (those take the delivery rules), 30 promotions of every kind
    (loadtests/bench_shipping.py's, fewer); the products' ids, seller by seller. `shipping=False`: no
    profiles (a release from before shipping profiles)."""
    ids = []
    for s in range(20):
        seller = f"cost-seller-{s:02d}"
        for n in range(per_seller):
            product = await made("/api/v1/products", {
                "sku": f"COST-{s:02d}-{n}", "name": f"Cost {s}/{n}", "category_id": CATEGORIES[n % 10],
                "seller_id": seller, "currency": "TRY", "base_price": f"{20 + 37 * s + 11 * n}.{n % 10}0",
                "min_price": "0", "stock": 1000, "weight": f"{1 + (s + n) % 40 / 10}"})  # fmt: skip
            ids.append(product["id"])
        if s % 5 == 4 or not shipping:
            continue
        await made("/api/v1/shipping-profiles", {
            "seller_id": seller, "countries": ["TR"], "currency": "TRY", "options": [
                {"code": "standard", "name": "Standard", "base_fee": "24.90", "per_kg": "1.50", "max_fee": "79.90",
                 "free_above": f"{5 + s * 2}00.00", "eta_days_min": 2, "eta_days_max": 4},
                {"code": "express", "name": "Express", "base_fee": "59.90", "eta_days_min": 1, "eta_days_max": 1,
                 "express": True}]})  # fmt: skip
    for n in range(30):
        promotion = promotion_body(n, ids[n * 5]) | {"priority": n}  # one order, not the random ids' (demo test)
        await made("/api/v1/promotions", promotion)
    return ids


async def configure_card_bin(made: Made) -> None:
    """An installment plan for `CARD_BIN` in TRY (what a card-BIN quote reads)."""
    await made(
        "/api/v1/installment-plans",
        {"name": "bench", "bin_prefixes": [CARD_BIN], "currency": "TRY",
         "options": [{"count": 3, "rate": 0, "funded_by": "platform"}]},
    )  # fmt: skip


_LUA = """
local headers = {["Content-Type"] = "application/json", ["X-API-Key"] = "%(key)s"%(money)s}
local template = %(template)s
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  local body = string.format(template, string.format("w-%%09d", math.random(1, 999999999)))
  return wrk.format("POST", "/api/v1/quote", headers, body)
end
"""


def body_template(kind: str, ids: dict[str, str]) -> str:
    """A `readme`, `simple` or `demo` body with its customer id as `%s` (Lua's string.format and Python's %
    alike; `ids`: the demo products' ids by SKU)."""
    marker = "CUSTOMER-MARKER"
    if kind == "readme":
        made = readme_body(marker, ids[README_SKU])
    elif kind == "simple":
        made = simple_body(marker)
    else:
        made = demo_body(marker, ids)
    return made.decode().replace("%", "%%").replace(marker, "%s")


def wrk_script(kind: str, key: str, ids: dict[str, str], money: str = "") -> Path:
    """A wrk script sending `kind` bodies, each from a new customer (`money`: more Lua headers)."""
    script = Path(tempfile.mkstemp(prefix="qs-bench-", suffix=".lua")[1])
    script.write_text(_LUA % {"key": key, "money": money, "template": json.dumps(body_template(kind, ids))})
    return script
