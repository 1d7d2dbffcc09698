-- A seller's own coupons (docs/sellers.md). A coupon may now name products: with `product_ids` (or
-- `category_ids`), only the basket's lines of those products (or categories) take it. `seller_id`: the
-- seller whose own coupon it is, NULL for the platform's; an admin's PUT keeps it.
ALTER TABLE coupons ADD COLUMN product_ids text[] NOT NULL DEFAULT '{}';
ALTER TABLE coupons ADD COLUMN seller_id text CHECK (length(seller_id) BETWEEN 1 AND 64);
