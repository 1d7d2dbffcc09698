-- Shipping profiles (docs/shipping.md): a seller's delivery options (or the platform's default, seller_id
-- NULL) for the places and the currency it names. The quote path reads the active ones from the
-- configuration snapshot, like rules: a change bumps the configuration version, emits `config.changed`
-- and is audited (migrations 0009, 0300, 0400), all in the writer's transaction.
--
-- `options` is validated by the service (quote_service/shipping/service.py); amounts are kept as exact
-- decimal text, so the audit log's before/after show them as the API does, never as floats.

CREATE TABLE shipping_profiles (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seller_id  text CHECK (length(seller_id) BETWEEN 1 AND 64),
    -- ISO 3166-1 alpha-2, upper-case; NULL: every country.
    countries  text[] CHECK (cardinality(countries) >= 1),
    -- Cities, as given; NULL: every city.
    regions    text[] CHECK (cardinality(regions) >= 1),
    currency   char(3) NOT NULL,
    options    jsonb NOT NULL CHECK (jsonb_typeof(options) = 'array' AND jsonb_array_length(options) >= 1),
    is_active  boolean NOT NULL DEFAULT true,
    created_by text NOT NULL,
    updated_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX shipping_profiles_list_idx ON shipping_profiles (created_at, id);
-- The list filtered by seller (a seller reads its own: issue 25's role).
CREATE INDEX shipping_profiles_seller_idx ON shipping_profiles (seller_id, created_at, id);

CREATE TRIGGER shipping_profiles_config_version AFTER INSERT OR UPDATE OR DELETE ON shipping_profiles
    FOR EACH ROW EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER shipping_profiles_config_version_truncate AFTER TRUNCATE ON shipping_profiles
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER shipping_profiles_webhook AFTER INSERT OR UPDATE OR DELETE ON shipping_profiles
    FOR EACH ROW EXECUTE FUNCTION webhook_config_changed('shipping_profile');
CREATE TRIGGER shipping_profiles_audit AFTER INSERT OR UPDATE OR DELETE ON shipping_profiles
    FOR EACH ROW EXECUTE FUNCTION audit_row('shipping_profile', 'id');

-- A shipment's weight is its products' catalog weight (per unit): the product cache now holds it, so a
-- change of it must reach the quote path like a change of price.
CREATE OR REPLACE FUNCTION queue_product_invalidation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (NEW.currency, NEW.current_price, NEW.min_price, NEW.category_id, NEW.seller_id, NEW.is_active,
            NEW.prices_include_tax, NEW.weight)
           IS NOT DISTINCT FROM
           (OLD.currency, OLD.current_price, OLD.min_price, OLD.category_id, OLD.seller_id, OLD.is_active,
            OLD.prices_include_tax, OLD.weight) THEN
            RETURN NEW;  -- stock, name, tags...: nothing the quote path caches
        END IF;
        NEW.cache_version := OLD.cache_version + 1;
    END IF;
    INSERT INTO product_cache_outbox (product_id, product_version) VALUES (NEW.id, NEW.cache_version);
    RETURN NEW;
END $$;
