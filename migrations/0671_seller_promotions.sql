-- A seller's own promotions (docs/sellers.md): the seller that made one, NULL for the platform's.
-- An admin's PUT keeps it; a seller lists, reads and changes only those with its own seller_id.
ALTER TABLE promotions ADD COLUMN seller_id text CHECK (length(seller_id) BETWEEN 1 AND 64);
CREATE INDEX promotions_seller_idx ON promotions (seller_id, created_at, id) WHERE seller_id IS NOT NULL;
