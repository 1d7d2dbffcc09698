"""Configure, on a running demo server, features the benchmark's quotes never use (bench.py --unused-features).

- price lists that price every demo product, half in EUR (the baskets are TRY; these are
  tax-inclusive) and half in TRY for a customer group no caller has;
- fee rules priced in EUR (delivery, small basket; docs/markets.md), which a TRY quote never reads;
- promotions whose conditions fail for every basket: another currency, a segment nobody is in,
  a minimum subtotal no basket reaches on the demo's own categories;
- enabled flags with targeting rules that admit nobody (every quote still answers them);
- stock reservations held by other customers' quotes (`reserve_stock: true`) on every product.
Admin writes reload the snapshot before they answer, so the next quote prices with all of it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

ADMIN_LOGIN = {"username": "demo-admin", "password": "quote-service-admin"}  # seed-demo's admin
NOBODY = "nobody-here"


def _created(response: httpx.Response) -> Any:
    if response.status_code not in (200, 201):
        raise SystemExit(
            f"configuring unused features failed: {response.request.url} {response.status_code} {response.text}"
        )
    return response.json()["data"]


def _price_lists(http: httpx.Client, admin: dict[str, str], ids: list[str], count: int) -> None:
    for n in range(count):
        in_euros = n % 2 == 0
        body = {
            "name": f"unused {n}",
            "currency": "EUR" if in_euros else "TRY",
            "customer_groups": [] if in_euros else [NOBODY],
            "priority": n % 4,
            "prices": [{"product_id": i, "amount": f"{10 + n}.00"} for i in ids],
            "prices_include_tax": in_euros,
        }
        _created(http.post("/api/v1/price-lists", json=body, headers=admin))


def _promotions(http: httpx.Client, admin: dict[str, str], categories: list[str], count: int) -> None:
    since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()  # in force from now on
    for n in range(count):
        shape = n % 3
        if shape == 0:
            conditions: dict[str, Any] = {
                "category_ids": [categories[n % len(categories)]],
                "min_subtotal": "100000000",
                "currency": "TRY",
            }
        elif shape == 1:
            conditions = {"currency": "EUR"}
        else:
            conditions = {"customer_segments": [NOBODY]}
        body = {"name": f"never {n}", "kind": "PERCENT_OFF", "config": {"percent": 10}, "conditions": conditions,
                "starts_at": since}  # fmt: skip
        _created(http.post("/api/v1/promotions", json=body, headers=admin))


def _euro_fees(http: httpx.Client, admin: dict[str, str]) -> None:
    since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    for name, rule_type, configuration in (
        ("unused-eur-delivery", "DELIVERY_FEE", {"base_fee": "4.90", "currency": "EUR"}),
        ("unused-eur-small", "SMALL_BASKET", {"threshold": "20", "fee": "2.50", "currency": "EUR"}),
    ):
        body = {"name": name, "type": rule_type, "configuration": configuration, "priority": 9, "effective_from": since}
        _created(http.post("/api/v1/pricing-rules", json=body, headers=admin))


def _flags(http: httpx.Client, admin: dict[str, str], count: int) -> None:
    rules = [
        {"attribute": "customer_tier", "operator": "in", "values": ["platinum-nobody"]},
        {"attribute": "subtotal", "operator": "gte", "values": [1_000_000_000]},
    ]
    for n in range(count):
        body = {"key": f"unused_targeted_{n}", "name": f"unused targeted {n}", "type": "BOOLEAN", "value": True,
                "rollout": {"rules": rules}}  # fmt: skip
        _created(http.post("/api/v1/feature-flags", json=body, headers=admin))


def _reservations(http: httpx.Client, key: str, ids: list[str], per_product: int) -> int:
    held = 0
    for n in range(per_product):
        for i, product in enumerate(ids):
            # A customer per hold: one customer holds at most MAX_ACTIVE_RESERVATIONS at once.
            body = {"customer_id": f"holder-{n}-{i}", "seller_id": "seller-anatolia", "currency": "TRY",
                    "items": [{"product_id": product, "quantity": 1}], "reserve_stock": True,
                    "delivery_address": {"city": "Istanbul", "country": "TR"}}  # fmt: skip
            response = http.post("/api/v1/quote", json=body, headers={"X-API-Key": key})
            held += response.status_code == 200  # a product out of stock holds nothing: not an error here
    return held


def configure(base: str, key: str, ids: list[str], *, lists: int, promotions: int, flags: int, holds: int) -> str:
    """Create every unused feature (see module docstring); a line saying what was made."""
    with httpx.Client(base_url=base, timeout=60) as http:
        token = _created(http.post("/api/v1/auth/token", json=ADMIN_LOGIN))["access_token"]
        admin = {"Authorization": f"Bearer {token}"}
        products = _created(http.get("/api/v1/products", params={"limit": 500}, headers=admin))["items"]
        categories = sorted({p["category_id"] for p in products if p.get("category_id")})
        _price_lists(http, admin, ids, lists)
        _promotions(http, admin, categories, promotions)
        _flags(http, admin, flags)
        _euro_fees(http, admin)
        held = _reservations(http, key, ids, holds)
    return (
        f"unused features: {lists} price lists x {len(ids)} prices (EUR tax-inclusive, or TRY for group {NOBODY!r}), "
        "2 EUR fee rules, "
        f"{promotions} failing promotions, {flags} flags with rules admitting nobody, "
        f"{held} reserving quotes of other customers holding stock"
    )
