"""Catalog writes: invariants, price history in the same transaction, atomic stock."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from quote_service.auth.schemas import Principal
from quote_service.catalog import repository
from quote_service.catalog.schemas import (
    ManualPrice,
    PriceChange,
    PriceSource,
    Product,
    ProductCreate,
    ProductPatch,
    ProductUpdate,
    StockAdjust,
    StockLevel,
)
from quote_service.clock import utcnow
from quote_service.db.pool import Connection
from quote_service.db.rows import found, row_as
from quote_service.errors import FieldError, InsufficientStock, NotFound, ValidationFailed, invalid
from quote_service.pricing import money
from quote_service.pricing.offers import OfferBook
from quote_service.pricing.price_moves import manual_move_problem
from quote_service.pricing.quantity_rules import QuantityRules, rules_problems

_PRICE_FIELDS = ("base_price", "current_price", "min_price", "cost_price")


def product_from_row(row: asyncpg.Record) -> Product:
    """A product as the API shows it: money with exactly the currency's digits."""
    currency = row["currency"]
    prices: dict[str, Any] = {name: money.round_money(row[name], currency) for name in _PRICE_FIELDS}
    weight = row["weight"]
    rules = row["quantity_rules"]
    return row_as(
        Product,
        row,
        weight=money.plain(weight) if weight is not None else None,
        quantity_rules=msgspec.UNSET if rules is None else msgspec.convert(rules, QuantityRules),
        **prices,
    )


def as_seen_by(product: Product, caller: Principal) -> Product:
    """`product` as `caller` may read it: a shopper (`user` role) never sees the floor or the cost."""
    if caller.role != "user":
        return product
    return msgspec.structs.replace(product, min_price=msgspec.UNSET, cost_price=msgspec.UNSET)


def with_offer_count(product: Product, offers: OfferBook | None) -> Product:
    """`product` with `offer_count`, its other sellers' active offers in `offers` (the configuration
    snapshot's, as a quote sees them: no query); as it was, without the key, when it has none."""
    count = 0 if offers is None else len(offers.by_product.get(str(product.id), ()))
    return product if count == 0 else msgspec.structs.replace(product, offer_count=count)


def price_change_from_row(row: asyncpg.Record, currency: str) -> PriceChange:
    old = row["old_price"]
    return row_as(
        PriceChange,
        row,
        old_price=money.round_money(old, currency) if old is not None else None,
        new_price=money.round_money(row["new_price"], currency),
    )


def check_product(fields: dict[str, Any]) -> None:
    """Raise 422 listing every broken rule: currency, amounts, 0 <= cost <= min <= current."""
    errors: list[FieldError] = []
    currency = fields["currency"]
    known_currency = money.is_currency(currency)
    if not known_currency:
        errors.append(FieldError("currency", "not an ISO 4217 currency code"))
    well_formed = True
    for name in _PRICE_FIELDS:
        value: Decimal = fields[name]
        if not value.is_finite() or value < 0 or value >= money.MAX_AMOUNT:
            errors.append(FieldError(name, "must be a finite amount >= 0 and below 1e12"))
            well_formed = False
        elif known_currency and not money.fits_minor_units(value, currency):
            errors.append(FieldError(name, f"has more decimals than {currency} allows ({money.minor_units(currency)})"))
    if well_formed:
        if fields["base_price"] <= 0:
            errors.append(FieldError("base_price", "must be greater than 0"))
        if fields["current_price"] <= 0:
            errors.append(FieldError("current_price", "must be greater than 0"))
        if fields["cost_price"] > fields["min_price"]:
            errors.append(FieldError("cost_price", "must be <= min_price"))
        if fields["min_price"] > fields["current_price"]:
            errors.append(FieldError("min_price", "must be <= current_price"))
    weight = fields.get("weight")
    if weight is not None and (not weight.is_finite() or weight < 0 or weight >= Decimal("1e9")):
        errors.append(FieldError("weight", "must be a finite number >= 0"))
    errors += _stored_quantity_rules(fields)
    if errors:
        raise ValidationFailed(
            "Invalid product: " + "; ".join(f"{e.field} {e.message}" for e in errors), details=errors
        )


def _stored_quantity_rules(fields: dict[str, Any]) -> list[FieldError]:
    """Put `fields["quantity_rules"]` (sent, or as stored) in its stored form; why no quantity can meet it."""
    rules = fields.get("quantity_rules")
    if rules is None:
        return []
    if not isinstance(rules, QuantityRules):
        rules = msgspec.convert(rules, QuantityRules)
    fields["quantity_rules"] = msgspec.to_builtins(rules)
    return rules_problems(rules, "quantity_rules")


async def create_product(
    pool: asyncpg.Pool, data: ProductCreate, *, actor: str, prices_include_tax: bool = False
) -> Product:
    """Insert a product and its first price-history row; `prices_include_tax` is its mode when the
    data does not say (CATALOG_PRICES_INCLUDE_TAX)."""
    fields = msgspec.structs.asdict(data)
    if fields["current_price"] is None:
        fields["current_price"] = data.base_price
    if fields["prices_include_tax"] is None:
        fields["prices_include_tax"] = prices_include_tax
    fields["currency"] = data.currency.upper()
    check_product(fields)
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.insert_product(conn, fields=fields)
        await repository.insert_first_price(conn, product_id=row["id"], price=row["current_price"], actor=actor)
    return product_from_row(row)


async def get_product(pool: asyncpg.Pool, product_id: UUID) -> Product:
    async with pool.acquire() as conn:
        row = await repository.get_product(conn, product_id=product_id)
    return product_from_row(found(row, f"product {product_id}"))


async def update_product(
    pool: asyncpg.Pool,
    product_id: UUID,
    change: ProductUpdate | ProductPatch | dict[str, Any],
    *,
    actor: str,
    source: PriceSource = "manual",
) -> Product:
    """Apply a full (PUT) or partial (PATCH) change under a row lock; log a price change (history
    `source`: `manual`, or `seller` for a seller's own move, docs/sellers.md)."""
    given = (
        change
        if isinstance(change, dict)
        else {k: v for k, v in msgspec.structs.asdict(change).items() if v is not msgspec.UNSET}
    )
    reason = given.pop("price_change_reason", None) or "manual update"
    async with pool.acquire() as conn, conn.transaction():
        current = await repository.get_product(conn, product_id=product_id, for_update=True)
        current = found(current, f"product {product_id}")
        fields = {**dict(current), **given}
        fields["currency"] = str(fields["currency"]).upper()
        check_product(fields)
        new_price: Decimal = fields["current_price"]
        # The price moves through the one price path; the other fields in one UPDATE. Raising,
        # the price goes first, lowering, last: every step keeps cost <= min <= current.
        if new_price > current["current_price"]:
            await _move_manual_price(conn, product_id, new_price, reason=reason, actor=actor, source=source)
        row = await repository.update_product(conn, product_id=product_id, fields=fields)
        if new_price < current["current_price"]:
            await _move_manual_price(conn, product_id, new_price, reason=reason, actor=actor, source=source)
            moved = await repository.get_product(conn, product_id=product_id)
            assert moved is not None
            row = moved
    return product_from_row(row)


async def _move_manual_price(
    conn: Connection, product_id: UUID, price: Decimal, *, reason: str, actor: str, source: PriceSource = "manual"
) -> None:
    await repository.move_price(conn, product_id=product_id, new_price=price, source=source, reason=reason, actor=actor)


async def set_price(
    pool: asyncpg.Pool, product_id: UUID, data: ManualPrice, *, actor: str, max_change_percent: Decimal
) -> Product:
    """Move the current price by hand through the one price-move path (history source `manual`),
    checked like a decision: not below min_price, not more than `max_change_percent` at once.
    A refusal (422 naming `price`) changes nothing."""
    async with pool.acquire() as conn, conn.transaction():
        current = await repository.get_product(conn, product_id=product_id, for_update=True)
        current = found(current, f"product {product_id}")
        currency = current["currency"]
        price = data.price
        problem = _amount_problem(price, currency) or manual_move_problem(
            current=current["current_price"],
            new=price,
            min_price=current["min_price"],
            max_change_percent=max_change_percent,
            currency=currency,
        )
        if problem is not None:
            raise invalid("price", problem)
        await _move_manual_price(conn, product_id, price, reason=data.reason or "manual price", actor=actor)
        row = await repository.get_product(conn, product_id=product_id)
    assert row is not None
    return product_from_row(row)


def _amount_problem(price: Decimal, currency: str) -> str | None:
    if not price.is_finite() or price <= 0 or price >= money.MAX_AMOUNT:
        return "must be a finite amount greater than 0 and below 1e12"
    if not money.fits_minor_units(price, currency):
        return f"has more decimals than {currency} allows ({money.minor_units(currency)})"
    return None


async def adjust_stock(pool: asyncpg.Pool, product_id: UUID, data: StockAdjust, *, actor: str) -> StockLevel:
    """Change stock by `delta` atomically; never below zero, nor below the units held for quotes
    (409), nothing changed on refusal."""
    async with pool.acquire() as conn, conn.transaction():
        stock = await repository.adjust_stock(conn, product_id=product_id, delta=data.delta)
        if stock is None:
            if not await repository.product_exists(conn, product_id=product_id):
                raise NotFound(f"product {product_id} not found")
            raise InsufficientStock(f"stock cannot change by {data.delta}: it would leave the range 0..2147483647")
        if data.delta < 0:
            await _refuse_taking_held_units(conn, product_id, data.delta, stock)
        await repository.insert_stock_movement(
            conn, product_id=product_id, delta=data.delta, stock_after=stock, reason=data.reason, actor=actor
        )
    return StockLevel(product_id=product_id, stock=stock, delta=data.delta)


async def _refuse_taking_held_units(conn: Connection, product_id: UUID, delta: int, stock: int) -> None:
    """Refuse (the transaction rolls back) a removal that left fewer units than stock reservations
    hold (docs/reservations.md): their orders must never fail for stock. Read after the UPDATE that
    locked the row, so every hold committed before the lock is seen, and later ones see the new stock."""
    held = (await repository.held_units(conn, product_ids=[product_id], now=utcnow())).get(product_id, 0)
    if stock < held:
        before = stock - delta
        raise InsufficientStock(
            f"stock cannot change by {delta}: {held} of its {before} units are held for quotes",
            details=[FieldError("delta", f"at most {max(0, before - held)} units may be removed; release holds first")],
        )
