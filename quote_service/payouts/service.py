"""Seller balances and payout runs (docs/payouts.md): a seller is paid once a cycle, exactly once.

A run records itself (its as_of never before the latest run's), then pays each seller in a
transaction of its own: it takes the seller's lock (two runs of any cycles take turns per seller),
looks for a live payout of the seller in the cycle (none paid twice), works the balance out from the
ledger less what live payouts took, and writes the payout, the shares it pays and `payout.created`.
A crash, of this process or of PostgreSQL, ends that transaction unwritten: the seller is paid by the
next run, never twice (and a unique index on the live payouts of a seller and cycle, and one on the
paid shares of an entry, hold even against a writer that skipped the lock).

One seller's wrong entries never stop the run for the others: a seller whose ledger lists an entry more
than once (paying it would pay the repeat), or whose payout the database refuses for its data, is held —
its transaction rolled back, nothing of it paid —, named with its reason in the run's `sellers_held`,
logged (`payout_seller_held`) and counted (`qs_payout_sellers_held_total{reason}`); the run goes on
with the next seller, and a later run tries it again. A failure that is not the seller's data (the
database gone, a lock not granted) still ends the run, which is safe to ask again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

import asyncpg
import structlog

from quote_service import fault_points
from quote_service.db import idempotency
from quote_service.db.pool import Connection, Pool
from quote_service.db.rows import found, row_as
from quote_service.errors import Conflict, invalid
from quote_service.fx import service as fx
from quote_service.observability.metrics import PAYOUT_SELLERS_HELD
from quote_service.pagination import Page, page_of
from quote_service.payouts import repository, terms
from quote_service.payouts.balance import (
    Balance,
    LedgerEntry,
    Terms,
    balance,
    converted,
    cycle_of,
    next_cycle_start,
    payable_now,
    repeated_entries,
)
from quote_service.payouts.schemas import (
    CurrencyHeld,
    HeldReason,
    Payout,
    PayoutRun,
    PayoutStatus,
    SellerBalance,
    SellerHeld,
)
from quote_service.pricing.money import ZERO, round_money
from quote_service.statements import repository as ledger
from quote_service.statements.service import entries_until
from quote_service.validation import FIRST_INSTANT, LAST_INSTANT
from quote_service.webhooks import events

LIST_NAME = "payouts"
MAX_AHEAD_SETTING = "PAYOUT_MAX_AHEAD_SECONDS"
log = structlog.get_logger("quote_service.payouts")


class WrongEntries(Exception):
    """A seller's ledger that cannot be paid as it is: the run holds the seller (`reason`, the message)."""

    def __init__(self, reason: HeldReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Standing:
    """A seller's terms and its balance under them at one instant."""

    terms_id: UUID | None
    terms: Terms
    balance: Balance


async def standing(conn: Connection, *, seller_id: str, as_of: datetime, default_currency: str) -> Standing:
    """The seller's terms, and its balance at `as_of` under them."""
    terms_id, applied = await terms.applied(conn, seller_id=seller_id, default_currency=default_currency)
    return Standing(terms_id, applied, await _balance(conn, seller_id, applied, as_of))


async def _balance(
    conn: Connection, seller_id: str, applied: Terms, as_of: datetime, *, paying: bool = False
) -> Balance:
    """The seller's ledger in its terms' currency up to `as_of`, less what live payouts took of it;
    `paying`: raises WrongEntries when the ledger lists an entry more than once."""
    found = await entries_until(conn, seller_id=seller_id, currency=applied.currency, until=as_of)
    entries = [LedgerEntry(kind=e.kind, id=e.id, at=e.at, payout=e.payout) for e in found]
    repeated = repeated_entries(entries) if paying else {}
    if repeated:
        listed = ", ".join(f"{kind} {entry_id} ({times} times)" for (kind, entry_id), times in repeated.items())
        raise WrongEntries("ledger_entry_repeated", f"its ledger lists an entry more than once: {listed}")
    paid = {
        ((row["entry_kind"], row["entry_id"]), row["share"]): row["amount"]
        for row in await repository.paid_shares(conn, seller_id=seller_id)
    }
    return balance(entries, paid, applied, as_of)


async def seller_balance(pool: Pool, *, seller_id: str, as_of: datetime, default_currency: str) -> SellerBalance:
    """GET /sellers/{seller_id}/balance."""
    async with pool.acquire() as conn:
        now = await standing(conn, seller_id=seller_id, as_of=as_of, default_currency=default_currency)
    currency = now.terms.currency
    return SellerBalance(
        seller_id=seller_id,
        currency=currency,
        as_of=as_of,
        available=round_money(now.balance.available, currency),
        held=round_money(now.balance.held, currency),
        reserved=round_money(now.balance.reserved, currency),
        carried_negative=round_money(now.balance.carried_negative, currency),
        next_payout_at=next_cycle_start(as_of, now.terms.cycle),
        terms_id=now.terms_id,
    )


Progress = Callable[[int, int], None]
"""Called after each seller of a run: (sellers done, sellers in all)."""


def refuse_far_ahead(as_of: datetime, *, now: datetime, max_ahead: timedelta) -> None:
    """422 naming `as_of` when it is later than `now` + `max_ahead` (PAYOUT_MAX_AHEAD_SECONDS): a run far
    ahead would pay every hold and reserve at once, and no later run could go back before it."""
    limit = now + max_ahead
    if as_of > limit:
        seconds = int(max_ahead.total_seconds())
        raise invalid("as_of", f"must not be later than now + {MAX_AHEAD_SETTING} ({seconds} s), {limit.isoformat()}")


async def check_as_of(pool: Pool, as_of: datetime, *, now: datetime, max_ahead: timedelta) -> None:
    """What `run` refuses of `as_of`, asked before a run is: later than `now` + `max_ahead`, or before the
    latest run's (422 naming `as_of`); a run checks both again when it starts."""
    refuse_far_ahead(as_of, now=now, max_ahead=max_ahead)
    async with pool.acquire() as conn:
        latest = await repository.latest_as_of(conn)
    if latest is not None and as_of < latest:
        raise _before(latest)


def _before(latest: datetime) -> Exception:
    return invalid("as_of", f"must not be before the latest run's as_of, {latest.isoformat()}")


async def run(
    pool: Pool,
    *,
    as_of: datetime,
    actor: str,
    default_currency: str,
    now: datetime,
    max_ahead: timedelta,
    progress: Progress | None = None,
) -> PayoutRun:
    """Pay every seller whose available balance at `as_of` is above zero and reaches its minimum, unless
    it was paid in that cycle already; a seller whose entries are wrong is held (`sellers_held`), the
    others paid. 422 naming `as_of` when it is before the latest run's or later than `now` + `max_ahead`."""
    refuse_far_ahead(as_of, now=now, max_ahead=max_ahead)
    async with pool.acquire() as conn, conn.transaction():
        run_id, latest = await repository.start_run(conn, as_of=as_of, actor=actor)
    if run_id is None:
        assert latest is not None
        raise _before(latest)
    async with pool.acquire() as conn:
        sellers = await repository.sellers(conn)
    made: list[Payout] = []
    held: list[SellerHeld] = []
    currencies_held: list[CurrencyHeld] = []
    for done, seller_id in enumerate(sellers, start=1):
        try:
            paid = await pay_seller(
                pool, run_id=run_id, seller_id=seller_id, as_of=as_of, actor=actor, default_currency=default_currency
            )
        except (WrongEntries, asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as wrong:
            held.append(_hold(run_id, seller_id, wrong))
            paid = SellerPaid()
        made += paid.payouts
        currencies_held += paid.held
        if progress is not None:
            progress(done, len(sellers))
    return PayoutRun(id=run_id, as_of=as_of, payouts=made, sellers_held=held, currencies_held=currencies_held)


def _hold(run_id: UUID, seller_id: str, wrong: Exception) -> SellerHeld:
    """A seller the run does not pay, with its reason: logged and counted."""
    reason: HeldReason = "database_refused"
    message = str(wrong)
    if isinstance(wrong, WrongEntries):
        reason = wrong.reason
    else:  # the database refused the payout for its data: a constraint, a value out of range
        constraint = getattr(wrong, "constraint_name", None)
        message = f"the database refused its payout ({type(wrong).__name__}{f' on {constraint}' if constraint else ''})"
    log.warning("payout_seller_held", run_id=str(run_id), seller_id=seller_id, reason=reason, message=message)
    PAYOUT_SELLERS_HELD.labels(reason).inc()
    return SellerHeld(seller_id=seller_id, reason=reason, message=message)


async def run_once(
    pool: Pool,
    *,
    key: str,
    principal_id: UUID,
    fingerprint: bytes,
    reply: idempotency.Reply,
    as_of: datetime,
    actor: str,
    default_currency: str,
    now: datetime,
    max_ahead: timedelta,
) -> PayoutRun:
    """`run` under an Idempotency-Key (docs/errors.md#idempotency-keys): once, its answer kept for the key. A run
    is a transaction per seller, not one write, so its answer is kept as the run ends: a run cut off before that
    is run again by the retry, which pays no seller twice and answers what it made."""
    async with (
        pool.acquire() as conn,
        idempotency.claimed(
            conn, scope="payout_run", principal_id=principal_id, key=key, fingerprint=fingerprint, reply=reply
        ) as claim,
    ):
        made = await run(
            pool, as_of=as_of, actor=actor, default_currency=default_currency, now=now, max_ahead=max_ahead
        )
        await claim.keep(made)
    return made


@dataclass(frozen=True)
class SellerPaid:
    """What a run did for one seller: the payouts it made, the ledger currencies it held for want of a rate."""

    payouts: list[Payout] = field(default_factory=list)
    held: list[CurrencyHeld] = field(default_factory=list)


async def pay_seller(
    pool: Pool, *, run_id: UUID, seller_id: str, as_of: datetime, actor: str, default_currency: str
) -> SellerPaid:
    """One seller's payouts of the run, in one transaction: one in its terms' currency, or, paid in a
    currency of its own (`payout_currency`), one per currency of its ledger."""
    async with pool.acquire() as conn, conn.transaction():
        await repository.lock_seller(conn, seller_id=seller_id)
        _, applied = await terms.applied(conn, seller_id=seller_id, default_currency=default_currency)
        cycle = cycle_of(as_of, applied.cycle)
        if applied.payout_currency is not None:
            return await _pay_each_currency(
                conn, run_id=run_id, seller_id=seller_id, applied=applied, as_of=as_of, actor=actor
            )
        if await repository.paid_in_cycle(conn, seller_id=seller_id, cycle=cycle):
            return SellerPaid()  # before reading its ledger: a run of a cycle paid already costs little
        found = await _balance(conn, seller_id, applied, as_of, paying=True)
        if not payable_now(found, applied):
            return SellerPaid()
        payout = await _write_payout(
            conn,
            run_id=run_id,
            seller_id=seller_id,
            cycle=cycle,
            currency=applied.currency,
            found=found,
            as_of=as_of,
            actor=actor,
        )
    return SellerPaid(payouts=[payout])


async def _pay_each_currency(
    conn: Connection, *, run_id: UUID, seller_id: str, applied: Terms, as_of: datetime, actor: str
) -> SellerPaid:
    """A seller paid in its `payout_currency`: each currency of its ledger not paid in the cycle yet, converted
    at the rate in force at `as_of` (direct, inverse or crossed through EUR); the ledger is debited exactly
    the amount in its own currency. A currency without a rate is held (it stays in the balance)."""
    paid_in = applied.payout_currency
    assert paid_in is not None
    cycle = cycle_of(as_of, applied.cycle)
    rates = await fx.book_at(conn, as_of)
    done = SellerPaid()
    for currency in await ledger.currencies(conn, seller_id=seller_id, start=FIRST_INSTANT, end=LAST_INSTANT):
        if await repository.paid_in_cycle(conn, seller_id=seller_id, cycle=cycle, currency=currency):
            continue
        found = await _balance(conn, seller_id, replace(applied, currency=currency), as_of, paying=True)
        amount = round_money(found.available, currency)
        if amount <= ZERO:
            continue
        conversion = None if currency == paid_in else rates.rate(currency, paid_in, as_of)
        if conversion is None and currency != paid_in:
            done.held.append(_rate_missing(seller_id, currency, paid_in, amount, as_of))
            continue
        paid = amount if conversion is None else converted(amount, conversion.rate, paid_in)
        if paid <= ZERO or paid < applied.min_payout:
            continue
        shown = None if conversion is None else (str(paid), paid_in, str(conversion.rate), conversion.rate_id)
        done.payouts.append(
            await _write_payout(
                conn,
                run_id=run_id,
                seller_id=seller_id,
                cycle=cycle,
                currency=currency,
                found=found,
                as_of=as_of,
                actor=actor,
                converted=shown,
            )
        )
    return done


def _rate_missing(seller_id: str, currency: str, paid_in: str, amount: Decimal, as_of: datetime) -> CurrencyHeld:
    """A ledger currency held for want of a rate into the payout currency: logged and counted."""
    message = f"no exchange rate from {currency} to {paid_in} at {as_of.isoformat()}: {amount} {currency} stay unpaid"
    log.warning(
        "payout_currency_held", seller_id=seller_id, currency=currency, reason="fx_rate_missing", message=message
    )
    PAYOUT_SELLERS_HELD.labels("fx_rate_missing").inc()
    return CurrencyHeld(
        seller_id=seller_id,
        currency=currency,
        amount=amount,
        paid_currency=paid_in,
        hold_reason="fx_rate_missing",
        message=message,
    )


async def _write_payout(
    conn: Connection,
    *,
    run_id: UUID,
    seller_id: str,
    cycle: str,
    currency: str,
    found: Balance,
    as_of: datetime,
    actor: str,
    converted: repository.Converted | None = None,
) -> Payout:
    """The payout of `found`'s available amount in `currency`, the shares it pays and `payout.created`."""
    shares = found.payable
    payout_id = await repository.insert_payout(
        conn,
        run_id=run_id,
        seller_id=seller_id,
        cycle=cycle,
        currency=currency,
        amount=str(round_money(found.available, currency)),
        period=(min(s.entry.at for s in shares), as_of),
        actor=actor,
        converted=converted,
    )
    items = [(s.entry.kind, s.entry.id, s.share, s.entry.at, s.amount) for s in shares]
    await repository.insert_items(conn, payout_id=payout_id, seller_id=seller_id, items=items)
    payout = await _payout(conn, payout_id)
    await events.emit(conn, "payout.created", {"payout": payout})
    await fault_points.hit("payout.written")
    return payout


async def _payout(conn: Connection, payout_id: UUID, *, for_update: bool = False) -> Payout:
    row = await repository.get_payout(conn, payout_id=payout_id, for_update=for_update)
    return payout_of(found(row, f"payout {payout_id}"))


def payout_of(row: asyncpg.Record) -> Payout:
    currency = row["currency"].strip()
    amount = round_money(Decimal(row["amount"]), currency)
    paid_currency = row["paid_currency"] or currency
    return row_as(
        Payout,
        row,
        amount=amount,
        currency=currency,
        paid_amount=amount if row["paid_amount"] is None else round_money(Decimal(row["paid_amount"]), paid_currency),
        paid_currency=paid_currency,
        rate=None if row["rate"] is None else Decimal(row["rate"]),
    )


async def get(pool: Pool, payout_id: UUID) -> Payout:
    async with pool.acquire() as conn:
        return await _payout(conn, payout_id)


async def settle(
    pool: Pool, payout_id: UUID, status: PayoutStatus, *, note: str | None, actor: str
) -> tuple[Payout, bool]:
    """Mark a pending payout `paid` or `failed` (a failed one's entries are available again), with its
    event; the same mark again changes nothing. (The payout, whether it changed); 409
    PAYOUT_NOT_PENDING when it was marked the other way."""
    async with pool.acquire() as conn, conn.transaction():
        current = await _payout(conn, payout_id, for_update=True)
        if current.status == status:
            return current, False
        if current.status != "pending":
            raise Conflict(f"payout {payout_id} is {current.status} already", code="PAYOUT_NOT_PENDING")
        await repository.set_status(
            conn,
            payout_id=payout_id,
            status=status,
            reference=note if status == "paid" else None,
            failure_reason=note if status == "failed" else None,
            actor=actor,
        )
        payout = await _payout(conn, payout_id)
        await events.emit(conn, "payout.paid" if status == "paid" else "payout.failed", {"payout": payout})
    return payout, True


async def list_payouts(
    pool: Pool,
    *,
    seller_id: str | None,
    status: str | None,
    since: datetime | None,
    until: datetime | None,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> Page[Payout]:
    async with pool.acquire() as conn:
        rows = await repository.list_payouts(
            conn, seller_id=seller_id, status=status, since=since, until=until, before=before, limit=limit
        )
    return page_of(rows, LIST_NAME, limit=limit, key=lambda r: (r["created_at"], r["id"]), item=payout_of)
