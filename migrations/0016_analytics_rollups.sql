-- Analytics rollups: hourly aggregates of the quote log and of orders, so a query over 30 days
-- reads hundreds of rollup rows instead of a million quotes (docs/analytics.md).
--
-- A rollup hour is always RECOMPUTED from the raw rows, never incremented: recomputing is
-- idempotent, so a late write-behind row, a retried batch or a rebuild cannot count anything
-- twice. What needs recomputing is recorded by triggers in `rollup_dirty`: every write that
-- touches an hour APPENDS a mark (kind, hour) with a growing id — never an upsert of one row per
-- hour, which would make every order and every quote-log batch of the hour queue on that row's
-- lock until its transaction commits. The background job recomputes a dirty hour and deletes
-- only the marks up to the highest id it read, so a row committed while the hour was being
-- recomputed leaves a mark for the next pass.

CREATE TABLE rollup_dirty (
    id      bigserial PRIMARY KEY,
    kind    text NOT NULL CHECK (kind IN ('pricing', 'commission')),
    hour    timestamptz NOT NULL
);
CREATE INDEX rollup_dirty_kind_hour ON rollup_dirty (kind, hour);

-- Quotes of the hour (by the quote's created_at) and what became of them: `orders` counts the
-- quotes of the hour that were ordered (a cohort: conversion = orders / quotes of one period).
-- dim: 'all' (key ''), 'product', 'category', 'rule' (rule id, or type for a rule without id),
-- 'variant' ('<flag_key>:<variant>').
CREATE TABLE rollup_pricing_hourly (
    hour        timestamptz NOT NULL,
    dim         text NOT NULL CHECK (dim IN ('all', 'product', 'category', 'rule', 'variant')),
    key         text NOT NULL,
    currency    char(3) NOT NULL,
    quotes      bigint NOT NULL,
    orders      bigint NOT NULL,
    revenue     numeric(24, 4) NOT NULL,  -- ordered goods after discounts (no tax, no fees)
    discount    numeric(24, 4) NOT NULL,  -- coupon discounts on ordered goods
    rule_amount numeric(24, 4) NOT NULL,  -- 'rule': the amount the rule moved over the quotes
    PRIMARY KEY (dim, hour, key, currency)
);

-- Distinct customers exposed to each experiment variant (a set: distinct counts do not add up
-- across hours, a set union does).
CREATE TABLE rollup_variant_customers (
    flag_key    text NOT NULL,
    variant     text NOT NULL,
    customer_id text NOT NULL,
    PRIMARY KEY (flag_key, variant, customer_id)
);

-- Orders of the hour (by the order's created_at) and their commission parts.
-- dim: 'all' (key ''), 'seller', 'category' (per-line parts; the per-order logistics part has
-- key '' there), 'logistics_provider' (the provider of the order's logistics rate, '' if none).
CREATE TABLE rollup_commission_hourly (
    hour                 timestamptz NOT NULL,
    dim                  text NOT NULL CHECK (dim IN ('all', 'seller', 'category', 'logistics_provider')),
    key                  text NOT NULL,
    currency             char(3) NOT NULL,
    orders               bigint NOT NULL,
    seller_commission    numeric(24, 4) NOT NULL,
    category_commission  numeric(24, 4) NOT NULL,
    logistics_commission numeric(24, 4) NOT NULL,
    total_commission     numeric(24, 4) NOT NULL,
    PRIMARY KEY (dim, hour, key, currency)
);

-- The same figures per UTC day: the sum of the day's hourly rows, rewritten by the job in the
-- transaction that rewrites one of its hours. A report over settled days reads these (a product
-- report over 30 days: 30 x products rows instead of 720 x products).
CREATE TABLE rollup_pricing_daily (
    day         date NOT NULL,
    dim         text NOT NULL,
    key         text NOT NULL,
    currency    char(3) NOT NULL,
    quotes      bigint NOT NULL,
    orders      bigint NOT NULL,
    revenue     numeric(24, 4) NOT NULL,
    discount    numeric(24, 4) NOT NULL,
    rule_amount numeric(24, 4) NOT NULL,
    PRIMARY KEY (dim, day, key, currency)
);

CREATE TABLE rollup_commission_daily (
    day                  date NOT NULL,
    dim                  text NOT NULL,
    key                  text NOT NULL,
    currency             char(3) NOT NULL,
    orders               bigint NOT NULL,
    seller_commission    numeric(24, 4) NOT NULL,
    category_commission  numeric(24, 4) NOT NULL,
    logistics_commission numeric(24, 4) NOT NULL,
    total_commission     numeric(24, 4) NOT NULL,
    PRIMARY KEY (dim, day, key, currency)
);

-- Bumped after every committed rewrite of rollup rows: readers cache settled figures per value.
CREATE SEQUENCE rollup_generation;

CREATE FUNCTION rollup_mark(p_kind text, p_hours timestamptz[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO rollup_dirty (kind, hour)
    SELECT p_kind, h FROM (SELECT DISTINCT unnest(p_hours) AS h) hours
$$;

CREATE FUNCTION rollup_mark_quotes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM rollup_mark('pricing', ARRAY(
        SELECT DISTINCT date_trunc('hour', created_at, 'UTC') FROM new_rows));
    RETURN NULL;
END
$$;

CREATE TRIGGER quote_log_rollup_mark AFTER INSERT ON quote_log
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_quotes();

-- An order changes its quote's pricing hour and its own commission hour. The quote's row may
-- not be visible yet (write-behind): a quote is ordered within its validity (minutes), so the
-- order's hour and the one before are marked as well.
CREATE FUNCTION rollup_mark_orders() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM rollup_mark('pricing', ARRAY(
        SELECT DISTINCT date_trunc('hour', q.created_at, 'UTC')
        FROM new_rows o JOIN quote_log q ON q.quote_id = o.quote_id
        UNION SELECT date_trunc('hour', created_at, 'UTC') FROM new_rows
        UNION SELECT date_trunc('hour', created_at - interval '1 hour', 'UTC') FROM new_rows));
    PERFORM rollup_mark('commission', ARRAY(
        SELECT DISTINCT date_trunc('hour', created_at, 'UTC') FROM new_rows));
    RETURN NULL;
END
$$;

CREATE TRIGGER orders_rollup_mark AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_mark_orders();
