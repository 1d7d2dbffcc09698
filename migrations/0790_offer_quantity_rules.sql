-- Quantity rules on offers (docs/offers.md#quantity-rules): an offer's own `{min_qty?, max_qty?, step?,
-- max_per_customer?, window_days}` as jsonb, as a product's (migration 0730); NULL: the offer sells under
-- its product's rules. Offers are configuration already: every write bumps the version (0750's trigger)
-- and is audited whole, so the snapshot carries the rules with the offers and the audit log their changes.
ALTER TABLE offers ADD COLUMN quantity_rules jsonb;
