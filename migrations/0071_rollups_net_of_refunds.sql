-- Reports net of refunds (docs/orders-and-refunds.md "Analytics"): a refund counts with its
-- order, in the order's hours (migrations/0070 marks them), so the pricing rollups carry the
-- goods refunded (`refunds`; `revenue` is net of them) and the commission rollups the commission
-- reversed per part. No refund exists before this migration: every rolled-up hour is already
-- right with zeros, and a rebuild gives the same rows.
ALTER TABLE rollup_pricing_hourly ADD COLUMN refunds numeric(24, 4) NOT NULL DEFAULT 0;
ALTER TABLE rollup_pricing_daily ADD COLUMN refunds numeric(24, 4) NOT NULL DEFAULT 0;
ALTER TABLE rollup_pricing_hourly ALTER COLUMN refunds DROP DEFAULT;
ALTER TABLE rollup_pricing_daily ALTER COLUMN refunds DROP DEFAULT;

ALTER TABLE rollup_commission_hourly
    ADD COLUMN seller_reversed numeric(24, 4) NOT NULL DEFAULT 0,
    ADD COLUMN category_reversed numeric(24, 4) NOT NULL DEFAULT 0,
    ADD COLUMN logistics_reversed numeric(24, 4) NOT NULL DEFAULT 0,
    ADD COLUMN total_reversed numeric(24, 4) NOT NULL DEFAULT 0;
ALTER TABLE rollup_commission_daily
    ADD COLUMN seller_reversed numeric(24, 4) NOT NULL DEFAULT 0,
    ADD COLUMN category_reversed numeric(24, 4) NOT NULL DEFAULT 0,
    ADD COLUMN logistics_reversed numeric(24, 4) NOT NULL DEFAULT 0,
    ADD COLUMN total_reversed numeric(24, 4) NOT NULL DEFAULT 0;
ALTER TABLE rollup_commission_hourly
    ALTER COLUMN seller_reversed DROP DEFAULT,
    ALTER COLUMN category_reversed DROP DEFAULT,
    ALTER COLUMN logistics_reversed DROP DEFAULT,
    ALTER COLUMN total_reversed DROP DEFAULT;
ALTER TABLE rollup_commission_daily
    ALTER COLUMN seller_reversed DROP DEFAULT,
    ALTER COLUMN category_reversed DROP DEFAULT,
    ALTER COLUMN logistics_reversed DROP DEFAULT,
    ALTER COLUMN total_reversed DROP DEFAULT;
