"""SQL for payouts: payout terms (db/config_rows.py writes their rows), runs, payouts and the ledger
shares each payout pays (migrations/0740_payouts.sql)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import asyncpg

from quote_service.db.config_rows import ConfigTable
from quote_service.db.pool import Connection

Converted = tuple[str, str, str, UUID | None]
"""A payout paid in another currency: (paid_amount, paid_currency, rate, rate_id), amounts as exact text."""

TERMS_COLUMNS = (
    "id, seller_id, cycle, hold_days, reserve_percent, reserve_days, min_payout, currency, payout_currency, "
    "created_by, updated_by, created_at, updated_at"
)
TERMS_WRITABLE = (
    "seller_id",
    "cycle",
    "hold_days",
    "reserve_percent",
    "reserve_days",
    "min_payout",
    "currency",
    "payout_currency",
)
TERMS = ConfigTable("payout_terms", "payout terms", TERMS_COLUMNS, TERMS_WRITABLE)
_PAYOUT = """
SELECT p.id, p.seller_id, p.cycle, p.currency, p.amount, p.period_from, p.period_to, p.status, p.reference,
       p.failure_reason, p.created_at, p.updated_at, p.paid_amount, p.paid_currency, p.rate, p.rate_id,
       ARRAY(SELECT i.entry_id FROM payout_items i WHERE i.payout_id = p.id ORDER BY i.entry_at, i.entry_id) AS entries
FROM payouts p
"""


async def list_terms(
    conn: Connection, *, seller_id: str | None, platform: bool, after: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """Terms oldest first after the (created_at, id) `after`: one seller's, the platform default, or all."""
    return await conn.fetch(
        f"""SELECT {TERMS_COLUMNS} FROM payout_terms
            WHERE ($1::text IS NULL OR seller_id = $1) AND (NOT $2::boolean OR seller_id IS NULL)
              AND ($3::timestamptz IS NULL OR (created_at, id) > ($3::timestamptz, $4::uuid))
            ORDER BY created_at, id LIMIT $5""",
        seller_id,
        platform,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )


async def terms_for(conn: Connection, *, seller_id: str) -> asyncpg.Record | None:
    """The seller's own terms, else the platform default; None when there is neither."""
    return await conn.fetchrow(
        f"""SELECT {TERMS_COLUMNS} FROM payout_terms WHERE seller_id = $1 OR seller_id IS NULL
            ORDER BY seller_id NULLS LAST LIMIT 1""",
        seller_id,
    )


async def start_run(conn: Connection, *, as_of: datetime, actor: str) -> tuple[UUID | None, datetime | None]:
    """Record a run at `as_of` unless the latest run's as_of is later: (its id, None), else (None, that
    as_of). Runs are recorded one at a time (a transaction-scoped lock), so no later run slips in between
    the look and the insert. Call inside a transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('payout_runs', 0))")
    latest = await latest_as_of(conn)
    if latest is not None and as_of < latest:
        return None, latest
    run_id: UUID = await conn.fetchval(
        "INSERT INTO payout_runs (as_of, created_by) VALUES ($1, $2) RETURNING id", as_of, actor
    )
    return run_id, None


async def latest_as_of(conn: Connection) -> datetime | None:
    """The latest run's as_of (None: no run yet)."""
    latest: datetime | None = await conn.fetchval("SELECT max(as_of) FROM payout_runs")
    return latest


async def sellers(conn: Connection) -> list[str]:
    """Every seller with entries in the ledger, by id."""
    rows = await conn.fetch("SELECT DISTINCT seller_id FROM seller_ledger ORDER BY 1")
    return [row["seller_id"] for row in rows]


async def lock_seller(conn: Connection, *, seller_id: str) -> None:
    """Make the seller's payout work wait for any other in flight (until this transaction ends): two runs
    never pay the same entries, whatever their cycles. The holder is another run's transaction of this one
    seller (milliseconds): concurrent runs queue here for longer than DB_LOCK_TIMEOUT's usual second, while
    the statement stays within DB_STATEMENT_TIMEOUT (5 s by default)."""
    await conn.execute("SET LOCAL lock_timeout = '4.5s'")
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('payout_seller:' || $1, 0))", seller_id)


async def paid_in_cycle(conn: Connection, *, seller_id: str, cycle: str, currency: str | None = None) -> bool:
    """Whether a payout of the seller in `cycle` (of the ledger's `currency`; None: of any) is pending or paid."""
    found: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM payouts WHERE seller_id = $1 AND cycle = $2 AND status <> 'failed'
                                                  AND ($3::text IS NULL OR currency = $3))""",
        seller_id,
        cycle,
        currency,
    )
    return found


async def paid_shares(conn: Connection, *, seller_id: str) -> list[asyncpg.Record]:
    """What pending and paid payouts took of the seller's entries: (entry_kind, entry_id, share, amount)."""
    return await conn.fetch(
        "SELECT entry_kind, entry_id, share, amount FROM payout_items WHERE seller_id = $1 AND paid", seller_id
    )


async def insert_payout(
    conn: Connection,
    *,
    run_id: UUID,
    seller_id: str,
    cycle: str,
    currency: str,
    amount: str,
    period: tuple[datetime, datetime],
    actor: str,
    converted: Converted | None = None,
) -> UUID:
    """A payout; `converted`: (paid_amount, paid_currency, rate, rate_id) when it is paid in another currency."""
    paid_amount, paid_currency, rate, rate_id = converted or (None, None, None, None)
    payout_id: UUID = await conn.fetchval(
        """INSERT INTO payouts (run_id, seller_id, cycle, currency, amount, period_from, period_to, created_by,
                                updated_by, paid_amount, paid_currency, rate, rate_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12) RETURNING id""",
        run_id,
        seller_id,
        cycle,
        currency,
        amount,
        period[0],
        period[1],
        actor,
        paid_amount,
        paid_currency,
        rate,
        rate_id,
    )
    return payout_id


async def insert_items(
    conn: Connection, *, payout_id: UUID, seller_id: str, items: Sequence[tuple[str, UUID, str, datetime, Decimal]]
) -> None:
    """The shares the payout pays: (entry kind, entry id, share, entry time, amount) each."""
    await conn.executemany(
        """INSERT INTO payout_items (payout_id, seller_id, entry_kind, entry_id, share, entry_at, amount)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        [(payout_id, seller_id, *item) for item in items],
    )


async def get_payout(conn: Connection, *, payout_id: UUID, for_update: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(_PAYOUT + " WHERE p.id = $1" + (" FOR UPDATE OF p" if for_update else ""), payout_id)


async def set_status(
    conn: Connection, *, payout_id: UUID, status: str, reference: str | None, failure_reason: str | None, actor: str
) -> None:
    """A pending payout marked paid or failed; a failed one's shares are unpaid again."""
    await conn.execute(
        """UPDATE payouts SET status = $2, reference = $3, failure_reason = $4, updated_by = $5,
                              updated_at = clock_timestamp()
           WHERE id = $1 AND status = 'pending'""",
        payout_id,
        status,
        reference,
        failure_reason,
        actor,
    )
    if status == "failed":
        await conn.execute("UPDATE payout_items SET paid = false WHERE payout_id = $1", payout_id)


async def list_payouts(
    conn: Connection,
    *,
    seller_id: str | None,
    status: str | None,
    since: datetime | None,
    until: datetime | None,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Payouts newest first (by creation) before the (created_at, id) `before`, whose as_of (`period_to`)
    is in [since, until)."""
    return await conn.fetch(
        _PAYOUT
        + """WHERE ($1::text IS NULL OR p.seller_id = $1) AND ($2::text IS NULL OR p.status = $2)
               AND ($3::timestamptz IS NULL OR p.period_to >= $3) AND ($4::timestamptz IS NULL OR p.period_to < $4)
               AND ($5::timestamptz IS NULL OR (p.created_at, p.id) < ($5::timestamptz, $6::uuid))
             ORDER BY p.created_at DESC, p.id DESC LIMIT $7""",
        seller_id,
        status,
        since,
        until,
        before[0] if before else None,
        before[1] if before else None,
        limit + 1,
    )
