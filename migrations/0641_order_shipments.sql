-- An order keeps its quote's shipments and per-seller totals (docs/shipping.md#orders-refunds-and-statements):
-- one row per shipment, in the quote's order, with its seller's totals (a shipment is one seller's, and
-- each seller has one). Orders from a quote without shipments have none.
--
-- `refund_id`: the refund that gave the shipment's delivery fee (and its logistics commission) back,
-- once: a refund naming the shipment, one with `include_fees`, or a cancel. A seller's statement counts
-- the fee in its payout when the order is placed and takes it back with that refund.

CREATE TABLE order_shipments (
    order_id                uuid NOT NULL REFERENCES orders (id),
    position                integer NOT NULL,
    seller_id               text,
    product_ids             text[] NOT NULL,
    goods                   numeric(20, 4) NOT NULL,
    options                 jsonb NOT NULL CHECK (jsonb_typeof(options) = 'array'),
    selected                text,
    delivery_fee            numeric(20, 4) NOT NULL CHECK (delivery_fee >= 0),
    free_delivery_remaining numeric(20, 4),
    logistics_commission    numeric(20, 4) NOT NULL,
    -- The seller's totals in the quote (`sellers`).
    seller_goods            numeric(20, 4) NOT NULL,
    seller_discount         numeric(20, 4) NOT NULL,
    seller_tax              numeric(20, 4) NOT NULL,
    seller_tax_included     numeric(20, 4) NOT NULL,
    seller_commission       numeric(20, 4) NOT NULL,
    seller_commission_tax   numeric(20, 4) NOT NULL,
    seller_payout           numeric(20, 4) NOT NULL,
    refund_id               uuid REFERENCES refunds (id),
    PRIMARY KEY (order_id, position),
    CONSTRAINT order_shipments_one_per_seller UNIQUE (order_id, seller_id)
);
-- A seller's statement: its shipments, by order and by the refund that gave a fee back.
CREATE INDEX order_shipments_seller_idx ON order_shipments (seller_id, order_id);
CREATE INDEX order_shipments_refund_idx ON order_shipments (refund_id) WHERE refund_id IS NOT NULL;
