-- The sellers' ledger (docs/architecture.md#money-after-the-quote): one entry per seller per change of an order's
-- money, written by the change in its own transaction (orders/money.py works it out): placing an order (kind
-- `order`, its id the order's), a refund or cancel (`refund`, the refund's id), an edit (`edit`, the edit's id;
-- these were `order_edit_sellers`, which this table replaces). Statements, ledgers, balances and payouts read
-- these entries and nothing else: no query works commission or payouts out of the orders' rows again.
--
-- Amounts are the entry's signed change of the seller's money (a refund's negative): goods after every discount
-- without tax, tax, the platform's contribution, commission (every part the seller pays), the tax on the
-- commission, the seller's shipment fee; `tax_collected` / `tax_refunded` what the statement counts of its tax
-- (an edit collects the codes that grew and gives back those that shrank); `fees` its named commission fees by
-- name. `seller_ledger_taxes`: its tax by code (docs/taxes.md#statements), with whether the lines kept their
-- components (`kept`) and whether a tax extension answered it (`external`).
CREATE TABLE seller_ledger (
    seller_id      text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('order', 'refund', 'edit')),
    id             uuid NOT NULL,
    order_id       uuid NOT NULL REFERENCES orders (id),
    currency       char(3) NOT NULL,
    at             timestamptz NOT NULL,
    goods          numeric(20, 4) NOT NULL,
    tax            numeric(20, 4) NOT NULL,
    platform       numeric(20, 4) NOT NULL,
    commission     numeric(20, 4) NOT NULL,
    commission_tax numeric(20, 4) NOT NULL,
    delivery       numeric(20, 4) NOT NULL,
    tax_collected  numeric(20, 4) NOT NULL,
    tax_refunded   numeric(20, 4) NOT NULL,
    fees           jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(fees) = 'object'),
    PRIMARY KEY (seller_id, kind, id)
);
CREATE INDEX seller_ledger_by_time ON seller_ledger (seller_id, currency, at, id);
CREATE INDEX seller_ledger_of_order ON seller_ledger (order_id);

CREATE TABLE seller_ledger_taxes (
    seller_id text NOT NULL,
    kind      text NOT NULL,
    id        uuid NOT NULL,
    code      text NOT NULL,
    kept      boolean NOT NULL,
    external  boolean NOT NULL,
    collected numeric(20, 4) NOT NULL,
    refunded  numeric(20, 4) NOT NULL,
    PRIMARY KEY (seller_id, kind, id, code, kept, external),
    FOREIGN KEY (seller_id, kind, id) REFERENCES seller_ledger (seller_id, kind, id)
);

-- The entries of the orders, refunds and edits made so far, as the statements worked them out until now.
WITH sold AS (
    SELECT o.id AS order_id, l.seller_id, o.currency, o.created_at AS at,
           sum(l.line_subtotal - l.discount - CASE WHEN l.prices_include_tax THEN l.tax ELSE 0 END) AS goods,
           sum(l.tax) AS tax, sum(COALESCE(l.platform_contribution, 0)) AS platform,
           sum(COALESCE(l.commission_tax, 0)) AS commission_tax,
           sum(COALESCE(l.commission_category, 0) + COALESCE(l.commission_seller, 0)
               + COALESCE(l.installment_commission, 0)
               + COALESCE((SELECT sum(f.value::numeric) FROM jsonb_each_text(l.commission_fees) f), 0)) AS commission
    FROM order_lines l JOIN orders o ON o.id = l.order_id
    WHERE l.seller_id IS NOT NULL AND l.edit_id IS NULL
    GROUP BY o.id, l.seller_id
), charged AS (
    SELECT c.order_id, c.seller_id, sum(c.amount) AS commission, sum(COALESCE(c.commission_tax, 0)) AS commission_tax
    FROM order_commissions c
    WHERE c.per IS NOT NULL AND c.seller_id IS NOT NULL AND c.edit_id IS NULL
    GROUP BY c.order_id, c.seller_id
), shipped AS (
    SELECT order_id, seller_id, sum(delivery_fee) AS delivery, sum(logistics_commission) AS logistics
    FROM order_shipments WHERE seller_id IS NOT NULL AND edit_id IS NULL
    GROUP BY order_id, seller_id
), fees AS (
    SELECT order_id, seller_id, jsonb_object_agg(name, amount::text) AS fees FROM (
        SELECT order_id, seller_id, name, sum(amount) AS amount FROM (
            SELECT l.order_id, l.seller_id, f.key AS name, f.value::numeric AS amount
            FROM order_lines l, jsonb_each_text(l.commission_fees) f
            WHERE l.seller_id IS NOT NULL AND l.edit_id IS NULL
            UNION ALL
            SELECT c.order_id, c.seller_id, c.dimension, c.amount FROM order_commissions c
            WHERE c.per IS NOT NULL AND c.seller_id IS NOT NULL AND c.edit_id IS NULL
              AND c.dimension NOT IN ('category', 'seller')
        ) AS each GROUP BY order_id, seller_id, name
    ) AS named GROUP BY order_id, seller_id
)
INSERT INTO seller_ledger (seller_id, kind, id, order_id, currency, at, goods, tax, platform, commission,
                           commission_tax, delivery, tax_collected, tax_refunded, fees)
SELECT s.seller_id, 'order', s.order_id, s.order_id, s.currency, s.at, s.goods, s.tax, s.platform,
       s.commission + COALESCE(sh.logistics, 0) + COALESCE(c.commission, 0),
       s.commission_tax + COALESCE(c.commission_tax, 0), COALESCE(sh.delivery, 0), s.tax, 0,
       COALESCE(f.fees, '{}')
FROM sold s
LEFT JOIN shipped sh ON (sh.order_id, sh.seller_id) = (s.order_id, s.seller_id)
LEFT JOIN charged c ON (c.order_id, c.seller_id) = (s.order_id, s.seller_id)
LEFT JOIN fees f ON (f.order_id, f.seller_id) = (s.order_id, s.seller_id);

WITH returned AS (
    SELECT r.id, l.seller_id,
           -sum(rl.amount - rl.discount - CASE WHEN rl.prices_include_tax THEN rl.tax ELSE 0 END) AS goods,
           -sum(rl.tax) AS tax, -sum(COALESCE(rl.platform_contribution, 0)) AS platform,
           -sum(rl.seller_commission + rl.category_commission + COALESCE(rl.installment_commission, 0)
                + COALESCE((SELECT sum(f.value::numeric) FROM jsonb_each_text(rl.commission_fees) f), 0))
               AS commission,
           -sum(COALESCE(rl.commission_tax, 0)) AS commission_tax
    FROM refunds r JOIN refund_lines rl ON rl.refund_id = r.id
    JOIN order_lines l ON l.order_id = rl.order_id AND l.position = rl.position
    WHERE l.seller_id IS NOT NULL
    GROUP BY r.id, l.seller_id
), unshipped AS (
    SELECT sh.refund_id AS id, sh.seller_id, -sum(sh.delivery_fee) AS delivery, -sum(sh.logistics_commission) AS logistics
    FROM order_shipments sh
    WHERE sh.refund_id IS NOT NULL AND NOT sh.refund_carried AND sh.seller_id IS NOT NULL
    GROUP BY sh.refund_id, sh.seller_id
), uncharged AS (
    SELECT c.refund_id AS id, c.seller_id, -sum(c.amount) AS commission, -sum(COALESCE(c.commission_tax, 0))
               AS commission_tax
    FROM order_commissions c WHERE c.refund_id IS NOT NULL AND c.seller_id IS NOT NULL
    GROUP BY c.refund_id, c.seller_id
), fees AS (
    SELECT id, seller_id, jsonb_object_agg(name, amount::text) AS fees FROM (
        SELECT id, seller_id, name, sum(amount) AS amount FROM (
            SELECT rl.refund_id AS id, l.seller_id, f.key AS name, -f.value::numeric AS amount
            FROM refund_lines rl JOIN order_lines l ON l.order_id = rl.order_id AND l.position = rl.position,
                 jsonb_each_text(rl.commission_fees) f
            WHERE l.seller_id IS NOT NULL
            UNION ALL
            SELECT c.refund_id, c.seller_id, c.dimension, -c.amount FROM order_commissions c
            WHERE c.refund_id IS NOT NULL AND c.seller_id IS NOT NULL AND c.dimension NOT IN ('category', 'seller')
        ) AS each GROUP BY id, seller_id, name
    ) AS named GROUP BY id, seller_id
), moved AS (
    SELECT COALESCE(g.id, u.id, k.id) AS id, COALESCE(g.seller_id, u.seller_id, k.seller_id) AS seller_id,
           COALESCE(g.goods, 0) AS goods, COALESCE(g.tax, 0) AS tax, COALESCE(g.platform, 0) AS platform,
           COALESCE(g.commission, 0) + COALESCE(u.logistics, 0) + COALESCE(k.commission, 0) AS commission,
           COALESCE(g.commission_tax, 0) + COALESCE(k.commission_tax, 0) AS commission_tax,
           COALESCE(u.delivery, 0) AS delivery
    FROM returned g
    FULL JOIN unshipped u ON (u.id, u.seller_id) = (g.id, g.seller_id)
    FULL JOIN uncharged k ON (k.id, k.seller_id) = (COALESCE(g.id, u.id), COALESCE(g.seller_id, u.seller_id))
)
INSERT INTO seller_ledger (seller_id, kind, id, order_id, currency, at, goods, tax, platform, commission,
                           commission_tax, delivery, tax_collected, tax_refunded, fees)
SELECT m.seller_id, 'refund', m.id, r.order_id, r.currency, r.created_at, m.goods, m.tax, m.platform, m.commission,
       m.commission_tax, m.delivery, 0, -m.tax, COALESCE(f.fees, '{}')
FROM moved m JOIN refunds r ON r.id = m.id
LEFT JOIN fees f ON (f.id, f.seller_id) = (m.id, m.seller_id);

INSERT INTO seller_ledger (seller_id, kind, id, order_id, currency, at, goods, tax, platform, commission,
                           commission_tax, delivery, tax_collected, tax_refunded, fees)
SELECT e.seller_id, 'edit', e.edit_id, e.order_id, e.currency, e.at, e.goods, e.tax, e.platform, e.commission,
       e.commission_tax, e.delivery,
       COALESCE(t.collected, greatest(e.tax, 0)), COALESCE(t.back, greatest(-e.tax, 0)), e.fees
FROM order_edit_sellers e
LEFT JOIN LATERAL (SELECT sum(greatest(c.value::numeric, 0)) AS collected, sum(greatest(-c.value::numeric, 0)) AS back
                   FROM jsonb_each_text(e.taxes) c) t ON e.taxes <> '{}'
WHERE e.seller_id IS NOT NULL;

-- Tax by code: each kept component of the lines (one of 0.00 too), else a line's tax as code TAX when it has
-- some; an edit's change of each code.
INSERT INTO seller_ledger_taxes (seller_id, kind, id, code, kept, external, collected, refunded)
SELECT seller_id, kind, id, code, kept, external, sum(collected), sum(refunded) FROM (
    SELECT l.seller_id, 'order' AS kind, l.order_id AS id,
           CASE WHEN l.taxes ? 'taxes' THEN part ->> 'code' ELSE 'TAX' END AS code,
           COALESCE(l.taxes ? 'taxes', false) AS kept,
           COALESCE(l.taxes ->> 'tax_source' = 'extension', false) AS external,
           CASE WHEN l.taxes ? 'taxes' THEN (part ->> 'amount')::numeric ELSE l.tax END AS collected,
           0 AS refunded
    FROM order_lines l LEFT JOIN LATERAL jsonb_array_elements(l.taxes -> 'taxes') AS part ON true
    WHERE l.seller_id IS NOT NULL AND l.edit_id IS NULL AND (l.taxes ? 'taxes' OR l.tax <> 0)
    UNION ALL
    SELECT l.seller_id, 'refund', rl.refund_id,
           CASE WHEN l.taxes ? 'taxes' THEN c.key ELSE 'TAX' END,
           COALESCE(l.taxes ? 'taxes', false), COALESCE(l.taxes ->> 'tax_source' = 'extension', false),
           0, CASE WHEN l.taxes ? 'taxes' THEN c.value::numeric ELSE rl.tax END
    FROM refund_lines rl JOIN order_lines l ON l.order_id = rl.order_id AND l.position = rl.position
    LEFT JOIN LATERAL jsonb_each_text(rl.tax_components) AS c ON l.taxes ? 'taxes'
    WHERE l.seller_id IS NOT NULL AND (l.taxes ? 'taxes' OR rl.tax <> 0)
    UNION ALL
    SELECT e.seller_id, 'edit', e.edit_id, c.key, e.kept, false,
           greatest(c.value::numeric, 0), greatest(-c.value::numeric, 0)
    FROM order_edit_sellers e, jsonb_each_text(e.taxes) AS c
    WHERE e.seller_id IS NOT NULL AND c.value::numeric <> 0
) AS parts
WHERE code IS NOT NULL
GROUP BY seller_id, kind, id, code, kept, external;

DROP TABLE order_edit_sellers;
