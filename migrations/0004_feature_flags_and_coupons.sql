-- Feature flags and coupons. The service validates first and answers 422 with the field;
-- the CHECK constraints are the backstop.

CREATE TABLE feature_flags (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    key           text NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description   text CHECK (length(description) <= 2000),
    type          text NOT NULL CHECK (type IN ('BOOLEAN', 'STRING', 'NUMBER', 'PERCENTAGE', 'JSON')),
    -- NUMBER and PERCENTAGE values are stored as JSON strings of the exact decimal ("2.5");
    -- a JSON null is stored as SQL NULL.
    value         jsonb,
    default_value jsonb,
    is_enabled    boolean NOT NULL DEFAULT true,
    -- {percentage?, user_segments, regions, start_at?, end_at?, variants: [{key, weight, value}]}
    rollout       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(rollout) = 'object'),
    created_by    text NOT NULL,
    updated_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT feature_flags_value_type CHECK (
        CASE type
            WHEN 'JSON' THEN true
            WHEN 'BOOLEAN' THEN jsonb_typeof(value) = 'boolean'
            ELSE jsonb_typeof(value) = 'string'
        END IS TRUE
    ),
    CONSTRAINT feature_flags_default_type CHECK (
        default_value IS NULL OR CASE type
            WHEN 'JSON' THEN true
            WHEN 'BOOLEAN' THEN jsonb_typeof(default_value) = 'boolean'
            ELSE jsonb_typeof(default_value) = 'string'
        END
    )
);

CREATE TABLE coupons (
    -- Codes are case-insensitive: the service stores them upper-case.
    code               text PRIMARY KEY CHECK (code ~ '^[A-Z0-9_-]{1,32}$'),
    type               text NOT NULL CHECK (type IN ('PERCENTAGE', 'FIXED', 'FREE_DELIVERY')),
    value              numeric(20, 4) NOT NULL,
    currency           char(3),
    min_subtotal       numeric(20, 4) CHECK (min_subtotal >= 0),
    max_discount       numeric(20, 4) CHECK (max_discount > 0),
    category_ids       text[] NOT NULL DEFAULT '{}',
    valid_from         timestamptz NOT NULL,
    valid_to           timestamptz,
    usage_limit        integer CHECK (usage_limit >= 1),
    per_customer_limit integer CHECK (per_customer_limit >= 1),
    -- Counted by orders (a later issue), never by quotes.
    times_used         integer NOT NULL DEFAULT 0 CHECK (times_used >= 0),
    is_active          boolean NOT NULL DEFAULT true,
    created_by         text NOT NULL,
    updated_by         text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT coupons_value_by_type CHECK (
        (type = 'PERCENTAGE' AND value > 0 AND value <= 100)
        OR (type = 'FIXED' AND value > 0 AND currency IS NOT NULL)
        OR (type = 'FREE_DELIVERY' AND value = 0)
    ),
    CONSTRAINT coupons_amounts_need_currency CHECK (
        currency IS NOT NULL OR (min_subtotal IS NULL AND max_discount IS NULL)
    ),
    CONSTRAINT coupons_window CHECK (valid_to IS NULL OR valid_to > valid_from)
);
-- What the configuration snapshot loads: active coupons that have not expired.
CREATE INDEX coupons_active_idx ON coupons (valid_to) WHERE is_active;
