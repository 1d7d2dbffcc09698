"""A seller's statement: what it sold, what came back, the commission, and what it is owed."""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

import asyncpg
import msgspec
from msgspec import UNSET

from quote_service.db.pool import Connection, Pool
from quote_service.errors import FieldError, ValidationFailed
from quote_service.pagination import page_of
from quote_service.periods import Period, span_fields
from quote_service.pricing.money import ZERO, is_currency, round_money
from quote_service.pricing.settlement import payout
from quote_service.statements import repository
from quote_service.statements.schemas import Entry, Figures, Ledger, Statement, StatementDay
from quote_service.validation import FIRST_INSTANT

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
    "tax_collected",
    "tax_refunded",
    "platform_contribution",
    "platform_contribution_reversed",
    "commission_tax",
    "delivery_fees",
    "payout",
)
ENTRY_COLUMNS = (
    "kind",
    "id",
    "order_id",
    "at",
    "seller_id",
    "currency",
    "goods",
    "tax",
    "platform_contribution",
    "commission",
    "commission_tax",
    "delivery_fees",
    "payout",
)
_AMOUNTS = ("goods", "tax", "platform_contribution", "commission", "commission_tax", "delivery_fees", "payout")
_ENTRY_MONEY = (
    ("goods", "goods"),
    ("tax", "tax"),
    ("platform_contribution", "platform"),
    ("commission", "commission"),
    ("commission_tax", "commission_tax"),
    ("delivery_fees", "delivery"),
)
"""An entry's amounts and the `repository.entries` columns they come from."""
LEDGER = "statement-entries"
"""The cursor's list name."""
_NO_CURRENCY_QUANTUM = Decimal("0.01")


def _currency_error(message: str) -> ValidationFailed:
    return ValidationFailed(f"currency: {message}", details=[FieldError("currency", message)])


async def _currency(conn: Connection, seller_id: str, period: Period, currency: str | None) -> str | None:
    """`currency` checked, or the one currency the seller used in the period (None: it used none)."""
    if currency is not None:
        currency = currency.upper()
        if not is_currency(currency):
            raise _currency_error("not an ISO 4217 currency code")
        return currency
    used = await repository.currencies(conn, seller_id=seller_id, start=period.start, end=period.end)
    if len(used) > 1:
        raise _currency_error(f"the seller sold in {', '.join(used)} in this period: choose one")
    return used[0] if used else None


async def statement(pool: Pool, seller_id: str, period: Period, *, currency: str | None) -> Statement:
    """The statement of `period` by its local days, in `currency` or the one currency the seller used."""
    async with pool.acquire() as conn:
        currency = await _currency(conn, seller_id, period, currency)
        rows = (
            await repository.days(conn, seller_id=seller_id, currency=currency, bounds=period.day_starts)
            if currency
            else []
        )
        codes = (
            await repository.taxes_by_code(
                conn, seller_id=seller_id, currency=currency, start=period.start, end=period.end
            )
            if currency
            else []
        )
        fees = await _fees(conn, seller_id, period, currency)
    by_day: dict[int, list[asyncpg.Record]] = {}
    for fee in fees:
        by_day.setdefault(bisect_right(period.day_starts, fee["at"]), []).append(fee)
    shown = bool(fees)  # docs/commission.md: a statement without named fees reads as it always did
    days = [_day(row, currency, period, by_day.get(row["day"], []) if shown else None) for row in rows if currency]
    total = msgspec.structs.asdict(_figures(rows, currency, fees if shown else None))
    statement = Statement(seller_id=seller_id, currency=currency, **span_fields(period), **total, days=days)
    if any(r["kept"] for r in codes):  # docs/taxes.md#statements: a seller with lines that kept their components
        statement.tax_collected_by_code = {r["code"]: _money(r["collected"], currency) for r in codes}
        statement.tax_refunded_by_code = {r["code"]: _money(r["refunded"], currency) for r in codes}
    external = [r for r in codes if r["collected_external"] or r["refunded_external"]]
    if external:  # docs/extensions.md: the tax a tax extension answered, of tax_collected and tax_refunded
        statement.tax_collected_from_extensions = _money(sum(r["collected_external"] for r in external), currency)
        statement.tax_refunded_from_extensions = _money(sum(r["refunded_external"] for r in external), currency)
    return statement


def _money(amount: Decimal, currency: str | None) -> Decimal:
    """Rounded to the currency's digits; without a currency (nothing in the period: zeros), two."""
    return round_money(amount, currency) if currency else amount.quantize(_NO_CURRENCY_QUANTUM)


async def _fees(conn: Connection, seller_id: str, period: Period, currency: str | None) -> list[asyncpg.Record]:
    """The period's named commission fees, entry by entry and name by name (docs/commission.md)."""
    if not currency:
        return []
    return await repository.fees(conn, seller_id=seller_id, currency=currency, start=period.start, end=period.end)


def _by_name(fees: Iterable[asyncpg.Record], currency: str | None) -> dict[str, Decimal]:
    """Fee rows summed by name, in name order, with the currency's digits."""
    summed: dict[str, Decimal] = {}
    for fee in fees:
        summed[fee["name"]] = summed.get(fee["name"], ZERO) + fee["amount"]
    return {name: _money(summed[name], currency) for name in sorted(summed)}


def _figures(
    rows: Sequence[asyncpg.Record], currency: str | None, fees: Iterable[asyncpg.Record] | None = None
) -> Figures:
    def total(column: str) -> Decimal:
        return _money(sum((r[column] for r in rows), ZERO), currency)

    gross, refunds, charged, reversed_ = total("gross"), total("refunds"), total("charged"), total("reversed")
    collected, tax_back = total("tax_collected"), total("tax_refunded")
    platform, platform_back, commission_tax = total("platform"), total("platform_reversed"), total("commission_tax")
    delivery = total("delivery")
    net_sales, net_commission = gross - refunds, charged - reversed_
    paid = payout(
        goods=net_sales, tax=collected - tax_back, platform=platform - platform_back, commission=net_commission,
        commission_tax=commission_tax, delivery=delivery,
    )  # fmt: skip
    return Figures(
        orders=int(sum(r["orders"] for r in rows)),
        gross_sales=gross,
        refunds=refunds,
        net_sales=net_sales,
        commission_charged=charged,
        commission_reversed=reversed_,
        net_commission=net_commission,
        tax_collected=collected,
        tax_refunded=tax_back,
        platform_contribution=platform,
        platform_contribution_reversed=platform_back,
        commission_tax=commission_tax,
        delivery_fees=delivery,
        payout=paid,
        fees=UNSET if fees is None else _by_name(fees, currency),
    )


def _day(
    row: asyncpg.Record, currency: str | None, period: Period, fees: Iterable[asyncpg.Record] | None
) -> StatementDay:
    day = period.first_day + timedelta(days=row["day"] - 1)  # the SQL numbers the days from 1
    return StatementDay(date=day, **msgspec.structs.asdict(_figures([row], currency, fees)))


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
            x.net_commission, x.tax_collected, x.tax_refunded, x.platform_contribution,
            x.platform_contribution_reversed, x.commission_tax, x.delivery_fees, x.payout)  # fmt: skip


async def ledger(
    pool: Pool,
    seller_id: str,
    period: Period,
    *,
    currency: str | None,
    limit: int | None,
    after: tuple[datetime, UUID] | None = None,
) -> Ledger:
    """The entries of `period` oldest first, `limit` at a time (None: every one), after the cursor's `after`."""
    async with pool.acquire() as conn:
        currency = await _currency(conn, seller_id, period, currency)
        rows = (
            await repository.entries(
                conn,
                seller_id=seller_id,
                currency=currency,
                start=period.start,
                end=period.end,
                after=after,
                limit=None if limit is None else limit + 1,
            )
            if currency
            else []
        )
        fees: dict[tuple[str, UUID], list[asyncpg.Record]] = {}
        for fee in await _fees(conn, seller_id, period, currency) if rows else []:
            fees.setdefault((fee["kind"], fee["id"]), []).append(fee)
    page = page_of(
        rows,
        LEDGER,
        limit=limit or len(rows) or 1,
        key=_entry_key,
        item=lambda r: _entry(r, currency, fees.get((r["kind"], r["id"]))),
    )
    return Ledger(seller_id=seller_id, currency=currency, **span_fields(period), **msgspec.structs.asdict(page))


async def entries_until(conn: Connection, *, seller_id: str, currency: str, until: datetime) -> list[Entry]:
    """Every entry of the seller in `currency` up to `until` (included), oldest first: the ledger a seller's
    balance is worked out from (docs/payouts.md), whatever kinds of entries it holds."""
    rows = await repository.entries(
        conn,
        seller_id=seller_id,
        currency=currency,
        start=FIRST_INSTANT,
        end=until + timedelta(microseconds=1),
        after=None,
        limit=None,
    )
    return [_entry(row, currency, None) for row in rows]


def _entry_key(row: asyncpg.Record) -> tuple[str, str]:
    return (row["at"].isoformat(), str(row["id"]))


def _entry(row: asyncpg.Record, currency: str | None, fees: Iterable[asyncpg.Record] | None) -> Entry:
    money = {name: _money(row[column], currency) for name, column in _ENTRY_MONEY}
    paid = payout(
        goods=money["goods"], tax=money["tax"], platform=money["platform_contribution"],
        commission=money["commission"], commission_tax=money["commission_tax"], delivery=money["delivery_fees"],
    )  # fmt: skip
    return Entry(
        kind=row["kind"],
        id=row["id"],
        order_id=row["order_id"],
        at=row["at"],
        payout=paid,
        fees=UNSET if fees is None else _by_name(fees, currency),
        **money,
    )


def ledger_csv(ledger: Ledger) -> str:
    """One row per entry and a `total` row (each amount summed over the entries), for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ENTRY_COLUMNS)
    currency = ledger.currency or ""
    totals = dict.fromkeys(_AMOUNTS, _money(ZERO, ledger.currency))
    for entry in ledger.items:
        amounts = [getattr(entry, name) for name in _AMOUNTS]
        for name, amount in zip(_AMOUNTS, amounts, strict=True):
            totals[name] += amount
        head = (entry.kind, entry.id, entry.order_id, entry.at.isoformat(), ledger.seller_id, currency)
        writer.writerow([_cell(v) for v in (*head, *amounts)])
    writer.writerow([_cell(v) for v in ("total", "", "", "", ledger.seller_id, currency, *totals.values())])
    return out.getvalue()
