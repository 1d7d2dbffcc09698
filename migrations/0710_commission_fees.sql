-- Commission as marketplaces charge it (docs/commission.md).
--
-- Rates: `base` (what a PERCENTAGE or TIERED rate is a share of: the line's net, its gross, or its gross with
-- its share of its shipment's delivery fee) and `per` (what a FLAT rate is charged for: each unit, each line,
-- each shipment, each order). Every existing rate keeps what it charges: net, per unit. A component may now
-- be any name matching [a-z][a-z0-9_]{0,31} (`payment_fee`, `platform_fee`): each named component is its own
-- winner and adds to the commission as a fee.
ALTER TABLE commission_rates
    ADD COLUMN base text NOT NULL DEFAULT 'net',
    ADD COLUMN per  text NOT NULL DEFAULT 'unit',
    ADD CONSTRAINT commission_rates_base CHECK (base IN ('net', 'gross', 'gross_with_delivery')),
    ADD CONSTRAINT commission_rates_per CHECK (per IN ('unit', 'line', 'shipment', 'order')),
    DROP CONSTRAINT commission_rates_component,
    ADD CONSTRAINT commission_rates_component CHECK (component ~ '^[a-z][a-z0-9_]{0,31}$');

-- Orders: a line's named fees ({name: amount}, exact decimal text; NULL: none), beside its category and seller
-- parts. A refund line keeps what it gave back of each as the part `fee:<name>` among its other parts
-- (refund_lines.taxes, as tax components and the installment commission are kept).
ALTER TABLE order_lines ADD COLUMN commission_fees jsonb;

-- A commission detail may now be a named fee (`dimension` its name), and a FLAT fee charged once per shipment
-- or per order (`per`) belongs to no line: it names the seller it is charged to, the tax on it, and the refund
-- that reversed it (the shipment's last unit, or the order's, given back; NULL: not reversed).
ALTER TABLE order_commissions
    DROP CONSTRAINT order_commissions_dimension_check,
    ADD CONSTRAINT order_commissions_dimension_check CHECK (dimension ~ '^[a-z][a-z0-9_]{0,31}$'),
    ADD COLUMN per            text CHECK (per IN ('shipment', 'order')),
    ADD COLUMN seller_id      text,
    ADD COLUMN commission_tax numeric(20, 4),
    ADD COLUMN refund_id      uuid REFERENCES refunds (id);

-- A seller's statement finds the fees charged to it, and those a refund reversed.
CREATE INDEX order_commissions_charged_idx ON order_commissions (seller_id, order_id) WHERE per IS NOT NULL;
CREATE INDEX order_commissions_reversed_idx ON order_commissions (refund_id) WHERE refund_id IS NOT NULL;
