-- Quantity rules (docs/pricing.md#quantity-rules): on a product and on a price-list entry,
-- `{min_qty?, max_qty?, step?, max_per_customer?, window_days}` as jsonb (NULL: none).
--
-- The rules are configuration: the snapshot holds every product's that has some (a quote of
-- products without rules pays nothing for them), so a change of them moves the configuration
-- version like a rule's. Prices, stock and every other product write leave the version alone.
ALTER TABLE products ADD COLUMN quantity_rules jsonb;
ALTER TABLE price_list_prices ADD COLUMN quantity_rules jsonb;

CREATE INDEX products_quantity_rules_idx ON products (id) WHERE quantity_rules IS NOT NULL;

CREATE TRIGGER products_quantity_rules_version_ins AFTER INSERT ON products FOR EACH ROW
    WHEN (NEW.quantity_rules IS NOT NULL)
    EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER products_quantity_rules_version_upd AFTER UPDATE ON products FOR EACH ROW
    WHEN (OLD.quantity_rules IS DISTINCT FROM NEW.quantity_rules)
    EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER products_quantity_rules_version_del AFTER DELETE ON products FOR EACH ROW
    WHEN (OLD.quantity_rules IS NOT NULL)
    EXECUTE FUNCTION bump_config_version();

-- The products of an order under a per-customer limit when it was quoted (NULL: none). The order
-- counted the customer's units of each under a lock; after a cancel or refund of it the quote path's
-- counters of these products learn the customer's units again (orders/unit_limits.py).
ALTER TABLE orders ADD COLUMN limited_products text[];
