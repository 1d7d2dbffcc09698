"""Installment plan writes: one 422 listing every bad field, then the row; rows as the API shows them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg

from quote_service.db.config_rows import ConfigRows
from quote_service.db.pool import Pool
from quote_service.db.rows import row_as
from quote_service.errors import FieldError, ValidationFailed
from quote_service.installments import repository
from quote_service.installments.schemas import (
    InstallmentOptionInput,
    InstallmentOptionOut,
    InstallmentPlan,
    InstallmentPlanInput,
)
from quote_service.pricing import money
from quote_service.pricing.installments import InstallmentPlan as ActivePlan

_RATE_QUANTUM = Decimal("0.0001")


def _percent_problem(value: Decimal) -> str | None:
    if not value.is_finite() or value < 0 or value > 100:
        return "must be a percent from 0 to 100"
    return None if value == value.quantize(_RATE_QUANTUM) else "must have at most 4 decimals"


def _option_problems(option: InstallmentOptionInput, path: str) -> list[FieldError]:
    errors = []
    if problem := _percent_problem(option.rate):
        errors.append(FieldError(f"{path}.rate", problem))
    commission = option.seller_commission_rate
    if option.funded_by == "seller":
        if commission is None:
            errors.append(FieldError(f"{path}.seller_commission_rate", "required when the seller funds the option"))
        elif problem := _percent_problem(commission):
            errors.append(FieldError(f"{path}.seller_commission_rate", problem))
    elif commission is not None:
        errors.append(FieldError(f"{path}.seller_commission_rate", "only for an option the seller funds"))
    return errors


def check_plan_fields(data: InstallmentPlanInput) -> dict[str, Any]:
    """The columns of a plan, normalised (currency upper-case, prefixes without repeats, rates as exact
    text); a 422 listing every broken rule."""
    errors: list[FieldError] = []
    currency = data.currency.upper()
    if not money.is_currency(currency):
        errors.append(FieldError("currency", "not an ISO 4217 currency code"))
    if data.name != data.name.strip() or not data.name.strip():
        errors.append(FieldError("name", "must not be blank or start or end with spaces"))
    total = data.min_total
    if not total.is_finite() or total < 0 or total >= money.MAX_AMOUNT:
        errors.append(FieldError("min_total", f"must be a finite amount >= 0 and below {money.MAX_AMOUNT:f}"))
    elif money.is_currency(currency) and not money.fits_minor_units(total, currency):
        errors.append(FieldError("min_total", f"has more decimals than {currency} allows"))
    counts: set[int] = set()
    for index, option in enumerate(data.options):
        path = f"options[{index}]"
        if option.count in counts:
            errors.append(FieldError(f"{path}.count", f"{option.count} installments are already another option"))
        counts.add(option.count)
        errors += _option_problems(option, path)
    if errors:
        raise ValidationFailed(
            "Invalid installment plan: " + "; ".join(f"{e.field} {e.message}" for e in errors), details=errors
        )
    return {
        "name": data.name,
        "bin_prefixes": list(dict.fromkeys(data.bin_prefixes)),
        "currency": currency,
        "min_total": total,
        "options": [
            {
                "count": option.count,
                "rate": str(money.plain(option.rate)),
                "funded_by": option.funded_by,
                "seller_commission_rate": None
                if option.seller_commission_rate is None
                else str(money.plain(option.seller_commission_rate)),
            }
            for option in sorted(data.options, key=lambda o: o.count)
        ],
        "is_active": data.is_active,
    }


def plan_from_row(row: asyncpg.Record) -> InstallmentPlan:
    """A plan as the API shows it: min_total with the currency's digits, rates as plain percents."""
    currency = row["currency"].strip()
    return row_as(
        InstallmentPlan,
        row,
        currency=currency,
        min_total=money.round_money(row["min_total"], currency),
        options=[InstallmentOptionOut(**repository.option_fields(o)) for o in row["options"]],
    )


class ActivePlans:
    """The active installment plans of a currency, read for a quote that names a card_bin (only then)."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def __call__(self, currency: str) -> list[ActivePlan]:
        async with self._pool.acquire() as conn:
            return await repository.active_plans(conn, currency=currency)


PLANS: ConfigRows[InstallmentPlan, InstallmentPlanInput] = ConfigRows(
    repository.TABLE,
    body=InstallmentPlanInput,
    check=check_plan_fields,
    from_row=plan_from_row,
)
