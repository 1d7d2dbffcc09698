-- Offers (docs/offers.md): one catalog product sold by several sellers, each at its own price, stock
-- and condition. A product's own seller, prices and stock are its default offer; these rows are the
-- others. The quote path reads the active offers from the configuration snapshot, like shipping
-- profiles: every change (stock included, so the best landed choice never picks a sold-out offer for
-- long) bumps the configuration version in the writer's transaction (migration 0009). Admin and seller
-- writes are audited (migration 0400/0530); `offer.updated` is emitted by the service.

CREATE TABLE offers (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    product_id    uuid NOT NULL REFERENCES products (id),
    seller_id     text NOT NULL CHECK (length(seller_id) BETWEEN 1 AND 64),
    base_price    numeric(20, 4) NOT NULL CHECK (base_price > 0),
    current_price numeric(20, 4) NOT NULL,
    min_price     numeric(20, 4) NOT NULL,
    cost_price    numeric(20, 4) NOT NULL,
    stock         integer NOT NULL CHECK (stock >= 0),
    condition     text NOT NULL DEFAULT 'new' CHECK (condition IN ('new', 'refurbished', 'used')),
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT offers_price_order CHECK (0 <= cost_price AND cost_price <= min_price AND min_price <= current_price)
);
-- One active offer per (product, seller): a deactivated one frees the pair (409 OFFER_EXISTS before this).
CREATE UNIQUE INDEX offers_one_active_idx ON offers (product_id, seller_id) WHERE is_active;
CREATE INDEX offers_list_idx ON offers (created_at, id);
CREATE INDEX offers_seller_idx ON offers (seller_id, created_at, id);
CREATE INDEX offers_product_idx ON offers (product_id, created_at, id);

-- Price history per offer (the prior price of docs/markets.md is per offer).
CREATE TABLE offer_price_history (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    offer_id   uuid NOT NULL REFERENCES offers (id),
    old_price  numeric(20, 4),
    new_price  numeric(20, 4) NOT NULL,
    reason     text NOT NULL,
    source     text NOT NULL CHECK (source IN ('manual', 'seller')),
    actor      text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX offer_price_history_offer_idx ON offer_price_history (offer_id, changed_at DESC, id DESC);

CREATE TRIGGER offers_config_version AFTER INSERT OR UPDATE OR DELETE ON offers
    FOR EACH ROW EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER offers_config_version_truncate AFTER TRUNCATE ON offers
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER offers_audit AFTER INSERT OR UPDATE OR DELETE ON offers
    FOR EACH ROW EXECUTE FUNCTION audit_row('offer', 'id');

-- A product that has active offers competes on its own stock too (its default offer): a change of that
-- stock bumps the configuration version as an offer's does. A product without offers pays one index probe.
CREATE FUNCTION bump_config_version_if_offered() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM offers WHERE product_id = NEW.id AND is_active) THEN
        INSERT INTO config_version AS c (version, bumped_by) VALUES (1, pg_current_xact_id())
        ON CONFLICT (singleton) DO UPDATE
           SET version = c.version + 1, bumped_by = excluded.bumped_by, changed_at = now()
         WHERE c.bumped_by IS DISTINCT FROM excluded.bumped_by;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER products_offered_stock_config_version AFTER UPDATE OF stock ON products
    FOR EACH ROW WHEN (OLD.stock IS DISTINCT FROM NEW.stock) EXECUTE FUNCTION bump_config_version_if_offered();

-- An order line sold from an offer keeps it: refunds and cancels give its units back to that offer.
ALTER TABLE order_lines ADD COLUMN offer_id uuid;
