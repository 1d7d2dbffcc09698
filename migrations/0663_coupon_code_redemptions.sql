-- A generated coupon code redeemed by an order keeps what the order's applied_coupons show of it
-- (docs/promotions.md#code-batches): its coupon's type, the amount and its place among the order's
-- coupons. NULL while unused (a cancel sets them back to NULL with used_at).
ALTER TABLE coupon_codes ADD COLUMN type text;
ALTER TABLE coupon_codes ADD COLUMN amount numeric(20, 4);
ALTER TABLE coupon_codes ADD COLUMN position integer;
