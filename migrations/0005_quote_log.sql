-- The quote log: every quote made, written behind the request in batches, for analytics.
-- Quotes are served from Redis for their validity; this table is not on the read path.

CREATE TABLE quote_log (
    quote_id        uuid PRIMARY KEY,
    customer_id     text NOT NULL,
    currency        char(3) NOT NULL,
    subtotal        numeric(20, 4) NOT NULL,
    discount_amount numeric(20, 4) NOT NULL,
    tax_amount      numeric(20, 4) NOT NULL,
    delivery_fee    numeric(20, 4) NOT NULL,
    small_basket_fee numeric(20, 4) NOT NULL,
    total_amount    numeric(20, 4) NOT NULL,
    total_commission numeric(20, 4) NOT NULL,
    item_count      integer NOT NULL,
    config_version  bigint NOT NULL,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL,
    valid_until     timestamptz NOT NULL
);
CREATE INDEX quote_log_created_idx ON quote_log (created_at);
CREATE INDEX quote_log_customer_idx ON quote_log (customer_id, created_at);
