-- Money an edit makes due, and its payments (docs/orders-and-refunds.md#money-due-and-payments).
--
-- An edit's positive difference is owed (`orders.balance_due`, migration 0720) until a payment settles it:
-- `order_payments`, one row per payment, written under the order's row lock with its Idempotency-Key (as a
-- refund is), and `orders.paid_amount`, their sum. What is still due was never charged, so a reversal (an
-- edit's negative difference, a refund, a cancel) first takes what it gives back off the balance due and
-- pays back only the rest: `refunds.balance_reduced` is the part of a refund that cancelled money due, and
-- `total_refunded` stays what went back to the customer. So, for every order,
--   refunded_amount <= its first total + paid_amount,
-- and what the customer paid less what came back, plus what it still owes, is what the order still charges.

CREATE TABLE order_payments (
    id              uuid PRIMARY KEY,
    order_id        uuid NOT NULL REFERENCES orders (id),
    currency        char(3) NOT NULL,
    amount          numeric(20, 4) NOT NULL CHECK (amount > 0),
    -- The order's balance due once this payment was recorded.
    balance_due     numeric(20, 4) NOT NULL CHECK (balance_due >= 0),
    principal_id    uuid NOT NULL,
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    request_hash    bytea NOT NULL,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT order_payments_idempotency_key UNIQUE (principal_id, idempotency_key)
);
CREATE INDEX order_payments_order_idx ON order_payments (order_id, created_at);

ALTER TABLE orders ADD COLUMN paid_amount numeric(20, 4) NOT NULL DEFAULT 0 CHECK (paid_amount >= 0);
ALTER TABLE refunds ADD COLUMN balance_reduced numeric(20, 4) NOT NULL DEFAULT 0 CHECK (balance_reduced >= 0);

-- A payment's Idempotency-Key keeps its refusals as an order's and a refund's do (db/idempotency.py).
ALTER TABLE idempotency_refusals DROP CONSTRAINT idempotency_refusals_scope_check;
ALTER TABLE idempotency_refusals ADD CONSTRAINT idempotency_refusals_scope_check
    CHECK (scope IN ('order', 'refund', 'code_batch', 'order_edit', 'order_payment'));
