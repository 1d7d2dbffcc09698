-- The seller role (docs/sellers.md): a user or an API key that acts for one seller, bound to its
-- `seller_id`. A seller-role account always names its seller; no other role does. A seller's own
-- price moves are in the price history with source 'seller' (so the prior price keeps working).
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'user', 'service', 'seller'));
ALTER TABLE users ADD COLUMN seller_id text CHECK (length(seller_id) BETWEEN 1 AND 64);
ALTER TABLE users ADD CONSTRAINT users_seller_bound CHECK ((role = 'seller') = (seller_id IS NOT NULL));

ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('admin', 'service', 'seller'));
ALTER TABLE api_keys ADD COLUMN seller_id text CHECK (length(seller_id) BETWEEN 1 AND 64);
ALTER TABLE api_keys ADD CONSTRAINT api_keys_seller_bound CHECK ((role = 'seller') = (seller_id IS NOT NULL));

ALTER TABLE price_history DROP CONSTRAINT price_history_source_check;
ALTER TABLE price_history ADD CONSTRAINT price_history_source_check
    CHECK (source IN ('manual', 'rule', 'inventory', 'campaign', 'decision', 'flash_sale', 'seller'));
