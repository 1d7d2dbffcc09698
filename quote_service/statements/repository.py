"""SQL for seller statements: a seller's orders and refunds as ledger entries, and their sums per local day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from quote_service.db.pool import Connection

# $1 seller, $2 currency, $3/$4 the period [from, to). One entry per order with a line of the seller
# (at the order's time) and per refund of such lines or of the seller's shipment fee (at the refund's
# time; its amounts negative): a statement shows money as it moved. Goods are after every discount and
# without tax (a tax-inclusive line's contained tax is taken out, docs/markets.md); `tax` is the lines'
# tax, added or contained, so goods + tax is what the customer paid for them. Commission is the seller
# and category parts each of the seller's lines keeps (by line, never by product id: another seller may
# sell the same product id in the same order), and the logistics commission of its shipment (its fee is the
# seller's: docs/shipping.md), not an order-wide logistics one. `delivery` is the seller's shipment fee.
# Orders and refunds from before platform contributions and commission tax were kept count 0 of both.
# An exempt tax-inclusive line's subtotal is its net (the tax its price held was never charged, docs/taxes.md);
# a seller-funded installment option's commission on a line counts in its commission (and its reversal), and so
# do a line's named fees and the fees charged to the seller once per shipment or order (docs/commission.md),
# those with the tax on them, reversed by the refund that gave back their shipment's or order's last unit.
# An order counts as it was placed (its lines, shipment and once-charged fees written with it, no `edit_id`);
# each edit of it is an entry of its own at the edit's time (kind `edit`, order_edit_sellers: what it changed of
# each part, docs/orders-and-refunds.md#edits-and-exchanges). Its refund of a negative difference has no lines:
# the edit's entry carries that money, once. A refund's shipment fee is the row it gave back: the rows later edits
# wrote for the seller carry its id too (`refund_carried`, migration 0840) and are not counted again.
_ENTRIES = """
WITH sold AS (
    SELECT o.id AS order_id, o.created_at AS at,
           sum(l.line_subtotal - l.discount - CASE WHEN l.prices_include_tax THEN l.tax ELSE 0 END) AS goods,
           sum(l.tax) AS tax, sum(COALESCE(l.platform_contribution, 0)) AS platform,
           sum(COALESCE(l.commission_tax, 0)) AS commission_tax,
           sum(COALESCE(l.commission_category, 0) + COALESCE(l.commission_seller, 0)
               + COALESCE((l.taxes ->> 'installment_commission')::numeric, 0)
               + COALESCE((SELECT sum(f.value::numeric) FROM jsonb_each_text(l.commission_fees) f), 0)) AS commission
    FROM order_lines l JOIN orders o ON o.id = l.order_id
    WHERE l.seller_id = $1 AND o.currency = $2 AND o.created_at >= $3 AND o.created_at < $4 AND l.edit_id IS NULL
    GROUP BY o.id
), charged AS (
    SELECT c.order_id, sum(c.amount) AS commission, sum(COALESCE(c.commission_tax, 0)) AS commission_tax
    FROM order_commissions c JOIN sold s ON s.order_id = c.order_id
    WHERE c.per IS NOT NULL AND c.seller_id = $1 AND c.edit_id IS NULL
    GROUP BY c.order_id
), shipped AS (
    SELECT sh.order_id, sh.delivery_fee AS delivery, sh.logistics_commission AS logistics
    FROM order_shipments sh JOIN sold s ON s.order_id = sh.order_id
    WHERE sh.seller_id = $1 AND sh.edit_id IS NULL
), returned AS (
    SELECT r.id, r.order_id, r.created_at AS at,
           -sum(rl.amount - rl.discount - CASE WHEN rl.prices_include_tax THEN rl.tax ELSE 0 END) AS goods,
           -sum(rl.tax) AS tax, -sum(COALESCE(rl.platform_contribution, 0)) AS platform,
           -sum(rl.seller_commission + rl.category_commission
                + COALESCE((rl.taxes ->> 'installment_commission')::numeric, 0)
                + COALESCE((SELECT sum(f.value::numeric) FROM jsonb_each_text(rl.taxes) f
                            WHERE f.key LIKE 'fee:%'), 0)) AS commission,
           -sum(COALESCE(rl.commission_tax, 0)) AS commission_tax
    FROM refunds r JOIN refund_lines rl ON rl.refund_id = r.id
    JOIN order_lines l ON l.order_id = rl.order_id AND l.position = rl.position
    WHERE l.seller_id = $1 AND r.currency = $2 AND r.created_at >= $3 AND r.created_at < $4
    GROUP BY r.id
), unshipped AS (
    SELECT r.id, r.order_id, r.created_at AS at, -sh.delivery_fee AS delivery, -sh.logistics_commission AS logistics
    FROM refunds r JOIN order_shipments sh ON sh.refund_id = r.id AND NOT sh.refund_carried
    WHERE sh.seller_id = $1 AND r.currency = $2 AND r.created_at >= $3 AND r.created_at < $4
), uncharged AS (
    SELECT r.id, r.order_id, r.created_at AS at, -sum(c.amount) AS commission,
           -sum(COALESCE(c.commission_tax, 0)) AS commission_tax
    FROM refunds r JOIN order_commissions c ON c.refund_id = r.id
    WHERE c.seller_id = $1 AND r.currency = $2 AND r.created_at >= $3 AND r.created_at < $4
    GROUP BY r.id
), entries AS (
    SELECT 'order' AS kind, s.order_id AS id, s.order_id, s.at, s.goods, s.tax, s.platform,
           s.commission + COALESCE(sh.logistics, 0) + COALESCE(c.commission, 0) AS commission,
           s.commission_tax + COALESCE(c.commission_tax, 0) AS commission_tax,
           COALESCE(sh.delivery, 0) AS delivery
    FROM sold s LEFT JOIN shipped sh ON sh.order_id = s.order_id LEFT JOIN charged c ON c.order_id = s.order_id
    UNION ALL
    SELECT 'refund', COALESCE(g.id, u.id, k.id), COALESCE(g.order_id, u.order_id, k.order_id),
           COALESCE(g.at, u.at, k.at), COALESCE(g.goods, 0), COALESCE(g.tax, 0), COALESCE(g.platform, 0),
           COALESCE(g.commission, 0) + COALESCE(u.logistics, 0) + COALESCE(k.commission, 0),
           COALESCE(g.commission_tax, 0) + COALESCE(k.commission_tax, 0), COALESCE(u.delivery, 0)
    FROM returned g FULL JOIN unshipped u ON u.id = g.id FULL JOIN uncharged k ON k.id = COALESCE(g.id, u.id)
    UNION ALL
    SELECT 'edit', e.edit_id, e.order_id, e.at, e.goods, e.tax, e.platform, e.commission, e.commission_tax, e.delivery
    FROM order_edit_sellers e
    WHERE e.seller_id = $1 AND e.currency = $2 AND e.at >= $3 AND e.at < $4
)
"""

# $5 the period's days' bounds (each local day's first instant, ascending, then the period's end):
# `day` is the number of the day (1 = the first, SQL's width_bucket).
_DAYS = (
    _ENTRIES
    + """
-- Each edit's tax by code, the codes that grew (collected) and those that shrank (given back): an edit that moves
-- tax from one code to another collects the one and gives back the other, as `_BY_CODE` counts them, so the
-- statement's tax adds up to its codes (docs/taxes.md#statements). Without codes: its tax, by its sign.
, edit_taxes AS (
    SELECT e.edit_id, sum(greatest(c.value::numeric, 0)) AS collected, sum(greatest(-c.value::numeric, 0)) AS back
    FROM order_edit_sellers e, jsonb_each_text(e.taxes) AS c
    WHERE e.seller_id = $1 AND e.currency = $2 AND e.at >= $3 AND e.at < $4
    GROUP BY e.edit_id
)
-- An edit's amount that grew counts as sold (charged, collected), one that shrank as given back.
SELECT width_bucket(at, $5::timestamptz[]) AS day,
       count(*) FILTER (WHERE kind = 'order') AS orders,
       COALESCE(sum(goods) FILTER (WHERE kind = 'order' OR (kind = 'edit' AND goods > 0)), 0) AS gross,
       -COALESCE(sum(goods) FILTER (WHERE kind = 'refund' OR (kind = 'edit' AND goods < 0)), 0) AS refunds,
       COALESCE(sum(tax) FILTER (WHERE kind = 'order'), 0)
           + COALESCE(sum(COALESCE(t.collected, greatest(tax, 0))) FILTER (WHERE kind = 'edit'), 0) AS tax_collected,
       -COALESCE(sum(tax) FILTER (WHERE kind = 'refund'), 0)
           + COALESCE(sum(COALESCE(t.back, greatest(-tax, 0))) FILTER (WHERE kind = 'edit'), 0) AS tax_refunded,
       COALESCE(sum(platform) FILTER (WHERE kind = 'order' OR (kind = 'edit' AND platform > 0)), 0) AS platform,
       -COALESCE(sum(platform) FILTER (WHERE kind = 'refund' OR (kind = 'edit' AND platform < 0)), 0)
           AS platform_reversed,
       COALESCE(sum(commission) FILTER (WHERE kind = 'order' OR (kind = 'edit' AND commission > 0)), 0) AS charged,
       -COALESCE(sum(commission) FILTER (WHERE kind = 'refund' OR (kind = 'edit' AND commission < 0)), 0)
           AS reversed,
       sum(commission_tax) AS commission_tax,
       sum(delivery) AS delivery
FROM entries LEFT JOIN edit_taxes t ON entries.kind = 'edit' AND t.edit_id = entries.id GROUP BY day ORDER BY day
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


# $1 seller, $2 currency, $3/$4 the period: each tax code's amount on the seller's lines of the period's
# orders (`collected`) and what the period's refunds gave back of it (`refunded`), by code
# (docs/taxes.md#statements). A line that kept its components counts each; a line that did not (priced
# by a single rate in a quote that used nothing of docs/taxes.md) is its one component, code TAX: the
# codes add up to tax_collected and tax_refunded. `kept`: some of the code's amounts are kept components;
# `*_external`: the part of them a tax extension answered (docs/extensions.md; an edit's change counts as internal).
_BY_CODE = """
SELECT code, sum(collected) AS collected, sum(refunded) AS refunded, bool_or(kept) AS kept,
       COALESCE(sum(collected) FILTER (WHERE external), 0) AS collected_external,
       COALESCE(sum(refunded) FILTER (WHERE external), 0) AS refunded_external FROM (
    SELECT CASE WHEN l.taxes ? 'taxes' THEN part ->> 'code' ELSE 'TAX' END AS code,
           CASE WHEN l.taxes ? 'taxes' THEN (part ->> 'amount')::numeric ELSE l.tax END AS collected,
           0 AS refunded, COALESCE(l.taxes ? 'taxes', false) AS kept,
           COALESCE(l.taxes ->> 'tax_source' = 'extension', false) AS external
    FROM order_lines l JOIN orders o ON o.id = l.order_id
    LEFT JOIN LATERAL jsonb_array_elements(l.taxes -> 'taxes') AS part ON true
    WHERE l.seller_id = $1 AND o.currency = $2 AND o.created_at >= $3 AND o.created_at < $4
      AND (l.taxes ? 'taxes' OR l.tax <> 0) AND l.edit_id IS NULL
    UNION ALL
    SELECT CASE WHEN l.taxes ? 'taxes' THEN substr(e.key, 5) ELSE 'TAX' END, 0,
           CASE WHEN l.taxes ? 'taxes' THEN e.value::numeric ELSE rl.tax END, COALESCE(l.taxes ? 'taxes', false),
           COALESCE(l.taxes ->> 'tax_source' = 'extension', false)
    FROM refunds r JOIN refund_lines rl ON rl.refund_id = r.id
    JOIN order_lines l ON l.order_id = rl.order_id AND l.position = rl.position
    LEFT JOIN LATERAL jsonb_each_text(rl.taxes) AS e ON l.taxes ? 'taxes' AND e.key LIKE 'tax:%'
    WHERE l.seller_id = $1 AND r.currency = $2 AND r.created_at >= $3 AND r.created_at < $4
      AND (l.taxes ? 'taxes' OR rl.tax <> 0)
    UNION ALL  -- each edit's change of the code: collected when it grew, refunded when it shrank
    SELECT c.key, greatest(c.value::numeric, 0), greatest(-c.value::numeric, 0), e.kept, false
    FROM order_edit_sellers e, jsonb_each_text(e.taxes) AS c
    WHERE e.seller_id = $1 AND e.currency = $2 AND e.at >= $3 AND e.at < $4 AND c.value::numeric <> 0
) AS parts WHERE code IS NOT NULL GROUP BY code ORDER BY code
"""


# $1 seller, $2 currency, $3/$4 the period: each entry's named commission fees (docs/commission.md), by name:
# the fees on the seller's lines and those charged to it once per shipment or order, a refund's negative. An
# order counts as it was placed (rows with no `edit_id`), each edit by what it changed (order_edit_sellers.fees).
_FEES = """
SELECT kind, id, at, name, sum(amount) AS amount FROM (
    SELECT 'order' AS kind, o.id, o.created_at AS at, f.key AS name, f.value::numeric AS amount
    FROM order_lines l JOIN orders o ON o.id = l.order_id, jsonb_each_text(l.commission_fees) f
    WHERE l.seller_id = $1 AND o.currency = $2 AND o.created_at >= $3 AND o.created_at < $4 AND l.edit_id IS NULL
    UNION ALL
    SELECT 'order', o.id, o.created_at, c.dimension, c.amount
    FROM order_commissions c JOIN orders o ON o.id = c.order_id
    WHERE c.per IS NOT NULL AND c.seller_id = $1 AND c.dimension NOT IN ('category', 'seller')
      AND c.edit_id IS NULL AND o.currency = $2 AND o.created_at >= $3 AND o.created_at < $4
    UNION ALL
    SELECT 'edit', e.edit_id, e.at, f.key, f.value::numeric
    FROM order_edit_sellers e, jsonb_each_text(e.fees) f
    WHERE e.seller_id = $1 AND e.currency = $2 AND e.at >= $3 AND e.at < $4
    UNION ALL
    SELECT 'refund', r.id, r.created_at, substr(f.key, 5), -f.value::numeric
    FROM refunds r JOIN refund_lines rl ON rl.refund_id = r.id
    JOIN order_lines l ON l.order_id = rl.order_id AND l.position = rl.position, jsonb_each_text(rl.taxes) f
    WHERE f.key LIKE 'fee:%' AND l.seller_id = $1 AND r.currency = $2 AND r.created_at >= $3 AND r.created_at < $4
    UNION ALL
    SELECT 'refund', r.id, r.created_at, c.dimension, -c.amount
    FROM refunds r JOIN order_commissions c ON c.refund_id = r.id
    WHERE c.seller_id = $1 AND c.dimension NOT IN ('category', 'seller')
      AND r.currency = $2 AND r.created_at >= $3 AND r.created_at < $4
) AS fees GROUP BY kind, id, at, name ORDER BY at, id, name
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
    """The currencies the seller sold or refunded in over [start, end)."""
    rows = await conn.fetch(
        """SELECT o.currency FROM order_lines l JOIN orders o ON o.id = l.order_id
           WHERE l.seller_id = $1 AND o.created_at >= $2 AND o.created_at < $3
           UNION
           SELECT r.currency FROM refunds r JOIN refund_lines rl ON rl.refund_id = r.id
           JOIN order_lines l ON l.order_id = rl.order_id AND l.position = rl.position
           WHERE l.seller_id = $1 AND r.created_at >= $2 AND r.created_at < $3
           UNION
           SELECT currency FROM order_edit_sellers WHERE seller_id = $1 AND at >= $2 AND at < $3
           UNION  -- a fee charged to the seller once per order, reversed with another seller's last unit
           SELECT r.currency FROM refunds r JOIN order_commissions c ON c.refund_id = r.id
           WHERE c.seller_id = $1 AND r.created_at >= $2 AND r.created_at < $3
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
