"""SQL for seller statements: the seller's ledger entries (what each change of its orders' money wrote), and
their sums per local day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from quote_service.db.pool import Connection

# $1 seller, $2 currency, $3/$4 the period [from, to): the seller's ledger entries of the period, as the changes of
# its orders' money wrote them (migrations/0901_seller_ledger.sql, orders/money.py): one per order with a line of
# the seller (at the order's time), per refund that gave back something of the seller's (at the refund's time, its
# amounts negative) and per edit that moved the seller's money (at the edit's time). Nothing here works commission
# or payouts out of the orders' rows: each entry's amounts are what its change wrote.
_ENTRIES = """
WITH entries AS (
    SELECT kind, id, order_id, at, goods, tax, platform, commission, commission_tax, delivery, tax_collected,
           tax_refunded
    FROM seller_ledger WHERE seller_id = $1 AND currency = $2 AND at >= $3 AND at < $4
)
"""

# $5 the period's days' bounds (each local day's first instant, ascending, then the period's end):
# `day` is the number of the day (1 = the first, SQL's width_bucket).
_DAYS = (
    _ENTRIES
    + """
-- An edit's amount that grew counts as sold (charged), one that shrank as given back; its tax collected and given
-- back by its codes (tax_collected, tax_refunded: docs/taxes.md#statements).
SELECT width_bucket(at, $5::timestamptz[]) AS day,
       count(*) FILTER (WHERE kind = 'order') AS orders,
       COALESCE(sum(goods) FILTER (WHERE kind = 'order' OR (kind = 'edit' AND goods > 0)), 0) AS gross,
       -COALESCE(sum(goods) FILTER (WHERE kind = 'refund' OR (kind = 'edit' AND goods < 0)), 0) AS refunds,
       sum(tax_collected) AS tax_collected,
       sum(tax_refunded) AS tax_refunded,
       COALESCE(sum(platform) FILTER (WHERE kind = 'order' OR (kind = 'edit' AND platform > 0)), 0) AS platform,
       -COALESCE(sum(platform) FILTER (WHERE kind = 'refund' OR (kind = 'edit' AND platform < 0)), 0)
           AS platform_reversed,
       COALESCE(sum(commission) FILTER (WHERE kind = 'order' OR (kind = 'edit' AND commission > 0)), 0) AS charged,
       -COALESCE(sum(commission) FILTER (WHERE kind = 'refund' OR (kind = 'edit' AND commission < 0)), 0)
           AS reversed,
       sum(commission_tax) AS commission_tax,
       sum(delivery) AS delivery
FROM entries GROUP BY day ORDER BY day
"""
)

# $5/$6 the cursor (the last entry's time and id; NULL: the first page), $7 how many rows.
_PAGE = (
    _ENTRIES
    + """
SELECT kind, id, order_id, at, goods, tax, platform, commission, commission_tax, delivery FROM entries
WHERE $5::timestamptz IS NULL OR (at, id) > ($5::timestamptz, $6::uuid)
ORDER BY at, id LIMIT $7
"""
)


# $1 seller, $2 currency, $3/$4 the period: each tax code's amount collected and given back by the period's entries
# (docs/taxes.md#statements): a line that kept its components counts each, one that did not (priced by a single
# rate in a quote that used nothing of docs/taxes.md) is its one component, code TAX, so the codes add up to
# tax_collected and tax_refunded. `kept`: some of the code's amounts are kept components; `*_external`: the part
# of them a tax extension answered (docs/extensions.md; an edit's change counts as internal).
_BY_CODE = """
SELECT t.code, sum(t.collected) AS collected, sum(t.refunded) AS refunded, bool_or(t.kept) AS kept,
       COALESCE(sum(t.collected) FILTER (WHERE t.external), 0) AS collected_external,
       COALESCE(sum(t.refunded) FILTER (WHERE t.external), 0) AS refunded_external
FROM seller_ledger e JOIN seller_ledger_taxes t ON (t.seller_id, t.kind, t.id) = (e.seller_id, e.kind, e.id)
WHERE e.seller_id = $1 AND e.currency = $2 AND e.at >= $3 AND e.at < $4
GROUP BY t.code ORDER BY t.code
"""


# $1 seller, $2 currency, $3/$4 the period: each entry's named commission fees (docs/commission.md), by name:
# the fees on the seller's lines and those charged to it once per shipment or order, a refund's negative, an
# edit's what it changed.
_FEES = """
SELECT e.kind, e.id, e.at, f.key AS name, f.value::numeric AS amount
FROM seller_ledger e, jsonb_each_text(e.fees) f
WHERE e.seller_id = $1 AND e.currency = $2 AND e.at >= $3 AND e.at < $4
ORDER BY e.at, e.id, f.key
"""


async def fees(
    conn: Connection, *, seller_id: str, currency: str, start: datetime, end: datetime
) -> list[asyncpg.Record]:
    """Each entry's named commission fees in [start, end) (`_FEES`), by time, then entry, then name."""
    return await conn.fetch(_FEES, seller_id, currency, start, end)


async def taxes_by_code(
    conn: Connection, *, seller_id: str, currency: str, start: datetime, end: datetime
) -> list[asyncpg.Record]:
    """Each tax code's amount collected and refunded in [start, end) (`_BY_CODE`)."""
    return await conn.fetch(_BY_CODE, seller_id, currency, start, end)


async def currencies(conn: Connection, *, seller_id: str, start: datetime, end: datetime) -> list[str]:
    """The currencies of the seller's ledger entries in [start, end)."""
    rows = await conn.fetch(
        """SELECT DISTINCT currency FROM seller_ledger WHERE seller_id = $1 AND at >= $2 AND at < $3
           ORDER BY 1""",
        seller_id,
        start,
        end,
    )
    return [row["currency"].strip() for row in rows]


async def days(conn: Connection, *, seller_id: str, currency: str, bounds: Sequence[datetime]) -> list[asyncpg.Record]:
    """The sums of the entries of each day with any (`_DAYS`' columns); `day` numbers the spans
    between consecutive `bounds` from 1 (the period is [bounds[0], bounds[-1]))."""
    return await conn.fetch(_DAYS, seller_id, currency, bounds[0], bounds[-1], list(bounds))


async def entries(
    conn: Connection,
    *,
    seller_id: str,
    currency: str,
    start: datetime,
    end: datetime,
    after: tuple[datetime, UUID] | None,
    limit: int | None,
) -> list[asyncpg.Record]:
    """The entries of [start, end) by time (then id), after `after`; at most `limit` (None: all)."""
    at, entry_id = after if after is not None else (None, None)
    return await conn.fetch(_PAGE, seller_id, currency, start, end, at, entry_id, limit)
