-- Agents (docs/agents.md): API keys of role `agent`, the checkout systems that buy through the
-- service. An agent key may carry the public key it signs its requests with (a JWK: Ed25519 or
-- ES256) and a webhook URL its order events go to. Only an agent key carries either.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('admin', 'service', 'seller', 'agent'));
ALTER TABLE api_keys ADD COLUMN public_key jsonb;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_public_key_agent CHECK (public_key IS NULL OR role = 'agent');

-- An agent's webhook URL is a subscription of its own: its events go through the same outbox
-- (retries, deliveries, replays), signed the way the agent's protocol signs them
-- (`signing = 'acp'`: `Merchant-Signature`, docs/agents.md#order-events) and sent only for that
-- agent's orders, never fanned out by type (its `events` name types `webhook_emit` never writes).
ALTER TABLE webhooks ADD COLUMN agent_key_id uuid UNIQUE REFERENCES api_keys (id) ON DELETE CASCADE;
ALTER TABLE webhooks ADD COLUMN signing text NOT NULL DEFAULT 'standard'
    CHECK (signing IN ('standard', 'acp'));
ALTER TABLE webhooks ADD CONSTRAINT webhooks_agent_signing CHECK ((signing = 'acp') = (agent_key_id IS NOT NULL));
