-- Commission rates (API.md §4). The service validates first and answers 422 with the field;
-- these CHECKs are the backstop.

CREATE TABLE commission_rates (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    category_id        text CHECK (length(category_id) BETWEEN 1 AND 64),
    seller_id          text CHECK (length(seller_id) BETWEEN 1 AND 64),
    logistics_provider text CHECK (length(logistics_provider) BETWEEN 1 AND 64),
    region             text CHECK (length(btrim(region)) BETWEEN 1 AND 100),
    commission_type    text NOT NULL CHECK (commission_type IN ('PERCENTAGE', 'FLAT', 'TIERED')),
    rate               numeric(20, 4) CHECK (rate >= 0),
    -- [{"up_to": "1000.00" | null, "rate": "10"}], amounts as strings
    tiers              jsonb CHECK (tiers IS NULL OR (jsonb_typeof(tiers) = 'array' AND jsonb_array_length(tiers) > 0)),
    min_amount         numeric(20, 4) CHECK (min_amount >= 0),
    max_amount         numeric(20, 4) CHECK (max_amount >= 0),
    currency           char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    effective_from     timestamptz NOT NULL,
    effective_to       timestamptz,
    is_active          boolean NOT NULL DEFAULT true,
    priority           integer NOT NULL DEFAULT 0,
    created_by         text NOT NULL,
    updated_by         text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT commission_rates_shape CHECK (
        CASE commission_type
            WHEN 'TIERED' THEN rate IS NULL AND tiers IS NOT NULL
            WHEN 'PERCENTAGE' THEN rate IS NOT NULL AND rate <= 100 AND tiers IS NULL
            ELSE rate IS NOT NULL AND tiers IS NULL
        END
    ),
    CONSTRAINT commission_rates_amounts CHECK (min_amount IS NULL OR max_amount IS NULL OR min_amount <= max_amount),
    CONSTRAINT commission_rates_window CHECK (effective_to IS NULL OR effective_to > effective_from)
);
CREATE INDEX commission_rates_list_idx ON commission_rates (created_at, id);
CREATE INDEX commission_rates_category_idx ON commission_rates (category_id, created_at, id);
CREATE INDEX commission_rates_seller_idx ON commission_rates (seller_id, created_at, id);
CREATE INDEX commission_rates_provider_idx ON commission_rates (lower(logistics_provider), created_at, id);
-- What the configuration snapshot loads.
CREATE INDEX commission_rates_active_idx ON commission_rates (effective_to) WHERE is_active;
