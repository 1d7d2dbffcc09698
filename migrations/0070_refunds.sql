-- After the order: cancellations and refunds (docs/orders-and-refunds.md).
--
-- An order is `confirmed`, then `partially_refunded` and `refunded`, or `cancelled` (a refund
-- of everything, fees included, while nothing was refunded yet). Every refund is a durable row
-- with one row per order line it touches; each part it takes (amount, discount, tax, seller and
-- category commission; the fees and the logistics commission once) is split by
-- quote_service/orders/refund_math.py, so the sum of an order's refunds never exceeds, and in
-- the end equals, what the order charged, part by part.

ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders
    ADD CONSTRAINT orders_status CHECK (status IN ('confirmed', 'partially_refunded', 'refunded', 'cancelled')),
    -- What the customer got back so far (goods after discount, their tax, fees given back).
    ADD COLUMN refunded_amount numeric(20, 4) NOT NULL DEFAULT 0,
    -- The delivery and small-basket fees (and the logistics commission on them) are given back once.
    ADD COLUMN fees_refunded boolean NOT NULL DEFAULT false;

-- Units given back so far: the database itself refuses a refund past a line's quantity.
ALTER TABLE order_lines
    ADD COLUMN refunded_quantity integer NOT NULL DEFAULT 0,
    ADD CONSTRAINT order_lines_refunded_quantity CHECK (refunded_quantity BETWEEN 0 AND quantity);

-- A cancel gives the coupon's use back: the redemption stays (the order still shows what it
-- applied) but no longer counts toward usage_limit or per_customer_limit.
ALTER TABLE coupon_redemptions ADD COLUMN released_at timestamptz;

CREATE TABLE refunds (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id             uuid NOT NULL REFERENCES orders (id),
    kind                 text NOT NULL CHECK (kind IN ('refund', 'cancel')),
    reason               text CHECK (length(reason) <= 500),
    currency             char(3) NOT NULL,
    -- Sums of the refund's lines.
    amount               numeric(20, 4) NOT NULL,
    discount             numeric(20, 4) NOT NULL,
    tax                  numeric(20, 4) NOT NULL,
    seller_commission    numeric(20, 4) NOT NULL,
    category_commission  numeric(20, 4) NOT NULL,
    -- The fees given back (0 unless include_fees or a cancel, and only once per order).
    delivery_fee         numeric(20, 4) NOT NULL,
    small_basket_fee     numeric(20, 4) NOT NULL,
    logistics_commission numeric(20, 4) NOT NULL,
    -- amount - discount + tax + delivery_fee + small_basket_fee.
    total_refunded       numeric(20, 4) NOT NULL,
    -- seller_commission + category_commission + logistics_commission.
    commission_reversed  numeric(20, 4) NOT NULL,
    principal_id         uuid NOT NULL,
    idempotency_key      text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    request_hash         bytea NOT NULL,
    created_by           text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT refunds_idempotency_key UNIQUE (principal_id, idempotency_key)
);
CREATE INDEX refunds_order_idx ON refunds (order_id, created_at);
CREATE INDEX refunds_created_idx ON refunds (created_at);

CREATE TABLE refund_lines (
    refund_id           uuid NOT NULL REFERENCES refunds (id),
    order_id            uuid NOT NULL,
    -- The order line's position (order_lines' key with order_id).
    position            integer NOT NULL,
    product_id          text NOT NULL,
    quantity            integer NOT NULL CHECK (quantity > 0),
    amount              numeric(20, 4) NOT NULL,
    discount            numeric(20, 4) NOT NULL,
    tax                 numeric(20, 4) NOT NULL,
    seller_commission   numeric(20, 4) NOT NULL,
    category_commission numeric(20, 4) NOT NULL,
    PRIMARY KEY (refund_id, position),
    FOREIGN KEY (order_id, position) REFERENCES order_lines (order_id, position)
);
CREATE INDEX refund_lines_order_idx ON refund_lines (order_id, position);

-- Campaign sales (migrations/0014) count units net of refunds made while the campaign runs, of
-- orders it counted (placed since it started). Runs in the refund's transaction, after the
-- product's row lock, as the order's own count does.
CREATE FUNCTION uncount_campaign_sale() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF NEW.product_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        UPDATE campaigns c
           SET total_sales = c.total_sales - NEW.quantity,
               turnover = c.turnover - (NEW.amount - NEW.discount)
          FROM orders o
         WHERE o.id = NEW.order_id AND c.product_id = NEW.product_id::uuid AND c.status = 'active'
           AND o.created_at >= c.started_at;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER refund_lines_campaign_sales AFTER INSERT ON refund_lines
    FOR EACH ROW EXECUTE FUNCTION uncount_campaign_sale();

-- Reports count a refund with its order (revenue net of refunds, commission reversed): a refund
-- changes its order's pricing hours (those of its quote) and commission hour, as the order did.
CREATE FUNCTION rollup_mark_refunds() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM rollup_mark('pricing', ARRAY(
        SELECT DISTINCT date_trunc('hour', q.created_at, 'UTC')
        FROM new_rows r JOIN orders o ON o.id = r.order_id JOIN quote_log q ON q.quote_id = o.quote_id
        UNION SELECT date_trunc('hour', o.created_at, 'UTC') FROM new_rows r JOIN orders o ON o.id = r.order_id
        UNION SELECT date_trunc('hour', o.created_at - interval '1 hour', 'UTC')
              FROM new_rows r JOIN orders o ON o.id = r.order_id));
    PERFORM rollup_mark('commission', ARRAY(
        SELECT DISTINCT date_trunc('hour', o.created_at, 'UTC') FROM new_rows r JOIN orders o ON o.id = r.order_id));
    RETURN NULL;
END
$$;

CREATE TRIGGER refunds_rollup_mark AFTER INSERT ON refunds
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_refunds();
