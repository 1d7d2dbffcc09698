"""Payout payloads (docs/payouts.md). Amounts are Decimal in, strings with the currency's digits out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from quote_service.payouts.balance import Cycle
from quote_service.pricing.quote import CurrencyCode, ExternalId
from quote_service.structs import Frozen, Strict
from quote_service.validation import Instant, StrictDecimal

Days = Annotated[int, msgspec.Meta(ge=0, le=365)]
PayoutStatus = Literal["pending", "paid", "failed"]
PAYOUT_STATUSES: tuple[PayoutStatus, ...] = ("pending", "paid", "failed")
Note = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class PayoutTermsInput(Strict):
    """POST and PUT: the whole terms (a field left out takes its default)."""

    seller_id: ExternalId | None = None
    """null: the platform's default, for every seller without terms of its own."""
    cycle: Cycle = "weekly"
    """A seller is paid at most once per ISO week, or per calendar month (UTC)."""
    hold_days: Days = 7
    """An entry's payout is held this many days after it (a returns window)."""
    reserve_percent: StrictDecimal = Decimal(0)
    """0 to 100: the share of an entry's payout kept back after the hold, until `reserve_days` after it."""
    reserve_days: Days = 30
    min_payout: StrictDecimal = Decimal(0)
    """A run pays a seller only when its available balance reaches this (in `currency`; with a
    `payout_currency`, what a payout pays in it)."""
    currency: CurrencyCode | None = None
    """The currency the seller is paid in (its ledger entries in it); null: DEFAULT_CURRENCY."""
    payout_currency: CurrencyCode | None = None
    """Pay every currency of the seller's ledger, each converted into this one at the rate in force at the
    run's as_of (docs/currencies.md); null: paid in `currency`, unconverted."""


class PayoutTerms(Frozen):
    id: UUID
    seller_id: str | None
    cycle: Cycle
    hold_days: int
    reserve_percent: Decimal
    reserve_days: int
    min_payout: Decimal
    currency: str
    payout_currency: str | None
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime


class SellerBalance(Frozen):
    """GET /sellers/{seller_id}/balance."""

    seller_id: str
    currency: str
    as_of: datetime
    available: Decimal
    """What the next payout would pay: entries past their hold (less their reserve), less refunds and fees."""
    held: Decimal
    """Entries still within `hold_days`."""
    reserved: Decimal
    """The reserve kept back of entries past their hold, until `reserve_days` after each."""
    carried_negative: Decimal
    """What refunds and fees took beyond what was available: taken from the next payout."""
    next_payout_at: datetime
    """The first instant of the next cycle: the earliest time a run pays this seller again."""
    terms_id: UUID | None
    """The payout terms applied: the seller's own, else the platform default's; null: the built-in defaults."""


class PayoutRunInput(Strict):
    as_of: Instant | None = None
    """The instant whose holds and reserves apply (default: now); never before the latest run's, nor later
    than now + PAYOUT_MAX_AHEAD_SECONDS."""


class Payout(Frozen):
    id: UUID
    seller_id: str
    cycle: str
    """The ISO week ('2026-W48') or the month ('2026-11') of `period_to`, in UTC."""
    period_from: datetime
    """The time of its first entry."""
    period_to: datetime
    """The run's as_of."""
    amount: Decimal
    """What the ledger is debited, in its `currency`."""
    currency: str
    paid_amount: Decimal
    """What the seller is paid: `amount`, or round_half_even(amount * rate) in `paid_currency`'s minor unit."""
    paid_currency: str
    """The seller's payout currency (its terms' `payout_currency`), else `currency`."""
    rate: Decimal | None
    """The exchange rate from `currency` to `paid_currency` at the run's as_of; null when nothing converts."""
    rate_id: UUID | None
    """The stored rate it is (or inverts); null when nothing converts or the rate is crossed through EUR."""
    entries: list[UUID]
    """The ledger entries it pays (a share of each: docs/payouts.md), oldest first."""
    status: PayoutStatus
    reference: str | None
    """What `POST /payouts/{id}/paid` named (a bank transfer's reference)."""
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime


HeldReason = Literal["ledger_entry_repeated", "database_refused"]
HELD_REASONS: tuple[HeldReason, ...] = ("ledger_entry_repeated", "database_refused")


class SellerHeld(Frozen):
    """A seller a run did not pay because its entries are wrong (docs/payouts.md#a-seller-held-by-a-run)."""

    seller_id: str
    reason: HeldReason
    """`ledger_entry_repeated`: its ledger lists an entry more than once; `database_refused`: the database
    refused its payout for its data (a constraint)."""
    message: str


FxHoldReason = Literal["fx_rate_missing"]


class CurrencyHeld(Frozen):
    """A currency of a seller's ledger a run did not pay: it stays in the balance, a later run pays it."""

    seller_id: str
    currency: str
    """The ledger currency held."""
    amount: Decimal
    """Its available amount, in `currency`."""
    paid_currency: str
    hold_reason: FxHoldReason
    """`fx_rate_missing`: no exchange rate from `currency` to `paid_currency` at the run's as_of."""
    message: str


class PayoutRun(Frozen):
    """POST /payouts/run: the payouts this run made (none for a seller already paid in its cycle), and the
    sellers it held, each with its reason (the others are paid all the same)."""

    id: UUID
    as_of: datetime
    payouts: list[Payout]
    sellers_held: list[SellerHeld] = msgspec.field(default_factory=list)
    currencies_held: list[CurrencyHeld] = msgspec.field(default_factory=list)
    """Ledger currencies of sellers paid in another currency that had no rate at as_of (docs/currencies.md)."""


class PaidInput(Strict):
    reference: Note | None = None


class FailedInput(Strict):
    reason: Note | None = None
