"""A seller's writes to its own products (docs/sellers.md): prices and stock, inside the guardrails.

A seller changes `current_price`, `base_price`, `min_price` and `stock` (PATCH /products/{id}, or
PUT /products/{id}/price, or POST /products/{id}/stock) of its own products only; another
seller's product is 404, as an unknown id. `min_price` stays at least `cost_price` plus
MIN_SELLER_MARGIN_PERCENT when the product has a cost (422). A move of `current_price` or
`base_price` by more than SELLER_PRICE_CHANGE_APPROVAL_PERCENT from any price the seller's own
moves gave it within SELLER_PRICE_CHANGE_WINDOW_HOURS (back to the price an admin last set or
approved) is not made: small steps add up. Nor is one that far from any price at which the seller
sold the product live in that window on another of its offers of it (`moves_past_live_prices`:
deleting an offer and making another, or re-activating an old one, is a move too, whatever the
route). It is stored as a change request (202
`{change_request_id}`) that an admin approves, and then applies as that PATCH, with its price
history source `seller`. Every write is audited with actor kind
`seller`; every price move is in the price history with source `seller`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from quote_service.audit.admin import ask_approval
from quote_service.auth.sellers import owned_by
from quote_service.catalog import repository
from quote_service.catalog.schemas import ManualPrice, Product, ProductPatch, StockAdjust
from quote_service.catalog.service import adjust_stock, check_product, product_from_row, update_product
from quote_service.config import Settings
from quote_service.db.pool import Connection, Pool
from quote_service.db.rows import found
from quote_service.errors import FieldError, ValidationFailed, invalid
from quote_service.pricing.price_moves import (
    PriceWrite,
    seller_floor_problem,
    seller_move_needs_approval,
    seller_reference_prices,
)
from quote_service.web.deps import AuthedRequest, actor_of

SELLER_FIELDS = frozenset({"current_price", "base_price", "min_price", "price_change_reason", "stock"})
"""What a seller's PATCH may send (`stock`: the new stock, as one atomic adjustment)."""
_APPROVED_PRICES = ("current_price", "base_price")


async def owned_product(pool: asyncpg.Pool, request: AuthedRequest, product_id: UUID) -> asyncpg.Record:
    """The product, when it is the calling seller's (else 404, as an unknown id)."""
    async with pool.acquire() as conn:
        row = await repository.get_product(conn, product_id=product_id)
    what = f"product {product_id}"
    row = found(row, what)
    owned_by(request.user, row["seller_id"], what)
    return row


async def patch(
    pool: asyncpg.Pool,
    admin_pool: asyncpg.Pool,
    request: AuthedRequest,
    product_id: UUID,
    data: ProductPatch,
    settings: Settings,
) -> Product:
    """A seller's PATCH of its own product's prices (see the module's docstring)."""
    given = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    return await _move(pool, admin_pool, request, product_id, given, settings)


async def set_price(
    pool: asyncpg.Pool,
    admin_pool: asyncpg.Pool,
    request: AuthedRequest,
    product_id: UUID,
    data: ManualPrice,
    settings: Settings,
) -> Product:
    """A seller's PUT /products/{id}/price: its PATCH of `current_price`."""
    given: dict[str, Any] = {"current_price": data.price}
    if data.reason is not None:
        given["price_change_reason"] = data.reason
    return await _move(pool, admin_pool, request, product_id, given, settings)


async def _move(
    pool: asyncpg.Pool,
    admin_pool: asyncpg.Pool,
    request: AuthedRequest,
    product_id: UUID,
    given: dict[str, Any],
    settings: Settings,
) -> Product:
    refuse_fields(given, SELLER_FIELDS, "A seller may change only current_price, base_price, min_price and stock: ")
    current = await owned_product(pool, request, product_id)
    stock = given.pop("stock", None)
    fields = {**dict(current), **given}
    check_product(fields)
    check_seller_floor(given, current, settings)
    if stock is not None and stock != current["stock"]:  # at once, even when a price move waits for approval
        delta = StockAdjust(delta=stock - current["stock"], reason="seller update")
        await adjust_stock(admin_pool, product_id, delta, actor=actor_of(request))
    if await _needs_approval(pool, current, given, settings):
        body = {name: str(value) if isinstance(value, Decimal) else value for name, value in given.items()}
        await ask_approval(request, pool, "product", body, as_write=("PATCH", f"/api/v1/products/{product_id}"))
    if not given and stock is not None:  # stock alone: the product as it now is
        return product_from_row(await owned_product(pool, request, product_id))
    return await update_product(admin_pool, product_id, given, actor=actor_of(request), source="seller")


def refuse_fields(given: dict[str, Any], allowed: frozenset[str], message: str) -> None:
    """A 422 naming each field of `given` a seller may not change (`message`, then their names)."""
    refused = sorted(set(given) - allowed)
    if refused:
        raise ValidationFailed(
            message + ", ".join(refused),
            details=[FieldError(name, "a seller may not change this field") for name in refused],
        )


def check_seller_floor(given: dict[str, Any], current: asyncpg.Record, settings: Settings) -> None:
    """A 422 on `min_price` when `given` sets a floor below MIN_SELLER_MARGIN_PERCENT over the cost
    of `current` (a product or an offer of it)."""
    if "min_price" in given:
        problem = seller_floor_problem(
            min_price=given["min_price"],
            cost_price=current["cost_price"],
            margin_percent=settings.min_seller_margin_percent,
            currency=current["currency"],
        )
        if problem is not None:
            raise invalid("min_price", problem)


async def _needs_approval(
    pool: asyncpg.Pool, current: asyncpg.Record, given: dict[str, Any], settings: Settings
) -> bool:
    """Whether a price in `given` moves further than SELLER_PRICE_CHANGE_APPROVAL_PERCENT from
    its current value or any the seller's own moves gave it inside the window."""

    async def writes(conn: Connection, name: str, hours: int) -> list[asyncpg.Record]:
        return await repository.price_writes(conn, product_id=current["id"], field=name, hours=hours)

    if await moves_past_threshold(pool, current, given, settings, writes):
        return True
    if not current["is_active"]:
        return False
    moved = {name: given[name] for name in _APPROVED_PRICES if name in given and given[name] != current[name]}
    return await moves_past_live_prices(
        pool, product_id=current["id"], seller_id=current["seller_id"], prices=moved, settings=settings
    )


PriceWrites = Callable[[Connection, str, int], Awaitable[list[asyncpg.Record]]]
"""The audited writes of the last hours that changed a price field, newest first: (conn, field, hours)."""


async def moves_past_threshold(
    pool: Pool, current: asyncpg.Record, given: dict[str, Any], settings: Settings, read_writes: PriceWrites
) -> bool:
    """Whether `current_price` or `base_price` in `given` moves further than SELLER_PRICE_CHANGE_APPROVAL_PERCENT
    from its current value or any price the seller's own moves gave it inside SELLER_PRICE_CHANGE_WINDOW_HOURS
    (a product's, or an offer's: docs/offers.md)."""
    hours = settings.seller_price_change_window_hours
    for name in _APPROVED_PRICES:
        if name not in given or given[name] == current[name]:
            continue
        writes: list[PriceWrite] = []
        if hours > 0:
            async with pool.acquire() as conn:
                rows = await read_writes(conn, name, hours)
            writes = [PriceWrite(row["actor_kind"] == "seller", row["before"], row["after"]) for row in rows]
        references = seller_reference_prices(current[name], writes)
        if seller_move_needs_approval(
            references=references, new=given[name], approval_percent=settings.seller_price_change_approval_percent
        ):
            return True
    return False


async def moves_past_live_prices(
    pool: Pool, *, product_id: UUID, seller_id: str, prices: dict[str, Decimal], settings: Settings
) -> bool:
    """Whether a price a seller's write puts live (`prices`: the `current_price` and `base_price` its offer
    of the product will be sold at) is further than SELLER_PRICE_CHANGE_APPROVAL_PERCENT from any price at
    which that seller sold the product live within SELLER_PRICE_CHANGE_WINDOW_HOURS — on the product (its
    default offer) or on any of its offers of it, back to the newest admin write —, so that deactivating
    an offer and making a new one, or re-activating an old one, is measured as the move it is
    (docs/sellers.md#guardrails). A window of 0 measures each offer's steps alone."""
    hours = settings.seller_price_change_window_hours
    if hours <= 0:
        return False
    for name, new in prices.items():
        async with pool.acquire() as conn:
            rows = await repository.seller_live_price_writes(
                conn, product_id=product_id, seller_id=seller_id, field=name, hours=hours
            )
        writes = [PriceWrite(row["actor_kind"] == "seller", row["before"], row["after"]) for row in rows]
        references = seller_reference_prices(None, writes)
        if seller_move_needs_approval(
            references=references, new=new, approval_percent=settings.seller_price_change_approval_percent
        ):
            return True
    return False
