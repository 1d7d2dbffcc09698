-- The definitive refusals of keyed requests (orders, refunds, cancels), so that one
-- Idempotency-Key gets one answer: a request refused for good (409 INSUFFICIENT_STOCK,
-- COUPON_LIMIT_REACHED, 422 ...) answers the same refusal to every later request with its key,
-- as a success answers the same order. Without it a double submit could be refused and then,
-- a moment later (a cancel freed the coupon's last use), succeed: one key, both answers.
-- Retryable answers (503, 409 IDEMPOTENCY_IN_PROGRESS) are not kept (quote_service/db/idempotency.py).
CREATE TABLE idempotency_refusals (
    principal_id    uuid NOT NULL,
    scope           text NOT NULL CHECK (scope IN ('order', 'refund')),
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    request_hash    bytea NOT NULL,
    status          smallint NOT NULL CHECK (status BETWEEN 400 AND 499),
    code            text NOT NULL,
    message         text NOT NULL,
    details         jsonb NOT NULL DEFAULT '[]',
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (principal_id, scope, idempotency_key)
);
