"""Price-list writes: one 422 naming every bad field (`prices[i].amount`), nothing stored on any."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from quote_service.db.pool import Connection
from quote_service.db.rows import found
from quote_service.errors import FieldError, NotFound, ValidationFailed
from quote_service.price_lists import repository
from quote_service.price_lists.schemas import (
    Price,
    PriceIn,
    PriceList,
    PriceListCreate,
    PriceListDetail,
    PriceListUpdate,
    PricesUpserted,
)
from quote_service.pricing import money
from quote_service.pricing.price_lists import label
from quote_service.pricing.quantity_rules import QuantityRules, rules_problems

Checked = tuple[UUID, int, Decimal, dict[str, Any] | None, UUID | None]
"""A price as stored: (product, min_quantity, amount, quantity rules, offer (None: the default one))."""

_MAX_AMOUNT = Decimal("1e12")
_MAX_QUANTITY = 10_000
"""A quote item's largest quantity: a higher min_quantity could never apply."""


def price_list_from_row(row: asyncpg.Record) -> PriceList:
    return PriceList(**_fields(row))


def _fields(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "currency": row["currency"].strip(),
        "customer_groups": list(row["customer_groups"]),
        "channels": list(row["channels"]),
        "priority": row["priority"],
        "starts_at": row["starts_at"],
        "ends_at": row["ends_at"],
        "price_count": row["price_count"],
        "created_by": row["created_by"],
        "updated_by": row["updated_by"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "prices_include_tax": row["prices_include_tax"],
        "rounding_mode": row["rounding_mode"],
        "tax_calculation": row["tax_calculation"],
    }


def _labels(values: list[str], field: str, errors: list[FieldError]) -> list[str]:
    folded = [label(value) for value in values]
    for index, value in enumerate(folded):
        if value is None:
            errors.append(FieldError(f"{field}[{index}]", "must not be blank"))
    return list(dict.fromkeys(value for value in folded if value is not None))


def check_list_fields(data: PriceListUpdate, errors: list[FieldError]) -> dict[str, Any]:
    """The list's writable fields, normalised; problems appended to `errors`."""
    currency = data.currency.upper()
    if not money.is_currency(currency):
        errors.append(FieldError("currency", "not an ISO 4217 currency code"))
    if data.starts_at is not None and data.ends_at is not None and data.ends_at <= data.starts_at:
        errors.append(FieldError("ends_at", "must be after starts_at"))
    return {
        "name": data.name,
        "currency": currency,
        "customer_groups": _labels(data.customer_groups, "customer_groups", errors),
        "channels": _labels(data.channels, "channels", errors),
        "priority": data.priority,
        "starts_at": data.starts_at.astimezone(UTC) if data.starts_at is not None else None,
        "ends_at": data.ends_at.astimezone(UTC) if data.ends_at is not None else None,
        "prices_include_tax": data.prices_include_tax,
        "rounding_mode": data.rounding_mode,
        "tax_calculation": data.tax_calculation,
    }


def check_prices(prices: list[PriceIn], currency: str, errors: list[FieldError]) -> list[Checked]:
    """Each price as (product, min_quantity, amount, quantity rules, offer); problems named `prices[i].field`.
    Whether each product and offer exists is asked afterwards (`_check_products`)."""
    checked: list[Checked] = []
    seen: dict[tuple[UUID, UUID | None, int], int] = {}
    currency_ok = money.is_currency(currency)
    for index, price in enumerate(prices):
        at = f"prices[{index}]"
        product: UUID | None
        try:
            product = UUID(price.product_id)
        except ValueError:
            errors.append(FieldError(f"{at}.product_id", "not a product id"))
            product = None
        amount = price.amount
        if not amount.is_finite() or amount <= 0 or amount >= _MAX_AMOUNT:
            errors.append(FieldError(f"{at}.amount", "must be a finite amount > 0 and below 1e12"))
        elif currency_ok and not money.fits_minor_units(amount, currency):
            errors.append(
                FieldError(f"{at}.amount", f"has more decimals than {currency} allows ({money.minor_units(currency)})")
            )
        if not 1 <= price.min_quantity <= _MAX_QUANTITY:
            errors.append(FieldError(f"{at}.min_quantity", f"must be between 1 and {_MAX_QUANTITY}"))
        offer, offer_ok = _offer_id(price, at, errors)
        if product is not None and offer_ok:
            first = seen.setdefault((product, offer, price.min_quantity), index)
            if first != index:
                whose = "this product" if offer is None else "this offer"
                errors.append(
                    FieldError(f"{at}.min_quantity", f"prices[{first}] already prices {whose} from this quantity")
                )
            rules = price.quantity_rules
            if rules is not None:
                errors += rules_problems(rules, f"{at}.quantity_rules")
            checked.append(
                (product, price.min_quantity, amount, None if rules is None else msgspec.to_builtins(rules), offer)
            )
    return checked


def _offer_id(price: PriceIn, at: str, errors: list[FieldError]) -> tuple[UUID | None, bool]:
    """The entry's offer (None: the default one) and whether `offer_id` reads as one (if not, its problem
    is appended). Whether the offer exists, and is its product's, is asked afterwards (`_check_products`)."""
    if price.offer_id is None:
        return None, True
    try:
        offer = UUID(price.offer_id)
    except ValueError:
        errors.append(FieldError(f"{at}.offer_id", "not an offer id"))
        return None, False
    if price.quantity_rules is not None:
        message = "an entry for an offer takes no quantity rules: the offer's own apply (set them on the offer)"
        errors.append(FieldError(f"{at}.quantity_rules", message))
    return offer, True


async def _check_products(
    conn: Connection, prices: list[PriceIn], checked: list[Checked], errors: list[FieldError]
) -> None:
    known = await repository.known_products(conn, product_ids=list({p[0] for p in checked}))
    offered = {p[4] for p in checked if p[4] is not None}
    offers = await repository.offer_products(conn, offer_ids=list(offered)) if offered else {}
    for index, price in enumerate(prices):
        try:
            product = UUID(price.product_id)
        except ValueError:
            continue
        if product not in known:
            errors.append(FieldError(f"prices[{index}].product_id", "no catalog product has this id"))
            continue
        if price.offer_id is None:
            continue
        try:
            offer = UUID(price.offer_id)
        except ValueError:
            continue
        if offer not in offers:
            errors.append(FieldError(f"prices[{index}].offer_id", "no offer has this id"))
        elif offers[offer] != product:
            errors.append(FieldError(f"prices[{index}].offer_id", f"is an offer of another product ({offers[offer]})"))


def _refuse(errors: list[FieldError]) -> None:
    if errors:
        shown = "; ".join(f"{e.field} {e.message}" for e in errors[:20])
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        raise ValidationFailed(f"Invalid price list: {shown}{more}", details=errors)


async def _detail(conn: Connection, list_id: UUID) -> PriceListDetail:
    row = await repository.get_price_list(conn, list_id=list_id)
    row = found(row, f"price list {list_id}")
    prices = [
        Price(
            product_id=p["product_id"],
            amount=money.round_money(p["amount"], row["currency"].strip()),
            min_quantity=p["min_quantity"],
            quantity_rules=msgspec.UNSET
            if p["quantity_rules"] is None
            else msgspec.convert(p["quantity_rules"], QuantityRules),
            offer_id=msgspec.UNSET if p["offer_id"] is None else p["offer_id"],
        )
        for p in await repository.get_prices(conn, list_id=list_id)
    ]
    return PriceListDetail(**_fields(row), prices=prices)


async def create_price_list(pool: asyncpg.Pool, data: PriceListCreate, *, actor: str) -> PriceListDetail:
    errors: list[FieldError] = []
    fields = check_list_fields(data, errors)
    checked = check_prices(data.prices, fields["currency"], errors)
    async with pool.acquire() as conn, conn.transaction():
        if checked:
            await _check_products(conn, data.prices, checked, errors)
        _refuse(errors)
        list_id = await repository.insert_price_list(conn, fields=fields, actor=actor)
        await repository.upsert_prices(conn, list_id=list_id, prices=checked)
        return await _detail(conn, list_id)


async def get_price_list(pool: asyncpg.Pool, list_id: UUID) -> PriceListDetail:
    async with pool.acquire() as conn:
        return await _detail(conn, list_id)


async def update_price_list(pool: asyncpg.Pool, list_id: UUID, data: PriceListUpdate, *, actor: str) -> PriceList:
    """Replace the list's fields (PUT); its prices stay (their amounts must fit a new currency)."""
    errors: list[FieldError] = []
    fields = check_list_fields(data, errors)
    _refuse(errors)
    async with pool.acquire() as conn, conn.transaction():
        if not await repository.update_price_list(conn, list_id=list_id, fields=fields, actor=actor):
            raise NotFound(f"price list {list_id} not found")
        if money.is_currency(fields["currency"]):
            off_grid = [
                p for p in await repository.get_prices(conn, list_id=list_id)
                if not money.fits_minor_units(p["amount"], fields["currency"])
            ]  # fmt: skip
            if off_grid:
                message = f"{len(off_grid)} of the list's prices have more decimals than {fields['currency']} allows"
                raise ValidationFailed(message, details=[FieldError("currency", message)])
        row = await repository.get_price_list(conn, list_id=list_id)
    assert row is not None
    return price_list_from_row(row)


async def upsert_prices(pool: asyncpg.Pool, list_id: UUID, prices: list[PriceIn], *, actor: str) -> PricesUpserted:
    """Add or replace up to 10,000 prices in one transaction: all of them, or none when one is bad."""
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.get_price_list(conn, list_id=list_id)
        row = found(row, f"price list {list_id}")
        errors: list[FieldError] = []
        checked = check_prices(prices, row["currency"].strip(), errors)
        if checked:
            await _check_products(conn, prices, checked, errors)
        _refuse(errors)
        await repository.touch(conn, list_id=list_id, actor=actor)
        await repository.upsert_prices(conn, list_id=list_id, prices=checked)
        after = await repository.get_price_list(conn, list_id=list_id)
    assert after is not None
    return PricesUpserted(price_list_id=list_id, upserted=len(checked), price_count=after["price_count"])


async def delete_price_list(pool: asyncpg.Pool, list_id: UUID) -> PriceList:
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.delete_price_list(conn, list_id=list_id)
    return price_list_from_row(found(row, f"price list {list_id}"))
