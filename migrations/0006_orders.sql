-- Orders: a confirmed quote, its lines and per-line commissions, and coupon redemptions.
-- Amounts are copied from the stored quote; an order never re-prices anything.

CREATE TABLE orders (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    quote_id             uuid NOT NULL,
    customer_id          text NOT NULL,
    currency             char(3) NOT NULL,
    status               text NOT NULL DEFAULT 'confirmed' CHECK (status IN ('confirmed')),
    subtotal             numeric(20, 4) NOT NULL,
    discount_amount      numeric(20, 4) NOT NULL,
    tax_amount           numeric(20, 4) NOT NULL,
    delivery_fee         numeric(20, 4) NOT NULL,
    small_basket_fee     numeric(20, 4) NOT NULL,
    total_amount         numeric(20, 4) NOT NULL,
    total_commission     numeric(20, 4) NOT NULL,
    seller_commission    numeric(20, 4) NOT NULL,
    category_commission  numeric(20, 4) NOT NULL,
    logistics_commission numeric(20, 4) NOT NULL,
    -- Who placed it: the user's or the API key's id (idempotency keys are scoped to it).
    principal_id         uuid NOT NULL,
    idempotency_key      text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    -- SHA-256 of the canonical request body: the same key with another body is a conflict.
    request_hash         bytea NOT NULL,
    created_by           text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- One order per quote, whoever places it.
    CONSTRAINT orders_quote_once UNIQUE (quote_id),
    CONSTRAINT orders_idempotency_key UNIQUE (principal_id, idempotency_key)
);
CREATE INDEX orders_list_idx ON orders (created_at DESC, id DESC);
CREATE INDEX orders_customer_idx ON orders (customer_id, created_at DESC, id DESC);
CREATE INDEX orders_principal_idx ON orders (principal_id, created_at DESC, id DESC);

CREATE TABLE order_lines (
    order_id        uuid NOT NULL REFERENCES orders (id),
    position        integer NOT NULL,
    -- A catalog product's id, or the client's id for a request-priced line.
    product_id      text NOT NULL,
    quantity        integer NOT NULL CHECK (quantity > 0),
    list_unit_price numeric(20, 4) NOT NULL,
    unit_price      numeric(20, 4) NOT NULL,
    line_subtotal   numeric(20, 4) NOT NULL,
    discount        numeric(20, 4) NOT NULL,
    tax             numeric(20, 4) NOT NULL,
    tax_rate        numeric NOT NULL,
    price_source    text NOT NULL CHECK (price_source IN ('catalog', 'request', 'flash_sale')),
    flash_sale_id   uuid,
    category_id     text,
    seller_id       text,
    PRIMARY KEY (order_id, position)
);

CREATE TABLE order_commissions (
    order_id        uuid NOT NULL REFERENCES orders (id),
    position        integer NOT NULL,
    -- NULL for the per-order logistics commission.
    product_id      text,
    rate_id         uuid,
    dimension       text NOT NULL CHECK (dimension IN ('seller', 'category', 'logistics')),
    commission_type text NOT NULL CHECK (commission_type IN ('PERCENTAGE', 'FLAT', 'TIERED')),
    base            numeric(20, 4) NOT NULL,
    rate            numeric,
    amount          numeric(20, 4) NOT NULL,
    PRIMARY KEY (order_id, position)
);

-- One row per coupon per order: the per-customer count of per_customer_limit, and the
-- order's applied coupons. Written under the coupon's row lock (FOR UPDATE) by the order.
CREATE TABLE coupon_redemptions (
    order_id    uuid NOT NULL REFERENCES orders (id),
    coupon_code text NOT NULL REFERENCES coupons (code),
    position    integer NOT NULL,
    customer_id text NOT NULL,
    type        text NOT NULL,
    amount      numeric(20, 4) NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (order_id, coupon_code)
);
CREATE INDEX coupon_redemptions_customer_idx ON coupon_redemptions (coupon_code, customer_id);
