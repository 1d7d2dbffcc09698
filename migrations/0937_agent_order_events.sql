-- ACP order events for agents (docs/agents.md#order-events): the checkout session an order
-- completes, named in its events (`checkout_session_id`); NULL for an order placed otherwise.
ALTER TABLE orders ADD COLUMN checkout_session_id text CHECK (length(checkout_session_id) BETWEEN 1 AND 128);
