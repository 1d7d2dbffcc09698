-- The exchange rates an order's quote converted its prices with, locked with it (docs/currencies.md):
-- `{rates: [{base, quote, rate, rate_id, source}], locked_until}`, as the quote answered them; NULL for an order
-- whose quote converted nothing (its answer has no `fx`).
ALTER TABLE orders ADD COLUMN fx jsonb;
