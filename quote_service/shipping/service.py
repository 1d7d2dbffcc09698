"""Shipping profile writes: one 422 listing every bad field, then the row; rows as the API shows them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg

from quote_service.db.config_rows import ConfigRows
from quote_service.db.rows import row_as
from quote_service.errors import FieldError, ValidationFailed
from quote_service.pricing import money
from quote_service.shipping import repository
from quote_service.shipping.schemas import (
    ShippingOption,
    ShippingOptionInput,
    ShippingProfile,
    ShippingProfileInput,
)

_RATE_QUANTUM = Decimal("0.0001")
_AMOUNTS = ("base_fee", "max_fee", "free_above")
"""Amounts in the profile's currency: its digits at most."""
_RATES = ("per_kg", "per_km")
"""Amounts per kg or km: four decimals at most (the fee is rounded once, at the end)."""


def _amount_problem(value: Decimal, currency: str | None, *, rate: bool) -> str | None:
    if not value.is_finite() or value < 0 or value >= money.MAX_AMOUNT:
        return f"must be a finite amount >= 0 and below {money.MAX_AMOUNT:f}"
    if rate:
        return None if value == value.quantize(_RATE_QUANTUM) else "must have at most 4 decimals"
    if currency is not None and not money.fits_minor_units(value, currency):
        return f"has more decimals than {currency} allows ({money.minor_units(currency)})"
    return None


def _option_problems(option: ShippingOptionInput, path: str, currency: str | None) -> list[FieldError]:
    errors = []
    if option.name != option.name.strip() or not option.name.strip():
        errors.append(FieldError(f"{path}.name", "must not be blank or start or end with spaces"))
    for name in (*_AMOUNTS, *_RATES):
        value = getattr(option, name)
        if value is not None and (problem := _amount_problem(value, currency, rate=name in _RATES)):
            errors.append(FieldError(f"{path}.{name}", problem))
    if option.eta_days_min > option.eta_days_max:
        errors.append(FieldError(f"{path}.eta_days_max", "must be at least eta_days_min"))
    return errors


def check_profile_fields(data: ShippingProfileInput) -> dict[str, Any]:
    """The columns of a profile, normalised (currency and countries upper-case, places without
    repeats, amounts as exact text); a 422 listing every broken rule."""
    errors: list[FieldError] = []
    currency: str | None = data.currency.upper()
    if not money.is_currency(data.currency.upper()):
        errors.append(FieldError("currency", "not an ISO 4217 currency code"))
        currency = None
    regions = None
    if data.regions is not None:
        regions = list(dict.fromkeys(city.strip() for city in data.regions))
        if any(not city for city in regions):
            errors.append(FieldError("regions", "a city must not be blank"))
    codes: set[str] = set()
    for index, option in enumerate(data.options):
        path = f"options[{index}]"
        if option.code in codes:
            errors.append(FieldError(f"{path}.code", f"{option.code!r} is already the code of another option"))
        codes.add(option.code)
        errors += _option_problems(option, path, currency)
    if errors:
        raise ValidationFailed(
            "Invalid shipping profile: " + "; ".join(f"{e.field} {e.message}" for e in errors), details=errors
        )
    return {
        "seller_id": data.seller_id,
        "countries": None if data.countries is None else list(dict.fromkeys(c.upper() for c in data.countries)),
        "regions": regions,
        "currency": currency,
        "options": [_option_stored(option, currency) for option in data.options],
        "is_active": data.is_active,
    }


def _option_stored(option: ShippingOptionInput, currency: str | None) -> dict[str, Any]:
    """An option as stored: amounts as text with the currency's digits (as the API and the audit log show
    them), rates per kg or km as exact text."""
    assert currency is not None  # checked with every other field
    stored: dict[str, Any] = {
        "code": option.code,
        "name": option.name,
        "eta_days_min": option.eta_days_min,
        "eta_days_max": option.eta_days_max,
        "express": option.express,
    }
    for name in (*_AMOUNTS, *_RATES):
        value = getattr(option, name)
        if value is None:
            stored[name] = None
        else:
            stored[name] = str(money.plain(value) if name in _RATES else money.round_money(value, currency))
    return stored


def profile_from_row(row: asyncpg.Record) -> ShippingProfile:
    """A profile as the API shows it: fees, caps and thresholds with the currency's digits."""
    currency = row["currency"].strip()

    def amount(value: str | None) -> Decimal | None:
        return None if value is None else money.round_money(Decimal(value), currency)

    def rate(value: str | None) -> Decimal | None:
        return None if value is None else Decimal(value)

    return row_as(
        ShippingProfile,
        row,
        currency=currency,
        options=[
            ShippingOption(
                code=o["code"],
                name=o["name"],
                base_fee=money.round_money(Decimal(o["base_fee"]), currency),
                per_kg=rate(o["per_kg"]),
                per_km=rate(o["per_km"]),
                max_fee=amount(o["max_fee"]),
                eta_days_min=o["eta_days_min"],
                eta_days_max=o["eta_days_max"],
                free_above=amount(o["free_above"]),
                express=o["express"],
            )
            for o in row["options"]
        ],
    )


PROFILES: ConfigRows[ShippingProfile, ShippingProfileInput] = ConfigRows(
    repository.TABLE,
    body=ShippingProfileInput,
    check=check_profile_fields,
    from_row=profile_from_row,
)
