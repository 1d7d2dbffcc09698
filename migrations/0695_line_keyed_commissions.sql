-- Money is kept per order LINE, never per product id (docs/orders-and-refunds.md#one-product-on-several-lines).
-- A basket may hold one product id on several lines (two sellers selling it, a flash split): a commission
-- detail found by its product id could land on another seller's line. From here on each line commission
-- detail names its line (`line_position`, the line's `position`; NULL for the per-order logistics one), and
-- every line carries its own commission parts (`order_lines.commission_category`/`commission_seller`),
-- which statements and refunds read.

ALTER TABLE order_commissions ADD COLUMN line_position integer;

-- Orders placed before. An order that kept its priced record (orders.record = 1) has its quote's details
-- in its lines' order, each line's category detail first, then its seller detail when it has one (gift lines,
-- last, have none): the k-th category detail is on the k-th line. Older orders (and generated data): a
-- product's n-th detail of a dimension is on the product's n-th line (its last line when it has fewer
-- lines), as they were read until now. Either way only onto a line of the detail's product.
WITH walked AS (
    SELECT c.order_id, c.position, c.product_id,
           count(*) FILTER (WHERE c.dimension = 'category') OVER (PARTITION BY c.order_id ORDER BY c.position) - 1
               AS line
    FROM order_commissions c JOIN orders o ON o.id = c.order_id
    WHERE o.record = 1 AND c.dimension IN ('category', 'seller')
)
UPDATE order_commissions c SET line_position = w.line
FROM walked w JOIN order_lines l ON l.order_id = w.order_id AND l.position = w.line AND l.product_id = w.product_id
WHERE c.order_id = w.order_id AND c.position = w.position;

WITH details AS (
    SELECT c.order_id, c.position, c.product_id,
           row_number() OVER (PARTITION BY c.order_id, c.product_id, c.dimension ORDER BY c.position) AS nth
    FROM order_commissions c
    WHERE c.dimension IN ('category', 'seller') AND c.product_id IS NOT NULL AND c.line_position IS NULL
), lines AS (
    SELECT l.order_id, l.product_id, l.position,
           row_number() OVER (PARTITION BY l.order_id, l.product_id ORDER BY l.position) AS nth,
           count(*) OVER (PARTITION BY l.order_id, l.product_id) AS lines
    FROM order_lines l
)
UPDATE order_commissions c SET line_position = l.position
FROM details d JOIN lines l ON l.order_id = d.order_id AND l.product_id = d.product_id
                           AND l.nth = least(d.nth, l.lines)
WHERE c.order_id = d.order_id AND c.position = d.position;

-- Lines of orders placed before orders kept their priced record (migration 0500): their parts from
-- those details (none: 0). Lines that kept them keep them: the priced record is never recomputed.
UPDATE order_lines l
SET commission_category = COALESCE((SELECT sum(c.amount) FROM order_commissions c
                                    WHERE c.order_id = l.order_id AND c.line_position = l.position
                                      AND c.dimension = 'category'), 0),
    commission_seller = COALESCE((SELECT sum(c.amount) FROM order_commissions c
                                  WHERE c.order_id = l.order_id AND c.line_position = l.position
                                    AND c.dimension = 'seller'), 0)
WHERE l.commission_category IS NULL OR l.commission_seller IS NULL;
