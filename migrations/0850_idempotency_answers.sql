-- The first answer of every keyed write (an order, a refund, a cancel, an edit's commit, a code batch, a
-- flash-sale purchase), kept so that a retry with the same Idempotency-Key gets that answer again byte for
-- byte (quote_service/db/idempotency.py): its status, content type and body as they were sent. A success is
-- written in the transaction of the write it answers; a definitive refusal (a 4xx that retrying cannot
-- change) under the key's lock, once its transaction rolled back. Answers that say "retry" (a 5xx, 429,
-- 409 IDEMPOTENCY_IN_PROGRESS) are never kept.
--
-- Partitioned by day and dropped whole past IDEMPOTENCY_RETENTION_DAYS (docs/data-lifecycle.md). A key is
-- looked up and kept under its advisory lock (or, for a flash purchase, under the ledger's unique key in
-- the same transaction), so the key need not be unique without the time. `scope` has no fixed list: an
-- endpoint that starts keeping answers needs no migration.
--
-- idempotency_refusals (migration 0161) is no longer written: its rows are still read, as the refusals
-- they keep, until retention has dropped them.
CREATE TABLE idempotency_answers (
    principal_id    uuid NOT NULL,
    scope           text NOT NULL CHECK (length(scope) BETWEEN 1 AND 32),
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    request_hash    bytea NOT NULL,
    status          smallint NOT NULL CHECK (status BETWEEN 200 AND 499),
    content_type    text NOT NULL,
    body            bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (principal_id, scope, idempotency_key, created_at)
) PARTITION BY RANGE (created_at);

SELECT qs_partition_ensure('idempotency_answers', 'created_at', 'day', now() - interval '1 day', now() + interval '7 days');
