"""Exchange rates in force, and the rate between two currencies at an instant (docs/currencies.md).

Pure: no I/O, no clock (`at` is an argument). It lives beside the engine, not in `fx/`, because the
configuration snapshot (pricing/snapshot.py) holds an `FxBook` and the engine will read it, and this
floor imports nothing above it.

A stored rate of a pair (base, quote) is in force from its `valid_from` until the next rate of the same
pair's `valid_from` (two with the same `valid_from`: the one created later). The rate from `base` to
`quote` at an instant is looked up

1. direct: the pair's own rate;
2. inverse: 1 ÷ the rate of (quote, base), to 12 decimals;
3. crossed through EUR: (EUR → quote) ÷ (EUR → base), to 12 decimals, each leg direct or inverse
   (an ECB file holds EUR → X only).

Every derived rate is worked out exactly (50 digits) and rounded once, half even, to 12 decimals.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Literal
from uuid import UUID

PIVOT = "EUR"
"""The currency cross rates go through (the ECB publishes every rate against it)."""
RATE_DECIMALS = 12
RATE_QUANTUM = Decimal(1).scaleb(-RATE_DECIMALS)
MAX_RATE = Decimal(10) ** 12
"""Rates are below this (a guard against a typo, like money.MAX_AMOUNT for amounts)."""
_EXACT = Context(prec=50, rounding=ROUND_HALF_EVEN)

Via = Literal["direct", "inverse", "cross"]
Source = Literal["manual", "ecb", "psp"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredRate:
    """One stored rate: `rate` units of `quote` for one unit of `base`, from `valid_from` (`id` None: a
    quote's locked cross rate, which is no stored row: `FxBook.locked`)."""

    id: UUID | None
    base: str
    quote: str
    rate: Decimal
    source: Source
    valid_from: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversion:
    """The rate from `base` to `quote` at an instant, and the stored rates it comes from."""

    base: str
    quote: str
    rate: Decimal
    via: Via
    used: tuple[StoredRate, ...]
    """The stored rates used: one (direct or inverse) or two (crossed: EUR → base, EUR → quote)."""

    @property
    def rate_id(self) -> UUID | None:
        """The one stored rate this is (direct) or inverts; None for a crossed rate (see `used`)."""
        return self.used[0].id if len(self.used) == 1 else None


def rate_problem(rate: Decimal) -> str | None:
    """Why `rate` cannot be stored, or None: it is > 0, below MAX_RATE, with at most 12 decimals."""
    if not rate.is_finite() or rate <= 0 or rate >= MAX_RATE:
        return f"must be a number above 0 and below {MAX_RATE:f}"
    if rate != rate.quantize(RATE_QUANTUM):
        return f"must have at most {RATE_DECIMALS} decimals"
    return None


def _rounded(value: Decimal) -> Decimal:
    return value.quantize(RATE_QUANTUM, rounding=ROUND_HALF_EVEN, context=_EXACT)


@dataclass(frozen=True, slots=True)
class _Pair:
    """One pair's rates, oldest `valid_from` first."""

    starts: list[datetime] = field(default_factory=list)
    rates: list[StoredRate] = field(default_factory=list)

    def at(self, at: datetime) -> StoredRate | None:
        index = bisect.bisect_right(self.starts, at)
        return self.rates[index - 1] if index else None


class FxBook:
    """Stored rates by pair, for lookups at any instant they cover."""

    __slots__ = ("_pairs", "_size", "_starts")

    def __init__(self, rates: Iterable[StoredRate] = ()) -> None:
        pairs: dict[tuple[str, str], _Pair] = {}
        ordered = sorted(rates, key=lambda r: (r.valid_from, r.created_at, str(r.id)))
        for rate in ordered:
            pair = pairs.setdefault((rate.base, rate.quote), _Pair())
            if pair.starts and pair.starts[-1] == rate.valid_from:
                pair.rates[-1] = rate  # the same instant: the one created later supersedes
            else:
                pair.starts.append(rate.valid_from)
                pair.rates.append(rate)
        self._pairs = pairs
        self._size = len(ordered)
        self._starts = sorted({rate.valid_from for rate in ordered})

    @classmethod
    def of(cls, rates: Iterable[StoredRate]) -> FxBook | None:
        """A book of `rates`; None when there are none (the snapshot's feature test costs one `is None`)."""
        book = cls(rates)
        return book if len(book) else None

    def __len__(self) -> int:
        return self._size

    def epoch(self, at: datetime) -> int:
        """How many distinct `valid_from` instants are at or before `at`: between two of them every lookup
        answers the same, so a memo of conversions keyed by it never goes stale."""
        return bisect.bisect_right(self._starts, at)

    def locked(self, rates: Iterable[tuple[str, str, Decimal, UUID | None, str]], at: datetime) -> FxBook:
        """This book with `rates` ((base, quote, rate, rate_id, source): a quote's locked rates) in force from
        `at` on, over every rate of their pairs: an order edit converts at its order's rates
        (docs/currencies.md); other pairs still convert at the rates in force."""
        kept = [stored for pair in self._pairs.values() for stored in pair.rates]
        last = datetime.max.replace(tzinfo=at.tzinfo)
        for base, quote, rate, rate_id, source in rates:
            kept.append(
                StoredRate(
                    id=rate_id, base=base, quote=quote, rate=rate,
                    source=source if source in ("manual", "ecb", "psp") else "manual",  # type: ignore[arg-type]
                    valid_from=at, created_at=last,
                )
            )  # fmt: skip
        return FxBook(kept)

    def stored(self, base: str, quote: str, at: datetime) -> StoredRate | None:
        """The pair's own rate in force at `at` (None: it has none then)."""
        pair = self._pairs.get((base, quote))
        return None if pair is None else pair.at(at)

    def rate(self, base: str, quote: str, at: datetime) -> Conversion | None:
        """The rate from `base` to `quote` at `at`: direct, else inverse, else crossed through EUR; None
        when there is none. `base == quote` is no conversion (ValueError)."""
        if base == quote:
            raise ValueError(f"no rate converts {base} to itself")
        direct = self.stored(base, quote, at)
        if direct is not None:
            return Conversion(base=base, quote=quote, rate=direct.rate, via="direct", used=(direct,))
        inverse = self.stored(quote, base, at)
        if inverse is not None:
            rate = _rounded(_EXACT.divide(Decimal(1), inverse.rate))
            return Conversion(base=base, quote=quote, rate=rate, via="inverse", used=(inverse,))
        if PIVOT in (base, quote):
            return None
        to_base, to_quote = self._from_pivot(base, at), self._from_pivot(quote, at)
        if to_base is None or to_quote is None:
            return None
        rate = _rounded(_EXACT.divide(to_quote[0], to_base[0]))
        return Conversion(base=base, quote=quote, rate=rate, via="cross", used=(to_base[1], to_quote[1]))

    def _from_pivot(self, currency: str, at: datetime) -> tuple[Decimal, StoredRate] | None:
        """EUR → `currency` at `at`, exact (direct, or 1 ÷ the inverse unrounded), and the rate it is of."""
        direct = self.stored(PIVOT, currency, at)
        if direct is not None:
            return direct.rate, direct
        inverse = self.stored(currency, PIVOT, at)
        if inverse is not None:
            return _EXACT.divide(Decimal(1), inverse.rate), inverse
        return None
