-- An order keeps its priced record (docs/orders-and-refunds.md#the-priced-record): written once, by the
-- order's transaction, from the quote it confirms; never recomputed. Orders placed before this migration
-- have none (orders.record IS NULL): they answer what their other rows know.

-- 1: the order carries the record described here; NULL: placed before it was kept.
ALTER TABLE orders ADD COLUMN record smallint CHECK (record = 1);

-- Each line's own commission parts, as the quote's commission details gave them.
ALTER TABLE order_lines
    ADD COLUMN commission_category numeric(20, 4),
    ADD COLUMN commission_seller   numeric(20, 4);

-- A line's discount by source: a promotion or a coupon, in the order the quote applied them. The
-- amounts of a line add up to its `discount` exactly.
CREATE TABLE order_line_discounts (
    order_id      uuid NOT NULL,
    line_position integer NOT NULL,
    position      integer NOT NULL,
    source        text NOT NULL CHECK (source IN ('promotion', 'coupon')),
    -- The promotion's id, or the coupon's code (a coupon's id).
    source_id     text NOT NULL,
    name          text NOT NULL,
    code          text,
    -- Who pays for it ('platform' is issue 50's second part; every discount so far is the seller's).
    funded_by     text NOT NULL DEFAULT 'seller' CHECK (funded_by IN ('seller', 'platform')),
    amount        numeric(20, 4) NOT NULL CHECK (amount > 0),
    PRIMARY KEY (order_id, line_position, position),
    FOREIGN KEY (order_id, line_position) REFERENCES order_lines (order_id, position)
);

-- The promotions the quote applied, kept for the order's life (promotion_redemptions, the usage
-- count, are deleted by a cancel).
CREATE TABLE order_promotions (
    order_id     uuid NOT NULL REFERENCES orders (id),
    position     integer NOT NULL,
    promotion_id uuid NOT NULL,
    name         text NOT NULL,
    kind         text NOT NULL,
    amount       numeric(20, 4) NOT NULL,
    funded_by    text NOT NULL DEFAULT 'seller' CHECK (funded_by IN ('seller', 'platform')),
    PRIMARY KEY (order_id, position)
);

-- GET /orders?seller_id: the orders with a line of the seller.
CREATE INDEX order_lines_seller_idx ON order_lines (seller_id, order_id);
