-- The commission report counts the named commission fees (docs/commission.md, docs/analytics.md#commission):
-- each row's fees charged (on its lines, and those charged once per shipment or order, to their seller) and
-- what refunds reversed of them, which `total_reversed` now includes. Hours rolled up before this migration
-- read 0 fees: an order with named fees is newer than migration 0710, whose hours a rebuild
-- (`quote-service rebuild-rollups`) or their next recount rewrites.
ALTER TABLE rollup_commission_hourly
    ADD COLUMN fees_commission numeric(24, 4) NOT NULL DEFAULT 0,
    ADD COLUMN fees_reversed numeric(24, 4) NOT NULL DEFAULT 0;
ALTER TABLE rollup_commission_daily
    ADD COLUMN fees_commission numeric(24, 4) NOT NULL DEFAULT 0,
    ADD COLUMN fees_reversed numeric(24, 4) NOT NULL DEFAULT 0;
