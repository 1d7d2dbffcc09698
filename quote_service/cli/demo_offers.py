"""The demo's offers (docs/offers.md): three demo products that other sellers sell too, each with one offer
that is cheaper but ships dearer to Ankara (seller-bosphorus's cargo), so the best landed offer depends on
the address. None of the walkthroughs' products has offers: their quotes stay as they are."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg

from quote_service.audit.writer import actor_document, audited
from quote_service.offers import service as offers
from quote_service.offers.schemas import OfferCreate

DEMO_OFFERS: dict[str, list[dict[str, Any]]] = {
    # Kilim Cushion Cover, seller-anatolia's at 159.00 (no profile: the delivery rules).
    "DEMO-HOME-004": [
        {"seller_id": "seller-bosphorus", "current_price": "149.00", "stock": 20},
        {"seller_id": "seller-cappadocia", "current_price": "165.00", "stock": 15, "condition": "new"},
    ],
    # Turkish Cookbook, seller-cappadocia's at 420.00.
    "DEMO-BOOK-006": [
        {"seller_id": "seller-bosphorus", "current_price": "399.00", "stock": 12},
        {"seller_id": "seller-anatolia", "current_price": "289.00", "stock": 3, "condition": "used"},
    ],
    # Webcam 1080p, seller-cappadocia's at 1099.00.
    "DEMO-ELEC-009": [
        {"seller_id": "seller-bosphorus", "current_price": "1049.00", "stock": 8, "condition": "refurbished"},
    ],
}
"""Offers by the product's SKU."""


async def seed_offers(pool: asyncpg.Pool) -> int:
    """Create the demo offers that are missing (a product's seller already offering it is skipped); how many."""
    async with pool.acquire() as conn:
        products = {
            r["sku"]: r["id"]
            for r in await conn.fetch("SELECT sku, id FROM products WHERE sku = any($1::text[])", list(DEMO_OFFERS))
        }
        present = {
            (r["product_id"], r["seller_id"]) for r in await conn.fetch("SELECT product_id, seller_id FROM offers")
        }
    writer = audited(pool, actor_document(kind="system", actor_id=None, name="seed-demo"), None)
    created = 0
    for sku, bodies in DEMO_OFFERS.items():
        product_id = products.get(sku)
        if product_id is None:
            continue
        for body in bodies:
            if (product_id, body["seller_id"]) in present:
                continue
            data = OfferCreate(
                product_id=product_id,
                seller_id=body["seller_id"],
                current_price=Decimal(body["current_price"]),
                stock=body["stock"],
                condition=body.get("condition", "new"),
            )
            await offers.create_offer(writer, data, caller=None, actor="seed-demo")
            created += 1
    return created
