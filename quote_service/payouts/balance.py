"""A seller's balance, entry by entry, and the cycles it is paid in (docs/payouts.md). Pure: no I/O,
no clock (`as_of` is an argument), so every case is a plain unit test.

An entry of the ledger (an order, a refund, any later kind: only its time and payout matter here)
with a positive payout is wholly `held` until `hold_days` after it; then `reserve_percent` of it
(rounded half up to the minor unit, once per entry) stays `reserved` until `reserve_days` after it,
and the rest is available. An entry with a negative payout (a refund, a fee) counts at once against
what is available, which never goes below zero: the excess is `carried_negative`, taken from the next
payout. A payout pays shares of entries: `released` (what became available first: the entry less its
reserve, or all of it) and `reserve` (the rest, once the reserve is over). What payouts paid is
taken out, so for every seller

    paid + available + held + reserved - carried_negative = the sum of the ledger's payouts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal
from uuid import UUID

from quote_service.pricing.money import ZERO, percent_of, quantum, round_money

Cycle = Literal["weekly", "monthly"]
Share = Literal["released", "reserve"]
EntryKey = tuple[str, UUID]
"""A ledger entry: its kind and id (an order's id is also the id of each of its sellers' entries)."""


@dataclass(frozen=True, kw_only=True)
class Terms:
    """How a seller is paid (its own payout terms, else the platform's default)."""

    cycle: Cycle = "weekly"
    hold_days: int = 7
    reserve_percent: Decimal = ZERO
    reserve_days: int = 30
    min_payout: Decimal = ZERO
    currency: str
    payout_currency: str | None = None
    """Paid in this currency, each ledger currency converted (None: in `currency`, unconverted)."""


@dataclass(frozen=True, kw_only=True)
class LedgerEntry:
    kind: str
    id: UUID
    at: datetime
    payout: Decimal

    @property
    def key(self) -> EntryKey:
        return (self.kind, self.id)


@dataclass(frozen=True, kw_only=True)
class Payable:
    """A share of an entry that the next payout would pay."""

    entry: LedgerEntry
    share: Share
    amount: Decimal


@dataclass(frozen=True, kw_only=True)
class Balance:
    available: Decimal
    held: Decimal
    reserved: Decimal
    carried_negative: Decimal
    payable: tuple[Payable, ...]
    """What a payout now would pay: its amounts add up to `available` when that is above zero."""


Paid = Mapping[tuple[EntryKey, Share], Decimal]
"""What live payouts (pending or paid) took of each entry, by share."""


def balance(entries: Iterable[LedgerEntry], paid: Paid, terms: Terms, as_of: datetime) -> Balance:
    """The balance at `as_of` of the entries up to it, less what was `paid`."""
    held = reserved = net = ZERO
    payable: list[Payable] = []
    for entry in sorted(entries, key=lambda e: (e.at, str(e.id))):
        if entry.at > as_of or entry.payout == ZERO:
            continue
        entry_held, entry_reserved, shares = _split(entry, paid, terms, as_of)
        held += entry_held
        reserved += entry_reserved
        payable += shares
        net += sum((s.amount for s in shares), ZERO)
    return Balance(
        available=max(net, ZERO),
        held=held,
        reserved=reserved,
        carried_negative=max(-net, ZERO),
        payable=tuple(payable),
    )


def _split(entry: LedgerEntry, paid: Paid, terms: Terms, as_of: datetime) -> tuple[Decimal, Decimal, list[Payable]]:
    """What of one entry is held, what reserved, and the shares of it payable now: with what was paid,
    they add up to its payout."""
    released = paid.get((entry.key, "released"))
    unpaid = entry.payout - (released or ZERO) - paid.get((entry.key, "reserve"), ZERO)
    if entry.payout < ZERO:  # a refund or a fee: against what is available, at once
        return ZERO, ZERO, [] if released is not None else [Payable(entry=entry, share="released", amount=unpaid)]
    if as_of < entry.at + timedelta(days=terms.hold_days):
        return unpaid, ZERO, []
    if as_of < entry.at + timedelta(days=terms.reserve_days):
        first = entry.payout - reserve_of(entry.payout, terms)
        if released is not None or first == ZERO:
            return ZERO, unpaid, []
        return ZERO, unpaid - first, [Payable(entry=entry, share="released", amount=first)]
    if unpaid == ZERO:
        return ZERO, ZERO, []
    return ZERO, ZERO, [Payable(entry=entry, share="released" if released is None else "reserve", amount=unpaid)]


def repeated_entries(entries: Iterable[LedgerEntry]) -> dict[EntryKey, int]:
    """The entries listed more than once, with how many times: a ledger lists each order, refund and edit of
    the seller once, so one that repeats an entry is wrong (a payout of it would pay the repeat too)."""
    seen: dict[EntryKey, int] = {}
    for entry in entries:
        seen[entry.key] = seen.get(entry.key, 0) + 1
    return {key: times for key, times in seen.items() if times > 1}


def reserve_of(payout: Decimal, terms: Terms) -> Decimal:
    """The part of a (positive) entry's payout kept back as the reserve, rounded once."""
    return round_money(percent_of(payout, terms.reserve_percent), terms.currency)


def payable_now(found: Balance, terms: Terms) -> bool:
    """Whether a run pays this balance: something available, and at least the minimum payout."""
    return found.available > ZERO and found.available >= terms.min_payout


def converted(amount: Decimal, rate: Decimal, currency: str) -> Decimal:
    """What a payout of `amount` pays at `rate` in `currency`: rounded half to even to its minor unit, once
    per payout (docs/currencies.md#sellers-paid-in-their-own-currency)."""
    return (amount * rate).quantize(quantum(currency), ROUND_HALF_EVEN)


def cycle_of(moment: datetime, cycle: Cycle) -> str:
    """The cycle `moment` is in, in UTC: its ISO week ('2026-W48') or its month ('2026-11')."""
    utc = moment.astimezone(UTC)
    if cycle == "monthly":
        return f"{utc.year:04d}-{utc.month:02d}"
    year, week, _ = utc.isocalendar()
    return f"{year:04d}-W{week:02d}"


def next_cycle_start(moment: datetime, cycle: Cycle) -> datetime:
    """The first instant of the cycle after the one `moment` is in (a Monday, or the 1st, 00:00 UTC)."""
    utc = moment.astimezone(UTC)
    if cycle == "monthly":
        return datetime(utc.year + utc.month // 12, utc.month % 12 + 1, 1, tzinfo=UTC)
    monday = datetime(utc.year, utc.month, utc.day, tzinfo=UTC) - timedelta(days=utc.weekday())
    return monday + timedelta(days=7)
