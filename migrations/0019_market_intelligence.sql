-- Market intelligence: competitor observations (written by the stream consumer), pricing
-- decisions, and the hourly demand counts the demand_surge signal and decisions read.

-- One row per (product, competitor, observed_at): the stream delivers at least once, and a
-- redelivered observation meets this key and is dropped (ON CONFLICT DO NOTHING).
CREATE TABLE competitor_prices (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id  uuid NOT NULL REFERENCES products (id),
    competitor  text NOT NULL CHECK (length(competitor) BETWEEN 1 AND 64),
    price       numeric(20, 4) NOT NULL CHECK (price > 0),
    currency    char(3) NOT NULL,
    observed_at timestamptz NOT NULL,
    in_stock    boolean,
    url         text,
    received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT competitor_prices_once UNIQUE (product_id, competitor, observed_at)
);
-- Latest per competitor, the anomaly history, and GET /competitor-prices?product_id.
CREATE INDEX competitor_prices_product_idx ON competitor_prices (product_id, competitor, observed_at DESC);
-- GET /competitor-prices (newest observation first).
CREATE INDEX competitor_prices_list_idx ON competitor_prices (observed_at DESC, id DESC);

CREATE TABLE pricing_decisions (
    id                uuid PRIMARY KEY,
    product_id        uuid NOT NULL REFERENCES products (id),
    old_price         numeric(20, 4) NOT NULL,
    recommended_price numeric(20, 4) NOT NULL,
    change_percent    numeric(10, 2) NOT NULL,
    reasons           text[] NOT NULL,
    guardrails        text[] NOT NULL,
    confidence        double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    inputs            jsonb NOT NULL,
    status            text NOT NULL CHECK (status IN ('proposed', 'applied', 'skipped', 'rejected')),
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    applied_at        timestamptz,
    applied_by        text
);
CREATE INDEX pricing_decisions_list_idx ON pricing_decisions (created_at DESC, id DESC);
CREATE INDEX pricing_decisions_product_idx ON pricing_decisions (product_id, created_at DESC, id DESC);

-- Quotes containing a product and orders of it, per hour: kept current incrementally from the
-- quote log and the orders (intelligence/demand.py), read by demand_surge and decisions.
CREATE TABLE product_demand_hourly (
    product_id uuid NOT NULL,
    hour       timestamptz NOT NULL,
    quotes     integer NOT NULL DEFAULT 0,
    orders     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (product_id, hour)
);

-- How far the incremental demand job has read each source (one row per source).
CREATE TABLE intelligence_watermarks (
    source     text PRIMARY KEY,
    position   timestamptz NOT NULL
);

-- The elasticity fit reads a product's order lines over ELASTICITY_WINDOW_DAYS.
CREATE INDEX order_lines_product_idx ON order_lines (product_id);
