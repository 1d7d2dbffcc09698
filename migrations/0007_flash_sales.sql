-- Flash sales: the sale and its items, the purchase ledger, and background summaries.
--
-- Redis holds the live counters (remaining stock, units bought per customer) and refuses
-- losers; PostgreSQL is the ledger and the last guard: `flash_sale_items.sold` can never pass
-- `allocated_stock`, and a closed item (`returned_stock` set) accepts no further purchase,
-- whatever Redis says (a flush, a failover, a lost undo).

CREATE TABLE flash_sales (
    id           uuid PRIMARY KEY,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- The stored lifecycle. The status a reader sees also follows the clock: a scheduled sale
    -- is active from starts_at and every sale has ended at ends_at (README, "Flash sales").
    status       text NOT NULL CHECK (status IN ('scheduled', 'active', 'ended')),
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL,
    activated_at timestamptz,
    ended_at     timestamptz,
    created_by   text NOT NULL,
    updated_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT flash_sales_window CHECK (ends_at > starts_at)
);
CREATE INDEX flash_sales_list_idx ON flash_sales (starts_at DESC, id DESC);
-- What the scheduler looks for: sales whose stored status lags the clock.
CREATE INDEX flash_sales_open_idx ON flash_sales (starts_at, ends_at) WHERE status <> 'ended';

CREATE TABLE flash_sale_items (
    flash_sale_id   uuid NOT NULL REFERENCES flash_sales (id) ON DELETE CASCADE,
    product_id      uuid NOT NULL REFERENCES products (id),
    position        integer NOT NULL,
    flash_price     numeric(20, 4) NOT NULL CHECK (flash_price > 0),
    allocated_stock integer NOT NULL CHECK (allocated_stock > 0),
    per_user_limit  integer NOT NULL CHECK (per_user_limit > 0),
    -- Units in the ledger: written in the purchase's own transaction.
    sold            integer NOT NULL DEFAULT 0 CHECK (sold >= 0 AND sold <= allocated_stock),
    -- Set once, when the sale ends and the unsold units go back to the product's stock.
    returned_stock  integer CHECK (returned_stock >= 0),
    PRIMARY KEY (flash_sale_id, product_id)
);
CREATE INDEX flash_sale_items_product_idx ON flash_sale_items (product_id);

-- The ledger: one row per acknowledged purchase, written before the 201 leaves.
CREATE TABLE flash_purchases (
    id              uuid PRIMARY KEY,
    flash_sale_id   uuid NOT NULL REFERENCES flash_sales (id),
    product_id      uuid NOT NULL,
    customer_id     text NOT NULL CHECK (length(customer_id) BETWEEN 1 AND 64),
    quantity        integer NOT NULL CHECK (quantity > 0),
    unit_price      numeric(20, 4) NOT NULL,
    total           numeric(20, 4) NOT NULL,
    currency        char(3) NOT NULL,
    status          text NOT NULL DEFAULT 'confirmed' CHECK (status IN ('confirmed')),
    -- Who sent it: the user's or the API key's id (idempotency keys are scoped to it).
    principal_id    uuid NOT NULL,
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    request_hash    bytea NOT NULL,
    -- Set when the units were bought by confirming a quote as an order (POST /orders).
    order_id        uuid REFERENCES orders (id),
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    FOREIGN KEY (flash_sale_id, product_id) REFERENCES flash_sale_items (flash_sale_id, product_id),
    CONSTRAINT flash_purchases_idempotency_key UNIQUE (principal_id, idempotency_key)
);
CREATE INDEX flash_purchases_customer_idx ON flash_purchases (flash_sale_id, product_id, customer_id);
CREATE INDEX flash_purchases_list_idx ON flash_purchases (flash_sale_id, created_at DESC, id DESC);

-- Background work, recomputed from the ledger (never the source of truth; safe to rebuild).
CREATE TABLE flash_customer_summaries (
    flash_sale_id uuid NOT NULL REFERENCES flash_sales (id) ON DELETE CASCADE,
    customer_id   text NOT NULL,
    purchases     integer NOT NULL,
    units         integer NOT NULL,
    spent         jsonb NOT NULL,  -- {"TRY": "123.40"}: a sale may span currencies
    first_at      timestamptz NOT NULL,
    last_at       timestamptz NOT NULL,
    PRIMARY KEY (flash_sale_id, customer_id)
);

CREATE TABLE flash_sale_stats (
    flash_sale_id  uuid PRIMARY KEY REFERENCES flash_sales (id) ON DELETE CASCADE,
    purchases      integer NOT NULL,
    units_sold     integer NOT NULL,
    revenue        jsonb NOT NULL,  -- by currency, as spent above
    buyers         integer NOT NULL,
    unique_viewers integer NOT NULL,
    attempts       jsonb NOT NULL,
    computed_at    timestamptz NOT NULL
);
