"""Request bodies a checkout platform sends: varied baskets, cities, coupons, flash purchases."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Product:
    id: str
    sku: str
    seller_id: str
    category_id: str
    currency: str
    current_price: Decimal
    min_price: Decimal
    stock: int

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Product:
        return cls(
            id=data["id"],
            sku=data["sku"],
            seller_id=data["seller_id"],
            category_id=data["category_id"],
            currency=data["currency"],
            current_price=Decimal(data["current_price"]),
            min_price=Decimal(data["min_price"]),
            stock=int(data["stock"]),
        )


@dataclass(frozen=True)
class City:
    name: str
    latitude: float
    longitude: float
    districts: tuple[str, ...]
    postal_prefix: str


# Where baskets go (share of traffic ~ the weights). The demo has an Istanbul delivery rule
# (distance-priced) and TR-wide express/small-basket rules; other cities take the defaults.
CITIES: tuple[tuple[City, int], ...] = (
    (City("Istanbul", 41.0082, 28.9784, ("Kadikoy", "Besiktas", "Sisli", "Uskudar", "Fatih"), "34"), 40),
    (City("Ankara", 39.9334, 32.8597, ("Cankaya", "Kecioren", "Yenimahalle"), "06"), 18),
    (City("Izmir", 38.4237, 27.1428, ("Konak", "Karsiyaka", "Bornova"), "35"), 14),
    (City("Bursa", 40.1885, 29.0610, ("Osmangazi", "Nilufer"), "16"), 10),
    (City("Antalya", 36.8969, 30.7133, ("Muratpasa", "Konyaalti"), "07"), 10),
    (City("Adana", 37.0000, 35.3213, ("Seyhan", "Cukurova"), "01"), 8),
)
# Sellers ship from a warehouse; some marketplace baskets have no pickup address (no distance terms).
WAREHOUSE = {"city": "Istanbul", "country": "TR", "latitude": 41.0186, "longitude": 29.0023}
ITEMS_PER_BASKET = ((1, 30), (2, 25), (3, 20), (4, 12), (5, 8), (6, 5))
QUANTITIES = ((1, 70), (2, 18), (3, 7), (4, 3), (6, 1), (10, 1))  # 3+ reaches the demo bulk discount
TIERS = ((None, 55), ("silver", 25), ("gold", 15), ("platinum", 5))
PROVIDERS = ((None, 20), ("fastship", 50), ("anadolu-kargo", 30))
UNKNOWN_COUPON = "LOADTEST-NOPE"  # comes back in rejected_coupons (NOT_FOUND); the quote still succeeds
USER_AGENTS = ("checkout-web/4.2", "checkout-ios/7.1", "checkout-android/7.0")


def pick(choices: tuple[tuple[Any, int], ...]) -> Any:
    values, weights = zip(*choices, strict=True)
    return random.choices(values, weights=weights)[0]


def address() -> dict[str, Any]:
    city: City = pick(CITIES)
    return {
        "street": f"{random.randint(1, 250)}. Sokak No {random.randint(1, 90)}",
        "district": random.choice(city.districts),
        "city": city.name,
        "country": "TR",
        "postal_code": f"{city.postal_prefix}{random.randint(0, 999):03d}",
        "latitude": round(city.latitude + random.uniform(-0.05, 0.05), 5),
        "longitude": round(city.longitude + random.uniform(-0.05, 0.05), 5),
    }


def coupons(codes: tuple[str, ...]) -> list[str]:
    """Most baskets carry no coupon; some one or two valid codes; a few an unknown one."""
    roll = random.random()
    if not codes or roll < 0.62:
        return []
    if roll < 0.90:
        return [random.choice(codes)]
    if roll < 0.96:
        return list(random.sample(codes, min(2, len(codes))))
    return [UNKNOWN_COUPON, *random.sample(codes, 1)]


def quote_body(
    products: list[Product], *, customer_id: str, currency: str, coupon_codes: tuple[str, ...], with_tier: bool
) -> dict[str, Any]:
    """A realistic POST /api/v1/quote body: 1-6 distinct catalog products, mostly single units."""
    count = min(pick(ITEMS_PER_BASKET), len(products))
    lines = random.sample(products, count)
    body: dict[str, Any] = {
        "customer_id": customer_id,
        "seller_id": lines[0].seller_id,
        "currency": currency,
        "items": [{"product_id": p.id, "quantity": pick(QUANTITIES)} for p in lines],
        "delivery_address": address(),
        "is_express_delivery": random.random() < 0.2,
        "coupon_codes": coupons(coupon_codes),
    }
    if random.random() < 0.8:
        body["pickup_address"] = WAREHOUSE
    provider = pick(PROVIDERS)
    if provider is not None:
        body["logistics_provider"] = provider
    tier = pick(TIERS) if with_tier else None  # a user token's own tier applies otherwise
    if tier is not None:
        body["customer_tier"] = tier
    if random.random() < 0.5:
        body["context"] = {
            "user_agent": random.choice(USER_AGENTS),
            "session_id": uuid.uuid4().hex,
            "ab_test_group": random.choice(("A", "B")),
        }
    return body


@dataclass(frozen=True, kw_only=True)
class SaleItem:
    product_id: str
    flash_price: str


@dataclass(frozen=True, kw_only=True)
class Sale:
    id: str
    name: str
    status: str
    items: tuple[SaleItem, ...]
    remaining: int

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Sale:
        return cls(
            id=data["id"],
            name=data["name"],
            status=data["status"],
            items=tuple(SaleItem(product_id=i["product_id"], flash_price=i["flash_price"]) for i in data["items"]),
            remaining=sum(int(i["remaining_stock"]) for i in data["items"]),
        )


def purchase_body(sale: Sale, *, customer_id: str) -> dict[str, Any]:
    """A flash purchase as a storefront sends it: the price it showed, one or two units."""
    item = random.choice(sale.items)
    return {
        "product_id": item.product_id,
        "quantity": random.choice((1, 1, 1, 2)),
        "expected_unit_price": item.flash_price,
        "customer_id": customer_id,
    }
