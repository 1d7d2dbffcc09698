"""Loads all active configuration from PostgreSQL into a ConfigSnapshot."""

from __future__ import annotations

from datetime import timedelta

from quote_service.cache.config_bus import read_version
from quote_service.catalog.repository import quantity_rules
from quote_service.clock import utcnow
from quote_service.commissions import repository as commissions
from quote_service.coupons import repository as coupons
from quote_service.db.pool import Connection, Pool
from quote_service.extensions import repository as extensions
from quote_service.flags import repository as flags
from quote_service.flash_sales.repository import load_definitions
from quote_service.fx.repository import in_force_since
from quote_service.offers.repository import load_active as load_offers
from quote_service.price_lists import repository as price_lists
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.promotions import repository as promotions
from quote_service.rules import repository as rules
from quote_service.shipping import repository as shipping

FX_LOOKBACK = timedelta(days=1)
"""How far before a load the snapshot's exchange rates reach (a quote is priced at now, after the load)."""


async def load_snapshot(pool: Pool) -> ConfigSnapshot:
    """Read the version and every configuration table in one repeatable-read transaction: the
    snapshot's version is exactly the version of the data it holds."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return await read_snapshot(conn)


async def read_snapshot(conn: Connection) -> ConfigSnapshot:
    """Every configuration table as `conn` sees it now (in its transaction: a what-if simulation
    reads its draft changes, written in a transaction it rolls back, this way)."""
    version = await read_version(conn)
    now = utcnow()
    offers, default_stock = await load_offers(conn)
    return ConfigSnapshot.build(
        version=version,
        rates=await commissions.load_active(conn),
        rules=await rules.load_active(conn),
        flags=await flags.load_active(conn),
        coupons=await coupons.load_active(conn),
        flash_sales=await load_definitions(conn, now=now),
        price_lists=await price_lists.load_book(conn),
        promotions=await promotions.load_active(conn),
        shipping_profiles=await shipping.load_active(conn),
        quantity_rules=await quantity_rules(conn),
        extensions=await extensions.load_active(conn),
        offers=offers,
        offer_default_stock=default_stock,
        # A rate stays in the snapshot from a day before the load: every rate in force from then on.
        fx_rates=await in_force_since(conn, since=now - FX_LOOKBACK),
    )
