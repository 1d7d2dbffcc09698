"""Coupon writes: one 422 listing every bad field, codes stored upper-case."""

from __future__ import annotations

import re
from datetime import UTC
from decimal import Decimal
from typing import Any

import asyncpg
from msgspec import UNSET

from quote_service.coupons import repository
from quote_service.coupons.schemas import Coupon, CouponCreate, CouponUpdate
from quote_service.db.rows import found, row_as
from quote_service.errors import FieldError, NotFound, ValidationFailed
from quote_service.pricing import money
from quote_service.pricing.coupons import normalize_code

_CODE = re.compile(r"[A-Z0-9_-]{1,32}")
_PERCENT_QUANTUM = Decimal("0.0001")
_HUNDRED = Decimal(100)


def _money_out(amount: Decimal | None, currency: str | None) -> Decimal | None:
    if amount is None or currency is None:
        return amount
    return money.round_money(amount, currency)


def coupon_from_row(row: asyncpg.Record) -> Coupon:
    """A coupon as the API shows it: amounts with the currency's digits, percents without trailing zeros."""
    currency = row["currency"]
    value = row["value"]
    return row_as(
        Coupon,
        row,
        value=money.round_money(value, currency) if row["type"] == "FIXED" else money.percent_shown(value),
        currency=currency,
        min_subtotal=_money_out(row["min_subtotal"], currency),
        max_discount=_money_out(row["max_discount"], currency),
        category_ids=list(row["category_ids"]),
        product_ids=list(row["product_ids"]) or UNSET,
        seller_id=row["seller_id"] or UNSET,
    )


def _check_amount(
    name: str, amount: Decimal | None, currency: str | None, errors: list[FieldError], *, zero_ok: bool
) -> None:
    if amount is None:
        return
    if not amount.is_finite() or amount < 0 or (amount == 0 and not zero_ok) or amount >= money.MAX_AMOUNT:
        errors.append(FieldError(name, f"must be a finite amount {'>=' if zero_ok else '>'} 0 and below 1e12"))
    elif currency is not None and money.is_currency(currency) and not money.fits_minor_units(amount, currency):
        errors.append(FieldError(name, f"has more decimals than {currency} allows ({money.minor_units(currency)})"))


def _check_value(data: CouponUpdate, currency: str | None, errors: list[FieldError]) -> Decimal:
    value = data.value
    if data.type == "FREE_DELIVERY":
        if value is not None and (not value.is_finite() or value != 0):
            errors.append(FieldError("value", "must be 0 or omitted for a FREE_DELIVERY coupon"))
        return Decimal(0)
    if value is None:
        errors.append(FieldError("value", f"is required for a {data.type} coupon"))
        return Decimal(0)
    if data.type == "PERCENTAGE":
        if not value.is_finite() or not 0 < value <= _HUNDRED:
            errors.append(FieldError("value", "must be a percent greater than 0 and at most 100"))
        elif value != value.quantize(_PERCENT_QUANTUM):
            errors.append(FieldError("value", "must have at most 4 decimals"))
    else:
        _check_amount("value", value, currency, errors, zero_ok=False)
    return value


def check_coupon_fields(data: CouponUpdate, *, code: str | None = None) -> dict[str, Any]:
    """The writable fields (and `code`, when given), normalised; a 422 listing every broken rule."""
    errors: list[FieldError] = []
    if code is not None and not _CODE.fullmatch(normalize_code(code)):
        errors.append(FieldError("code", "must be 1-32 of A-Z 0-9 _ - (any letter case)"))
    currency = data.currency.upper() if data.currency is not None else None
    if currency is not None and not money.is_currency(currency):
        errors.append(FieldError("currency", "not an ISO 4217 currency code"))
    elif currency is None and data.type == "FIXED":
        errors.append(FieldError("currency", "is required for a FIXED coupon"))
    elif currency is None and (data.min_subtotal is not None or data.max_discount is not None):
        errors.append(FieldError("currency", "is required when min_subtotal or max_discount is set"))
    value = _check_value(data, currency, errors)
    _check_amount("min_subtotal", data.min_subtotal, currency, errors, zero_ok=True)
    _check_amount("max_discount", data.max_discount, currency, errors, zero_ok=False)
    if data.valid_to is not None and data.valid_to <= data.valid_from:
        errors.append(FieldError("valid_to", "must be after valid_from"))
    if errors:
        raise ValidationFailed("Invalid coupon: " + "; ".join(f"{e.field} {e.message}" for e in errors), details=errors)
    return {
        "type": data.type,
        "value": value,
        "currency": currency,
        "min_subtotal": data.min_subtotal,
        "max_discount": data.max_discount,
        "category_ids": list(dict.fromkeys(data.category_ids or ())),
        "product_ids": list(dict.fromkeys(data.product_ids or ())),
        "valid_from": data.valid_from.astimezone(UTC),
        "valid_to": data.valid_to.astimezone(UTC) if data.valid_to is not None else None,
        "usage_limit": data.usage_limit,
        "per_customer_limit": data.per_customer_limit,
        "is_active": data.is_active,
        "funded_by": data.funded_by,
        "on_reduced_lines": data.on_reduced_lines,
    }


async def create_coupon(pool: asyncpg.Pool, data: CouponCreate, *, actor: str, seller_id: str | None = None) -> Coupon:
    """`seller_id`: a seller's own coupon (checked first: coupons/seller_scope.py)."""
    fields = check_coupon_fields(data, code=data.code)
    async with pool.acquire() as conn:
        row = await repository.insert_coupon(
            conn, code=normalize_code(data.code), fields=fields, actor=actor, seller_id=seller_id
        )
    return coupon_from_row(row)


def lookup_code(code: str) -> str:
    """The stored form of a code from a URL; 404 when it cannot be a code (nor reach PostgreSQL)."""
    normalized = normalize_code(code)
    if not _CODE.fullmatch(normalized):
        raise NotFound(f"coupon {code!r} not found")
    return normalized


async def get_coupon(pool: asyncpg.Pool, code: str) -> Coupon:
    async with pool.acquire() as conn:
        row = await repository.get_coupon(conn, code=lookup_code(code))
    return coupon_from_row(found(row, f"coupon {code!r}"))


async def update_coupon(pool: asyncpg.Pool, code: str, data: CouponUpdate, *, actor: str) -> Coupon:
    """Replace every mutable field of a coupon (PUT)."""
    lookup = lookup_code(code)
    fields = check_coupon_fields(data)
    async with pool.acquire() as conn:
        row = await repository.update_coupon(conn, code=lookup, fields=fields, actor=actor)
    return coupon_from_row(found(row, f"coupon {code!r}"))


async def deactivate_coupon(pool: asyncpg.Pool, code: str, *, actor: str) -> Coupon:
    async with pool.acquire() as conn:
        row = await repository.deactivate_coupon(conn, code=lookup_code(code), actor=actor)
    return coupon_from_row(found(row, f"coupon {code!r}"))
