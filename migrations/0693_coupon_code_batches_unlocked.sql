-- Code batches that hold back no order of their coupon, and batch requests made once per
-- Idempotency-Key (docs/promotions.md#code-batches).
--
-- An order that applies a coupon locks the coupon's row (FOR UPDATE) to count its use. A batch's
-- transaction held a lock on that row for as long as it wrote its codes: every code's foreign key
-- to `coupons` took FOR KEY SHARE on it, which FOR UPDATE waits for, and 100,000 codes take
-- seconds, so the coupon's orders waited past DB_LOCK_TIMEOUT and answered 503. Now a code refers
-- to its batch alone, `(batch_id, coupon_code)`: the batch says whose codes they are. The batch's
-- own reference to its coupon is checked when its transaction commits (DEFERRABLE INITIALLY
-- DEFERRED): the coupon's row is locked for the moment of the commit, not while codes are written.
ALTER TABLE coupon_code_batches ADD CONSTRAINT coupon_code_batches_id_coupon_key UNIQUE (id, coupon_code);
ALTER TABLE coupon_codes DROP CONSTRAINT coupon_codes_coupon_code_fkey;
ALTER TABLE coupon_codes DROP CONSTRAINT coupon_codes_batch_id_fkey;
ALTER TABLE coupon_codes ADD CONSTRAINT coupon_codes_batch_fkey
    FOREIGN KEY (batch_id, coupon_code) REFERENCES coupon_code_batches (id, coupon_code);
ALTER TABLE coupon_code_batches ALTER CONSTRAINT coupon_code_batches_coupon_code_fkey DEFERRABLE INITIALLY DEFERRED;

-- A batch requested with an Idempotency-Key keeps it (db/idempotency.py): the same key of the same
-- caller answers that batch again; another body under it is 409 IDEMPOTENCY_CONFLICT.
ALTER TABLE coupon_code_batches
    ADD COLUMN principal_id    uuid,
    ADD COLUMN idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    ADD COLUMN request_hash    bytea,
    ADD CONSTRAINT coupon_code_batches_keyed
        CHECK ((idempotency_key IS NULL) = (principal_id IS NULL) AND (idempotency_key IS NULL) = (request_hash IS NULL));
CREATE UNIQUE INDEX coupon_code_batches_key_idx ON coupon_code_batches (principal_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

ALTER TABLE idempotency_refusals DROP CONSTRAINT idempotency_refusals_scope_check;
ALTER TABLE idempotency_refusals ADD CONSTRAINT idempotency_refusals_scope_check
    CHECK (scope IN ('order', 'refund', 'code_batch'));
