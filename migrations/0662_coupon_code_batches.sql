-- Coupon code batches (docs/promotions.md#code-batches): single-use codes
-- generated for a coupon, each priced as its coupon and redeemed by one order at most. A code is
-- unique across every coupon: the service never generates one that is a coupon's own code, and
-- `coupon_codes.code` is the key. An order redeems a code by setting `used_at`/`order_id` where
-- `used_at IS NULL` (the row lock makes the first order win); a cancel sets them back.

CREATE TABLE coupon_code_batches (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    coupon_code text NOT NULL REFERENCES coupons (code),
    count       integer NOT NULL CHECK (count BETWEEN 1 AND 100000),
    prefix      text NOT NULL DEFAULT '' CHECK (prefix ~ '^[A-Z0-9_-]{0,16}$'),
    length      integer NOT NULL CHECK (length BETWEEN 6 AND 16),
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX coupon_code_batches_coupon_idx ON coupon_code_batches (coupon_code, created_at);

CREATE TABLE coupon_codes (
    code        text PRIMARY KEY CHECK (code ~ '^[A-Z0-9_-]{1,32}$'),
    coupon_code text NOT NULL REFERENCES coupons (code),
    batch_id    uuid NOT NULL REFERENCES coupon_code_batches (id),
    used_at     timestamptz,
    order_id    uuid REFERENCES orders (id),
    CONSTRAINT coupon_codes_use CHECK ((used_at IS NULL) = (order_id IS NULL))
);
CREATE INDEX coupon_codes_batch_idx ON coupon_codes (batch_id, code);
CREATE INDEX coupon_codes_order_idx ON coupon_codes (order_id) WHERE order_id IS NOT NULL;
