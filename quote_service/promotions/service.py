"""Promotion writes: one 422 listing every bad field (the config checked against its kind)."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from msgspec import UNSET

from quote_service.db.pool import Pool
from quote_service.db.rows import found, row_as
from quote_service.errors import FieldError, ValidationFailed
from quote_service.pricing import money
from quote_service.pricing.promotions import (
    CONFIG_TYPES,
    AmountOff,
    BuyTarget,
    BuyXGetY,
    FixedPriceBundle,
    FreeDelivery,
    GetTarget,
    Gift,
    PercentOff,
    SpendTiers,
)
from quote_service.promotions import repository
from quote_service.promotions.schemas import Budget, Conditions, Promotion, PromotionInput
from quote_service.validation import DECIMAL_RULE, describe_validation_error, loose_decimals

_MAX_AMOUNT = Decimal("1e12")
_PERCENT_QUANTUM = Decimal("0.0001")
_MAX_UNITS = 10_000
_ID_LISTS = ("category_ids", "product_ids", "customer_groups", "customer_segments", "channels")
_PERCENTS = ("percent", "percent_off")
_WHOLE = ("quantity", "max_applications")
_AMOUNTS = ("amount", "max_discount", "price", "min_subtotal", "max")
_MAX_TIERS = 20


def _amount_problem(amount: Decimal, currency: str | None, *, zero_ok: bool = False) -> str | None:
    if not amount.is_finite() or amount < 0 or (amount == 0 and not zero_ok) or amount >= _MAX_AMOUNT:
        return f"must be a finite amount {'>=' if zero_ok else '>'} 0 and below 1e12"
    if currency is not None and money.is_currency(currency) and not money.fits_minor_units(amount, currency):
        return f"has more decimals than {currency} allows ({money.minor_units(currency)})"
    return None


def _percent_problem(percent: Decimal) -> str | None:
    if not percent.is_finite() or not 0 < percent <= 100:
        return "must be a percent greater than 0 and at most 100"
    if percent != percent.quantize(_PERCENT_QUANTUM):
        return "must have at most 4 decimals"
    return None


def _typed_config(kind: str, raw: dict[str, Any]) -> tuple[Any, list[FieldError]]:
    """The config as its kind's Struct, or None and the problem at its path (`config.buy.quantity`)."""
    if loose := loose_decimals(raw, CONFIG_TYPES[kind], "config"):
        return None, [FieldError(path, DECIMAL_RULE) for path in loose]
    try:
        return msgspec.convert(raw, CONFIG_TYPES[kind]), []
    except msgspec.ValidationError as exc:
        text = describe_validation_error(exc)
        if " - at `$" in str(exc) or str(exc).startswith("Object "):
            path, _, message = text.partition(": ")
            return None, [FieldError(f"config.{path}", message)]
        return None, [FieldError("config", text)]


def _target_problems(target: BuyTarget, path: str) -> list[FieldError]:
    errors = []
    if not 1 <= target.quantity <= _MAX_UNITS:
        errors.append(FieldError(f"{path}.quantity", f"must be a whole number from 1 to {_MAX_UNITS}"))
    if not target.product_ids and not target.category_ids:
        errors.append(FieldError(f"{path}.product_ids", "name product_ids or category_ids (the qualifying units)"))
    for name in ("product_ids", "category_ids"):
        if any(not 1 <= len(i) <= 64 for i in getattr(target, name)):
            errors.append(FieldError(f"{path}.{name}", "ids are 1-64 characters"))
    if isinstance(target, GetTarget) and (problem := _percent_problem(target.percent_off)):
        errors.append(FieldError(f"{path}.percent_off", problem))
    return errors


def _currency_problems(currency: str, conditions_currency: str | None) -> list[FieldError]:
    if not money.is_currency(currency):
        return [FieldError("config.currency", "not an ISO 4217 currency code")]
    if conditions_currency is not None and conditions_currency != currency:
        return [FieldError("conditions.currency", "must be config.currency when both are set")]
    return []


def _ids_problems(product_ids: frozenset[str], category_ids: frozenset[str], path: str) -> list[FieldError]:
    errors = []
    if not product_ids and not category_ids:
        errors.append(FieldError(f"{path}.product_ids", "name product_ids or category_ids (the qualifying units)"))
    for name, ids in (("product_ids", product_ids), ("category_ids", category_ids)):
        if any(not 1 <= len(i) <= 64 for i in ids):
            errors.append(FieldError(f"{path}.{name}", "ids are 1-64 characters"))
    return errors


def _tiers_problems(config: SpendTiers, currency: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not 1 <= len(config.tiers) <= _MAX_TIERS:
        return [FieldError("config.tiers", f"must list 1 to {_MAX_TIERS} tiers")]
    for index, tier in enumerate(config.tiers):
        path = f"config.tiers[{index}]"
        if problem := _amount_problem(tier.min_subtotal, currency, zero_ok=True):
            errors.append(FieldError(f"{path}.min_subtotal", problem))
        if (tier.amount is None) == (tier.percent is None):
            errors.append(FieldError(f"{path}.amount", "give exactly one of amount or percent"))
        elif tier.amount is not None and (problem := _amount_problem(tier.amount, currency)):
            errors.append(FieldError(f"{path}.amount", problem))
        elif tier.percent is not None and (problem := _percent_problem(tier.percent)):
            errors.append(FieldError(f"{path}.percent", problem))
    minimums = [tier.min_subtotal for tier in config.tiers]
    if not errors and len(set(minimums)) != len(minimums):
        errors.append(FieldError("config.tiers", "two tiers have the same min_subtotal"))
    return errors


def _free_delivery_problems(config: FreeDelivery, conditions_currency: str | None) -> list[FieldError]:
    """A partial free delivery: `percent` or `amount` (not both), `max`, in its currency (or the conditions')."""
    errors: list[FieldError] = []
    currency = config.currency.upper() if config.currency is not None else None
    if currency is not None:
        errors += _currency_problems(currency, conditions_currency)
    currency = currency or conditions_currency
    if config.percent is not None and config.amount is not None:
        errors.append(FieldError("config.amount", "give percent or amount, not both"))
    elif config.percent is not None and (problem := _percent_problem(config.percent)):
        errors.append(FieldError("config.percent", problem))
    elif config.amount is not None and (problem := _amount_problem(config.amount, currency)):
        errors.append(FieldError("config.amount", problem))
    if config.max is not None and (problem := _amount_problem(config.max, currency)):
        errors.append(FieldError("config.max", problem))
    return errors


def _config_problems(config: Any, conditions_currency: str | None) -> list[FieldError]:
    """Values and relations of a well-formed config."""
    errors: list[FieldError] = []
    if isinstance(config, PercentOff):
        if problem := _percent_problem(config.percent):
            errors.append(FieldError("config.percent", problem))
        if config.max_discount is not None:
            if conditions_currency is None:
                errors.append(FieldError("conditions.currency", "is required when config.max_discount is set"))
            elif problem := _amount_problem(config.max_discount, conditions_currency):
                errors.append(FieldError("config.max_discount", problem))
    elif isinstance(config, AmountOff):
        currency = config.currency.upper()
        if not money.is_currency(currency):
            errors.append(FieldError("config.currency", "not an ISO 4217 currency code"))
        elif conditions_currency is not None and conditions_currency != currency:
            errors.append(FieldError("conditions.currency", "must be config.currency when both are set"))
        if problem := _amount_problem(config.amount, currency):
            errors.append(FieldError("config.amount", problem))
    elif isinstance(config, BuyXGetY):
        errors += _target_problems(config.buy, "config.buy") + _target_problems(config.get, "config.get")
        if config.max_applications is not None and not 1 <= config.max_applications <= _MAX_UNITS:
            errors.append(FieldError("config.max_applications", f"must be a whole number from 1 to {_MAX_UNITS}"))
    elif isinstance(config, FixedPriceBundle):
        currency = config.currency.upper()
        errors += _currency_problems(currency, conditions_currency)
        errors += _ids_problems(config.product_ids, config.category_ids, "config")
        if not 1 <= config.quantity <= _MAX_UNITS:
            errors.append(FieldError("config.quantity", f"must be a whole number from 1 to {_MAX_UNITS}"))
        if problem := _amount_problem(config.price, currency, zero_ok=True):
            errors.append(FieldError("config.price", problem))
    elif isinstance(config, SpendTiers):
        currency = config.currency.upper()
        errors += _currency_problems(currency, conditions_currency)
        errors += _tiers_problems(config, currency)
    elif isinstance(config, FreeDelivery):
        errors += _free_delivery_problems(config, conditions_currency)
    elif isinstance(config, Gift):
        if not 1 <= len(config.product_id) <= 64:
            errors.append(FieldError("config.product_id", "must be a product id (1-64 characters)"))
        if not 1 <= config.quantity <= _MAX_UNITS:
            errors.append(FieldError("config.quantity", f"must be a whole number from 1 to {_MAX_UNITS}"))
        gift_currency = config.currency.upper() if config.currency is not None else None
        if gift_currency is not None:
            errors += _currency_problems(gift_currency, conditions_currency)
        if config.min_subtotal is not None:
            if gift_currency is None:
                errors.append(FieldError("config.currency", "is required when config.min_subtotal is set"))
            elif problem := _amount_problem(config.min_subtotal, gift_currency, zero_ok=True):
                errors.append(FieldError("config.min_subtotal", problem))
    return errors


def _kind_currency(config: Any, conditions_currency: str | None) -> str | None:
    """The one currency a promotion's quotes are in, when its conditions or config name one."""
    named = getattr(config, "currency", None)
    return named.upper() if isinstance(named, str) else conditions_currency


def _config_stored(raw: dict[str, Any]) -> dict[str, Any]:
    """The config as stored: what was sent (already checked), currencies upper-case, id lists
    without repeats, decimals as exact text."""
    stored: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            stored[key] = _config_stored(value)
        elif key == "tiers":  # ascending minimum (checked: no two alike)
            tiers = [_config_stored(tier) for tier in value]
            stored[key] = sorted(tiers, key=lambda tier: Decimal(tier["min_subtotal"]))
        elif isinstance(value, list):
            stored[key] = list(dict.fromkeys(value))
        elif key == "currency" and value is not None:
            stored[key] = value.upper()
        elif key in _WHOLE or value is None:
            stored[key] = value
        else:
            stored[key] = str(value)
    return stored


def check_promotion_fields(data: PromotionInput) -> dict[str, Any]:
    """The columns of a promotion, normalised; a 422 listing every broken rule."""
    errors: list[FieldError] = []
    if data.name != data.name.strip() or not data.name.strip():
        errors.append(FieldError("name", "must not be blank or start or end with spaces"))
    c = data.conditions
    currency = c.currency.upper() if c.currency is not None else None
    if currency is not None and not money.is_currency(currency):
        errors.append(FieldError("conditions.currency", "not an ISO 4217 currency code"))
        currency = None
    if c.min_subtotal is not None:
        if c.currency is None:
            errors.append(FieldError("conditions.currency", "is required when conditions.min_subtotal is set"))
        elif problem := _amount_problem(c.min_subtotal, currency, zero_ok=True):
            errors.append(FieldError("conditions.min_subtotal", problem))
    config, problems = _typed_config(data.kind, data.config)
    errors += problems
    if config is not None:
        errors += _config_problems(config, currency)
    if data.budget is not None:
        budget_currency = data.budget.currency.upper()
        if not money.is_currency(budget_currency):
            errors.append(FieldError("budget.currency", "not an ISO 4217 currency code"))
        elif config is not None and (named := _kind_currency(config, currency)) not in (None, budget_currency):
            errors.append(FieldError("budget.currency", f"must be the promotion's currency ({named})"))
        elif problem := _amount_problem(data.budget.amount, budget_currency):
            errors.append(FieldError("budget.amount", problem))
    if not errors and data.ends_at is not None and data.ends_at <= data.starts_at:
        errors.append(FieldError("ends_at", "must be after starts_at"))
    if errors:
        raise ValidationFailed(
            "Invalid promotion: " + "; ".join(f"{e.field} {e.message}" for e in errors), details=errors
        )
    conditions: dict[str, Any] = {name: list(dict.fromkeys(getattr(c, name))) for name in _ID_LISTS}
    conditions = {name: ids for name, ids in conditions.items() if ids}
    if currency is not None:
        conditions["currency"] = currency
    if c.min_subtotal is not None:
        conditions["min_subtotal"] = str(c.min_subtotal)
    return {
        "name": data.name,
        "kind": data.kind,
        "conditions": conditions,
        "config": _config_stored(data.config),
        "priority": data.priority,
        "combinable": data.combinable,
        "combines_with_coupons": data.combines_with_coupons,
        "starts_at": data.starts_at.astimezone(UTC),
        "ends_at": data.ends_at.astimezone(UTC) if data.ends_at is not None else None,
        "usage_limit": data.usage_limit,
        "is_active": data.is_active,
        "funded_by": data.funded_by,
        "promotion_group": data.group,
        "budget_amount": None if data.budget is None else data.budget.amount,
        "budget_currency": None if data.budget is None else data.budget.currency.upper(),
        "per_customer_limit": data.per_customer_limit,
        "on_reduced_lines": data.on_reduced_lines,
    }


def _shown(raw: dict[str, Any], currency: str | None) -> dict[str, Any]:
    """A stored config as the API shows it: percents without trailing zeros, amounts with the currency's digits."""
    shown: dict[str, Any] = {}
    currency = raw.get("currency", currency)
    for key, value in raw.items():
        if isinstance(value, dict):
            shown[key] = _shown(value, currency)
        elif key == "tiers":
            shown[key] = [_shown(tier, currency) for tier in value]
        elif key in _PERCENTS and value is not None:
            shown[key] = money.percent_shown(Decimal(value))
        elif key in _AMOUNTS and value is not None:
            amount = Decimal(value)
            shown[key] = money.round_money(amount, currency) if currency else amount
        else:
            shown[key] = value
    return shown


def _budget(row: asyncpg.Record) -> Budget | None:
    if row["budget_amount"] is None:
        return None
    return Budget(
        amount=money.round_money(row["budget_amount"], row["budget_currency"]), currency=row["budget_currency"]
    )


def promotion_from_row(row: asyncpg.Record) -> Promotion:
    """A promotion as the API shows it."""
    raw = row["conditions"]
    currency = raw.get("currency")
    minimum = raw.get("min_subtotal")
    budget_amount = row["budget_amount"]
    return row_as(
        Promotion,
        row,
        config=_shown(row["config"], currency),
        conditions=Conditions(
            min_subtotal=None if minimum is None else money.round_money(Decimal(minimum), currency),
            currency=currency,
            **{name: raw.get(name, []) for name in _ID_LISTS},
        ),
        group=row["promotion_group"],
        budget=_budget(row),
        budget_used=None if budget_amount is None else money.round_money(row["budget_used"], row["budget_currency"]),
        budget_remaining=None
        if budget_amount is None
        else money.round_money(max(budget_amount - row["budget_used"], Decimal(0)), row["budget_currency"]),
        seller_id=row["seller_id"] or UNSET,
    )


async def create_promotion(pool: Pool, data: PromotionInput, *, actor: str, seller_id: str | None = None) -> Promotion:
    """`seller_id`: a seller's own promotion (checked first: promotions/seller_scope.py)."""
    fields = check_promotion_fields(data)
    async with pool.acquire() as conn:
        row = await repository.insert_promotion(conn, fields=fields, actor=actor, seller_id=seller_id)
    return promotion_from_row(row)


async def get_promotion(pool: Pool, promotion_id: UUID) -> Promotion:
    async with pool.acquire() as conn:
        row = await repository.get_promotion(conn, promotion_id=promotion_id)
    return promotion_from_row(found(row, f"promotion {promotion_id}"))


async def replace_promotion(pool: Pool, promotion_id: UUID, data: PromotionInput, *, actor: str) -> Promotion:
    """Replace every field of a promotion (PUT); its use count stays."""
    fields = check_promotion_fields(data)
    async with pool.acquire() as conn:
        row = await repository.update_promotion(conn, promotion_id=promotion_id, fields=fields, actor=actor)
    return promotion_from_row(found(row, f"promotion {promotion_id}"))


async def deactivate_promotion(pool: Pool, promotion_id: UUID, *, actor: str) -> Promotion:
    async with pool.acquire() as conn:
        row = await repository.deactivate_promotion(conn, promotion_id=promotion_id, actor=actor)
    return promotion_from_row(found(row, f"promotion {promotion_id}"))
