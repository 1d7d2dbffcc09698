-- Where each quote was delivered and which flags were on for it, for the analytics reports by
-- region (GET /analytics/pricing?group_by=region) and of flag adoption (GET /analytics/flags).
--
--   delivery_city, delivery_country  the request's delivery address, as sent (null for rows
--                                    written before this migration)
--   flags                            the keys of the flags that were on for the quote (the keys
--                                    of the response's `feature_flags`)
ALTER TABLE quote_log
    ADD COLUMN delivery_city    text,
    ADD COLUMN delivery_country text,
    ADD COLUMN flags            text[] NOT NULL DEFAULT '{}';

-- Two more dimensions of the pricing rollups: 'region' (key "City, CC": the city with its first
-- letters capitalised, the country in capitals; '' when unknown) and 'flag' (the flag's key; the
-- quotes it was on for).
ALTER TABLE rollup_pricing_hourly DROP CONSTRAINT rollup_pricing_hourly_dim_check;
ALTER TABLE rollup_pricing_hourly ADD CONSTRAINT rollup_pricing_hourly_dim_check
    CHECK (dim IN ('all', 'product', 'category', 'rule', 'variant', 'region', 'flag'));

-- Every hour already rolled up gains its rows of the new dimensions when the rollup job next
-- recomputes it (in the background, oldest first), so the rollups stay equal to a rebuild.
SELECT rollup_mark('pricing', ARRAY(SELECT DISTINCT date_trunc('hour', created_at, 'UTC') FROM quote_log));
