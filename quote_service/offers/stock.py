"""The stock orders take from offers and refunds give back (docs/offers.md): locked in id order after the
products' rows (every stock writer's order), checked under the lock against the stock less the units
reservations hold (migration 0780), never below zero."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from quote_service.db.pool import Connection
from quote_service.errors import FieldError, InsufficientStock, ProductUnavailable
from quote_service.offers import repository
from quote_service.pricing.quote import Quote
from quote_service.reservations import repository as reservations


def _positions(quote: Quote) -> dict[UUID, int]:
    first: dict[UUID, int] = {}
    for index, line in enumerate(quote.items):
        if isinstance(line.offer_id, UUID):
            first.setdefault(line.offer_id, index)
    return first


async def lock(conn: Connection, wanted: dict[UUID, int]) -> list[asyncpg.Record]:
    """Lock the offers of `wanted` in id order (after the products' rows, before a reservation's row)."""
    return await repository.lock_offers(conn, offer_ids=sorted(wanted))


async def take(
    conn: Connection, quote: Quote, wanted: dict[UUID, int], locked: list[asyncpg.Record], *, now: datetime
) -> None:
    """Take `wanted` units from each offer `lock` locked, or refuse (409) naming each line that cannot have
    them: an offer gone inactive (PRODUCT_UNAVAILABLE) or short of stock less the units other quotes hold
    (INSUFFICIENT_STOCK; the quote's own hold was consumed first); nothing is taken then."""
    rows = {row["id"]: row for row in locked}
    at = _positions(quote)
    gone = [oid for oid in wanted if oid not in rows or not rows[oid]["is_active"]]
    if gone:
        raise ProductUnavailable(
            "offer(s) no longer available: " + ", ".join(map(str, gone)),
            details=[FieldError(f"items[{at[oid]}].offer_id", "offer is inactive") for oid in gone],
        )
    held = await reservations.held_offer_units(conn, offer_ids=sorted(wanted), now=now)
    short = [oid for oid, n in wanted.items() if rows[oid]["stock"] - held.get(oid, 0) < n]
    if short:
        raise InsufficientStock(
            "insufficient stock for offer(s): " + ", ".join(map(str, short)),
            details=[
                FieldError(
                    f"items[{at[oid]}].quantity",
                    f"offer {oid}: {wanted[oid]} ordered, {rows[oid]['stock']} in stock"
                    + (f", {held[oid]} of them held for other quotes" if held.get(oid) else ""),
                )
                for oid in short
            ],
        )
    await repository.add_stock(conn, deltas={oid: -n for oid, n in sorted(wanted.items())})


async def give_back(conn: Connection, units: dict[UUID, int]) -> None:
    """Return refunded or cancelled units to their offers (an offer deactivated since takes them too)."""
    if not units:
        return
    present = {row["id"] for row in await repository.lock_offers(conn, offer_ids=sorted(units))}
    back = {oid: n for oid, n in sorted(units.items()) if oid in present}
    if back:
        await repository.add_stock(conn, deltas=back)
