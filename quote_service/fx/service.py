"""FX rate writes and lookups (docs/currencies.md): one 422 listing every bad field before any SQL; the
rate in force between two currencies, from the stored rates (pricing/fx_rates.py looks it up)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import asyncpg

from quote_service.clock import utcnow
from quote_service.db.pool import Connection, Pool
from quote_service.db.rows import found, row_as
from quote_service.errors import FieldError, NotFound, ValidationFailed
from quote_service.fx import repository
from quote_service.fx.schemas import FxRate, FxRateInForce, FxRateInput
from quote_service.pricing import money
from quote_service.pricing.fx_rates import FxBook, rate_problem

NewRate = tuple[str, str, str, str, datetime | None]
"""A rate to store: (base, quote, rate as exact text, source, valid_from or None for now)."""


def currency_problems(fields: dict[str, str]) -> list[FieldError]:
    """A FieldError for each of `fields` (name → code) that is no ISO 4217 code, and for a quote equal to its base."""
    errors = [
        FieldError(name, f"{code!r} is not an ISO 4217 currency code")
        for name, code in fields.items()
        if not money.is_currency(code.upper())
    ]
    if not errors and fields["base"].upper() == fields["quote"].upper():
        errors.append(FieldError("quote", "must differ from base (a currency converts to itself at 1)"))
    return errors


def check_rate(data: FxRateInput, *, path: str = "") -> tuple[NewRate, list[FieldError]]:
    """The rate to store (codes upper-case, the rate as exact text) and every broken rule, each field
    named under `path` (`rows[3].rate`)."""
    errors = currency_problems({"base": data.base, "quote": data.quote})
    if (problem := rate_problem(data.rate)) is not None:
        errors.append(FieldError("rate", problem))
    errors = [FieldError(path + e.field, e.message) for e in errors]
    row = (data.base.upper(), data.quote.upper(), str(money.plain(data.rate)), data.source, data.valid_from)
    return row, errors


def refuse(noun: str, errors: list[FieldError]) -> None:
    """Raise the 422 listing `errors` (none: nothing to refuse)."""
    if errors:
        raise ValidationFailed(
            f"Invalid {noun}: " + "; ".join(f"{e.field} {e.message}" for e in errors), details=errors
        )


def rate_of(row: asyncpg.Record) -> FxRate:
    """A stored rate as the API shows it."""
    return row_as(FxRate, row, rate=Decimal(row["rate"]))


async def create(pool: Pool, data: FxRateInput, *, actor: str) -> FxRate:
    """POST: the new rate of its pair, in force from its `valid_from`."""
    row, errors = check_rate(data)
    refuse("FX rate", errors)
    async with pool.acquire() as conn:
        (rate_id,) = await repository.insert(conn, rows=[row], actor=actor)
        found = await repository.get(conn, rate_id=rate_id)
    assert found is not None
    return rate_of(found)


async def import_rates(
    pool: Pool, rows: Sequence[NewRate], *, actor: str, chunk: int = 1000, progress: Callable[[int], None] | None = None
) -> int:
    """Store checked rates in one transaction (all or none), those stored already left out; how many
    stored. `progress`: called with the rows done after each `chunk`."""
    stored = 0
    async with pool.acquire() as conn, conn.transaction():
        for start in range(0, len(rows), chunk):
            part = [(b, q, r, s, v or utcnow()) for b, q, r, s, v in rows[start : start + chunk]]
            stored += await repository.insert_unless_stored(conn, rows=part, actor=actor)
            if progress is not None:
                progress(len(part))
    return stored


async def get(pool: Pool, rate_id: UUID) -> FxRate:
    async with pool.acquire() as conn:
        row = await repository.get(conn, rate_id=rate_id)
    return rate_of(found(row, f"FX rate {rate_id}"))


async def book_at(conn: Connection, at: datetime) -> FxBook:
    """The stored rates a lookup at `at` (or later) reads."""
    return FxBook(await repository.in_force_since(conn, since=at))


async def in_force(pool: Pool, *, base: str, quote: str, at: datetime) -> FxRateInForce:
    """GET ?base&quote&at: the rate from `base` to `quote` at `at` (direct, inverse or crossed through
    EUR); 404 when there is none; 422 naming `base` or `quote` for a code that is none, or the same two."""
    refuse("FX rate lookup", currency_problems({"base": base, "quote": quote}))
    base, quote = base.upper(), quote.upper()
    async with pool.acquire() as conn:
        found = (await book_at(conn, at)).rate(base, quote, at)
        if found is None:
            raise NotFound(f"no FX rate from {base} to {quote} at {at.isoformat()}")
        rows = [await repository.get(conn, rate_id=used.id) for used in found.used if used.id is not None]  # all stored
    sources = {used.source for used in found.used}
    return FxRateInForce(
        base=base,
        quote=quote,
        at=at,
        rate=found.rate,
        via=found.via,
        rate_id=found.rate_id,
        source=sources.pop() if len(sources) == 1 else None,
        rates=[rate_of(row) for row in rows if row is not None],
    )
