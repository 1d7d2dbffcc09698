"""A seller's statement: what it sold, what came back, the commission, and what it is owed."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

import asyncpg
import msgspec

from quote_service.analytics.periods import Period, span_fields
from quote_service.db.pool import Pool
from quote_service.errors import FieldError, ValidationFailed
from quote_service.pricing.money import ZERO, is_currency, round_money
from quote_service.statements import repository
from quote_service.statements.schemas import Figures, Statement, StatementDay

CSV_COLUMNS = (
    "date",
    "seller_id",
    "currency",
    "orders",
    "gross_sales",
    "refunds",
    "net_sales",
    "commission_charged",
    "commission_reversed",
    "net_commission",
    "payout",
)
_NO_CURRENCY_QUANTUM = Decimal("0.01")


def _currency_error(message: str) -> ValidationFailed:
    return ValidationFailed(f"currency: {message}", details=[FieldError("currency", message)])


async def statement(pool: Pool, seller_id: str, period: Period, *, currency: str | None) -> Statement:
    """The statement of `period` by its local days, in `currency` or the one currency the seller used."""
    lo, hi = period.start, period.end
    if currency is not None:
        currency = currency.upper()
        if not is_currency(currency):
            raise _currency_error("not an ISO 4217 currency code")
    async with pool.acquire() as conn:
        if currency is None:
            used = await repository.currencies(conn, seller_id=seller_id, start=lo, end=hi)
            if len(used) > 1:
                raise _currency_error(f"the seller sold in {', '.join(used)} in this period: choose one")
            currency = used[0] if used else None
        rows = (
            await repository.days(conn, seller_id=seller_id, currency=currency, bounds=period.day_starts)
            if currency
            else []
        )
    days = [_day(row, currency, period) for row in rows if currency]
    total = msgspec.structs.asdict(_figures(rows, currency))
    return Statement(seller_id=seller_id, currency=currency, **span_fields(period), **total, days=days)


def _money(amount: Decimal, currency: str | None) -> Decimal:
    """Rounded to the currency's digits; without a currency (nothing in the period: zeros), two."""
    return round_money(amount, currency) if currency else amount.quantize(_NO_CURRENCY_QUANTUM)


def _figures(rows: Sequence[asyncpg.Record], currency: str | None) -> Figures:
    def total(column: str) -> Decimal:
        return _money(sum((r[column] for r in rows), ZERO), currency)

    gross, refunds, charged, reversed_ = total("gross"), total("refunds"), total("charged"), total("reversed")
    net_sales, net_commission = gross - refunds, charged - reversed_
    return Figures(
        orders=int(sum(r["orders"] for r in rows)),
        gross_sales=gross,
        refunds=refunds,
        net_sales=net_sales,
        commission_charged=charged,
        commission_reversed=reversed_,
        net_commission=net_commission,
        payout=net_sales - net_commission,
    )


def _day(row: asyncpg.Record, currency: str | None, period: Period) -> StatementDay:
    day = period.first_day + timedelta(days=row["day"] - 1)  # the SQL numbers the days from 1
    return StatementDay(date=day, **msgspec.structs.asdict(_figures([row], currency)))


def _cell(value: object) -> str:
    """A spreadsheet cell: text that would start a formula is quoted as text (CSV injection)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def as_csv(s: Statement) -> str:
    """One row per day and a total row, for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    currency = s.currency or ""
    for day in s.days:
        writer.writerow([_cell(v) for v in (day.date.isoformat(), s.seller_id, currency, *_amounts(day))])
    writer.writerow([_cell(v) for v in ("total", s.seller_id, currency, *_amounts(s))])
    return out.getvalue()


def _amounts(x: Figures) -> tuple[object, ...]:
    return (x.orders, x.gross_sales, x.refunds, x.net_sales, x.commission_charged, x.commission_reversed,
            x.net_commission, x.payout)  # fmt: skip
