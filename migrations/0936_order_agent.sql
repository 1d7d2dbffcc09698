-- The agent whose quote an order confirms (docs/agents.md#quotes-and-orders): `{name, key_id}`,
-- as the quote recorded it; NULL for every other order (its answer has no `channel` nor `agent`).
ALTER TABLE orders ADD COLUMN agent jsonb;
