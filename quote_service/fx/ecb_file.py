"""An ECB-style rates file read into the rates to store (docs/currencies.md#importing-ecb-rates).

Two shapes, told apart by the header:

- long: one rate a row, `date,currency,rate` (a header naming those is optional): units of the currency
  per 1 EUR on that date;
- wide, as the ECB publishes its history (`eurofxref-hist.csv`): a header `Date,USD,JPY,...` and a row
  per date, one column per currency; an empty or `N/A` cell is a currency the ECB had no rate for.

Each rate becomes EUR → currency (source `ecb`, valid_from the date at 00:00 UTC); cross rates are
derived at lookup (pricing/fx_rates.py). Every problem is named by its row (line) number, and a file
with any is refused whole: the command writes nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from quote_service.fx.service import NewRate
from quote_service.pricing import money
from quote_service.pricing.fx_rates import PIVOT, rate_problem

LONG_HEADER = ("date", "currency", "rate")
_MISSING = {"", "n/a"}


@dataclass
class EcbRates:
    """What a file holds: the rates to store, in file order, and every row's problem."""

    rates: list[NewRate] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """`row 7: rate '-1' must be a number above 0 ...`, one per bad cell or row, in file order."""


def _day(raw: str) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(raw.strip()), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        return None


def _rate(
    row: int, currency: str, raw: str, when: datetime | None, seen: dict[tuple[str, datetime], int]
) -> tuple[NewRate | None, str | None]:
    """One EUR → `currency` rate of row `row`, or why it is not one."""
    code = currency.strip().upper()
    if not money.is_currency(code) or code == PIVOT:
        return None, f"row {row}: currency {currency.strip()!r} is not an ISO 4217 code other than {PIVOT}"
    try:
        rate = Decimal(raw.strip())
    except InvalidOperation:
        return None, f"row {row}: rate {raw.strip()!r} of {code} is not a number"
    if (problem := rate_problem(rate)) is not None:
        return None, f"row {row}: rate {raw.strip()!r} of {code} {problem}"
    if when is None:
        return None, None  # the row's date is reported once, by the caller
    if (code, when) in seen:
        return None, f"row {row}: {code} on {when.date()} is given already in row {seen[code, when]}"
    seen[code, when] = row
    return (PIVOT, code, str(money.plain(rate)), "ecb", when), None


def read(lines: Iterable[str]) -> EcbRates:
    """The rates of an ECB-style CSV (long or wide), and every problem by row number."""
    found = EcbRates()
    seen: dict[tuple[str, datetime], int] = {}
    rows: Iterator[list[str]] = csv.reader(lines)
    header: list[str] | None = None
    for number, cells in enumerate(rows, start=1):
        if not any(cell.strip() for cell in cells):
            continue
        if header is None and _day(cells[0]) is None:
            header = [cell.strip() for cell in cells]
            if header[0].lower() != "date":
                found.problems.append(f"row {number}: the header must start with Date")
            continue
        when = _day(cells[0])
        if when is None:
            found.problems.append(f"row {number}: date {cells[0].strip()!r} is not a date (YYYY-MM-DD)")
        for currency, raw in _cells(number, cells, header, found):
            rate, problem = _rate(number, currency, raw, when, seen)
            if problem is not None:
                found.problems.append(problem)
            elif rate is not None:
                found.rates.append(rate)
    return found


def _cells(number: int, cells: list[str], header: list[str] | None, found: EcbRates) -> list[tuple[str, str]]:
    """The (currency, rate) pairs of a data row; a row of the wrong width is a problem."""
    if header is None or tuple(h.lower() for h in header) == LONG_HEADER:
        if len(cells) != 3:
            found.problems.append(f"row {number}: expected 3 fields (date, currency, rate), found {len(cells)}")
            return []
        return [(cells[1], cells[2])]
    width = len(header) - (header[-1] == "")  # the ECB's own file ends every line with a comma
    if len(cells) - (cells[-1] == "" and len(cells) > width) != width:
        found.problems.append(f"row {number}: expected {width} fields as the header has, found {len(cells)}")
        return []
    return [
        (currency, raw)
        for currency, raw in zip(header[1:width], cells[1:width], strict=True)
        if raw.strip().lower() not in _MISSING
    ]
