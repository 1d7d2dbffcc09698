-- The lean quote log: what analytics reads of a quote, not the whole 4.3 KB response.
--
-- Parsing and storing the full JSON response was most of PostgreSQL's work per quote. A row
-- now holds the totals as columns and the rest in small, positional jsonb arrays:
--   lines         [[product_id, category_id, seller_id, quantity, unit_price, line_subtotal,
--                   discount, price_source], ...]      (money as decimal strings)
--   applied_rules [[rule_id, type, version, amount], ...]   (quote-level, summed per rule;
--                  rule_id and version are null for a TAX_RATE from the defaults)
--   experiments   {"flag key": "variant", ...}
--   coupon_codes  the applied coupons' codes
-- caller_kind / caller_id: who asked ("user" or "api_key" and its id); null for old rows.
-- Quotes themselves are served from Redis for their validity; this table is not on the read path.

ALTER TABLE quote_log
    ADD COLUMN seller_commission    numeric(20, 4) NOT NULL DEFAULT 0,
    ADD COLUMN category_commission  numeric(20, 4) NOT NULL DEFAULT 0,
    ADD COLUMN logistics_commission numeric(20, 4) NOT NULL DEFAULT 0,
    ADD COLUMN lines                jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN applied_rules        jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN coupon_codes         text[] NOT NULL DEFAULT '{}',
    ADD COLUMN experiments          jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN caller_kind          text,
    ADD COLUMN caller_id            text;

-- Rows written before this migration keep what analytics reads, taken from their payload.
UPDATE quote_log SET
    seller_commission    = coalesce((payload #>> '{commission_breakdown,seller_commission}')::numeric, 0),
    category_commission  = coalesce((payload #>> '{commission_breakdown,category_commission}')::numeric, 0),
    logistics_commission = coalesce((payload #>> '{commission_breakdown,logistics_commission}')::numeric, 0),
    lines = coalesce((
        SELECT jsonb_agg(jsonb_build_array(
            l -> 'product_id', l -> 'category_id', l -> 'seller_id', l -> 'quantity', l -> 'unit_price',
            l -> 'line_subtotal', l -> 'discount', l -> 'price_source') ORDER BY n)
        FROM jsonb_array_elements(payload -> 'items') WITH ORDINALITY AS e(l, n)), '[]'),
    applied_rules = coalesce((
        SELECT jsonb_agg(jsonb_build_array(r -> 'rule_id', r -> 'type', r -> 'version', r -> 'amount') ORDER BY n)
        FROM jsonb_array_elements(payload -> 'applied_rules') WITH ORDINALITY AS e(r, n)), '[]'),
    coupon_codes = coalesce(ARRAY(
        SELECT c ->> 'code' FROM jsonb_array_elements(payload -> 'applied_coupons') WITH ORDINALITY AS e(c, n)
        ORDER BY n), '{}'),
    experiments = coalesce(payload -> 'experiments', '{}');

ALTER TABLE quote_log DROP COLUMN payload;
ALTER TABLE quote_log
    ALTER COLUMN seller_commission DROP DEFAULT,
    ALTER COLUMN category_commission DROP DEFAULT,
    ALTER COLUMN logistics_commission DROP DEFAULT;
