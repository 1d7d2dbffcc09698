"""Commission-rate writes: every broken rule reported at once, bulk writes all or nothing."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from msgspec import UNSET

from quote_service.commissions import repository
from quote_service.commissions.schemas import (
    REQUIRED,
    BulkResult,
    CommissionRate,
    CommissionRateBulkItem,
    CommissionRateInput,
    CommissionRatePatch,
    Tier,
    TierInput,
)
from quote_service.db.rows import found, row_as
from quote_service.errors import FieldError, ValidationFailed
from quote_service.patch import patched, sent_fields
from quote_service.pricing import money
from quote_service.pricing.commission import derived_component
from quote_service.pricing.money import plain
from quote_service.validation import decode_hook

_PERCENT_QUANTUM = Decimal("0.0001")
_HUNDRED = Decimal(100)
_DECODE_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_NAMED_FIELD = re.compile(r"Object (?P<kind>contains unknown|missing required) field `(?P<name>[^`]+)`")


def rate_from_row(row: asyncpg.Record) -> CommissionRate:
    """A rate as the API shows it: amounts with the currency's digits, percents without padding."""
    currency: str | None = row["currency"]

    def amount(value: Decimal | None) -> Decimal | None:
        if value is None:
            return None
        return plain(value) if currency is None else money.round_money(value, currency)  # amounts have one

    model = repository.model_from_row(row)
    rate = model.rate
    if rate is not None:
        rate = amount(rate) if model.commission_type == "FLAT" else plain(rate)
    tiers = [Tier(up_to=amount(t.up_to), rate=plain(t.rate)) for t in model.tiers] or None
    return row_as(
        CommissionRate,
        row,
        rate=rate,
        tiers=tiers,
        min_amount=amount(row["min_amount"]),
        max_amount=amount(row["max_amount"]),
        currency=currency,
        base=UNSET if row["base"] == "net" else row["base"],
        per=UNSET if row["per"] == "unit" else row["per"],
    )


def fields_of(data: CommissionRateInput) -> dict[str, Any]:
    """The column values of a request body (currency upper-cased, the component derived when
    omitted; tiers kept as given until checked)."""
    fields = {name: getattr(data, name) for name in repository.WRITABLE}
    fields["currency"] = None if data.currency is None else data.currency.upper()
    if data.component is None:
        fields["component"] = derived_component(
            logistics_provider=data.logistics_provider, seller_id=data.seller_id, category_id=data.category_id
        )
    return fields


def _percent_problem(value: Decimal) -> str | None:
    if not value.is_finite() or not 0 <= value <= _HUNDRED:
        return "must be a percent between 0 and 100"
    if value != value.quantize(_PERCENT_QUANTUM):
        return "has more than 4 decimals"
    return None


def _amount_problem(value: Decimal, currency: str | None, *, positive: bool = False) -> str | None:
    """`currency` is None when it is unknown (then only the range is checked)."""
    if not value.is_finite() or value < 0 or value >= money.MAX_AMOUNT:
        return "must be a finite amount >= 0 and below 1e12"
    if positive and value == 0:
        return "must be greater than 0"
    if currency is not None and not money.fits_minor_units(value, currency):
        return f"has more decimals than {currency} allows ({money.minor_units(currency)})"
    return None


def _tier_problems(tiers: list[TierInput], currency: str | None) -> Iterable[tuple[str, str]]:
    if not tiers:
        yield "tiers", "TIERED needs at least one tier"
        return
    last = len(tiers) - 1
    previous: Decimal | None = None
    for i, tier in enumerate(tiers):
        rate_problem = _percent_problem(tier.rate)
        if rate_problem:
            yield f"tiers[{i}].rate", rate_problem
        up_to: Decimal | None = tier.up_to
        if up_to is None:
            if i != last:
                yield f"tiers[{i}].up_to", "only the last tier may be open (null)"
            previous = None
            continue
        if i == last:
            yield f"tiers[{i}].up_to", "the last tier must be open (null) so that every amount is covered"
        problem = _amount_problem(up_to, currency, positive=True)
        if problem:
            yield f"tiers[{i}].up_to", problem
            previous = None
        elif previous is not None and up_to <= previous:
            yield f"tiers[{i}].up_to", f"must be greater than tiers[{i - 1}].up_to ({previous})"
            previous = up_to
        else:
            previous = up_to


def _charge_problems(fields: dict[str, Any]) -> Iterable[tuple[str, str]]:
    """docs/commission.md: `base` is for a share (PERCENTAGE, TIERED), `per` for an amount (FLAT); a logistics
    rate is charged on its shipment's delivery fee and takes neither."""
    kind, base, per = fields["commission_type"], fields["base"], fields["per"]
    if fields["component"] == "logistics":
        if base != "net":
            yield "base", "a logistics rate is charged on the delivery fee: leave base out (net)"
        if per != "unit":
            yield "per", "a logistics rate is charged once per shipment: leave per out (unit)"
        return
    if kind == "FLAT" and base != "net":
        yield "base", "a FLAT rate charges an amount, not a share of a base: leave base out (net)"
    if kind != "FLAT" and per != "unit":
        yield "per", f"only FLAT rates are charged per line, shipment or order ({kind} is a share of its base)"


def check_rate(fields: dict[str, Any], *, prefix: str = "") -> list[FieldError]:
    """Every broken rule of one rate, as field errors whose paths start with `prefix`."""
    problems: list[tuple[str, str]] = []
    if fields["component"] == "logistics" and fields["logistics_provider"] is None:
        problems.append(("logistics_provider", "a logistics rate needs a logistics_provider"))
    elif fields["component"] != "logistics" and fields["logistics_provider"] is not None:
        problems.append(("component", "a rate with a logistics_provider is a logistics rate"))
    currency: str | None = fields["currency"]
    kind = fields["commission_type"]
    if currency is None:  # docs/markets.md: a percentage applies in every currency, an amount only in its own
        amounts = [name for name in ("min_amount", "max_amount") if fields[name] is not None]
        if kind != "PERCENTAGE" or amounts:
            what = f"{kind} rates are amounts" if kind != "PERCENTAGE" else f"{' and '.join(amounts)} are amounts"
            problems.append(("currency", f"required: {what} in a currency (a PERCENTAGE rate may leave it out)"))
    elif not money.is_currency(currency):
        problems.append(("currency", "not an ISO 4217 currency code"))
        currency = None
    region = fields["region"]
    if region is not None and not region.strip():
        problems.append(("region", "must not be blank"))
    problems.extend(_charge_problems(fields))
    kind, rate, tiers = fields["commission_type"], fields["rate"], fields["tiers"]
    if kind == "TIERED":
        if rate is not None:
            problems.append(("rate", "must be null for TIERED: the tiers carry the rates"))
        if tiers is None:
            problems.append(("tiers", "TIERED needs tiers"))
        else:
            problems.extend(_tier_problems(tiers, currency))
    else:
        if tiers is not None:
            problems.append(("tiers", "only TIERED rates have tiers"))
        if rate is None:
            problems.append(("rate", f"{kind} needs a rate"))
        else:
            problem = _percent_problem(rate) if kind == "PERCENTAGE" else _amount_problem(rate, currency)
            if problem:
                problems.append(("rate", problem))
    bounds_ok = True
    for name in ("min_amount", "max_amount"):
        if fields[name] is not None and (problem := _amount_problem(fields[name], currency)):
            problems.append((name, problem))
            bounds_ok = False
    low, high = fields["min_amount"], fields["max_amount"]
    if bounds_ok and low is not None and high is not None and low > high:
        problems.append(("min_amount", "must be <= max_amount"))
    start: datetime = fields["effective_from"]
    end: datetime | None = fields["effective_to"]
    if end is not None and end <= start:
        problems.append(("effective_to", "must be after effective_from"))
    return [FieldError(f"{prefix}{name}", message) for name, message in problems]


def to_columns(fields: dict[str, Any]) -> dict[str, Any]:
    """Checked fields → column values: tiers as jsonb with amounts as strings."""
    tiers = fields["tiers"]
    if tiers is None:
        return fields
    currency = fields["currency"]
    stored = [
        {
            "up_to": None if t.up_to is None else str(money.round_money(t.up_to, currency)),
            "rate": str(plain(t.rate)),
        }
        for t in tiers
    ]
    return {**fields, "tiers": stored}


def _refuse(errors: list[FieldError], what: str) -> ValidationFailed:
    return ValidationFailed(f"Invalid {what}: " + "; ".join(f"{e.field} {e.message}" for e in errors), details=errors)


def _checked(data: CommissionRateInput) -> dict[str, Any]:
    fields = fields_of(data)
    errors = check_rate(fields)
    if errors:
        raise _refuse(errors, "commission rate")
    return to_columns(fields)


async def create_rate(pool: asyncpg.Pool, data: CommissionRateInput, *, actor: str) -> CommissionRate:
    columns = _checked(data)
    async with pool.acquire() as conn:
        row = await repository.insert_rate(conn, fields=columns, actor=actor)
    return rate_from_row(row)


async def get_rate(pool: asyncpg.Pool, rate_id: UUID) -> CommissionRate:
    async with pool.acquire() as conn:
        row = await repository.get_rate(conn, rate_id=rate_id)
    return rate_from_row(found(row, f"commission rate {rate_id}"))


async def update_rate(pool: asyncpg.Pool, rate_id: UUID, data: CommissionRateInput, *, actor: str) -> CommissionRate:
    """Replace every field of a rate (PUT)."""
    columns = _checked(data)
    async with pool.acquire() as conn:
        row = await repository.update_rate(conn, rate_id=rate_id, fields=columns, actor=actor)
    return rate_from_row(found(row, f"commission rate {rate_id}"))


async def patch_rate(pool: asyncpg.Pool, rate_id: UUID, data: CommissionRatePatch, *, actor: str) -> CommissionRate:
    """Change only the fields sent (PATCH); the rate that results is checked whole."""
    changes = sent_fields(data)
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.get_rate(conn, rate_id=rate_id, for_update=True)
        row = found(row, f"commission rate {rate_id}")
        current = msgspec.structs.replace(rate_from_row(row), base=row["base"], per=row["per"])
        columns = _checked(patched(current, CommissionRateInput, changes))
        updated = await repository.update_rate(conn, rate_id=rate_id, fields=columns, actor=actor)
    assert updated is not None  # locked above
    return rate_from_row(updated)


async def put_rate(pool: asyncpg.Pool, rate_id: UUID, data: CommissionRatePatch, *, actor: str) -> CommissionRate:
    """PUT: a whole rate replaces every field; a body without every required field (the Go
    service's partial update, e.g. `{"rate": 13.0}`) changes only the fields sent, as PATCH."""
    sent = sent_fields(data)
    if all(name in sent for name in REQUIRED):
        return await update_rate(pool, rate_id, CommissionRateInput(**sent), actor=actor)
    return await patch_rate(pool, rate_id, data, actor=actor)


async def deactivate_rate(pool: asyncpg.Pool, rate_id: UUID, *, actor: str) -> CommissionRate:
    async with pool.acquire() as conn:
        row = await repository.deactivate_rate(conn, rate_id=rate_id, actor=actor)
    return rate_from_row(found(row, f"commission rate {rate_id}"))


def _decode_error(prefix: str, exc: msgspec.ValidationError) -> FieldError:
    """msgspec's `Expected int, got str - at $.tiers[0].rate` → `items[3].tiers[0].rate`."""
    match = _DECODE_PATH.match(str(exc))
    assert match is not None  # the pattern matches any text
    field, message = prefix + (match["path"] or ""), match["message"]
    named = _NAMED_FIELD.search(message)
    if named:
        field = f"{field}.{named['name']}"
        message = "unknown field" if named["kind"] == "contains unknown" else "required field missing"
    return FieldError(field, message)


async def bulk_upsert(pool: asyncpg.Pool, items: list[Any], *, actor: str) -> BulkResult:
    """Create (no `id`) or replace (`id`) every entry in one transaction; any bad entry → 422, nothing written."""
    errors: list[tuple[int, FieldError]] = []
    entries: list[tuple[UUID | None, dict[str, Any]]] = []
    first_index: dict[UUID, int] = {}
    for i, raw in enumerate(items):
        prefix = f"items[{i}]"
        try:
            entry = msgspec.convert(raw, CommissionRateBulkItem, strict=False, str_keys=True, dec_hook=decode_hook)
        except msgspec.ValidationError as exc:
            errors.append((i, _decode_error(prefix, exc)))
            continue
        fields = fields_of(entry)
        errors.extend((i, error) for error in check_rate(fields, prefix=f"{prefix}."))
        if entry.id is not None:
            if entry.id in first_index:
                errors.append((i, FieldError(f"{prefix}.id", f"same id as items[{first_index[entry.id]}]")))
            else:
                first_index[entry.id] = i
        entries.append((entry.id, fields))
    async with pool.acquire() as conn, conn.transaction():
        existing = await repository.lock_existing(conn, rate_ids=list(first_index))
        errors.extend(
            (i, FieldError(f"items[{i}].id", f"commission rate {rate_id} not found"))
            for rate_id, i in first_index.items()
            if rate_id not in existing
        )
        if errors:
            errors.sort(key=lambda pair: pair[0])
            raise _refuse([error for _, error in errors], "commission rates")
        rows: list[asyncpg.Record] = []
        for rate_id, fields in entries:
            columns = to_columns(fields)
            if rate_id is None:
                rows.append(await repository.insert_rate(conn, fields=columns, actor=actor))
            else:
                row = await repository.update_rate(conn, rate_id=rate_id, fields=columns, actor=actor)
                assert row is not None  # locked above
                rows.append(row)
    updated = len(first_index)
    return BulkResult(items=[rate_from_row(row) for row in rows], created=len(rows) - updated, updated=updated)
