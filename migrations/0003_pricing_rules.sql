-- Versioned pricing rules: one row per immutable version of a rule name.
-- A version row changes only when its name is retired (retired_at, updated_by, updated_at).

CREATE TABLE pricing_rules (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    version        integer NOT NULL CHECK (version >= 1),
    type           text NOT NULL CHECK (type IN (
                       'DELIVERY_FEE', 'EXPRESS_FEE', 'SMALL_BASKET', 'FREE_DELIVERY', 'REGIONAL_FEE',
                       'TAX_RATE', 'TIME_WINDOW', 'QUANTITY_TIER', 'USER_TIER', 'INVENTORY_LEVEL')),
    configuration  jsonb NOT NULL CHECK (jsonb_typeof(configuration) = 'object'),
    region         text CHECK (length(region) BETWEEN 1 AND 100),
    product_id     uuid,
    category_id    text CHECK (length(category_id) BETWEEN 1 AND 64),
    priority       integer NOT NULL DEFAULT 0,
    exclusive      boolean NOT NULL DEFAULT false,
    effective_from timestamptz NOT NULL,
    effective_to   timestamptz,
    is_active      boolean NOT NULL DEFAULT true,
    retired_at     timestamptz,
    created_by     text NOT NULL,
    updated_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The service checks these first and answers 422 with the field; this is the backstop.
    CONSTRAINT pricing_rules_window CHECK (effective_to IS NULL OR effective_to > effective_from),
    -- Concurrent writers of the same name can never both create a version.
    CONSTRAINT pricing_rules_name_version_key UNIQUE (name, version)
);
-- The snapshot load: live versions only.
CREATE INDEX pricing_rules_live_idx ON pricing_rules (name, version DESC) WHERE retired_at IS NULL;
