-- Stock reservations between quote and order (issue 25, API.md §12).
--
-- A quote made with `reserve_stock: true` holds its catalog units until its `valid_until`.
-- PostgreSQL is the truth; nothing of a reservation lives in Redis, so holds survive a restart
-- of any process and of Redis.
--
-- `reservations` is one row per reserving quote, kept after it closes (its history);
-- `reservation_holds` holds the LIVE units only, one row per (quote, product): a row is deleted
-- when its reservation is consumed by the order, released, or expired. Units held on a product
-- at instant t = sum(quantity) of its rows with expires_at > t, so an expired hold stops counting
-- the moment it expires, whether or not the sweeper has closed it yet.
--
-- Every writer that takes units (a reserving quote, an order) first locks the product rows in id
-- order (FOR UPDATE, as orders always did) and reads the live holds in a LATER statement, so it
-- sees every hold committed before it got the lock.
CREATE TABLE reservations (
    quote_id       uuid PRIMARY KEY,
    customer_id    text NOT NULL,
    principal_kind text NOT NULL,
    principal_id   uuid NOT NULL,
    expires_at     timestamptz NOT NULL,
    status         text NOT NULL DEFAULT 'held'
                   CHECK (status IN ('held', 'consumed', 'released', 'expired')),
    lines          jsonb NOT NULL,
    order_id       uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    closed_at      timestamptz
);
-- The sweeper's question: which held reservations are past their expiry.
CREATE INDEX reservations_due_idx ON reservations (expires_at) WHERE status = 'held';

CREATE TABLE reservation_holds (
    quote_id   uuid NOT NULL REFERENCES reservations (quote_id) ON DELETE CASCADE,
    product_id uuid NOT NULL REFERENCES products (id),
    quantity   integer NOT NULL CHECK (quantity > 0),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (quote_id, product_id)
);
CREATE INDEX reservation_holds_product_idx ON reservation_holds (product_id, expires_at) INCLUDE (quantity);
