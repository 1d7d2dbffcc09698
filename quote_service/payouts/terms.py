"""Payout terms: one 422 listing every bad field, then the row; a seller's terms as the balance applies them.

A seller is paid on its own terms, else on the platform default's (seller_id null), else on the
built-in defaults (weekly, held 7 days, no reserve, no minimum) in the one currency it sold in
(DEFAULT_CURRENCY when it sold in none or several).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from quote_service.db.config_rows import ConfigRows
from quote_service.db.pool import Connection, Pool
from quote_service.db.rows import row_as
from quote_service.errors import DuplicateKey, FieldError, ValidationFailed
from quote_service.payouts import repository
from quote_service.payouts.balance import Terms
from quote_service.payouts.schemas import PayoutTerms, PayoutTermsInput
from quote_service.pricing import money
from quote_service.statements import repository as ledger
from quote_service.validation import FIRST_INSTANT, LAST_INSTANT

_PERCENT_QUANTUM = Decimal("0.0001")


def with_currency(data: PayoutTermsInput, default_currency: str) -> PayoutTermsInput:
    """The body with its currency, DEFAULT_CURRENCY when it names none."""
    return data if data.currency is not None else msgspec.structs.replace(data, currency=default_currency)


def check_terms_fields(data: PayoutTermsInput) -> dict[str, Any]:
    """The columns of the terms (currency upper-case, amounts as exact text); a 422 listing every bad field."""
    errors: list[FieldError] = []
    currency = (data.currency or "").upper()
    if not money.is_currency(currency):
        errors.append(FieldError("currency", "not an ISO 4217 currency code"))
    payout_currency = None if data.payout_currency is None else data.payout_currency.upper()
    if payout_currency is not None and not money.is_currency(payout_currency):
        errors.append(FieldError("payout_currency", "not an ISO 4217 currency code"))
    minimum_in = payout_currency or currency  # the minimum is what a payout pays
    percent = data.reserve_percent
    if not percent.is_finite() or not Decimal(0) <= percent <= money.HUNDRED:
        errors.append(FieldError("reserve_percent", "must be from 0 to 100"))
    elif percent != percent.quantize(_PERCENT_QUANTUM):
        errors.append(FieldError("reserve_percent", "must have at most 4 decimals"))
    minimum = data.min_payout
    if not minimum.is_finite() or minimum < 0 or minimum >= money.MAX_AMOUNT:
        errors.append(FieldError("min_payout", f"must be an amount >= 0 and below {money.MAX_AMOUNT:f}"))
    elif money.is_currency(minimum_in) and not money.fits_minor_units(minimum, minimum_in):
        errors.append(
            FieldError("min_payout", f"has more decimals than {minimum_in} allows ({money.minor_units(minimum_in)})")
        )
    if errors:
        raise ValidationFailed(
            "Invalid payout terms: " + "; ".join(f"{e.field} {e.message}" for e in errors), details=errors
        )
    return {
        "seller_id": data.seller_id,
        "cycle": data.cycle,
        "hold_days": data.hold_days,
        "reserve_percent": str(money.plain(percent)),
        "reserve_days": data.reserve_days,
        "min_payout": str(money.round_money(minimum, minimum_in)),
        "currency": currency,
        "payout_currency": payout_currency,
    }


def terms_from_row(row: asyncpg.Record) -> PayoutTerms:
    """Terms as the API shows them: the minimum with the currency's digits, the percent without padding."""
    currency = row["currency"].strip()
    payout_currency = row["payout_currency"]
    return row_as(
        PayoutTerms,
        row,
        reserve_percent=money.percent_shown(Decimal(row["reserve_percent"])),
        min_payout=money.round_money(Decimal(row["min_payout"]), payout_currency or currency),
        currency=currency,
    )


TERMS: ConfigRows[PayoutTerms, PayoutTermsInput] = ConfigRows(
    repository.TERMS,
    body=PayoutTermsInput,
    check=check_terms_fields,
    from_row=terms_from_row,
)


def _taken(data: PayoutTermsInput) -> DuplicateKey:
    whose = f"seller {data.seller_id}" if data.seller_id is not None else "the platform (the default)"
    return DuplicateKey(f"payout terms for {whose} exist already: change those (PUT)", code="DUPLICATE_KEY")


async def create(pool: Pool, data: PayoutTermsInput, *, actor: str) -> PayoutTerms:
    """POST: 409 DUPLICATE_KEY when the seller (or the platform) has terms already."""
    try:
        return await TERMS.create(pool, data, actor=actor)
    except asyncpg.UniqueViolationError as exc:
        raise _taken(data) from exc


async def replace(pool: Pool, terms_id: UUID, data: PayoutTermsInput, *, actor: str) -> PayoutTerms:
    """PUT: every field replaced; 409 DUPLICATE_KEY when it names a seller that has other terms."""
    try:
        return await TERMS.replace(pool, terms_id, data, actor=actor)
    except asyncpg.UniqueViolationError as exc:
        raise _taken(data) from exc


async def applied(conn: Connection, *, seller_id: str, default_currency: str) -> tuple[UUID | None, Terms]:
    """The terms a seller is paid on now, and their id (None: the built-in defaults)."""
    row = await repository.terms_for(conn, seller_id=seller_id)
    if row is not None:
        shown = terms_from_row(row)
        return shown.id, Terms(
            cycle=shown.cycle,
            hold_days=shown.hold_days,
            reserve_percent=shown.reserve_percent,
            reserve_days=shown.reserve_days,
            min_payout=shown.min_payout,
            currency=shown.currency,
            payout_currency=shown.payout_currency,
        )
    used = await ledger.currencies(conn, seller_id=seller_id, start=FIRST_INSTANT, end=LAST_INSTANT)
    return None, Terms(currency=used[0] if len(used) == 1 else default_currency)
