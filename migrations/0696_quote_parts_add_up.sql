-- The parts of a quote add up as §5 says, and orders keep them so (docs/taxes.md#exemptions).
--
-- An exempt tax-inclusive line charges its net: its `line_subtotal` now leaves out the tax its price held
-- (`tax_exempted`, kept beside it), and so do its order's `subtotal`, its refund lines' `amount` and its
-- seller's `goods`, so total_amount = subtotal - discount_amount + tax_amount + fees holds for every order
-- and statements and refunds no longer take the exempted tax out a second time. Rows written before:
-- the same amounts, expressed so (what the customer paid, the payouts and totals are unchanged).
UPDATE order_lines SET line_subtotal = line_subtotal - (taxes ->> 'tax_exempted')::numeric
WHERE taxes ? 'tax_exempted';
UPDATE orders SET subtotal = subtotal - (tax_terms ->> 'tax_exempted')::numeric
WHERE tax_terms ? 'tax_exempted';
UPDATE refunds r SET amount = r.amount - x.exempted
FROM (SELECT refund_id, sum((taxes ->> 'exempted')::numeric) AS exempted
      FROM refund_lines WHERE taxes ? 'exempted' GROUP BY refund_id) AS x
WHERE r.id = x.refund_id;
UPDATE refund_lines SET amount = amount - (taxes ->> 'exempted')::numeric
WHERE taxes ? 'exempted';

-- A seller's entry in an order's `sellers` shows what its payout holds: the platform's contribution for
-- its discounts and the tax its exempt tax-inclusive lines held (NULL: its quote showed none).
ALTER TABLE order_shipments
    ADD COLUMN seller_platform_contribution numeric(20, 4),
    ADD COLUMN seller_tax_exempted          numeric(20, 4);
UPDATE order_shipments sh SET seller_goods = sh.seller_goods - x.exempted, seller_tax_exempted = x.exempted
FROM (SELECT order_id, seller_id, sum((taxes ->> 'tax_exempted')::numeric) AS exempted
      FROM order_lines WHERE taxes ? 'tax_exempted' GROUP BY order_id, seller_id) AS x
WHERE sh.order_id = x.order_id AND sh.seller_id IS NOT DISTINCT FROM x.seller_id;
