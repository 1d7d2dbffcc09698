-- The goods each commission rollup row's orders sold (lines after coupon discounts), so the
-- commission report can give each row's average rate (commission / goods x 100). For the 'seller'
-- and 'category' dimensions, the goods of that seller's or category's lines; for 'all' and
-- 'logistics_provider', the orders' goods.
ALTER TABLE rollup_commission_hourly ADD COLUMN goods numeric(24, 4) NOT NULL DEFAULT 0;
ALTER TABLE rollup_commission_daily ADD COLUMN goods numeric(24, 4) NOT NULL DEFAULT 0;
ALTER TABLE rollup_commission_hourly ALTER COLUMN goods DROP DEFAULT;
ALTER TABLE rollup_commission_daily ALTER COLUMN goods DROP DEFAULT;

-- Every hour already rolled up gets its goods when the rollup job next recomputes it (in the
-- background, oldest first), so the rollups stay equal to a rebuild.
SELECT rollup_mark('commission', ARRAY(SELECT DISTINCT date_trunc('hour', created_at, 'UTC') FROM orders));
