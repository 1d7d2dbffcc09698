-- Price lists (docs/price-lists.md): a price per (product, min_quantity) in one currency, for
-- some customer groups and channels (empty: every one), in effect over [starts_at, ends_at).
-- Users and API keys carry a customer group, set by an admin like a tier.
ALTER TABLE users ADD COLUMN customer_group text;
ALTER TABLE api_keys ADD COLUMN customer_group text;

CREATE TABLE price_lists (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name            text NOT NULL,
    currency        char(3) NOT NULL,
    customer_groups text[] NOT NULL DEFAULT '{}',
    channels        text[] NOT NULL DEFAULT '{}',
    priority        integer NOT NULL DEFAULT 0,
    starts_at       timestamptz,
    ends_at         timestamptz,
    created_by      text,
    updated_by      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT price_lists_window CHECK (ends_at IS NULL OR starts_at IS NULL OR starts_at < ends_at)
);
CREATE INDEX price_lists_list_idx ON price_lists (created_at, id);

CREATE TABLE price_list_prices (
    price_list_id uuid NOT NULL REFERENCES price_lists (id) ON DELETE CASCADE,
    product_id    uuid NOT NULL REFERENCES products (id),
    min_quantity  integer NOT NULL DEFAULT 1 CHECK (min_quantity >= 1),
    amount        numeric(20, 4) NOT NULL CHECK (amount > 0),
    PRIMARY KEY (price_list_id, product_id, min_quantity)
);
CREATE INDEX price_list_prices_product_idx ON price_list_prices (product_id);

-- Configuration like rules: every write bumps config_version in its own transaction. The
-- prices are bumped per statement: a 10,000-row upsert is one change, not 10,000 trigger calls
-- (and a statement that changes no row costs one extra reload, harmlessly).
CREATE TRIGGER price_lists_config_version AFTER INSERT OR UPDATE OR DELETE ON price_lists
    FOR EACH ROW EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER price_lists_config_version_truncate AFTER TRUNCATE ON price_lists
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER price_list_prices_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON price_list_prices
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();

-- An order keeps which price list priced each line (stock is taken as for a catalog line).
ALTER TABLE order_lines DROP CONSTRAINT order_lines_price_source_check;
ALTER TABLE order_lines
    ADD CONSTRAINT order_lines_price_source_check
        CHECK (price_source IN ('catalog', 'request', 'flash_sale', 'price_list')),
    ADD COLUMN price_list_id uuid;

-- The price lists' own version, so a reload after any other configuration change reuses the
-- compiled lists instead of reading and indexing every price again. Bumped per statement in the
-- writing transaction (a reader in one snapshot sees a version and exactly its data); `token`
-- changes whenever the row is made anew (a table emptied in tests), so (token, version) never
-- names two contents.
CREATE TABLE price_lists_version (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    token     uuid NOT NULL DEFAULT gen_random_uuid(),
    version   bigint NOT NULL
);
INSERT INTO price_lists_version (version) VALUES (1);

CREATE FUNCTION bump_price_lists_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO price_lists_version AS v (version) VALUES (1)
    ON CONFLICT (singleton) DO UPDATE SET version = v.version + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER price_lists_own_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON price_lists
    FOR EACH STATEMENT EXECUTE FUNCTION bump_price_lists_version();
CREATE TRIGGER price_list_prices_own_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON price_list_prices
    FOR EACH STATEMENT EXECUTE FUNCTION bump_price_lists_version();
