"""Offer writes (docs/offers.md): invariants, one active offer per (product, seller), price history per
offer, `offer.updated`, all in the write's transaction; a seller's own offers inside its guardrails.

Writes go through an audited pool (the audit log's actor), and the offers' trigger bumps the
configuration version (the quote path reads offers from the snapshot)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from quote_service.auth.schemas import Principal
from quote_service.auth.sellers import own_seller
from quote_service.catalog import repository as catalog
from quote_service.catalog.seller_moves import (
    check_seller_floor,
    moves_past_live_prices,
    moves_past_threshold,
    refuse_fields,
)
from quote_service.catalog.service import check_product
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.db.pool import Connection, Pool
from quote_service.db.rows import found, row_as
from quote_service.errors import FieldError, Forbidden, InsufficientStock, NotFound, ValidationFailed, invalid
from quote_service.offers import repository
from quote_service.offers.repository import offer_exists_error
from quote_service.offers.schemas import Offer, OfferCreate, OfferPatch, OfferPriceChange, OfferPriceSource
from quote_service.pricing import money
from quote_service.pricing.quantity_rules import QuantityRules
from quote_service.reservations import repository as reservations
from quote_service.webhooks import events

PRICE_FIELDS = ("base_price", "current_price", "min_price", "cost_price")
SELLER_FIELDS = frozenset(
    {
        *("seller_id", "current_price", "base_price", "min_price", "stock", "condition", "is_active"),
        *("quantity_rules", "price_change_reason"),
    }
)
"""What a seller's PATCH of its own offer may send (cost_price is an admin's, as on products)."""
_APPROVED_PRICES = ("current_price", "base_price")
"""The prices a move of which may need an admin's approval."""


def offer_from_row(row: asyncpg.Record) -> Offer:
    currency = row["currency"]
    prices = {name: money.round_money(row[name], currency) for name in PRICE_FIELDS}
    rules = row["quantity_rules"]
    return row_as(
        Offer,
        row,
        quantity_rules=msgspec.UNSET if rules is None else msgspec.convert(rules, QuantityRules),
        **prices,
    )


def as_seen_by(offer: Offer, caller: Principal) -> Offer:
    """min_price and cost_price for admins, service keys and the offer's own seller only."""
    if caller.role in ("admin", "service") or own_seller(caller) == offer.seller_id:
        return offer
    return msgspec.structs.replace(offer, min_price=msgspec.UNSET, cost_price=msgspec.UNSET)


def price_change_from_row(row: asyncpg.Record, currency: str) -> OfferPriceChange:
    old = row["old_price"]
    return row_as(
        OfferPriceChange,
        row,
        old_price=None if old is None else money.round_money(old, currency),
        new_price=money.round_money(row["new_price"], currency),
    )


def _check(fields: dict[str, Any]) -> None:
    """422 listing every broken rule (as a product's): amounts in the currency, 0 <= cost <= min <= current,
    quantity rules some quantity can meet (`fields["quantity_rules"]` is left in its stored form)."""
    try:
        check_product(fields)
    except ValidationFailed as exc:
        raise ValidationFailed(str(exc).replace("Invalid product", "Invalid offer", 1), details=exc.details) from None


async def _emit(conn: Connection, offer_id: UUID) -> Offer:
    row = await repository.get_offer(conn, offer_id=offer_id)
    assert row is not None
    offer = offer_from_row(row)
    await events.emit(conn, "offer.updated", {"offer": offer})
    return offer


def seller_of_write(caller: Principal | None, named: str | None, field: str = "seller_id") -> str:
    """The seller an offer write is in the name of: a seller's own (naming another: 403), else `named` (required).
    `caller` None: the service itself (seed-demo), as an admin."""
    own = None if caller is None else own_seller(caller)
    if own is not None:
        if named not in (None, own):
            raise Forbidden(
                "a seller creates and changes offers in its own name only",
                details=[FieldError(field, "is another seller")],
            )
        return own
    if named is None:
        raise invalid(field, "is required")
    return named


async def create_offer(
    pool: Pool, data: OfferCreate, *, caller: Principal | None, actor: str, by_seller: bool = False
) -> Offer:
    """Insert an offer, its first price-history row and `offer.updated` in one transaction (`caller` None:
    the service itself, as an admin). `by_seller`: a seller's, approved and applied by an admin (its
    price history says `seller`, as a seller's own)."""
    seller_id = seller_of_write(caller, data.seller_id)
    own = caller is not None and own_seller(caller) is not None
    source: OfferPriceSource = "seller" if own or by_seller else "manual"
    fields = msgspec.structs.asdict(data)
    fields["seller_id"] = seller_id
    if fields["base_price"] is None:
        fields["base_price"] = data.current_price
    async with pool.acquire() as conn, conn.transaction():
        product = await catalog.get_product(conn, product_id=data.product_id, for_update=True)
        if product is None:
            raise invalid("product_id", f"no product {data.product_id}")
        fields["currency"] = product["currency"]
        _check(fields)
        if fields["is_active"] and product["seller_id"] == seller_id:
            raise offer_exists_error(data.product_id, seller_id)
        row = await repository.insert_offer(conn, fields=fields)
        await repository.move_price(
            conn,
            offer_id=row["id"],
            old=None,
            new=row["current_price"],
            source=source,
            reason="offer created",
            actor=actor,
        )
        return await _emit(conn, row["id"])


async def get_offer(pool: Pool, offer_id: UUID, caller: Principal) -> asyncpg.Record:
    """The offer's row, when the caller may see it (a seller: its own only, else 404 as unknown)."""
    async with pool.acquire() as conn:
        row = await repository.get_offer(conn, offer_id=offer_id)
    own = own_seller(caller)
    if row is None or (own is not None and row["seller_id"] != own):
        raise NotFound(f"offer {offer_id} not found")
    return row


def given_fields(data: OfferPatch | dict[str, Any]) -> dict[str, Any]:
    if isinstance(data, dict):
        return dict(data)
    return {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}


async def update_offer(
    pool: Pool, offer_id: UUID, given: dict[str, Any], *, actor: str, source: OfferPriceSource = "manual"
) -> Offer:
    """Apply a partial change under the offer's row lock; a price move gets its history row."""
    given = dict(given)
    reason = given.pop("price_change_reason", None) or "manual update"
    async with pool.acquire() as conn, conn.transaction():
        current = await repository.get_offer(conn, offer_id=offer_id, for_update=True)
        current = found(current, f"offer {offer_id}")
        fields = {**dict(current), **given}
        _check(fields)
        if fields["stock"] < current["stock"]:
            await _refuse_taking_held_units(conn, offer_id, current["stock"], fields["stock"])
        if fields["is_active"] and (given.get("is_active") or "seller_id" in given):
            product = await catalog.get_product(conn, product_id=current["product_id"])
            if product is not None and product["seller_id"] == fields["seller_id"]:
                raise offer_exists_error(current["product_id"], fields["seller_id"])
        new_price: Decimal = fields["current_price"]
        old_price: Decimal = current["current_price"]
        # Raising, the price goes first, lowering, last: every step keeps cost <= min <= current.
        if new_price > old_price:
            await repository.move_price(
                conn, offer_id=offer_id, old=old_price, new=new_price, source=source, reason=reason, actor=actor
            )
        await repository.update_offer(conn, offer_id=offer_id, fields=fields)
        if new_price < old_price:
            await repository.move_price(
                conn, offer_id=offer_id, old=old_price, new=new_price, source=source, reason=reason, actor=actor
            )
        return await _emit(conn, offer_id)


async def write_back(pool: Pool, offer_id: str, restored: dict[str, Any] | None, actor: str) -> None:
    """A revert of an offer's audit entry (docs/governance.md#revert), written as any offer write: its
    price move gets its history row, `offer.updated` is emitted, the result is checked whole. `restored`
    None undoes a create (the offer deactivated, as its DELETE route does)."""
    given = {"is_active": False} if restored is None else restored
    await update_offer(pool, UUID(offer_id), {**given, "price_change_reason": "audit entry reverted"}, actor=actor)


async def _refuse_taking_held_units(conn: Connection, offer_id: UUID, before: int, after: int) -> None:
    """Refuse a stock lower than the units reservations hold of the offer (docs/reservations.md): their
    orders must never fail for stock. Read after the statement that locked the offer's row."""
    held = (await reservations.held_offer_units(conn, offer_ids=[offer_id], now=utcnow())).get(offer_id, 0)
    if after < held:
        raise InsufficientStock(
            f"stock cannot go from {before} to {after}: {held} units of the offer are held for quotes",
            details=[FieldError("stock", f"at least {held} units are held for quotes; release holds first")],
        )


async def seller_create_waits(
    pool: Pool, data: OfferCreate, caller: Principal, settings: Settings
) -> dict[str, Any] | None:
    """A seller's new active offer at a price further than SELLER_PRICE_CHANGE_APPROVAL_PERCENT from the
    price at which it last sold the product live within the window (on an offer it deactivated since, or
    the product's own): the body of the change request to store instead (its `seller_id` the seller's),
    else None (made at once). A body that could not apply is refused now (422, 409 OFFER_EXISTS)."""
    if not data.is_active:
        return None  # nothing goes live: its activation is measured (seller_update)
    seller_id = seller_of_write(caller, data.seller_id)
    async with pool.acquire() as conn:
        product = await catalog.get_product(conn, product_id=data.product_id)
        if product is None:
            raise invalid("product_id", f"no product {data.product_id}")
        if product["seller_id"] == seller_id or await repository.active_offer_exists(
            conn, product_id=data.product_id, seller_id=seller_id
        ):
            raise offer_exists_error(data.product_id, seller_id)
    fields = {**msgspec.structs.asdict(data), "seller_id": seller_id, "currency": product["currency"]}
    fields["base_price"] = fields["base_price"] or data.current_price
    _check(fields)
    prices = {name: fields[name] for name in _APPROVED_PRICES}
    if not await moves_past_live_prices(
        pool, product_id=data.product_id, seller_id=seller_id, prices=prices, settings=settings
    ):
        return None
    body: dict[str, Any] = msgspec.to_builtins({**msgspec.structs.asdict(data), "seller_id": seller_id})
    return body


async def seller_update(
    pool: Pool,
    audited: Pool,
    caller: Principal,
    offer_id: UUID,
    given: dict[str, Any],
    settings: Settings,
    *,
    actor: str,
    approved: bool = False,
) -> tuple[Offer | None, dict[str, Any] | None]:
    """A seller's PATCH of its own offer: the fields it may send, min_price's margin over cost, and the
    approval threshold of its price moves. Returns (the offer, None) when written, or (None, the fields
    to store as a change request: the prices, and `is_active` when it re-activates the offer) when a price
    moves further than SELLER_PRICE_CHANGE_APPROVAL_PERCENT from its references — the offer's own, and
    the prices at which the seller sold the product live within the window on any offer of it (the
    other fields sent, stock included, are written at once, as a product's stock is). `approved`: the
    write replays a change request another person approved, which is not asked for again."""
    refuse_fields(given, SELLER_FIELDS, "A seller may not change ")
    current = await get_offer(pool, offer_id, caller)
    seller_of_write(caller, given.get("seller_id"))
    given.pop("seller_id", None)
    _check({**dict(current), **given})
    check_seller_floor(given, current, settings)
    if not approved and await _needs_approval(pool, current, given, settings):
        # A re-activation waits with the prices it puts live; a deactivation is made at once.
        waiting = (
            *_APPROVED_PRICES,
            "min_price",
            "price_change_reason",
            *(("is_active",) if given.get("is_active") else ()),
        )
        prices = {k: given.pop(k) for k in waiting if k in given}
        if given:
            await update_offer(audited, offer_id, given, actor=actor, source="seller")
        return None, prices
    return await update_offer(audited, offer_id, given, actor=actor, source="seller"), None


async def _needs_approval(pool: Pool, current: asyncpg.Record, given: dict[str, Any], settings: Settings) -> bool:
    """As a product's (catalog/seller_moves.py), on the offer's own audited price writes, and on the prices
    the seller sold the product at live on any offer of it: a re-activation puts its prices live again."""

    async def writes(conn: Connection, name: str, hours: int) -> list[asyncpg.Record]:
        return await repository.price_writes(conn, offer_id=current["id"], field=name, hours=hours)

    if await moves_past_threshold(pool, current, given, settings, writes):
        return True
    if not given.get("is_active", current["is_active"]):
        return False  # nothing goes live: measured when it does
    activating = not current["is_active"]
    live = {
        name: given.get(name, current[name])
        for name in _APPROVED_PRICES
        if activating or (name in given and given[name] != current[name])
    }
    return await moves_past_live_prices(
        pool, product_id=current["product_id"], seller_id=current["seller_id"], prices=live, settings=settings
    )
