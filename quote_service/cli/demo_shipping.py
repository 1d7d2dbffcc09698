"""The demo sellers' shipping profiles (docs/shipping.md): two sellers ship to Ankara (one to Izmir
too) at their own rates; seller-anatolia has none, so its parcels take the delivery rules. None
serves Istanbul, where the README's first quote and the walkthroughs deliver: those stay as they are."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from quote_service.audit.writer import actor_document, audited
from quote_service.shipping import service as shipping
from quote_service.shipping.schemas import ShippingProfileInput
from quote_service.validation import decode_hook

DEMO_SHIPPING_PROFILES: list[dict[str, Any]] = [
    {
        "seller_id": "seller-bosphorus",
        "countries": ["TR"],
        "regions": ["Ankara", "Izmir"],
        "currency": "TRY",
        "options": [
            {"code": "standard", "name": "Bosphorus Cargo", "base_fee": "29.90", "per_kg": "2.50", "max_fee": "59.90",
             "free_above": "2000.00", "eta_days_min": 2, "eta_days_max": 4},
            {"code": "next_day", "name": "Next-day courier", "base_fee": "64.90", "eta_days_min": 1, "eta_days_max": 1,
             "express": True},
        ],
    },
    {
        "seller_id": "seller-cappadocia",
        "countries": ["TR"],
        "regions": ["Ankara"],
        "currency": "TRY",
        "options": [
            {"code": "standard", "name": "Standard cargo", "base_fee": "24.90", "per_kg": "1.00",
             "free_above": "300.00", "eta_days_min": 3, "eta_days_max": 5},
            {"code": "pickup_point", "name": "Pickup point", "base_fee": "9.90", "eta_days_min": 4, "eta_days_max": 7},
        ],
    },
]  # fmt: skip


async def seed_shipping_profiles(pool: asyncpg.Pool) -> int:
    """Create the demo sellers' profiles each seller lacks; how many were created."""
    async with pool.acquire() as conn:
        present = {row["seller_id"] for row in await conn.fetch("SELECT DISTINCT seller_id FROM shipping_profiles")}
    missing = [body for body in DEMO_SHIPPING_PROFILES if body["seller_id"] not in present]
    # Written like an admin's configuration: in the audit log (docs/governance.md).
    writer = audited(pool, actor_document(kind="system", actor_id=None, name="seed-demo"), None)
    for body in missing:
        profile = msgspec.convert(body, ShippingProfileInput, dec_hook=decode_hook)
        await shipping.PROFILES.create(writer, profile, actor="seed-demo")
    return len(missing)
