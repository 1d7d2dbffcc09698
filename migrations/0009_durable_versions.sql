-- Durable change tracking for the caches: a configuration version and a product-cache outbox.
--
-- Both are written by triggers, so they change in the SAME transaction as the data, whatever
-- wrote it (an admin endpoint, the flash-sale scheduler, seed-demo, plain SQL): a committed
-- change always has its version bump / its outbox row, and a rolled-back one never has.
-- Redis only carries these values to the processes; losing Redis loses nothing here.

-- One row: the version of all pricing configuration (the snapshot's tables).
CREATE TABLE config_version (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version    bigint NOT NULL,
    -- The transaction that made the last bump: a transaction bumps the version once, however
    -- many statements or rows it writes (a bulk upsert is one change).
    bumped_by  xid8,
    changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO config_version (version) VALUES (1);

CREATE FUNCTION bump_config_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO config_version AS c (version, bumped_by) VALUES (1, pg_current_xact_id())
    ON CONFLICT (singleton) DO UPDATE
       SET version = c.version + 1, bumped_by = excluded.bumped_by, changed_at = now()
     WHERE c.bumped_by IS DISTINCT FROM excluded.bumped_by;
    RETURN NULL;
END $$;

-- Row-level, so a statement that changes no row (an UPDATE of a missing id) bumps nothing.
CREATE TRIGGER commission_rates_config_version AFTER INSERT OR UPDATE OR DELETE ON commission_rates
    FOR EACH ROW EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER pricing_rules_config_version AFTER INSERT OR UPDATE OR DELETE ON pricing_rules
    FOR EACH ROW EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER feature_flags_config_version AFTER INSERT OR UPDATE OR DELETE ON feature_flags
    FOR EACH ROW EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER flash_sales_config_version AFTER INSERT OR UPDATE OR DELETE ON flash_sales
    FOR EACH ROW EXECUTE FUNCTION bump_config_version();

-- Tables the hot paths also write: orders count coupon uses (`coupons.times_used`) and flash
-- purchases count units (`flash_sale_items.sold`). Those counters must not bump the version
-- (every order would reload every process), so only a change to another column does.
CREATE TRIGGER coupons_config_version_ins_del AFTER INSERT OR DELETE ON coupons
    FOR EACH ROW EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER coupons_config_version_upd AFTER UPDATE ON coupons FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'times_used' - 'updated_at') IS DISTINCT FROM (to_jsonb(NEW) - 'times_used' - 'updated_at'))
    EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER flash_sale_items_config_version_ins_del AFTER INSERT OR DELETE ON flash_sale_items
    FOR EACH ROW EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER flash_sale_items_config_version_upd AFTER UPDATE ON flash_sale_items FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'sold') IS DISTINCT FROM (to_jsonb(NEW) - 'sold'))
    EXECUTE FUNCTION bump_config_version();

-- TRUNCATE has only statement-level triggers.
CREATE TRIGGER commission_rates_config_version_truncate AFTER TRUNCATE ON commission_rates
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER pricing_rules_config_version_truncate AFTER TRUNCATE ON pricing_rules
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER feature_flags_config_version_truncate AFTER TRUNCATE ON feature_flags
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER flash_sales_config_version_truncate AFTER TRUNCATE ON flash_sales
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER coupons_config_version_truncate AFTER TRUNCATE ON coupons
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER flash_sale_items_config_version_truncate AFTER TRUNCATE ON flash_sale_items
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();

-- Products: a version per row, bumped when a field the quote path caches changes, and an
-- outbox row per change. Every process drains the outbox into Redis (tombstone + publish) and
-- deletes a row only once Redis took it, so an invalidation is retried until delivered.
ALTER TABLE products ADD COLUMN cache_version bigint NOT NULL DEFAULT 1;

CREATE TABLE product_cache_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id      uuid NOT NULL,
    product_version bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE FUNCTION queue_product_invalidation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (NEW.currency, NEW.current_price, NEW.min_price, NEW.category_id, NEW.seller_id, NEW.is_active)
           IS NOT DISTINCT FROM
           (OLD.currency, OLD.current_price, OLD.min_price, OLD.category_id, OLD.seller_id, OLD.is_active) THEN
            RETURN NEW;  -- stock, name, tags...: nothing the quote path caches
        END IF;
        NEW.cache_version := OLD.cache_version + 1;
    END IF;
    INSERT INTO product_cache_outbox (product_id, product_version) VALUES (NEW.id, NEW.cache_version);
    RETURN NEW;
END $$;

CREATE TRIGGER products_cache_outbox BEFORE INSERT OR UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION queue_product_invalidation();
