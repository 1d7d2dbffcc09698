-- Users, API keys, the product catalog and its price history.

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username      text NOT NULL CHECK (length(username) BETWEEN 1 AND 64),
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'user', 'service')),
    tier          text,
    segment       text,
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    role         text NOT NULL CHECK (role IN ('admin', 'service')),
    key_hash     bytea NOT NULL UNIQUE,
    prefix       text NOT NULL,
    created_by   uuid REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

CREATE TABLE products (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sku         text NOT NULL UNIQUE,
    name        text NOT NULL,
    category_id text NOT NULL,
    seller_id   text NOT NULL,
    currency    char(3) NOT NULL,
    base_price  numeric(20, 4) NOT NULL CHECK (base_price > 0),
    current_price numeric(20, 4) NOT NULL,
    min_price   numeric(20, 4) NOT NULL,
    cost_price  numeric(20, 4) NOT NULL,
    stock       integer NOT NULL CHECK (stock >= 0),
    tags        text[] NOT NULL DEFAULT '{}',
    weight      numeric(12, 3),
    is_active   boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- The service checks these first and answers 422 with the field; this is the backstop.
    CONSTRAINT products_price_order CHECK (0 <= cost_price AND cost_price <= min_price AND min_price <= current_price)
);
CREATE INDEX products_category_idx ON products (category_id, created_at, id);
CREATE INDEX products_seller_idx ON products (seller_id, created_at, id);
CREATE INDEX products_list_idx ON products (created_at, id);

CREATE TABLE price_history (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id uuid NOT NULL REFERENCES products (id),
    old_price  numeric(20, 4),
    new_price  numeric(20, 4) NOT NULL,
    reason     text NOT NULL,
    source     text NOT NULL CHECK (source IN ('manual', 'rule', 'inventory', 'campaign', 'decision', 'flash_sale')),
    actor      text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX price_history_product_idx ON price_history (product_id, changed_at DESC, id DESC);

CREATE TABLE stock_movements (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id uuid NOT NULL REFERENCES products (id),
    delta      integer NOT NULL,
    stock_after integer NOT NULL,
    reason     text NOT NULL,
    actor      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_movements_product_idx ON stock_movements (product_id, created_at);
