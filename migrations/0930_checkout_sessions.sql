-- Checkout sessions (docs/agents.md): an agent's basket across successive quotes, ending in an order.
-- One row a session, whichever protocol binding made it (ACP or UCP). `state` holds what the agent
-- asked for (items, address, fulfillment choices, codes) and the last pricing's summary in minor units
-- (quote_service/checkout_sessions/schemas.py `State`), so a read needs no quote from Redis.
-- `principal_id` is the agent's API key; a session is only its own key's.
CREATE TABLE checkout_sessions (
    id               uuid PRIMARY KEY,
    principal_id     uuid NOT NULL,
    agent_name       text NOT NULL,
    protocol         text NOT NULL CHECK (protocol IN ('acp', 'ucp')),
    status           text NOT NULL CHECK (status IN ('open', 'completed', 'canceled')),
    currency         text NOT NULL,
    quote_id         uuid,
    quote_expires_at timestamptz,
    order_id         uuid,
    state            jsonb NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    completed_at     timestamptz
);

CREATE INDEX checkout_sessions_created ON checkout_sessions (created_at);
CREATE INDEX checkout_sessions_agent ON checkout_sessions (principal_id, created_at);
